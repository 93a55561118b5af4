/**
 * `halo-forge inference export`: a model or adapter → GGUF (verified in llama.cpp) or ONNX (verified in onnxruntime).
 * `halo-forge inference optimize`: a model → a weight-only int8 / int4 (or fp16) folder our engine runs, with a quality report.
 * `halo-forge inference benchmark`: latency / throughput / memory in our engine or llama.cpp (src/cli/inference-benchmark.ts).
 */
import { Command, Option } from 'commander';
import { GGUF_QUANTIZATIONS, type GgufQuantization } from '../export/gguf/quant-mix.js';
import { exportGguf, exportGgufLora, exportOnnx, type ExportEvent } from '../pipelines/export.js';
import type { OnnxPrecision } from '../export/onnx/decoder.js';
import { HaloError } from '../util/errors.js';

/** `--precision` values of `--format onnx` (listed here: the ONNX writer itself loads only for ONNX exports). */
const ONNX_PRECISION_CHOICES: readonly OnnxPrecision[] = ['fp32', 'fp16', 'int8', 'int4'];
import { DEFAULT_INT4_GROUP_SIZE, OPTIMIZE_PRECISIONS, type OptimizePrecision } from '../export/weight-only.js';
import { optimizeModel, REPORT_FILE, type EvalDType, type OptimizeEvent } from '../pipelines/optimize.js';
import { registerInferenceBenchmark } from './inference-benchmark.js';

function describe(event: ExportEvent): string {
  switch (event.type) {
    case 'export_start':
      return `export: ${event.source} -> ${event.output} (${event.quantization}${event.mergedTargets > 0 ? `, LoRA merged into ${event.mergedTargets} weights` : ''})`;
    case 'export_written':
      return `export: wrote ${(event.bytes / 2 ** 20).toFixed(2)} MiB, ${event.tensors} tensors ${JSON.stringify(event.tensorTypes)}`;
    case 'verify_start':
      return `verify: llama.cpp vs our engine (fp32) on ${event.prompts} prompts, ${event.positions} positions`;
    case 'verify_result': {
      const r = event.report;
      const gate = r.quantization === 'F32' ? 'relative diff <= 1e-3' : 'cosine >= 0.999';
      return [
        `verify: ${r.passed ? 'PASS' : 'FAIL'} llama.cpp vs our engine on the stored weights: mean cosine ${r.agreement.meanCosine.toFixed(6)}, max relative diff ${r.agreement.maxRelativeDiff.toExponential(2)}, argmax ${(r.agreement.argmaxAgreement * 100).toFixed(1)}% (needs ${gate})`,
        `verify: fidelity vs the fp32 source: mean cosine ${r.fidelity.meanCosine.toFixed(6)} (min ${r.fidelity.minCosine.toFixed(6)}), argmax ${(r.fidelity.argmaxAgreement * 100).toFixed(1)}%; ${r.quantization} target ${r.fidelityTarget} ${r.fidelityMet ? 'met' : 'NOT met'}`,
      ].join('\n');
    }
  }
}

