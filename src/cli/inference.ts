/** `halo-forge inference export`: a model or adapter → GGUF (verified in llama.cpp) or ONNX (verified in onnxruntime). */
import { Command, Option } from 'commander';
import { GGUF_QUANTIZATIONS, type GgufQuantization } from '../export/gguf/quant-mix.js';
import { exportGguf, exportGgufLora, exportOnnx, type ExportEvent } from '../pipelines/export.js';
import { HaloError } from '../util/errors.js';

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

export function registerInference(program: Command): void {
  const group = program.command('inference').description('export trained models for other runtimes: GGUF (llama.cpp / Ollama) and ONNX (onnxruntime / transformers.js)');
  group
    .command('export')
    .description('write a model, adapter (merged onto its base) or run directory as one GGUF or ONNX file, then verify it in llama.cpp / onnxruntime')
    .requiredOption('--model <path>', 'model folder, hub id in the local cache, PEFT adapter folder or run directory (required)')
    .requiredOption('--output <file>', 'the file to write (required)')
    .addOption(new Option('--format <format>', 'gguf: the full model (adapters merged); gguf-lora: an adapter alone as a llama.cpp LoRA GGUF; onnx: an fp32 decoder graph with KV cache (default gguf)').choices(['gguf', 'gguf-lora', 'onnx']).default('gguf'))
    .addOption(new Option('--precision <precision>', 'ONNX weights: fp32, or int8 projections behind DequantizeLinear (default fp32)').choices(['fp32', 'int8']).default('fp32'))
    .addOption(new Option('--quantization <type>', 'GGUF tensor types, llama-quantize mixes (default Q4_K_M)').choices([...GGUF_QUANTIZATIONS]).default('Q4_K_M'))
    .option('--no-verify', 'skip loading the file in its peer runtime (llama.cpp / onnxruntime) and comparing logits with our engine (default: verify)')
    .option('--threads <n>', 'peer runtime threads for verification (default: llama.cpp chooses; onnxruntime 2)')
    .action(async (options: { model: string; output: string; format: string; precision: string; quantization: string; verify: boolean; threads?: string }) => {
      const threads = options.threads === undefined ? undefined : Number(options.threads);
      if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
        throw new HaloError('ERR_CLI_ARG', `--threads ${options.threads}: must be a positive integer`, { fix: 'pass --threads N with N >= 1, or leave it out' });
      }
      if (options.format === 'onnx') {
        const onnx = await exportOnnx({ model: options.model, output: options.output, precision: options.precision as 'fp32' | 'int8', verify: options.verify, threads });
        if (onnx.verify) process.stderr.write(`verify: PASS onnxruntime (${onnx.precision}) vs our engine: max |Δ logit| ${onnx.verify.maxAbsDiff.toExponential(2)}, mean cosine ${onnx.verify.meanCosine.toFixed(6)} over ${onnx.verify.positions} positions, greedy ${onnx.verify.greedyTokens} tokens ${onnx.verify.greedyIdentical ? 'identical' : 'differ'}\n`);
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
}
