/**
 * Proof for the Export issue (GGUF): for tiny llama and qwen2 models (dimensions multiples of 256) and
 * every GGUF format, export through the pipeline (`inference export`), check
 *  - the file loads in llama.cpp and its logits agree with our engine on the weights the file stores,
 *  - fidelity: mean centred-logit cosine vs our fp32 source over 512 teacher-forced positions,
 *  - bytes: every tensor's type and data equal what llama-quantize writes from our F32 file,
 * and for all four families an fp32 ONNX decoder in onnxruntime-node (logits within 1e-4 of our
 * engine, greedy 32 tokens through the KV cache identical); for llama and qwen2 fp16 / int8 / int4 ONNX
 * files (agreement with our engine on the stored weights, fidelity cosine vs fp32, size vs fp32), int4 on
 * the briefly trained tiny llama (the 0.98 criterion; random-init figures beside it), and an ONNX file
 * with external data; GGUF fidelity on the trained tiny llama (the Q4_K_M >= 0.98 criterion, random-init
 * figures beside it), the demo's RAFT adapter as F32 GGUF greedy-decoding like our engine, and
 * `inference benchmark` in both engines (bench/support/proof-export-criteria.ts); then print a line per
 * format and family and one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGUF_QUANTIZATIONS, QUANTIZATION_FILE_TYPE, type GgufQuantization } from '../src/export/gguf/quant-mix.js';
import { readGguf, readGgufTensorBytes } from '../src/export/gguf/reader.js';
import { openLlamaCppQuantizer } from '../src/export/llama-cpp-quantizer.js';
import { defaultTinyOptions, TINY_ARCHS, writeTinyModel, type TinyArch } from '../src/export/tiny-model.js';
import { exportGguf, exportOnnx, type GgufVerifyReport, type OnnxExportResult } from '../src/pipelines/export.js';
import { Rng } from '../src/util/rng.js';
import type { InferenceBenchmarkReport } from '../src/pipelines/inference-benchmark.js';
import { ensureTrainedTinyModel, trainedTinyHeldOutSequences, trainedTinyModelSkipReason } from '../test/support/trained-tiny-model.js';
import { runOptimizeProof, type OptimizeProofFigures } from './support/proof-optimize.js';
import { demoAdapterGreedy, inferenceBenchmarkBothEngines, trainedGgufFidelity, type BenchmarkFigures, type DemoAdapterFigures, type TrainedFidelity } from './support/proof-export-criteria.js';

/** llama.cpp hands back every position's full probability vector; qwen2's 151k vocabulary makes 512 positions x 7 formats too slow for a proof run, so it gets 128. */
const POSITIONS: Record<string, number> = { llama: 512, qwen2: 128 };
const SEQUENCES = 4;
const directory = mkdtempSync(join(tmpdir(), 'halo-proof-export-'));
const oracle = openLlamaCppQuantizer();

interface Row {
  family: TinyArch;
  format: GgufQuantization;
  bytes: number;
  ratioToF16: number;
  loads: boolean;
  agreement: number;
  fidelity: number;
  fidelityTarget: number;
  fidelityMet: boolean;
  llamaQuantizeIdentical: boolean | null;
  passed: boolean;
}

function identicalToLlamaQuantize(ours: string, f32: string, quantization: GgufQuantization): boolean {
  const theirsPath = `${ours}.llama-quantize.gguf`;
  oracle.quantizeFile(f32, theirsPath, QUANTIZATION_FILE_TYPE[quantization]);
  const a = readGguf(ours);
  const b = readGguf(theirsPath);
  const same = a.tensors.length === b.tensors.length && b.tensors.every((t) => {
    const mine = a.tensors.find((x) => x.name === t.name);
    return mine !== undefined && mine.type === t.type && readGgufTensorBytes(a, t.name).equals(readGgufTensorBytes(b, t.name));
  });
  rmSync(theirsPath, { force: true });
  return same;
}

const rows: Row[] = [];
interface OnnxRow {
  family: TinyArch | 'llama-trained';
  precision: string;
  bytes: number;
  maxAbsDiff: number;
  greedyIdentical: boolean;
  passed: boolean;
  /** fp16 / int8 / int4: mean centred-logit cosine vs our fp32 engine, agreement with our engine on the stored weights, size vs the fp32 file */
  cosine?: number;
  argmaxAgreement?: number;
  fidelityTarget?: number;
  agreementMaxAbsDiff?: number;
  ratioToFp32?: number;
  externalData?: boolean;
}
const onnxRows: OnnxRow[] = [];

