/**
 * `halo-forge demo`: the whole product on a built-in model and task, end to end — create a tiny
 * model, SFT it on a few labelled problems, measure held-out pass@1, run RAFT cycles on unlabelled
 * prompts graded by the math verifier, measure held-out pass@1 after every cycle. Every number comes
 * from the run; the same seed gives the same numbers.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HaloError } from '../util/errors.js';
import { type EventBus } from '../util/events.js';
import { runBenchmark } from './benchmark.js';
import { benchmarkConfig, raftConfig, sftConfig } from './config/commands.js';
import { resolveConfig } from './config/resolve.js';
import { writeDemoModel } from './demo/model.js';
import { demoSplits, writeDemoData } from './demo/task.js';
import { runRaft } from './raft/loop.js';
import { runSft } from './sft.js';

export interface DemoOptions {
  output: string;
  cycles: number;
  /** smaller everything: a smoke run in about a minute (the numbers mean less). */
  fast: boolean;
  seed: number;
  cwd: string;
  bus: EventBus;
  version: string;
  signal?: AbortSignal;
}

export interface DemoStage {
  stage: string;
  /** held-out pass@1 (unbiased, from `samples` completions per prompt). */
  pass1: number;
  passK: number;
  k: number;
  seconds: number;
}

export interface DemoReport {
  seed: number;
  fast: boolean;
  model: { parameters: number; vocabulary: number };
  problems: { sft: number; raft: number; held_out: number };
  stages: DemoStage[];
  baseline_pass1: number;
  final_pass1: number;
  improvement_points: number;
  seconds: { model: number; sft: number; raft: number; benchmarks: number; total: number };
  raft_phase_seconds: Record<string, number>;
  paths: { output: string; base_model: string; sft: string; raft: string; final_adapter: string; benchmarks: string };
}

interface DemoScale {
  hidden: number;
  sizes: { sft: number; raft: number; heldOut: number };
  sftEpochs: number;
  samplesPerPrompt: number;
  raftEpochs: number;
  benchmarkSamples: number;
}

/**
 * 300 labelled problems are too few for this model to learn the rule by SFT alone (held-out pass@1
 * stays near 6 %; with 500 it passes 90 %): RAFT's verified samples on 1,200 unlabelled prompts
 * supply the missing data, and each cycle's better model finds more correct samples for the next.
 */
