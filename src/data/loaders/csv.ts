/** Streaming RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. */
import { createReadStream } from 'node:fs';
import { HaloError } from '../../util/errors.js';
import type { LoadedRecord } from './types.js';

export async function* readCsv(path: string): AsyncGenerator<LoadedRecord> {
  let header: string[] | undefined;
  let field = '';
  let row: string[] = [];
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let rowLine = 1;
  const pending: LoadedRecord[] = [];
  const endRow = (): void => {
    row.push(field);
    field = '';
    if (!header) header = row;
    else if (!(row.length === 1 && row[0] === '')) {
      if (row.length !== header.length) {
        throw new HaloError('DATA_BAD_CSV', `${path}:${rowLine}: ${row.length} fields, the header has ${header.length}`, {
          fix: 'quote fields that contain commas or newlines',
          details: { file: path, line: rowLine },
        });
      }
      const record: Record<string, string> = {};
      header.forEach((name, i) => (record[name] = row[i]!));
      pending.push({ record, line: rowLine });
    }
    row = [];
    rowLine = line;
  };
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const text = chunk as string;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          quoted = false;
          afterQuote = true;
        } else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (c === '"') {
        if (afterQuote) field += '"';
        quoted = true;
        afterQuote = false;
        continue;
      }
      afterQuote = false;
      if (c === ',') {
        row.push(field);
        field = '';
      } else if (c === '\n') {
        line++;
        endRow();
      } else if (c !== '\r') field += c;
    }
    while (pending.length > 0) yield pending.shift()!;
  }
  if (quoted) {
    throw new HaloError('DATA_BAD_CSV', `${path}:${rowLine}: a quoted field is never closed`, { fix: 'close the quote', details: { file: path, line: rowLine } });
  }
  if (field.length > 0 || row.length > 0) endRow();
  while (pending.length > 0) yield pending.shift()!;
}
