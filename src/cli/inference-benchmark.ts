/** `halo-forge inference benchmark`: latency and throughput of a model in our engine or a GGUF in llama.cpp; prints one JSON report. */
import { Command, Option } from 'commander';
import type { DTypeOption } from '../engine/types.js';
import { BENCHMARK_ENGINES, BUILTIN_BENCHMARK_PROMPTS, INFERENCE_BENCHMARK_DEFAULTS as D, runInferenceBenchmark, type BenchmarkEngine, type InferenceBenchmarkEvent } from '../pipelines/inference-benchmark.js';
import { HaloError } from '../util/errors.js';

function integer(flag: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new HaloError('ERR_CLI_ARG', `${flag} ${value}: must be an integer >= ${min}`, { fix: `pass ${flag} N with N >= ${min}` });
    return n;
  };
}

function describe(event: InferenceBenchmarkEvent): string {
  if (event.type === 'benchmark_load') return `benchmark: ${event.engine} loaded ${event.model} in ${event.seconds.toFixed(2)} s`;
  const tag = event.warmup ? `warmup ${event.index + 1}/${event.total}` : `prompt ${event.index + 1}/${event.total}`;
  return `benchmark: ${tag}: ${event.promptTokens} prompt tokens, ${event.generatedTokens} generated, first token ${event.ttftMs.toFixed(1)} ms, ${event.tokensPerSecond.toFixed(1)} tok/s decode`;
}

const HELP = `
Each prompt runs alone (batch 1, greedy decoding) and is timed from the call's start:
  ttft_ms        time to first token (prompt prefill + first sample)
  per_token_ms   time between consecutive tokens of a prompt (p50 / p95 over every token after the first)
  decode_tokens_per_second   tokens after the first / their time; tokens_per_second: all tokens / all time
Prompts are plain text with the tokenizer's BOS (no chat template); by default each generates exactly
--max-tokens (end-of-sequence does not stop it) so both engines do the same work.
The built-in prompts (${BUILTIN_BENCHMARK_PROMPTS.length}, cycled to --num-prompts) are short English, code and SQL texts.

Compare the engines on one model:
  halo-forge inference export --model ./my-model --format gguf --quantization F32 --output my-model.gguf
  halo-forge inference benchmark --model ./my-model --dtype fp32 --output native.json
  halo-forge inference benchmark --model my-model.gguf --engine llama.cpp --output llama.json
`;

export function registerInferenceBenchmark(group: Command): void {
  group
    .command('benchmark')
    .description('time to first token, per-token latency p50 / p95, tokens/s and peak memory of a model in our engine (native) or a GGUF in llama.cpp; prints one JSON report')
    .requiredOption('--model <path>', 'native: model folder, hub id in the local cache, PEFT adapter folder or run directory; llama.cpp: a .gguf file (required)')
    .addOption(new Option('--engine <engine>', `native: our engine; llama.cpp: node-llama-cpp on the CPU (default ${D.engine})`).choices([...BENCHMARK_ENGINES]).default(D.engine))
    .option('--prompts <file>', 'prompts file (.jsonl / .json / .parquet / .csv; a "prompt", "question" or "messages" field per record) (default: the built-in prompts)')
    .option('--num-prompts <n>', `measured prompts; the prompt list is cycled when shorter (default ${D.numPrompts})`, integer('--num-prompts', 1), D.numPrompts)
    .option('--max-tokens <n>', `new tokens per prompt (default ${D.maxTokens})`, integer('--max-tokens', 1), D.maxTokens)
    .option('--warmup <n>', `unmeasured runs before the measured ones (default ${D.warmup})`, integer('--warmup', 0), D.warmup)
    .option('--measure-memory', 'sample the resident memory of this process and its children every 20 ms (and device memory in use on cuda) (default: off)')
    .option('--stop-at-eos', "end a prompt at the model's end-of-sequence tokens (default: off, exactly --max-tokens per prompt)")
    .option('--device <device>', `native: cpu or cuda[:N] (default ${D.device}); llama.cpp runs on the CPU`, D.device)
    .addOption(new Option('--dtype <dtype>', `native: weights and activations dtype; auto is bf16 where the CPU has fast bf16, fp32 otherwise, bf16 on GPUs (default ${D.dtype})`).choices(['auto', 'fp32', 'bf16', 'fp16']).default(D.dtype))
    .option('--cycle <n>', 'native, run directory: benchmark the adapter of cycle N (default: the final or latest one)', integer('--cycle', 1))
    .option('--threads <n>', "CPU threads: native sets libtorch's intra-op threads, llama.cpp its evaluation threads (default: native HALO_FORGE_THREADS or all cores, llama.cpp node-llama-cpp's choice; on a busy machine fewer threads can be much faster)", integer('--threads', 1))
    .option('--output <file>', 'also write the JSON report to this file, atomically (default: print only)')
    .addHelpText('after', HELP)
    .action(async (options: { model: string; engine: string; prompts?: string; numPrompts: number; maxTokens: number; warmup: number; measureMemory?: boolean; stopAtEos?: boolean; device: string; dtype: string; cycle?: number; threads?: number; output?: string }) => {
      const report = await runInferenceBenchmark({
        model: options.model,
        engine: options.engine as BenchmarkEngine,
        numPrompts: options.numPrompts,
        maxTokens: options.maxTokens,
        warmup: options.warmup,
        measureMemory: options.measureMemory === true,
        stopAtEos: options.stopAtEos === true,
        device: options.device,
        dtype: options.dtype as DTypeOption,
        ...(options.prompts === undefined ? {} : { prompts: options.prompts }),
        ...(options.cycle === undefined ? {} : { cycle: options.cycle }),
        ...(options.threads === undefined ? {} : { threads: options.threads }),
        ...(options.output === undefined ? {} : { output: options.output }),
        onEvent: (event) => process.stderr.write(`${describe(event)}\n`),
      });
      const r = report;
      process.stderr.write(
        `benchmark: ${r.engine} ${r.generated_tokens} tokens over ${r.prompts.count} prompts: first token p50 ${r.ttft_ms.p50.toFixed(1)} ms p95 ${r.ttft_ms.p95.toFixed(1)} ms; ` +
          `per token p50 ${r.per_token_ms.p50.toFixed(2)} ms p95 ${r.per_token_ms.p95.toFixed(2)} ms; ${r.decode_tokens_per_second.toFixed(1)} tok/s decode, ${r.tokens_per_second.toFixed(1)} tok/s overall` +
          `${r.memory ? `; peak RSS ${(r.memory.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB${r.memory.gpu_peak_used_bytes !== null ? `, GPU in use ${(r.memory.gpu_peak_used_bytes / 2 ** 20).toFixed(0)} MiB` : ''}` : ''}\n`,
      );
      process.stdout.write(`${JSON.stringify(report)}\n`);
    });
}
