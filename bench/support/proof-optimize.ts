/**
 * The `inference optimize` part of proof:export: weight-only int8 / int4 / fp16 folders through the
 * pipeline, each loaded in our engine and compared with its fp32 original (centred logit cosine over every
 * teacher-forced position of held-out text, top-1 agreement, perplexity), with sizes; on
 *  - the proof's random-init tiny llama and qwen2 (dimensions multiples of 256),
 *  - the briefly trained tiny llama (weights with structure: where the issue's int4 0.98 applies),
 *    scored on GSM8K test text it never saw (--calibration-data),
 *  - the ~100M-parameter llama of the Engine issue, for batch-1 greedy decode tokens/s original vs optimized.
 * Random-init deep models are chaotic (a small weight change grows layer after layer: even bf16 rounding of
 * the 100M model's fp32 weights moves its logits), so their cosines are the worst case, not the criterion.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bench100mOptions } from '../../src/export/tiny-model.js';
import type { OptimizePrecision } from '../../src/export/weight-only.js';
import { optimizeModel, type EvalDType, type OptimizeReport } from '../../src/pipelines/optimize.js';
import { ensureTrainedTinyModel, trainedTinyModelSkipReason } from '../../test/support/trained-tiny-model.js';
import { ensureTinyModel } from './engine-fixtures.js';

export interface OptimizeProofRow {
  model: string;
  precision: OptimizePrecision;
  groupSize: number | null;
  loads: boolean;
  cosineMean: number;
  cosineMin: number;
  top1: number;
  perplexity: [number, number];
  sizeRatio: number;
  projectionsRatio: number;
  decodeTokPerSec: [number, number] | null;
  cosineTarget: number;
  cosineTargetMet: boolean;
}

export interface OptimizeProofFigures {
  rows: OptimizeProofRow[];
  /** int8 meets 0.999 on every model with structure-free weights small enough not to be chaotic, int4 meets 0.98 on the trained model */
  passed: boolean;
  int8SpeedupAt100m: number | null;
  int4SpeedupAt100m: number | null;
  /** at the engine's default dtype on this CPU (auto: bf16 with AVX-512 BF16, else fp32) */
  int8SpeedupAt100mDefaultDtype: number | null;
  skipped: string[];
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function gsm8kTest(): string | undefined {
  return [process.env.HALO_FORGE_DATA_DIR, join(repoRoot, '..', 'shared', 'datasets')]
    .filter((dir): dir is string => dir !== undefined)
    .map((dir) => join(dir, 'gsm8k', 'test.jsonl'))
    .find((file) => existsSync(file));
}

function rowOf(model: string, report: OptimizeReport): OptimizeProofRow {
  const q = report.quality;
  return {
    model,
    precision: report.precision,
    groupSize: report.groupSize,
    loads: true,
    cosineMean: q.logitCosine.mean,
    cosineMin: q.logitCosine.min,
    top1: q.top1Agreement,
    perplexity: [q.perplexity.original, q.perplexity.optimized],
    sizeRatio: report.size.ratio,
    projectionsRatio: report.size.projections.ratio,
    decodeTokPerSec: report.speed ? [report.speed.original, report.speed.optimized] : null,
    cosineTarget: q.cosineTarget,
    cosineTargetMet: q.cosineTargetMet,
  };
}

function line(row: OptimizeProofRow, positions: number): string {
  const name = `${row.precision}${row.precision === 'int4' ? ` g${row.groupSize}` : ''}`;
  const speed = row.decodeTokPerSec ? `  decode ${row.decodeTokPerSec[0].toFixed(1)} -> ${row.decodeTokPerSec[1].toFixed(1)} tok/s (${(row.decodeTokPerSec[1] / row.decodeTokPerSec[0]).toFixed(2)} x)` : '';
  return (
    `optimize ${row.model.padEnd(18)} ${name.padEnd(8)} size ${row.sizeRatio.toFixed(3)} x (projections ${row.projectionsRatio.toFixed(3)} x)  ` +
    `cosine mean ${row.cosineMean.toFixed(6)} min ${row.cosineMin.toFixed(6)}  top-1 ${(row.top1 * 100).toFixed(1)}%  ppl ${row.perplexity[0].toFixed(2)} -> ${row.perplexity[1].toFixed(2)} over ${positions} positions${speed}  ` +
    `(target ${row.cosineTarget}: ${row.cosineTargetMet ? 'met' : 'NOT met'})\n`
  );
}