function onnxPrecisionLine(row: OnnxRow, positions: number): string {
  return (
    `${row.family.padEnd(7)} onnx ${row.precision.padEnd(4)} ${(row.bytes / 2 ** 20).toFixed(2).padStart(7)} MiB (${(row.ratioToFp32 ?? 0).toFixed(3)} x fp32)  vs our engine on the stored weights max |Δ logit| ${(row.agreementMaxAbsDiff ?? Infinity).toExponential(2)}  ` +
    `fidelity vs fp32: cosine ${(row.cosine ?? 0).toFixed(6)}, argmax ${((row.argmaxAgreement ?? 0) * 100).toFixed(1)}%, max |Δ logit| ${row.maxAbsDiff.toExponential(2)} over ${positions} positions (target ${row.fidelityTarget}: ${(row.cosine ?? 0) >= (row.fidelityTarget ?? 1) ? 'met' : 'NOT met'})  ${row.passed ? 'PASS' : 'FAIL'}\n`
  );
}

function onnxPrecisionRow(family: OnnxRow['family'], precision: string, result: OnnxExportResult | undefined, fp32Bytes: number): OnnxRow {
  const v = result?.verify;
  return {
    family,
    precision,
    bytes: result?.bytes ?? 0,
    maxAbsDiff: v?.maxAbsDiff ?? Infinity,
    greedyIdentical: v?.agreement.greedyIdentical ?? false,
    passed: v?.passed ?? false,
    cosine: v?.meanCosine ?? 0,
    argmaxAgreement: v?.argmaxAgreement ?? 0,
    fidelityTarget: v?.fidelityTarget ?? 1,
    agreementMaxAbsDiff: v?.agreement.maxAbsDiff ?? Infinity,
    ratioToFp32: (result?.bytes ?? 0) / (fp32Bytes || 1),
    ...(result?.externalData ? { externalData: true } : {}),
  };
}
let trainedInt4: { cosine: number; argmaxAgreement: number; ratioToFp32: number; positions: number; meetsCriterion: boolean } | { skipped: string } | undefined;
let optimizeFigures: OptimizeProofFigures | undefined;
let trainedGguf: TrainedFidelity | undefined;
let demoAdapter: DemoAdapterFigures | undefined;
let inferenceBenchmark: BenchmarkFigures | undefined;
try {
  for (const family of ['llama', 'qwen2'] as TinyArch[]) {
    const model = join(directory, family);
    writeTinyModel(model, { ...defaultTinyOptions(family), layers: 4, hidden: 256, heads: 4, kvHeads: 2, headDim: 64, intermediate: 512, seed: 21, ...(family === 'llama' ? { vocab: 'llama3-32k' as const } : {}) });
    const rng = new Rng(5);
    const sequences = Array.from({ length: SEQUENCES }, () => Array.from({ length: POSITIONS[family] / SEQUENCES }, () => 100 + rng.int(30000)));
    const sizes = new Map<GgufQuantization, number>();
    const f32 = join(directory, `${family}-F32.gguf`);
    for (const format of GGUF_QUANTIZATIONS) {
      const output = join(directory, `${family}-${format}.gguf`);
      let report: GgufVerifyReport | undefined;
      let bytes = 0;
      let loads = false;
      try {
        const result = await exportGguf({ model, output, quantization: format, sequences, threads: 2 });
        report = result.verify;
        bytes = result.bytes;
        loads = true;
      } catch (error) {
        process.stdout.write(`${family} ${format}: FAILED ${(error as Error).message}\n`);
      }
      sizes.set(format, bytes);
      const identical = format === 'F32' || !loads ? null : identicalToLlamaQuantize(output, f32, format);
      const row: Row = {
        family,
        format,
        bytes,
        ratioToF16: 0,
        loads,
        agreement: report?.agreement.meanCosine ?? 0,
        fidelity: report?.fidelity.meanCosine ?? 0,
        fidelityTarget: report?.fidelityTarget ?? 0,
        fidelityMet: report?.fidelityMet ?? false,
        llamaQuantizeIdentical: identical,
        passed: (report?.passed ?? false) && identical !== false,
      };
      rows.push(row);
      if (format !== 'F32') rmSync(output, { force: true });
    }
    for (const row of rows.filter((r) => r.family === family)) {
      row.ratioToF16 = row.bytes / (sizes.get('F16') || 1);
      process.stdout.write(
        `${family.padEnd(6)} ${row.format.padEnd(7)} ${(row.bytes / 2 ** 20).toFixed(2).padStart(7)} MiB (${row.ratioToF16.toFixed(3)} x F16)  loads in llama.cpp: ${row.loads ? 'yes' : 'NO'}  ` +
          `agreement cos ${row.agreement.toFixed(6)}  fidelity cos ${row.fidelity.toFixed(6)} over ${POSITIONS[family]} positions (target ${row.fidelityTarget}: ${row.fidelityMet ? 'met' : 'NOT met'})  ` +
          `bytes == llama-quantize: ${row.llamaQuantizeIdentical === null ? 'n/a' : row.llamaQuantizeIdentical ? 'yes' : 'NO'}  ${row.passed ? 'PASS' : 'FAIL'}\n`,
      );
    }
  }
  for (const family of TINY_ARCHS) {
    const model = join(directory, `${family}-onnx`);
    writeTinyModel(model, { ...defaultTinyOptions(family), seed: 21, ...(family === 'llama' || family === 'mistral' ? { vocab: 'llama3-32k' as const } : {}) });
    let result: OnnxExportResult | undefined;
    try {
      result = await exportOnnx({ model, output: join(directory, `${family}.onnx`), threads: 2 });
    } catch (error) {
      process.stdout.write(`${family} onnx fp32: FAILED ${(error as Error).message}\n`);
    }
    const v = result?.verify;
    onnxRows.push({ family, precision: 'fp32', bytes: result?.bytes ?? 0, maxAbsDiff: v?.maxAbsDiff ?? Infinity, greedyIdentical: v?.greedyIdentical ?? false, passed: v?.passed ?? false });
    process.stdout.write(
      `${family.padEnd(7)} onnx fp32 ${((result?.bytes ?? 0) / 2 ** 20).toFixed(2).padStart(7)} MiB  onnxruntime max |Δ logit| ${(v?.maxAbsDiff ?? Infinity).toExponential(2)} over ${v?.positions ?? 0} positions (<= 1e-4)  greedy ${v?.greedyTokens ?? 32} tokens via KV cache identical: ${v?.greedyIdentical ? 'yes' : 'NO'}  ${v?.passed ? 'PASS' : 'FAIL'}\n`,
    );
    if (family === 'llama' || family === 'qwen2') {
      for (const precision of ['fp16', 'int8', 'int4'] as const) {
        let quantized: OnnxExportResult | undefined;
        try {
          quantized = await exportOnnx({ model, output: join(directory, `${family}-${precision}.onnx`), precision, threads: 2 });
        } catch (error) {
          process.stdout.write(`${family} onnx ${precision}: FAILED ${(error as Error).message}\n`);
        }
        const row = onnxPrecisionRow(family, precision, quantized, result?.bytes ?? 0);
        onnxRows.push(row);
        process.stdout.write(onnxPrecisionLine(row, quantized?.verify?.positions ?? 0));
        rmSync(join(directory, `${family}-${precision}.onnx`), { force: true });
      }
    }
    if (family === 'llama') {
      // external data, forced on a tiny model: ORT resolves <output>.data from the model's path
      let external: OnnxExportResult | undefined;
      try {
        external = await exportOnnx({ model, output: join(directory, 'external', 'llama.onnx'), externalDataThreshold: 0, threads: 2 });
      } catch (error) {
        process.stdout.write(`llama onnx fp32 external data: FAILED ${(error as Error).message}\n`);
      }
      const ev = external?.verify;
      onnxRows.push({ family, precision: 'fp32', bytes: external?.bytes ?? 0, maxAbsDiff: ev?.maxAbsDiff ?? Infinity, greedyIdentical: ev?.greedyIdentical ?? false, passed: (ev?.passed ?? false) && external?.externalData !== undefined, externalData: external?.externalData !== undefined });
      process.stdout.write(
        `llama   onnx fp32 + external data (${external?.externalData ? 'llama.onnx.data' : 'NONE'}): onnxruntime max |Δ logit| ${(ev?.maxAbsDiff ?? Infinity).toExponential(2)}  greedy identical: ${ev?.greedyIdentical ? 'yes' : 'NO'}  ${ev?.passed && external?.externalData ? 'PASS' : 'FAIL'}\n`,
      );
    }
  }
  // int4's 0.98 criterion on weights with structure: random-init weights are the worst case for 4-bit
  const skip = trainedTinyModelSkipReason();
  if (skip) {
    trainedInt4 = { skipped: skip };
    process.stdout.write(`llama-trained onnx int4: skipped (${skip})\n`);
  } else {
    const trained = await ensureTrainedTinyModel();
    const sequences = trainedTinyHeldOutSequences(trained, 8, 64);
    let fp32: OnnxExportResult | undefined;
    let int4: OnnxExportResult | undefined;
    try {
      fp32 = await exportOnnx({ model: trained, output: join(directory, 'trained-fp32.onnx'), verify: false });
      int4 = await exportOnnx({ model: trained, output: join(directory, 'trained-int4.onnx'), precision: 'int4', sequences, threads: 2 });
    } catch (error) {
      process.stdout.write(`llama-trained onnx int4: FAILED ${(error as Error).message}\n`);
    }
    const row = onnxPrecisionRow('llama-trained', 'int4', int4, fp32?.bytes ?? 0);
    onnxRows.push(row);
    const random = onnxRows.find((r) => r.family === 'llama' && r.precision === 'int4');
    process.stdout.write(onnxPrecisionLine(row, int4?.verify?.positions ?? 0).replace(/\n$/, `  [random-init llama: cosine ${(random?.cosine ?? 0).toFixed(6)}]\n`));
    trainedInt4 = { cosine: row.cosine ?? 0, argmaxAgreement: row.argmaxAgreement ?? 0, ratioToFp32: row.ratioToFp32 ?? 0, positions: int4?.verify?.positions ?? 0, meetsCriterion: (row.cosine ?? 0) >= 0.98 };
  }
  // inference optimize: weight-only int8 / int4 / fp16 folders in our engine vs their fp32 originals
  optimizeFigures = await runOptimizeProof(directory, { llama: join(directory, 'llama'), qwen2: join(directory, 'qwen2') }, (text) => process.stdout.write(text));
  // GGUF fidelity on trained weights (the Q4_K_M 0.98 criterion), the demo adapter in llama.cpp, inference benchmark in both engines
  const write = (text: string): void => void process.stdout.write(text);
  trainedGguf = await trainedGgufFidelity(directory, (format) => rows.find((r) => r.family === 'llama' && r.format === format)?.fidelity ?? null, write);
  demoAdapter = await demoAdapterGreedy(write);
  inferenceBenchmark = await inferenceBenchmarkBothEngines(directory, write);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
function summarizeBenchmark(r: InferenceBenchmarkReport): Record<string, unknown> {
  return { ttft_ms: r.ttft_ms, per_token_ms: r.per_token_ms, decode_tokens_per_second: r.decode_tokens_per_second, tokens_per_second: r.tokens_per_second, peak_rss_bytes: r.memory?.peak_rss_bytes ?? null, generated_tokens: r.generated_tokens };
}
const ratio = (family: TinyArch): number => rows.find((r) => r.family === family && r.format === 'Q4_K_M')?.ratioToF16 ?? 0;
process.stdout.write(
  `${JSON.stringify({
    proof: 'export',
    positions: POSITIONS,
    all_load: rows.every((r) => r.loads),
    all_passed: rows.every((r) => r.passed) && onnxRows.every((r) => r.passed),
    fidelity_targets_met: rows.every((r) => r.fidelityMet),
    bytes_identical_to_llama_quantize: rows.every((r) => r.llamaQuantizeIdentical !== false),
    q4_k_m_over_f16: { llama: ratio('llama'), qwen2: ratio('qwen2') },
    rows,
    onnx: onnxRows,
    onnx_int4_over_fp32: Object.fromEntries(onnxRows.filter((r) => r.precision === 'int4').map((r) => [r.family, r.ratioToFp32])),
    onnx_fp16_over_fp32: Object.fromEntries(onnxRows.filter((r) => r.precision === 'fp16').map((r) => [r.family, r.ratioToFp32])),
    onnx_int4_trained_cosine: trainedInt4,
    optimize: optimizeFigures,
    gguf_trained_fidelity: trainedGguf,
    q4_k_m_fidelity_0_98: {
      trained_llama: trainedGguf && 'rows' in trainedGguf ? (trainedGguf.rows.find((r) => r.format === 'Q4_K_M')?.fidelity ?? null) : null,
      random_init: { llama: rows.find((r) => r.family === 'llama' && r.format === 'Q4_K_M')?.fidelity ?? null, qwen2: rows.find((r) => r.family === 'qwen2' && r.format === 'Q4_K_M')?.fidelity ?? null },
      met_on_trained: trainedGguf !== undefined && 'rows' in trainedGguf && trainedGguf.q4KMCriterionMet,
    },
    demo_adapter_gguf: demoAdapter,
    inference_benchmark: inferenceBenchmark && 'native' in inferenceBenchmark
      ? { native: summarizeBenchmark(inferenceBenchmark.native), llama_cpp: summarizeBenchmark(inferenceBenchmark.llamaCpp), native_over_llama_cpp_decode: inferenceBenchmark.decodeRatio }
      : inferenceBenchmark,
    not_covered: [],
  })}\n`,
);
