/**
 * `inference benchmark`: decode latency and throughput of one model in one engine, measured the same
 * way for both so they compare with one tool —
 *  - native: our engine on a Hugging Face folder, PEFT adapter (live on its base) or run directory;
 *  - llama.cpp: a GGUF file through node-llama-cpp (CPU).
 * Each prompt runs alone (batch 1, greedy): time to first token (prefill + first sample), then the
 * time between consecutive tokens (per-token latency), from the native loop's own per-step clock or
 * node-llama-cpp's per-token yield. Prompts are plain text (no chat template) with the tokenizer's BOS.
 * By default every prompt generates exactly maxTokens (end-of-sequence tokens do not stop it), so the
 * engines do the same work.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { HaloTokenizer } from '../data/tokenizer.js';
import { Model } from '../engine/model.js';
import { gpuMemory, intraOpThreads, setIntraOpThreads } from '../engine/runtime.js';
import { Trainer } from '../engine/trainer.js';
import type { DTypeOption } from '../engine/types.js';
import { openLlamaCppPeer } from '../export/llama-cpp-peer.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { HaloError } from '../util/errors.js';
import { resolveModelSource } from './model-source.js';
import { loadPromptRecords } from './prompts.js';
import { schemaErrors } from './schemas.js';

export const BENCHMARK_ENGINES = ['native', 'llama.cpp'] as const;
export type BenchmarkEngine = (typeof BENCHMARK_ENGINES)[number];

export const INFERENCE_BENCHMARK_DEFAULTS = { engine: 'native' as BenchmarkEngine, numPrompts: 8, maxTokens: 64, warmup: 1, device: 'cpu', dtype: 'auto' as DTypeOption };

/** Used when --prompts is absent: short texts of different kinds, cycled to --num-prompts. */
export const BUILTIN_BENCHMARK_PROMPTS: readonly string[] = [
  'The history of the printing press begins in the fifteenth century, when',
  'def quicksort(items):\n    """Sort a list of numbers."""\n',
  'Question: A shop sells pencils at 3 for 2 dollars. How much do 12 pencils cost? Answer:',
  'Write a short letter to a neighbour asking to borrow a ladder for the weekend.',
  'SELECT customers.name, SUM(orders.total) FROM customers JOIN orders ON',
  'The three laws of thermodynamics can be summarised as follows. First,',
  'Translate to French: The weather is lovely today and the market is open.',
  'Once upon a time, in a village at the edge of a great forest, there lived',
];

export interface InferenceBenchmarkOptions {
  model: string;
  /** default native */
  engine?: BenchmarkEngine;
  /** a prompts file (jsonl / json / parquet / csv with a prompt field); default the built-in prompts */
  prompts?: string;
  /** measured prompts (default 8; the prompt list is cycled when shorter) */
  numPrompts?: number;
  /** new tokens per prompt (default 64) */
  maxTokens?: number;
  /** unmeasured runs first (default 1) */
  warmup?: number;
  /** sample the process tree's RSS (and GPU memory on cuda) during the run (default false) */
  measureMemory?: boolean;
  /** stop a prompt at the model's end-of-sequence tokens (default false: exactly maxTokens each) */
  stopAtEos?: boolean;
  /** native: cpu (default) or cuda[:N] */
  device?: string;
  /** native: auto (default), fp32, bf16, fp16 */
  dtype?: DTypeOption;
  /** native: the cycle of a run directory */
  cycle?: number;
  /** CPU threads: native sets libtorch's intra-op threads for the run (restored after), llama.cpp its eval threads (default: each engine's own choice) */
  threads?: number;
  /** also write the report here (atomically) */
  output?: string;
  onEvent?: (event: InferenceBenchmarkEvent) => void;
}

export type InferenceBenchmarkEvent =
  | { type: 'benchmark_load'; engine: BenchmarkEngine; model: string; seconds: number }
  | { type: 'benchmark_prompt'; index: number; total: number; warmup: boolean; promptTokens: number; generatedTokens: number; ttftMs: number; tokensPerSecond: number };

