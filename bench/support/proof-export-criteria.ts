/**
 * proof:export's figures for three Export-issue items, each printed as a line and returned for the JSON:
 *  - GGUF fidelity on the trained tiny llama (test/support/trained-tiny-model.ts) over 512 held-out
 *    teacher-forced positions: the Q4_K_M >= 0.98 criterion on weights with structure, the random-init
 *    figure printed beside it;
 *  - the demo criterion: the demo's final RAFT adapter merged into an F32 GGUF greedy-decodes every
 *    held-out prompt in llama.cpp to our engine's tokens;
 *  - `inference benchmark` in both engines on one model (the trained llama and its F32 GGUF), ratio last.
 */
import { join } from 'node:path';
import type { GgufQuantization } from '../../src/export/gguf/quant-mix.js';
import { exportGguf } from '../../src/pipelines/export.js';
import { runInferenceBenchmark, type InferenceBenchmarkReport } from '../../src/pipelines/inference-benchmark.js';
import { compareDemoAdapterGreedy, type DemoAdapterComparison } from '../../test/support/demo-adapter-gguf.js';
import { ensureTrainedTinyModel, trainedTinyHeldOutSequences, trainedTinyModelSkipReason, trainedTinySummary } from '../../test/support/trained-tiny-model.js';

type Write = (text: string) => void;

export interface TrainedFidelityRow {
  format: GgufQuantization;
  bytes: number;
  fidelity: number;
  minCosine: number;
  argmaxAgreement: number;
  target: number;
  met: boolean;
  /** the random-init llama's figure from the main table (4 layers, random token ids) */
  randomInit: number | null;
}

export type TrainedFidelity = { positions: number; heldOutLoss: { before: number; after: number }; rows: TrainedFidelityRow[]; q4KMCriterionMet: boolean } | { skipped: string };

export const TRAINED_FORMATS: readonly GgufQuantization[] = ['Q8_0', 'Q6_K', 'Q4_0', 'Q4_K_M'];

export async function trainedGgufFidelity(directory: string, randomInit: (format: GgufQuantization) => number | null, write: Write): Promise<TrainedFidelity> {
  const skip = trainedTinyModelSkipReason();
  if (skip) {
    write(`llama-trained gguf fidelity: skipped (${skip})\n`);
    return { skipped: skip };
  }
  const model = await ensureTrainedTinyModel();
  const summary = trainedTinySummary(model);
  const sequences = trainedTinyHeldOutSequences(model, 8, 64);
  const positions = sequences.reduce((sum, s) => sum + s.length, 0);
  const rows: TrainedFidelityRow[] = [];
  for (const format of TRAINED_FORMATS) {
    try {
      const result = await exportGguf({ model, output: join(directory, `trained-${format}.gguf`), quantization: format, sequences, threads: 2 });
      const v = result.verify;
      if (v === undefined) throw new Error('no verify report');
      rows.push({ format, bytes: result.bytes, fidelity: v.fidelity.meanCosine, minCosine: v.fidelity.minCosine, argmaxAgreement: v.fidelity.argmaxAgreement, target: v.fidelityTarget, met: v.fidelityMet, randomInit: randomInit(format) });
    } catch (error) {
      write(`llama-trained ${format}: FAILED ${(error as Error).message}\n`);
      rows.push({ format, bytes: 0, fidelity: 0, minCosine: 0, argmaxAgreement: 0, target: 1, met: false, randomInit: randomInit(format) });
    }
    const row = rows[rows.length - 1];
    write(
      `llama-trained ${format.padEnd(7)} fidelity cos ${row.fidelity.toFixed(6)} (min ${row.minCosine.toFixed(4)}, argmax ${(row.argmaxAgreement * 100).toFixed(1)}%) over ${positions} held-out GSM8K positions ` +
        `(target ${row.target}: ${row.met ? 'met' : 'NOT met'})  [random-init llama: cos ${row.randomInit === null ? 'n/a' : row.randomInit.toFixed(6)}]\n`,
    );
  }
  const q4 = rows.find((r) => r.format === 'Q4_K_M');
  write(`llama-trained (2 layers, hidden 256, held-out loss ${summary.heldOutLossBefore.toFixed(2)} -> ${summary.heldOutLossAfter.toFixed(2)}): Q4_K_M logit cosine >= 0.98 over ${positions} teacher-forced positions: ${q4?.met ? 'MET' : 'NOT MET'} (${q4?.fidelity.toFixed(6)})\n`);
  return { positions, heldOutLoss: { before: summary.heldOutLossBefore, after: summary.heldOutLossAfter }, rows, q4KMCriterionMet: q4?.met ?? false };
}