const FULL: DemoScale = { hidden: 128, sizes: { sft: 300, raft: 1200, heldOut: 100 }, sftEpochs: 20, samplesPerPrompt: 8, raftEpochs: 4, benchmarkSamples: 8 };
const FAST: DemoScale = { hidden: 64, sizes: { sft: 200, raft: 200, heldOut: 40 }, sftEpochs: 4, samplesPerPrompt: 4, raftEpochs: 1, benchmarkSamples: 4 };
const TEMPERATURE = '1';

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const started = performance.now();
  const scale = options.fast ? FAST : FULL;
  const root = resolve(options.cwd, options.output);
  const paths = {
    output: root,
    base_model: join(root, 'base_model'),
    sft: join(root, 'sft'),
    raft: join(root, 'raft'),
    final_adapter: join(root, 'raft', 'final_model'),
    benchmarks: join(root, 'benchmarks'),
  };
  prepareOutput(root);
  mkdirSync(paths.benchmarks, { recursive: true });
  const common = { device: 'cpu', dtype: 'fp32', seed: String(options.seed), quiet: true };

  let clock = performance.now();
  const model = writeDemoModel(paths.base_model, { seed: options.seed, hidden: scale.hidden });
  const splits = demoSplits(options.seed, scale.sizes);
  const data = writeDemoData(join(root, 'data'), splits);
  const modelSeconds = (performance.now() - clock) / 1000;
  options.bus.emit({ type: 'log', phase: 'setup', level: 'info', message: `demo: model ${model.parameters} parameters, ${scale.sizes.sft} SFT / ${scale.sizes.raft} RAFT / ${scale.sizes.heldOut} held-out problems` });

  clock = performance.now();
  const sft = resolveConfig(sftConfig, {
    cli: {
      ...common,
      model: paths.base_model,
      data: data.sft,
      output: paths.sft,
      lora: false,
      epochs: String(scale.sftEpochs),
      batchSize: '32',
      gradientAccumulation: '1',
      learningRate: '0.003',
      lrScheduler: 'cosine',
      warmupRatio: '0.05',
      weightDecay: '0',
      maxGradNorm: '1',
      validationSplit: '0',
      maxSeqLength: '64',
      saveSteps: '100',
    },
  });
  await runSft({ config: sft.config, sources: sft.sources, argv: ['(demo)'], cwd: options.cwd, bus: options.bus, version: options.version, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  const sftSeconds = (performance.now() - clock) / 1000;

  let benchmarkSeconds = 0;
  const stages: DemoStage[] = [];
  const measure = async (stage: string, modelArgument: string, cycle?: number): Promise<void> => {
    const began = performance.now();
    const k = scale.benchmarkSamples;
    const bench = resolveConfig(benchmarkConfig, {
      cli: {
        ...common,
        model: modelArgument,
        ...(cycle === undefined ? {} : { cycle: String(cycle) }),
        prompts: data.heldOut,
        verifier: 'math',
        samples: String(k),
        k: `1,${k}`,
        temperature: TEMPERATURE,
        maxNewTokens: '6',
        generationBatchSize: '64',
        output: join(paths.benchmarks, `${stage.replace(/\s+/g, '_')}.json`),
      },
    });
    const result = await runBenchmark({ config: bench.config, cwd: options.cwd, bus: options.bus, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    const seconds = (performance.now() - began) / 1000;
    benchmarkSeconds += seconds;
    stages.push({ stage, pass1: result.pass_at_k['pass@1'] ?? 0, passK: result.pass_at_k[`pass@${k}`] ?? 0, k, seconds });
  };
  await measure('sft', join(paths.sft, 'final_model'));

  clock = performance.now();
  const raft = resolveConfig(raftConfig, {
    cli: {
      ...common,
      model: join(paths.sft, 'final_model'),
      prompts: data.raft,
      verifier: 'math',
      output: paths.raft,
      cycles: String(options.cycles),
      samplesPerPrompt: String(scale.samplesPerPrompt),
      temperature: TEMPERATURE,
      maxNewTokens: '6',
      rewardThreshold: '1',
      keepPercent: '1',
      dedupe: false,
      batchSize: '32',
      gradientAccumulation: '1',
      learningRate: '0.005',
      lrDecay: '0.9',
      epochs: String(scale.raftEpochs),
      minLr: '0.0001',
      warmupSteps: '0',
      loraRank: '8',
      loraAlpha: '16',
      maxSeqLength: '64',
      generationBatchSize: '64',
      saveSteps: '50',
    },
  });
  const raftRun = await runRaft({ config: raft.config, sources: raft.sources, argv: ['(demo)'], cwd: options.cwd, bus: options.bus, version: options.version, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  const raftSeconds = (performance.now() - clock) / 1000;
  for (let cycle = 1; cycle <= options.cycles; cycle++) await measure(`raft cycle ${cycle}`, paths.raft, cycle);

  const baseline = stages[0].pass1;
  const final = stages[stages.length - 1].pass1;
  return {
    seed: options.seed,
    fast: options.fast,
    model: { parameters: model.parameters, vocabulary: model.vocabSize },
    problems: { sft: scale.sizes.sft, raft: scale.sizes.raft, held_out: scale.sizes.heldOut },
    stages,
    baseline_pass1: baseline,
    final_pass1: final,
    improvement_points: Math.round((final - baseline) * 1000) / 10,
    seconds: { model: modelSeconds, sft: sftSeconds, raft: raftSeconds, benchmarks: benchmarkSeconds, total: (performance.now() - started) / 1000 },
    raft_phase_seconds: { ...raftRun.summary.phase_seconds },
    paths,
  };
}

const MARKER = '.halo-forge-demo';
const DEMO_ENTRIES = ['base_model', 'data', 'sft', 'raft', 'benchmarks'];

/** A demo starts fresh: a previous demo's folders are replaced; any other non-empty folder is refused. */
function prepareOutput(root: string): void {
  if (existsSync(root) && readdirSync(root).length > 0) {
    if (!existsSync(join(root, MARKER))) {
      throw new HaloError('ERR_DEMO_OUTPUT', `--output ${root} is not empty and was not written by halo-forge demo`, { fix: 'pick a new or empty folder for --output' });
    }
    for (const entry of DEMO_ENTRIES) rmSync(join(root, entry), { recursive: true, force: true });
  }
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, MARKER), 'written by halo-forge demo; rerunning the demo replaces this folder\n');
}