export interface LatencyStats {
  mean: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
}

export interface PromptRun {
  prompt_tokens: number;
  generated_tokens: number;
  ttft_ms: number;
  total_ms: number;
  stopped: boolean;
}

export interface MemoryReport {
  /** the process tree's resident set before the model was loaded */
  baseline_rss_bytes: number;
  /** the largest resident set of this process and its children sampled while loading and generating */
  peak_rss_bytes: number;
  /** the kernel's lifetime high-water mark of this process alone (getrusage maxrss) */
  process_max_rss_bytes: number;
  samples: number;
  /** cuda: the most device memory in use (device-wide, every process) sampled during the run; null elsewhere */
  gpu_peak_used_bytes: number | null;
  gpu_baseline_used_bytes: number | null;
}

export interface InferenceBenchmarkReport {
  format: 'halo-forge-inference-benchmark/1';
  engine: BenchmarkEngine;
  model: string;
  model_description: string;
  device: string;
  dtype: string | null;
  threads: number | null;
  prompts: { source: string; count: number; warmup: number; mean_prompt_tokens: number };
  max_tokens: number;
  stop_at_eos: boolean;
  generated_tokens: number;
  load_seconds: number;
  /** time to first token: prefill + first sample, per prompt */
  ttft_ms: LatencyStats;
  /** time between consecutive tokens of a prompt, over every later token of every prompt */
  per_token_ms: LatencyStats;
  /** tokens after the first / the time they took (steady-state decode rate) */
  decode_tokens_per_second: number;
  /** all generated tokens / all wall time from each call's start (prefill included) */
  tokens_per_second: number;
  memory: MemoryReport | null;
  runs: PromptRun[];
  system: { platform: string; arch: string; cpus: number; cpu_model: string; node: string };
  created_at: string;
}

/** One prompt's timing: ms from the call's start to the first token, then ms between tokens. */
interface Timing {
  tokens: number[];
  firstTokenMs: number;
  stepMs: number[];
  totalMs: number;
  stopped: boolean;
}

interface Runner {
  description: string;
  device: string;
  dtype: string | null;
  threads: number | null;
  tokenize(text: string): number[];
  run(prompt: number[], maxTokens: number, stopAtEos: boolean): Promise<Timing>;
  dispose(): Promise<void>;
}

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function latencyStats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? 0 : sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return { mean, p50: percentile(sorted, 50), p95: percentile(sorted, 95), min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}

function isGgufFile(path: string): boolean {
  const magic = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'GGUF';
  } finally {
    closeSync(fd);
  }
}

/** The file / folder kind of --model, checked against --engine before anything loads. */
function checkModelForEngine(model: string, engine: BenchmarkEngine): void {
  const path = resolve(model);
  if (!existsSync(path)) return; // a hub id or a typo: resolveModelSource / the GGUF check below name it
  const isFile = statSync(path).isFile();
  if (engine === 'native' && isFile) {
    const what = isGgufFile(path) ? 'a GGUF file' : 'a file';
    throw new HaloError('ERR_BENCHMARK_ENGINE', `--model ${model} is ${what}, but --engine native runs Hugging Face model folders, PEFT adapter folders and run directories`, {
      fix: isGgufFile(path) ? `pass --engine llama.cpp to benchmark the GGUF in llama.cpp, or point --model at the folder it was exported from` : 'point --model at a model folder (config.json + safetensors), an adapter folder or a run directory',
    });
  }
  if (engine === 'llama.cpp' && !isFile) {
    throw new HaloError('ERR_BENCHMARK_ENGINE', `--model ${model} is a folder, but --engine llama.cpp runs one GGUF file`, {
      fix: `export it first (halo-forge inference export --model ${model} --format gguf --quantization F32 --output model.gguf) and pass --model model.gguf, or use --engine native for the folder`,
    });
  }
}