function describeOptimize(event: OptimizeEvent): string {
  switch (event.type) {
    case 'optimize_start':
      return `optimize: ${event.source} -> ${event.output} (${event.precision}${event.groupSize !== null && event.groupSize > 0 ? `, groups of ${event.groupSize}` : ''})`;
    case 'optimize_written':
      return `optimize: wrote ${(event.bytes / 2 ** 20).toFixed(2)} MiB, ${event.tensors} tensors (${event.quantizedTensors} projections quantized) in ${event.seconds.toFixed(1)} s`;
    case 'evaluate_start':
      return `optimize: comparing with the original in our engine over ${event.positions} teacher-forced tokens of ${event.text === 'built-in' ? 'the built-in held-out text' : event.text}`;
    case 'optimize_done': {
      const r = event.report;
      const q = r.quality;
      const lines = [
        `optimize: size ${(r.size.sourceBytes / 2 ** 20).toFixed(2)} -> ${(r.size.outputBytes / 2 ** 20).toFixed(2)} MiB (${r.size.ratio.toFixed(3)} x; projections alone ${r.size.projections.ratio.toFixed(3)} x, embeddings / norms / lm_head kept)`,
        `optimize: perplexity ${q.perplexity.original.toFixed(3)} -> ${q.perplexity.optimized.toFixed(3)} (${(q.perplexity.relativeIncrease * 100).toFixed(2)}%), top-1 agreement ${(q.top1Agreement * 100).toFixed(1)}%, logit cosine mean ${q.logitCosine.mean.toFixed(6)} min ${q.logitCosine.min.toFixed(6)} (${q.dtype}; target ${q.cosineTarget} ${q.cosineTargetMet ? 'met' : 'NOT met'})`,
      ];
      if (r.speed) lines.push(`optimize: batch-1 greedy decode ${r.speed.original.toFixed(1)} -> ${r.speed.optimized.toFixed(1)} tok/s (${r.speed.speedup.toFixed(2)} x, ${r.speed.dtype}, ${r.speed.kernels} kernels), first ${r.speed.greedyIdenticalTokens}/${r.speed.decodeTokens} greedy tokens identical`);
      lines.push(`optimize: report ${r.output}/${REPORT_FILE}`);
      return lines.join('\n');
    }
  }
}

function integerFlag(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new HaloError('ERR_CLI_ARG', `${flag} ${value}: must be an integer >= ${min}`, { fix: `pass ${flag} N with N >= ${min}, or leave it out` });
  return n;
}

