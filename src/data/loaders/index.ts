/** Picks a loader by file extension. */
import { extname } from 'node:path';
import { HaloError } from '../../util/errors.js';
import { readCsv } from './csv.js';
import { readJson } from './json.js';
import { readJsonl } from './jsonl.js';
import { readParquet } from './parquet.js';
import type { LoadedRecord } from './types.js';

export type { LoadedRecord } from './types.js';

export const SUPPORTED_EXTENSIONS = ['.jsonl', '.json', '.csv', '.parquet'] as const;

export function readRecords(path: string): AsyncGenerator<LoadedRecord> {
  const extension = extname(path).toLowerCase();
  switch (extension) {
    case '.jsonl':
    case '.ndjson':
      return readJsonl(path);
    case '.json':
      return readJson(path);
    case '.csv':
      return readCsv(path);
    case '.parquet':
      return readParquet(path);
    default:
      throw new HaloError('DATA_UNKNOWN_EXTENSION', `${path}: cannot read files ending in "${extension}"`, {
        fix: `convert it to one of ${SUPPORTED_EXTENSIONS.join(', ')}`,
      });
  }
}