export type DemoAdapterFigures = (Omit<DemoAdapterComparison, 'verify' | 'adapter'> & { exportVerified: boolean; passed: boolean }) | { failed: string };

export async function demoAdapterGreedy(write: Write): Promise<DemoAdapterFigures> {
  try {
    const r = await compareDemoAdapterGreedy({ fast: false, cycles: 3, seed: 42, maxNewTokens: 16 });
    const passed = r.identical === r.prompts && r.tokenizerIdentical === r.prompts && r.verify?.passed === true && r.visibleTokens >= r.prompts;
    write(
      `demo RAFT adapter -> F32 GGUF (merged, ${(r.ggufBytes / 2 ** 20).toFixed(2)} MiB): greedy continuations identical in llama.cpp and our engine on ${r.identical}/${r.prompts} held-out prompts, llama.cpp tokenizer identical on ${r.tokenizerIdentical}/${r.prompts} ` +
        `(${r.visibleTokens} tokens before the stop token; demo pass@1 ${r.demo.baseline_pass1.toFixed(3)} -> ${r.demo.final_pass1.toFixed(3)})  ${passed ? 'PASS' : 'FAIL'}\n`,
    );
    const { verify, adapter: _adapter, ...rest } = r;
    return { ...rest, exportVerified: verify?.passed === true, passed };
  } catch (error) {
    write(`demo RAFT adapter -> F32 GGUF: FAILED ${(error as Error).message}\n`);
    return { failed: (error as Error).message };
  }
}

export type BenchmarkFigures = { native: InferenceBenchmarkReport; llamaCpp: InferenceBenchmarkReport; decodeRatio: number } | { skipped: string } | { failed: string };

/** Both engines on one model, fp32, batch 1, 64 tokens x 8 prompts, one CPU thread each (this box's two cores are shared; llama.cpp's spinning pool crawls when oversubscribed). */
export async function inferenceBenchmarkBothEngines(directory: string, write: Write): Promise<BenchmarkFigures> {
  const skip = trainedTinyModelSkipReason();
  if (skip) return { skipped: skip };
  try {
    const model = await ensureTrainedTinyModel();
    const gguf = join(directory, 'trained-F32.gguf');
    await exportGguf({ model, output: gguf, quantization: 'F32', verify: false });
    const common = { numPrompts: 8, maxTokens: 64, warmup: 1, measureMemory: true, threads: 1 };
    const native = await runInferenceBenchmark({ ...common, model, engine: 'native', dtype: 'fp32' });
    const llamaCpp = await runInferenceBenchmark({ ...common, model: gguf, engine: 'llama.cpp' });
    const line = (r: InferenceBenchmarkReport): string =>
      `ttft p50 ${r.ttft_ms.p50.toFixed(2)} ms, per token p50 ${r.per_token_ms.p50.toFixed(2)} / p95 ${r.per_token_ms.p95.toFixed(2)} ms, ${r.decode_tokens_per_second.toFixed(0)} tok/s decode, peak RSS ${((r.memory?.peak_rss_bytes ?? 0) / 2 ** 20).toFixed(0)} MiB`;
    const decodeRatio = native.decode_tokens_per_second / (llamaCpp.decode_tokens_per_second || 1);
    write(`inference benchmark (trained tiny llama, fp32, batch 1, 8 x 64 tokens, 1 thread each): native ${line(native)}\n`);
    write(`inference benchmark: llama.cpp (F32 GGUF) ${line(llamaCpp)}\n`);
    write(`inference benchmark: native / llama.cpp decode tok/s = ${decodeRatio.toFixed(2)}\n`);
    return { native, llamaCpp, decodeRatio };
  } catch (error) {
    write(`inference benchmark: FAILED ${(error as Error).message}\n`);
    return { failed: (error as Error).message };
  }
}
