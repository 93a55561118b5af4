/**
 * A .json file: either one JSON array of records, or (as BFCL ships its .json files) one object per
 * line. Arrays are parsed whole — use JSONL or parquet for files too large for memory.
 */
import { open } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { HaloError } from '../../util/errors.js';
import { readJsonl } from './jsonl.js';
import type { LoadedRecord } from './types.js';

async function firstNonSpaceChar(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8').trimStart().charAt(0);
  } finally {
    await handle.close();
  }
}

export async function* readJson(path: string): AsyncGenerator<LoadedRecord> {
  if ((await firstNonSpaceChar(path)) !== '[') {
    yield* readJsonl(path);
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new HaloError('DATA_BAD_JSON', `${path}: not valid JSON (${(error as Error).message})`, {
      fix: 'fix the file, or convert it to JSONL (one object per line) to get line numbers in errors',
      details: { file: path },
    });
  }
  const rows = parsed as unknown[];
  for (let i = 0; i < rows.length; i++) yield { record: rows[i], line: i + 1 };
}