async function nativeRunner(options: InferenceBenchmarkOptions): Promise<Runner> {
  checkModelForEngine(options.model, 'native');
  const source = resolveModelSource(options.model, options.cycle === undefined ? {} : { cycle: options.cycle });
  const model = await Model.load(source.baseDir, { device: options.device ?? INFERENCE_BENCHMARK_DEFAULTS.device, dtype: options.dtype ?? INFERENCE_BENCHMARK_DEFAULTS.dtype });
  let trainer: Trainer | undefined;
  try {
    if (source.adapterDir !== undefined) trainer = Trainer.fromAdapter(model, source.adapterDir);
  } catch (error) {
    model.dispose();
    throw error;
  }
  const tokenizer = HaloTokenizer.fromFolder(source.baseDir);
  const vocab = model.config.vocabSize;
  const previousThreads = options.threads === undefined ? undefined : setIntraOpThreads(options.threads);
  return {
    description: source.description,
    device: model.device,
    dtype: model.dtype,
    threads: intraOpThreads(),
    tokenize: (text) => {
      const ids = tokenizer.encode(text, { addSpecialTokens: true }).filter((id) => id < vocab);
      if (ids.length === 0 && tokenizer.bosId !== undefined) ids.push(tokenizer.bosId);
      return ids;
    },
    async run(prompt, maxTokens, stopAtEos) {
      const started = performance.now();
      const result = await model.generate([prompt], { maxNewTokens: maxTokens, temperature: 0, stopTokenIds: stopAtEos ? model.generation.eosTokenIds : [] });
      const totalMs = performance.now() - started;
      const sequence = result.sequences[0];
      return { tokens: sequence.tokens, firstTokenMs: result.firstTokenMs, stepMs: result.stepMs, totalMs, stopped: sequence.finishReason === 'stop' };
    },
    async dispose() {
      trainer?.dispose();
      model.dispose();
      if (previousThreads !== undefined) setIntraOpThreads(previousThreads);
    },
  };
}

async function llamaCppRunner(options: InferenceBenchmarkOptions, longestText: number): Promise<Runner> {
  checkModelForEngine(options.model, 'llama.cpp');
  const path = resolve(options.model);
  if (!existsSync(path)) throw new HaloError('ERR_MODEL_ARG', `--model ${options.model}: no such file`, { fix: 'pass the path of a GGUF file (halo-forge inference export writes one)' });
  if (!isGgufFile(path)) throw new HaloError('ERR_BENCHMARK_ENGINE', `--model ${options.model} is not a GGUF file (no GGUF magic bytes)`, { fix: 'pass a .gguf file, or --engine native for a Hugging Face folder' });
  const maxTokens = options.maxTokens ?? INFERENCE_BENCHMARK_DEFAULTS.maxTokens;
  // a prompt never has more tokens than bytes (+ BOS); the context holds prompt + continuation
  const contextSize = Math.ceil((longestText + 2 + maxTokens + 8) / 64) * 64;
  const peer = await openLlamaCppPeer(path, { contextSize, ...(options.threads === undefined ? {} : { threads: options.threads }) });
  return {
    description: `GGUF ${path}`,
    device: 'cpu',
    dtype: null,
    threads: options.threads ?? null,
    tokenize: (text) => peer.tokenize(text),
    async run(prompt, maxTokens, stopAtEos) {
      const generation = await peer.generate([prompt], maxTokens, { temperature: 0, eog: stopAtEos ? 'yield-and-end' : 'continue' });
      const times = generation.tokenAt[0];
      const tokens = generation.tokens[0];
      const end = times.length > 0 ? times[times.length - 1] : generation.startedAt;
      return {
        tokens,
        firstTokenMs: times.length > 0 ? times[0] - generation.startedAt : 0,
        stepMs: times.slice(1).map((t, i) => t - times[i]),
        totalMs: end - generation.startedAt,
        stopped: stopAtEos && tokens.length > 0 && peer.isEndOfGeneration(tokens[tokens.length - 1]),
      };
    },
    async dispose() {
      await peer.dispose();
    },
  };
}

