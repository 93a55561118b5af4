/** Streams a JSONL file line by line: memory stays bounded by the longest line, not the file. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { HaloError } from '../../util/errors.js';
import type { LoadedRecord } from './types.js';

export interface JsonlLine {
  line: number;
  text: string;
}

export async function* readLines(path: string): AsyncGenerator<JsonlLine> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    yield { line, text };
  }
}

export async function* readJsonl(path: string): AsyncGenerator<LoadedRecord> {
  for await (const { line, text } of readLines(path)) {
    if (text.trim().length === 0) continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      throw new HaloError('DATA_BAD_JSON', `${path}:${line}: not valid JSON (${(error as Error).message})`, {
        fix: `fix or delete line ${line}; check all lines with \`halo-forge data validate ${path}\``,
        details: { file: path, line },
      });
    }
    yield { record, line };
  }
}