/** `tinyModels`: family name → the proof's random-init tiny folders. Writes one line per row through `write`. */
export async function runOptimizeProof(directory: string, tinyModels: Record<string, string>, write: (text: string) => void): Promise<OptimizeProofFigures> {
  const rows: OptimizeProofRow[] = [];
  const skipped: string[] = [];
  let index = 0;
  const run = async (label: string, model: string, precision: OptimizePrecision, extra: { groupSize?: number; calibrationData?: string; decodeTokens?: number; dtype?: EvalDType } = {}): Promise<OptimizeProofRow | undefined> => {
    try {
      const report = await optimizeModel({ model, output: join(directory, `optimize-${index++}`), precision, evalTokens: 512, decodeTokens: 0, ...extra });
      const row = rowOf(extra.dtype && extra.dtype !== 'fp32' ? `${label} ${report.quality.dtype}` : label, report);
      rows.push(row);
      write(line(row, report.quality.positions));
      return row;
    } catch (error) {
      write(`optimize ${label} ${precision}: FAILED ${(error as Error).message}\n`);
      rows.push({ model: label, precision, groupSize: extra.groupSize ?? null, loads: false, cosineMean: 0, cosineMin: 0, top1: 0, perplexity: [0, 0], sizeRatio: 0, projectionsRatio: 0, decodeTokPerSec: null, cosineTarget: 1, cosineTargetMet: false });
      return undefined;
    }
  };
  for (const [family, model] of Object.entries(tinyModels)) {
    await run(family, model, 'int8');
    await run(family, model, 'int4');
    await run(family, model, 'int4', { groupSize: 16 });
    await run(family, model, 'fp16');
  }
  let trainedInt4: OptimizeProofRow | undefined;
  const skip = trainedTinyModelSkipReason();
  if (skip) {
    skipped.push(`trained tiny llama: ${skip}`);
    write(`optimize llama-trained: skipped (${skip})\n`);
  } else {
    const trained = await ensureTrainedTinyModel();
    const calibrationData = gsm8kTest();
    await run('llama-trained', trained, 'int8', { calibrationData });
    trainedInt4 = await run('llama-trained', trained, 'int4', { calibrationData });
  }
  const m100 = ensureTinyModel(bench100mOptions(0));
  const int8 = await run('llama-100m', m100, 'int8', { decodeTokens: 32 });
  const int4 = await run('llama-100m', m100, 'int4', { decodeTokens: 32 });
  // the engine's default dtype here (bf16 where the CPU has AVX-512 BF16): the original runs bf16 matmuls, the int8 kernels fp32 dot products
  const int8Auto = await run('llama-100m', m100, 'int8', { decodeTokens: 32, dtype: 'auto' });
  const speedup = (row: OptimizeProofRow | undefined): number | null => (row?.decodeTokPerSec ? row.decodeTokPerSec[1] / row.decodeTokPerSec[0] : null);
  const tinyInt8 = rows.filter((r) => Object.keys(tinyModels).includes(r.model) && r.precision === 'int8');
  return {
    rows,
    passed: rows.every((r) => r.loads) && tinyInt8.every((r) => r.cosineMean >= 0.999) && (skip !== null || (trainedInt4?.cosineMean ?? 0) >= 0.98),
    int8SpeedupAt100m: speedup(int8),
    int4SpeedupAt100m: speedup(int4),
    int8SpeedupAt100mDefaultDtype: speedup(int8Auto),
    skipped,
  };
}