/** Resident set of this process and its descendants (Linux /proc; this process alone elsewhere). */
function treeRssBytes(): number {
  if (process.platform !== 'linux') return process.memoryUsage.rss();
  const pageKb = (pid: number): number => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  };
  const children = (pid: number): number[] => {
    try {
      return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      return [];
    }
  };
  let total = 0;
  const pending = [process.pid];
  const seen = new Set<number>();
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += pageKb(pid);
    pending.push(...children(pid));
  }
  return total;
}

class MemorySampler {
  private readonly timer: NodeJS.Timeout;
  readonly baselineRss: number;
  peakRss: number;
  samples = 0;
  private readonly gpuIndex: number | null;
  readonly gpuBaseline: number | null;
  gpuPeak: number | null;

  constructor(device: string) {
    this.baselineRss = treeRssBytes();
    this.peakRss = this.baselineRss;
    const match = /^cuda(?::(\d+))?$/.exec(device);
    this.gpuIndex = match ? Number(match[1] ?? 0) : null;
    this.gpuBaseline = this.gpuUsed();
    this.gpuPeak = this.gpuBaseline;
    this.timer = setInterval(() => this.sample(), 20);
  }

  private gpuUsed(): number | null {
    if (this.gpuIndex === null) return null;
    const device = gpuMemory().find((d) => d.index === this.gpuIndex);
    return device ? device.totalMemoryBytes - device.freeMemoryBytes : null;
  }

  sample(): void {
    this.samples++;
    this.peakRss = Math.max(this.peakRss, treeRssBytes());
    const gpu = this.gpuUsed();
    if (gpu !== null) this.gpuPeak = Math.max(this.gpuPeak ?? 0, gpu);
  }

  stop(): MemoryReport {
    clearInterval(this.timer);
    this.sample();
    return {
      baseline_rss_bytes: this.baselineRss,
      peak_rss_bytes: this.peakRss,
      process_max_rss_bytes: process.resourceUsage().maxRSS * 1024,
      samples: this.samples,
      gpu_peak_used_bytes: this.gpuPeak,
      gpu_baseline_used_bytes: this.gpuBaseline,
    };
  }
}

function integerAtLeast(value: number, flag: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new HaloError('ERR_CLI_ARG', `${flag} ${value}: must be an integer >= ${min}`, { fix: `pass ${flag} N with N >= ${min}` });
  return value;
}