export function registerInference(program: Command): void {
  const group = program.command('inference').description('export trained models for other runtimes: GGUF (llama.cpp / Ollama) and ONNX (onnxruntime / transformers.js)');
  group
    .command('export')
    .description('write a model, adapter (merged onto its base) or run directory as one GGUF or ONNX file, then verify it in llama.cpp / onnxruntime')
    .requiredOption('--model <path>', 'model folder, hub id in the local cache, PEFT adapter folder or run directory (required)')
    .requiredOption('--output <file>', 'the file to write (required)')
    .addOption(new Option('--format <format>', 'gguf: the full model (adapters merged); gguf-lora: an adapter alone as a llama.cpp LoRA GGUF; onnx: a decoder graph with KV cache, weights per --precision (default gguf)').choices(['gguf', 'gguf-lora', 'onnx']).default('gguf'))
    .addOption(
      new Option(
        '--precision <precision>',
        'ONNX weights (default fp32): fp32 as stored; fp16 every weight float16 (half the size, float32 arithmetic and inputs/outputs); int8 attention/MLP projections int8 per output channel behind DequantizeLinear; int4 projections 4-bit in blocks of 32 through com.microsoft MatMulNBits, lm_head 8-bit, embedding float16',
      )
        .choices([...ONNX_PRECISION_CHOICES])
        .default('fp32'),
    )
    .addOption(new Option('--quantization <type>', 'GGUF tensor types, llama-quantize mixes (default Q4_K_M)').choices([...GGUF_QUANTIZATIONS]).default('Q4_K_M'))
    .option('--no-verify', 'skip loading the file in its peer runtime (llama.cpp / onnxruntime) and comparing logits with our engine (default: verify)')
    .option('--threads <n>', 'peer runtime threads for verification (default: llama.cpp chooses; onnxruntime 2)')
    .action(async (options: { model: string; output: string; format: string; precision: string; quantization: string; verify: boolean; threads?: string }) => {
      const threads = options.threads === undefined ? undefined : Number(options.threads);
      if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
        throw new HaloError('ERR_CLI_ARG', `--threads ${options.threads}: must be a positive integer`, { fix: 'pass --threads N with N >= 1, or leave it out' });
      }
      if (options.format === 'onnx') {
        const onnx = await exportOnnx({ model: options.model, output: options.output, precision: options.precision as OnnxPrecision, verify: options.verify, threads });
        if (onnx.verify) {
          const v = onnx.verify;
          process.stderr.write(
            `verify: PASS onnxruntime (${onnx.precision}) vs our engine on the stored weights: max |Δ logit| ${v.agreement.maxAbsDiff.toExponential(2)}, greedy ${v.greedyTokens} tokens ${v.agreement.greedyIdentical ? 'identical' : 'differ'}\n` +
              `verify: fidelity vs the fp32 source: mean cosine ${v.meanCosine.toFixed(6)}, argmax ${(v.argmaxAgreement * 100).toFixed(1)}%, max |Δ logit| ${v.maxAbsDiff.toExponential(2)} over ${v.positions} positions; ${onnx.precision} target ${v.fidelityTarget} ${v.fidelityMet ? 'met' : 'NOT met'}\n`,
          );
        }
        if (onnx.externalData) process.stderr.write(`export: weights in ${onnx.externalData} (ONNX external data; keep it next to ${onnx.output})\n`);
        process.stdout.write(`${JSON.stringify(onnx)}\n`);
        return;
      }
      if (options.format === 'gguf-lora') {
        const lora = await exportGgufLora({ model: options.model, output: options.output, verify: options.verify, threads });
        if (lora.verify) process.stderr.write(`verify: PASS llama.cpp (base + LoRA) vs our engine (merged): max relative diff ${lora.verify.maxRelativeDiff.toExponential(2)}, mean cosine ${lora.verify.meanCosine.toFixed(6)}\n`);
        process.stdout.write(`${JSON.stringify(lora)}\n`);
        return;
      }
      const result = await exportGguf({
        model: options.model,
        output: options.output,
        quantization: options.quantization as GgufQuantization,
        verify: options.verify,
        threads,
        onEvent: (event) => process.stderr.write(`${describe(event)}\n`),
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
  group
    .command('optimize')
    .description('write a weight-only int8 / int4 (or fp16) copy of a model folder that our engine runs natively, with a quality report vs the original (perplexity, top-1, logit cosine, size, decode tok/s)')
    .requiredOption('--model <path>', 'model folder, hub id in the local cache, PEFT adapter folder or run directory (adapters are merged onto their base) (required)')
    .requiredOption('--output <dir>', 'the folder to write; must not exist or be empty unless --force (required)')
    .addOption(new Option('--target-precision <precision>', 'int8: one scale per output row; int4: groups with fp16 scale and min; fp16: plain fp16 safetensors (default int8)').choices([...OPTIMIZE_PRECISIONS]).default('int8'))
    .option('--calibration-data <file>', 'held-out text for the report: JSONL (text, messages or prompt fields) or plain text (default: a built-in paragraph); the quantizer itself needs no calibration')
    .option('--group-size <n>', `int4 inputs per group, a multiple of 16 (default ${DEFAULT_INT4_GROUP_SIZE})`)
    .addOption(new Option('--dtype <dtype>', 'engine dtype for the comparison and speed runs (default fp32)').choices(['fp32', 'bf16', 'auto']).default('fp32'))
    .option('--eval-tokens <n>', 'teacher-forced tokens of held-out text in the report (default 512)')
    .option('--decode-tokens <n>', 'greedy tokens per decode-speed run, 0 to skip the speed runs (default 64)')
    .option('--force', 'replace a non-empty output folder (default: refuse)')
    .action(async (options: { model: string; output: string; targetPrecision: string; calibrationData?: string; groupSize?: string; dtype: string; evalTokens?: string; decodeTokens?: string; force?: boolean }) => {
      const report = await optimizeModel({
        model: options.model,
        output: options.output,
        precision: options.targetPrecision as OptimizePrecision,
        calibrationData: options.calibrationData,
        groupSize: integerFlag(options.groupSize, '--group-size', 16),
        dtype: options.dtype as EvalDType,
        evalTokens: integerFlag(options.evalTokens, '--eval-tokens', 2),
        decodeTokens: integerFlag(options.decodeTokens, '--decode-tokens', 0),
        force: options.force === true,
        onEvent: (event) => process.stderr.write(`${describeOptimize(event)}\n`),
      });
      process.stdout.write(`${JSON.stringify(report)}\n`);
    });
  registerInferenceBenchmark(group);
}
