/**
 * Training samples -> micro-batches of token ids, positions, segment ids, next-token targets and
 * loss weights. Right-padding puts one sample per row; packing puts several samples per row, each
 * its own segment (positions restart, attention blocked across segments).
 */
import { HaloError } from '../util/errors.js';
import type { NativeMicroBatch } from './native-train-types.js';

/** `lossMask[i] = 1` when token i is learned (predicted from the tokens before it), e.g. assistant tokens. */
export interface TrainSample {
  tokens: number[];
  lossMask: number[];
}

export interface BatchingOptions {
  /** pack several samples into each row (default false: one sample per row, right-padded). */
  packing?: boolean;
  /** row length when packing (default: the longest sample). */
  rowLength?: number;
  /** rows per forward pass; more rows are split into micro-batches (gradients accumulated). Default 8. */
  microBatchRows?: number;
}

type Row = TrainSample[];

function validate(samples: readonly TrainSample[], vocabSize: number): void {
  if (samples.length === 0) throw new HaloError('ERR_TRAIN_BATCH', 'the batch holds no samples', { fix: 'pass at least one sample' });
  samples.forEach((sample, i) => {
    if (sample.tokens.length < 2) throw new HaloError('ERR_TRAIN_BATCH', `samples[${i}] has ${sample.tokens.length} tokens; at least 2 are needed`, { fix: 'drop samples shorter than 2 tokens' });
    if (sample.lossMask.length !== sample.tokens.length) {
      throw new HaloError('ERR_TRAIN_BATCH', `samples[${i}]: lossMask has ${sample.lossMask.length} entries but tokens has ${sample.tokens.length}`, {
        fix: 'give one loss-mask entry per token',
      });
    }
    sample.tokens.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new HaloError('ERR_TOKEN_OUT_OF_RANGE', `samples[${i}].tokens[${j}] = ${id} is outside the vocabulary [0, ${vocabSize})`, { fix: "token ids must come from this model's tokenizer" });
      }
    });
  });
}

function packRows(samples: readonly TrainSample[], rowLength: number): Row[] {
  const rows: Row[] = [];
  let current: Row = [];
  let used = 0;
  samples.forEach((sample, i) => {
    if (sample.tokens.length > rowLength) {
      throw new HaloError('ERR_TRAIN_BATCH', `samples[${i}] has ${sample.tokens.length} tokens, more than the packing row length ${rowLength}`, {
        fix: 'raise rowLength or truncate the sample',
      });
    }
    if (used + sample.tokens.length > rowLength && current.length > 0) {
      rows.push(current);
      current = [];
      used = 0;
    }
    current.push(sample);
    used += sample.tokens.length;
  });
  if (current.length > 0) rows.push(current);
  return rows;
}

function encodeRows(rows: readonly Row[]): NativeMicroBatch {
  const cols = Math.max(...rows.map((row) => row.reduce((sum, sample) => sum + sample.tokens.length, 0)));
  const size = rows.length * cols;
  const batch: NativeMicroBatch = {
    rows: rows.length,
    cols,
    tokens: new Int32Array(size),
    positions: new Int32Array(size),
    segments: new Int32Array(size).fill(-1),
    targets: new Int32Array(size),
    weights: new Float32Array(size),
  };
  rows.forEach((row, r) => {
    let offset = r * cols;
    row.forEach((sample, segment) => {
      const n = sample.tokens.length;
      for (let i = 0; i < n; i++) {
        batch.tokens[offset + i] = sample.tokens[i];
        batch.positions[offset + i] = i;
        batch.segments[offset + i] = segment;
        if (i + 1 < n) {
          batch.targets[offset + i] = sample.tokens[i + 1];
          batch.weights[offset + i] = sample.lossMask[i + 1] ? 1 : 0;
        }
      }
      offset += n;
    });
  });
  return batch;
}

/** The micro-batches of one optimizer step. */
export function buildMicroBatches(samples: readonly TrainSample[], vocabSize: number, options: BatchingOptions = {}): NativeMicroBatch[] {
  validate(samples, vocabSize);
  const microBatchRows = options.microBatchRows ?? 8;
  if (!Number.isInteger(microBatchRows) || microBatchRows < 1) throw new HaloError('ERR_TRAIN_OPTION', `microBatchRows = ${microBatchRows}: must be an integer >= 1`, { fix: 'pass microBatchRows >= 1' });
  const longest = Math.max(...samples.map((sample) => sample.tokens.length));
  const rows: Row[] = options.packing ? packRows(samples, options.rowLength ?? longest) : samples.map((sample) => [sample]);
  const batches: NativeMicroBatch[] = [];
  for (let first = 0; first < rows.length; first += microBatchRows) batches.push(encodeRows(rows.slice(first, first + microBatchRows)));
  return batches;
}