export async function runInferenceBenchmark(options: InferenceBenchmarkOptions): Promise<InferenceBenchmarkReport> {
  const engine = options.engine ?? INFERENCE_BENCHMARK_DEFAULTS.engine;
  if (!BENCHMARK_ENGINES.includes(engine)) throw new HaloError('ERR_CLI_ARG', `--engine ${String(engine)}: must be native or llama.cpp`, { fix: 'pass --engine native or --engine llama.cpp' });
  const numPrompts = integerAtLeast(options.numPrompts ?? INFERENCE_BENCHMARK_DEFAULTS.numPrompts, '--num-prompts', 1);
  const maxTokens = integerAtLeast(options.maxTokens ?? INFERENCE_BENCHMARK_DEFAULTS.maxTokens, '--max-tokens', 1);
  const warmup = integerAtLeast(options.warmup ?? INFERENCE_BENCHMARK_DEFAULTS.warmup, '--warmup', 0);
  const stopAtEos = options.stopAtEos ?? false;
  const texts = options.prompts === undefined ? [...BUILTIN_BENCHMARK_PROMPTS] : (await loadPromptRecords(options.prompts)).map((record) => record.text);
  const longestText = Math.max(...texts.map((text) => Buffer.byteLength(text)));

  const sampler = options.measureMemory ? new MemorySampler(engine === 'native' ? (options.device ?? INFERENCE_BENCHMARK_DEFAULTS.device) : 'cpu') : undefined;
  let memory: MemoryReport | null = null;
  const loadStarted = performance.now();
  let runner: Runner;
  try {
    runner = engine === 'native' ? await nativeRunner(options) : await llamaCppRunner(options, longestText);
  } catch (error) {
    sampler?.stop();
    throw error;
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  options.onEvent?.({ type: 'benchmark_load', engine, model: runner.description, seconds: loadSeconds });

  const runs: PromptRun[] = [];
  const firstTokens: number[] = [];
  const steps: number[] = [];
  let generated = 0;
  let promptTokens = 0;
  try {
    const encoded = texts.map((text) => runner.tokenize(text));
    const empty = encoded.findIndex((ids) => ids.length === 0);
    if (empty >= 0) throw new HaloError('ERR_PROMPTS', `prompt ${empty + 1} (${JSON.stringify(texts[empty].slice(0, 40))}) encodes to no tokens in this model's tokenizer`, { fix: 'use prompts written in characters the model knows' });
    for (let i = 0; i < warmup + numPrompts; i++) {
      const measured = i >= warmup;
      const prompt = encoded[(measured ? i - warmup : i) % encoded.length];
      const timing = await runner.run(prompt, maxTokens, stopAtEos);
      const decodeMs = timing.stepMs.reduce((sum, v) => sum + v, 0);
      options.onEvent?.({
        type: 'benchmark_prompt',
        index: measured ? i - warmup : i,
        total: measured ? numPrompts : warmup,
        warmup: !measured,
        promptTokens: prompt.length,
        generatedTokens: timing.tokens.length,
        ttftMs: timing.firstTokenMs,
        tokensPerSecond: decodeMs > 0 ? timing.stepMs.length / (decodeMs / 1000) : 0,
      });
      if (!measured) continue;
      runs.push({ prompt_tokens: prompt.length, generated_tokens: timing.tokens.length, ttft_ms: timing.firstTokenMs, total_ms: timing.totalMs, stopped: timing.stopped });
      if (timing.tokens.length > 0) firstTokens.push(timing.firstTokenMs);
      steps.push(...timing.stepMs);
      generated += timing.tokens.length;
      promptTokens += prompt.length;
    }
  } finally {
    if (sampler) memory = sampler.stop();
    await runner.dispose();
  }

  const decodeMs = steps.reduce((sum, v) => sum + v, 0);
  const totalMs = runs.reduce((sum, run) => sum + run.total_ms, 0);
  const report: InferenceBenchmarkReport = {
    format: 'halo-forge-inference-benchmark/1',
    engine,
    model: options.model,
    model_description: runner.description,
    device: runner.device,
    dtype: runner.dtype,
    threads: runner.threads,
    prompts: { source: options.prompts === undefined ? 'built-in' : resolve(options.prompts), count: numPrompts, warmup, mean_prompt_tokens: promptTokens / numPrompts },
    max_tokens: maxTokens,
    stop_at_eos: stopAtEos,
    generated_tokens: generated,
    load_seconds: loadSeconds,
    ttft_ms: latencyStats(firstTokens),
    per_token_ms: latencyStats(steps),
    decode_tokens_per_second: decodeMs > 0 ? steps.length / (decodeMs / 1000) : 0,
    tokens_per_second: totalMs > 0 ? generated / (totalMs / 1000) : 0,
    memory,
    runs,
    system: { platform: process.platform, arch: process.arch, cpus: availableParallelism(), cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version },
    created_at: new Date().toISOString(),
  };
  const problems = schemaErrors('inference_benchmark', report);
  if (problems.length > 0) throw new Error(`inference benchmark report does not match its schema: ${problems.join('; ')}`);
  if (options.output !== undefined) writeJsonAtomic(resolve(options.output), report);
  return report;
}
