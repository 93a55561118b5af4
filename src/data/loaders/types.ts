/** What every loader yields: one record and where it came from (line for text files, row for parquet). */
export interface LoadedRecord {
  record: unknown;
  /** 1-based line number (JSONL, CSV) or row number (parquet, JSON arrays) */
  line: number;
}
