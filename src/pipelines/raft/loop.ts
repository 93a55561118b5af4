/**
 * `raft train`: cycles of generate -> verify -> filter -> train on one LoRA adapter, with every step
 * streamed to disk so that a run killed at any instant continues where it stopped when the same
 * command is run again (DESIGN.md §3). Per cycle c:
 *   1. the adapter of cycle c-1 (or the starting adapter) is loaded from disk, so an interrupted and
 *      an uninterrupted run start each cycle from the same bytes;
 *   2. samples.jsonl is appended batch by batch (deterministic per-batch seeds);
 *   3. verified.jsonl is appended in sample order;
 *   4. the filter, curriculum and reward shaping are pure functions of what is on disk;
 *   5. training saves the trainer state every --save-steps steps (train_progress.json points at it);
 *   6. the adapter is written to a temp folder and renamed into cycle_c/model, then
 *      curriculum_state.json, cycle_summary.json and finally checkpoint_state.json (the commit).
 */
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ChatTemplate } from '../../data/chat.js';
import type { HaloTokenizer } from '../../data/tokenizer.js';
import { NativeGenerator } from '../../engine/generator.js';
import type { Model } from '../../engine/model.js';
import { Trainer, type TrainerOptions, type TrainSample } from '../../engine/trainer.js';
import { crashPoint } from '../../util/crash.js';
import { HaloError, isCodedError } from '../../util/errors.js';
import { attachEventLog, markReported, type EventBus } from '../../util/events.js';
import { JsonlAppender, readJsonl } from '../../util/jsonl.js';
import { attachRunLog } from '../../util/log.js';
import { Rng } from '../../util/rng.js';
import { createVerifier } from '../../verifiers/registry.js';
import type { Verifier } from '../../verifiers/types.js';
import { raftConfig, type RaftConfig } from '../config/commands.js';
import type { ValueSource } from '../config/spec.js';
import { completionText, generateAll } from '../generate.js';
import { encodePrompt, loadPromptRecords, type PromptRecord } from '../prompts.js';
import { openModel, type ModelSession } from '../session.js';
import { verifyInOrder } from '../verify.js';
import { meanPassAtK } from '../benchmark/pass-at-k.js';
import {
  CONTRACT_VERSION,
  nullPhaseSeconds,
  readArtifact,
  runPaths,
  throughput,
  writeArtifact,
  writeCheckpointState,
  writeCurriculumState,
  writeLatestCheckpoint,
  type CheckpointState,
  type CycleSummary,
  type EvalBaseline,
  type LaunchContext,
  type PhaseSeconds,
  type RunPaths,
  type SampleRecord,
  type TrainingSummary,
  type TrainProgress,
  type UpdateMetrics,
  type VerifiedRecord,
} from './artifacts.js';
import { emptyCurriculumState, promptKey, selectPrompts, updateCurriculumState, type CurriculumOptions, type CurriculumState, type PromptStats } from './curriculum.js';
import { aggregateYieldDiagnostics, cycleYieldDiagnostics, effectiveness } from './diagnostics.js';
import { filterSamples, type ScoredSample } from './filter.js';
import { existingCycles, recordLaunch, planResume, setAsideFromCycle, type ResumePlan } from './resume.js';
import { shapedThresholds, type CycleOutcome } from './reward-shaping.js';
import { cycleLearningRate } from './schedule.js';
import { probeAfterCycle, readProbeRecords, trainingProbe } from '../eval/training-probe.js';

export interface RaftRunOptions {
  config: RaftConfig;
  sources: Record<string, ValueSource>;
  configFile?: string;
  /** the user's arguments after "raft train" (recorded in launch_context.json). */
  argv: readonly string[];
  cwd: string;
  bus: EventBus;
  version: string;
  signal?: AbortSignal;
  /** verifier options (tests pass a sandbox mode); default: the registry's defaults. */
  verifierWorkers?: number;
  /** recorded in checkpoint_state.json and training_summary.json: 'raft', or a modality preset (reasoning, agentic). */
  modality?: string;
}

export interface RaftRunResult {
  runDir: string;
  summaryPath: string;
  summary: TrainingSummary;
}

interface CycleContext {
  cycle: number;
  paths: RunPaths;
  config: RaftConfig;
  session: ModelSession;
  prompts: PromptRecord[];
  /** --eval-prompts: held-out prompts for pass@1 (none: no evaluation). */
  evalPrompts: PromptRecord[] | undefined;
  verifier: Verifier;
  bus: EventBus;
  plan: ResumePlan;
  startAdapter: string | undefined;
  modality: string;
  signal?: AbortSignal;
  verifierWorkers?: number;
}

export async function runRaft(options: RaftRunOptions): Promise<RaftRunResult> {
  const { config, bus } = options;
  const started = new Date();
  const paths = runPaths(resolve(options.cwd, config.output));
  mkdirSync(paths.root, { recursive: true });
  const launch = prepareLaunchContext(options, paths);
  bus.run = launch.run_id;
  const eventLog = attachEventLog(bus, paths.events);
  const runLog = attachRunLog(bus, paths.log);
  let session: ModelSession | undefined;
  let verifier: Verifier | undefined;
  try {
    if (config.resumeFromCycle !== undefined) {
      const moved = setAsideFromCycle(paths.root, config.resumeFromCycle, started.toISOString().replace(/[-:.]/g, ''));
      bus.emit({ type: 'log', phase: 'setup', level: 'info', message: `--resume-from-cycle ${config.resumeFromCycle}: set aside ${moved.length === 0 ? 'nothing' : moved.join(', ')}` });
    }
    const prompts = await loadPromptRecords(resolve(options.cwd, config.prompts ?? ''), config.maxPrompts === undefined ? {} : { maxPrompts: config.maxPrompts });
    const evalPrompts = config.evalPrompts === undefined ? undefined : await loadPromptRecords(resolve(options.cwd, config.evalPrompts), { flag: '--eval-prompts' });
    const modelArgument = config.checkpoint ?? config.model ?? '';
    session = await openModel(resolve(options.cwd, modelArgument), {
      ...(config.cycle === undefined ? {} : { cycle: config.cycle }),
      flag: config.checkpoint !== undefined ? '--checkpoint' : '--model',
      device: config.device,
      dtype: config.dtype,
      ...(config.chatTemplate === undefined ? {} : { chatTemplate: config.chatTemplate }),
    });
    verifier = await createVerifier(config.verifier ?? '', { onWarning: (message) => bus.emit({ type: 'log', phase: 'setup', level: 'warn', message }) });

    const curriculumOptions = curriculumOptionsOf(config, options.cwd);
    const texts = prompts.map((prompt) => prompt.text);
    const finishedState = (cycle: number): CurriculumState => (cycle < 1 ? emptyCurriculumState() : (readArtifact<CurriculumState>('curriculum_state', paths.curriculumState(cycle)) ?? emptyCurriculumState()));
    const plan = planResume(paths.root, {
      cycles: config.cycles,
      expectedSamples: (cycle) => selectPrompts(texts, cycle, finishedState(cycle - 1), curriculumOptions).length * config.samplesPerPrompt,
    });
    bus.emit({ type: 'run_start', phase: 'setup', command: 'raft train', outputDir: paths.root, resumed: !plan.fresh, resumePoint: plan.description });
    if (plan.latestPointerStale && plan.lastCheckpoint !== undefined) writeLatestCheckpoint(paths, plan.lastCheckpoint);

    const probe = trainingProbe(config, { model: session.model, tokenizer: session.tokenizer, modelName: modelArgument, runDir: paths.root, cwd: options.cwd });
    for (let cycle = plan.lastFinishedCycle + 1; cycle <= config.cycles; cycle++) {
      const startAdapter = cycle === 1 ? session.source.adapterDir : paths.cycleModel(cycle - 1);
      const cyclePlan = cycle === plan.cycle ? plan : { ...plan, cycle, phase: 'generate' as const, samplesGenerated: 0, samplesVerified: 0, trainStep: 0, trainProgress: undefined };
      await runCycle(
        {
          cycle,
          paths,
          config,
          session,
          prompts,
          evalPrompts,
          verifier,
          bus,
          plan: cyclePlan,
          startAdapter,
          modality: options.modality ?? 'raft',
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.verifierWorkers === undefined ? {} : { verifierWorkers: options.verifierWorkers }),
        },
        finishedState(cycle - 1),
        curriculumOptions,
      );
      await probeAfterCycle(probe, config, { cycle, cycleDir: paths.cycleDir(cycle), adapterDir: paths.cycleModel(cycle), model: session.model, bus });
    }

    const last = readArtifact<CheckpointState>('checkpoint_state', paths.checkpointState(config.cycles));
    if (last === undefined) throw new Error(`raft: cycle ${config.cycles} has no checkpoint_state.json after the loop`);
    replaceDirectory(last.model_dir, paths.finalModel);
    const summary = buildTrainingSummary(options, paths, launch, started, session.source.baseDir);
    writeArtifact('training_summary', paths.trainingSummary, summary);
    bus.emit({ type: 'run_end', phase: 'done', status: 'completed', seconds: (Date.now() - started.getTime()) / 1000, summaryPath: paths.trainingSummary });
    return { runDir: paths.root, summaryPath: paths.trainingSummary, summary };
  } catch (error) {
    const cancelled = options.signal?.aborted === true;
    bus.emit({
      type: 'error',
      phase: 'done',
      code: isCodedError(error) ? error.code : 'ERR_RAFT',
      message: error instanceof Error ? error.message : String(error),
      ...(error instanceof HaloError && error.fix !== undefined ? { fix: error.fix } : {}),
    });
    bus.emit({ type: 'run_end', phase: 'done', status: cancelled ? 'cancelled' : 'failed', seconds: (Date.now() - started.getTime()) / 1000 });
    markReported(error);
    throw error;
  } finally {
    await verifier?.close?.();
    session?.model.dispose();
    runLog.close();
    eventLog.close();
  }
}

function prepareLaunchContext(options: RaftRunOptions, paths: RunPaths): LaunchContext {
  return recordLaunch({
    definition: raftConfig,
    config: options.config,
    sources: options.sources,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    argv: options.argv,
    cwd: options.cwd,
    version: options.version,
    path: paths.launchContext,
    // A run that failed before its first cycle started (a wrong path, say) has nothing to protect.
    started: existingCycles(paths.root).length > 0,
    force: options.config.force,
  });
}

function curriculumOptionsOf(config: RaftConfig, cwd: string): CurriculumOptions {
  const options: CurriculumOptions = { strategy: config.curriculum, progressiveStart: config.curriculumStart, progressiveIncrement: config.curriculumIncrement };
  if (config.curriculum === 'historical' && config.curriculumStats !== undefined) {
    const path = resolve(cwd, config.curriculumStats);
    const state = readArtifact<CurriculumState>('curriculum_state', path);
    if (state === undefined) throw new HaloError('ERR_CURRICULUM_STATS', `--curriculum-stats ${path}: no such file`, { fix: 'point at a previous run\'s cycle_<n>/curriculum_state.json' });
    options.historical = state.prompts as Record<string, PromptStats>;
  }
  return options;
}

async function runCycle(context: CycleContext, curriculumState: CurriculumState, curriculumOptions: CurriculumOptions): Promise<void> {
  const { cycle, paths, config, session, prompts, bus, plan } = context;
  const cycleStarted = performance.now();
  const seconds: PhaseSeconds = nullPhaseSeconds();
  const history = previousOutcomes(paths, cycle);
  const thresholds = shapedThresholds(
    { strategy: config.rewardShaping, rewardThreshold: config.rewardThreshold, keepPercent: config.keepPercent, ...(config.minSamples === undefined ? {} : { minKept: Math.max(1, config.minSamples) }) },
    cycle,
    config.cycles,
    history,
  );
  const learningRate = cycleLearningRate(config.learningRate, config.lrDecay, config.minLr, cycle);
  const selected = selectPrompts(
    prompts.map((prompt) => prompt.text),
    cycle,
    curriculumState,
    curriculumOptions,
  );
  mkdirSync(paths.cycleDir(cycle), { recursive: true });
  bus.emit({ type: 'cycle_start', phase: 'setup', cycle, cycles: config.cycles, prompts: selected.length, learningRate, rewardThreshold: thresholds.rewardThreshold, keepPercent: thresholds.keepPercent });

  const trainer = openTrainer(session.model, context.startAdapter, config, learningRate, cycle);
  try {
    if (cycle === 1 && context.evalPrompts !== undefined && !existsSync(paths.evalBaseline)) {
      // The starting model, before any RAFT update (a fresh adapter changes nothing until trained).
      const baseline = await measurePass1(context, context.evalPrompts);
      seconds.eval += baseline.seconds;
      const record: EvalBaseline = { contract_version: CONTRACT_VERSION, metric: 'pass@1', value: baseline.value, prompts: context.evalPrompts.length, samples: config.evalSamples, timestamp: new Date().toISOString() };
      writeArtifact('eval_baseline', paths.evalBaseline, record);
      bus.emit({ type: 'eval_result', phase: 'eval', metrics: { 'pass@1': baseline.value, cycle: 0 } });
    }
    const promptIds = selected.map((index) => encodePrompt(session.tokenizer, session.template, prompts[index], config.systemPrompt));

    // 1. generate
    const generation = await generatePhase(context, selected, promptIds);
    seconds.generate = generation.seconds;

    // 2. verify
    const samples = readJsonl<SampleRecord>(paths.samples(cycle));
    const verification = await verifyPhase(context, samples);
    seconds.verify = verification.seconds;
    const verified = readJsonl<VerifiedRecord>(paths.verified(cycle));

    // 3. filter
    const filterStarted = performance.now();
    const scored: (ScoredSample & { record: SampleRecord })[] = samples.map((sample, index) => ({
      promptIndex: sample.prompt_index,
      sampleIndex: sample.sample_index,
      completion: sample.completion,
      reward: verified[index].reward,
      success: verified[index].success,
      record: sample,
    }));
    const filter = filterSamples(scored, {
      rewardThreshold: thresholds.rewardThreshold,
      keepPercent: thresholds.keepPercent,
      ...(config.minSamples === undefined ? {} : { minSamples: config.minSamples }),
      mode: config.filter,
      dropUnsolved: config.dropUnsolved,
      dropSolved: config.dropSolved,
      dedupe: config.dedupe,
    });
    const yieldDiagnostics = cycleYieldDiagnostics({ generated: samples.length, verified: scored, filter, keepPercent: thresholds.keepPercent, ...(config.minSamples === undefined ? {} : { minSamples: config.minSamples }) });
    seconds.filter = (performance.now() - filterStarted) / 1000;

    // 4. train
    const promptIdsByIndex = new Map(selected.map((index, position) => [index, promptIds[position]]));
    const trainSamples = filter.kept
      .map((sample) => toTrainSample(promptIdsByIndex.get(sample.promptIndex) ?? [], sample.record.token_ids, config.maxSeqLength))
      .filter((sample): sample is TrainSample => sample !== undefined);
    const training = await trainPhase(context, trainer, trainSamples);
    seconds.train = training.seconds;

    let evaluation: Record<string, number> | undefined;
    if (context.evalPrompts !== undefined) {
      const measured = await measurePass1(context, context.evalPrompts);
      seconds.eval += measured.seconds;
      evaluation = { 'pass@1': measured.value };
      bus.emit({ type: 'eval_result', phase: 'eval', cycle, metrics: evaluation });
    }

    // 5. checkpoint (the commit)
    const checkpointStarted = performance.now();
    const modelDir = paths.cycleModel(cycle);
    const temporary = `${modelDir}.tmp`;
    rmSync(temporary, { recursive: true, force: true });
    trainer.saveAdapter(temporary, session.source.baseDir);
    crashPoint(`checkpoint:${cycle}`);
    rmSync(modelDir, { recursive: true, force: true });
    renameSync(temporary, modelDir);
    const outcomes = samples.map((sample, index) => ({ promptIndex: sample.prompt_index, reward: verified[index].reward, success: verified[index].reward >= thresholds.rewardThreshold }));
    writeCurriculumState(paths, cycle, updateCurriculumState(curriculumState, prompts.map((prompt) => prompt.text), cycle, outcomes, selected.length));
    seconds.checkpoint = (performance.now() - checkpointStarted) / 1000;
    const generatedTokens = samples.reduce((sum, sample) => sum + sample.tokens, 0);
    const summary: CycleSummary = {
      cycle,
      learning_rate: learningRate,
      reward_threshold: thresholds.rewardThreshold,
      keep_percent: thresholds.keepPercent,
      prompts: selected.length,
      samples_seen: samples.length,
      samples_kept: filter.kept.length,
      generated_tokens: generatedTokens,
      train_tokens: training.tokens,
      cycle_duration_seconds: (performance.now() - cycleStarted) / 1000,
      phase_seconds: seconds,
      throughput: throughput(generation.tokens, verification.count, training.tokens, seconds),
      update_metrics: training.metrics,
      yield_diagnostics: yieldDiagnostics,
      ...(evaluation === undefined ? {} : { evaluation }),
    };
    writeArtifact('cycle_summary', paths.cycleSummary(cycle), summary);
    const state: CheckpointState = {
      contract_version: CONTRACT_VERSION,
      modality: context.modality,
      model_name: config.model ?? config.checkpoint ?? '',
      cycle,
      timestamp: new Date().toISOString(),
      model_dir: modelDir,
      learning_rate: learningRate,
      samples_seen: samples.length,
      samples_kept: filter.kept.length,
      update_metrics: training.metrics,
    };
    writeCheckpointState(paths, state);
    writeLatestCheckpoint(paths, state);
    removeTrainState(paths, cycle);
    crashPoint(`cycle-end:${cycle}`);
    bus.emit({ type: 'checkpoint', phase: 'checkpoint', cycle, path: modelDir });
    bus.emit({
      type: 'cycle_end',
      phase: 'train',
      cycle,
      seconds: summary.cycle_duration_seconds,
      samplesKept: filter.kept.length,
      samplesGenerated: samples.length,
      trainLoss: training.metrics.train_loss,
      yield: yieldDiagnostics as unknown as Record<string, unknown>,
    });
  } finally {
    trainer.dispose();
  }
}

function openTrainer(model: Model, startAdapter: string | undefined, config: RaftConfig, learningRate: number, cycle: number): Trainer {
  const common: TrainerOptions = {
    lr: learningRate,
    schedule: 'constant',
    warmupSteps: config.warmupSteps,
    weightDecay: config.weightDecay,
    maxGradNorm: config.maxGradNorm,
    seed: (config.seed + cycle) >>> 0,
  };
  if (startAdapter !== undefined) return Trainer.fromAdapter(model, startAdapter, common);
  return Trainer.create(model, { ...common, mode: 'lora', rank: config.loraRank, alpha: config.loraAlpha, dropout: config.loraDropout });
}

async function generatePhase(context: CycleContext, selected: number[], promptIds: number[][]): Promise<{ seconds: number; tokens: number }> {
  const { cycle, paths, config, session, prompts, bus } = context;
  const { writer, records } = JsonlAppender.open<SampleRecord>(paths.samples(cycle));
  const expected = selected.length * config.samplesPerPrompt;
  try {
    if (records.length >= expected) return { seconds: 0, tokens: 0 };
    const totals = await generateAll(
      new NativeGenerator(session.model),
      {
        promptIds,
        n: config.samplesPerPrompt,
        maxNewTokens: config.maxNewTokens,
        temperature: config.temperature,
        topP: config.topP,
        seed: (config.seed * 1000 + cycle) >>> 0,
        batchSize: config.generationBatchSize,
        ...(context.signal === undefined ? {} : { signal: context.signal }),
      },
      {
        alreadyDone: records.length,
        onSample: (sample, recordIndex) => {
          if (recordIndex !== writer.length) throw new Error(`raft: sample ${recordIndex} generated while samples.jsonl holds ${writer.length}`);
          const prompt = prompts[selected[sample.promptPosition]];
          const record: SampleRecord = {
            prompt_index: prompt.index,
            sample_index: sample.sampleIndex,
            prompt_key: promptKey(prompt.text),
            completion: completionText(session.tokenizer, sample),
            tokens: sample.tokens.length,
            token_ids: sample.tokens,
            finish_reason: sample.finishReason,
          };
          writer.append(record);
          crashPoint(`generate:${cycle}:${recordIndex}`);
        },
        onProgress: (progress) => bus.emit({ type: 'generate_progress', phase: 'generate', cycle, ...progress }),
      },
    );
    return { seconds: totals.seconds, tokens: totals.generatedTokens };
  } finally {
    writer.close();
  }
}

async function verifyPhase(context: CycleContext, samples: SampleRecord[]): Promise<{ seconds: number; count: number }> {
  const { cycle, paths, prompts, bus, verifier } = context;
  const { writer, records } = JsonlAppender.open<VerifiedRecord>(paths.verified(cycle));
  try {
    const start = records.length;
    if (start >= samples.length) return { seconds: 0, count: 0 };
    const pending = samples.slice(start).map((sample) => ({ ...prompts[sample.prompt_index].record, completion: sample.completion }));
    const outcome = await verifyInOrder(
      verifier,
      pending,
      {
        onResult: (result, index) => {
          const sample = samples[index];
          const record: VerifiedRecord = {
            prompt_index: sample.prompt_index,
            sample_index: sample.sample_index,
            success: result.success,
            reward: Number.isFinite(result.reward) ? result.reward : 0,
            details: result.details,
            ...(result.error === undefined ? {} : { error: result.error }),
            metadata: result.metadata,
          };
          writer.append(record);
          crashPoint(`verify:${cycle}:${index}`);
        },
        onProgress: (progress) => bus.emit({ type: 'verify_progress', phase: 'verify', cycle, ...progress }),
      },
      { offset: start, total: samples.length, ...(context.verifierWorkers === undefined ? {} : { workers: context.verifierWorkers }), ...(context.signal === undefined ? {} : { signal: context.signal }) },
    );
    return { seconds: outcome.seconds, count: pending.length };
  } finally {
    writer.close();
  }
}

/** Held-out pass@1 of the model as it is now (adapter included): evalSamples completions per prompt. */
async function measurePass1(context: CycleContext, prompts: PromptRecord[]): Promise<{ value: number; seconds: number }> {
  const { session, config, verifier } = context;
  const started = performance.now();
  const promptIds = prompts.map((prompt) => encodePrompt(session.tokenizer, session.template, prompt, config.systemPrompt));
  const completions: { position: number; text: string }[] = [];
  await generateAll(
    new NativeGenerator(session.model),
    {
      promptIds,
      n: config.evalSamples,
      maxNewTokens: config.maxNewTokens,
      temperature: config.temperature,
      topP: config.topP,
      // the same seed for every measurement: the numbers differ only because the model did
      seed: (config.seed ^ 0x5eed) >>> 0,
      batchSize: config.generationBatchSize,
      ...(context.signal === undefined ? {} : { signal: context.signal }),
    },
    { onSample: (sample) => completions.push({ position: sample.promptPosition, text: completionText(session.tokenizer, sample) }) },
  );
  const successes = new Array<number>(prompts.length).fill(0);
  await verifyInOrder(
    verifier,
    completions.map((completion) => ({ ...prompts[completion.position].record, completion: completion.text })),
    {
      onResult: (result, index) => {
        if (result.success) successes[completions[index].position] += 1;
      },
    },
    { ...(context.verifierWorkers === undefined ? {} : { workers: context.verifierWorkers }), ...(context.signal === undefined ? {} : { signal: context.signal }) },
  );
  return { value: meanPassAtK(successes.map((c) => ({ n: config.evalSamples, c })), 1), seconds: (performance.now() - started) / 1000 };
}

/** prompt tokens (not learned) + the completion as generated (learned), cut to maxSeqLength. */
export function toTrainSample(promptIds: readonly number[], completion: readonly number[], maxSeqLength: number): TrainSample | undefined {
  if (completion.length === 0 || promptIds.length + 1 >= maxSeqLength) return undefined;
  const tokens = [...promptIds, ...completion].slice(0, maxSeqLength);
  const lossMask = tokens.map((_, index) => (index >= promptIds.length ? 1 : 0));
  return { tokens, lossMask };
}

interface TrainingOutcome {
  seconds: number;
  tokens: number;
  metrics: UpdateMetrics;
}

async function trainPhase(context: CycleContext, trainer: Trainer, samples: TrainSample[]): Promise<TrainingOutcome> {
  const { cycle, paths, config, bus, plan } = context;
  const effectiveBatch = config.batchSize * config.gradientAccumulation;
  if (samples.length === 0) {
    return { seconds: 0, tokens: 0, metrics: { train_steps_executed: 0, train_loss: null, initial_train_loss: null, weights_updated: false, optimizer_steps: 0, skipped_batches_non_finite: 0, update_reason: 'no_samples_kept' } };
  }
  // The sample order of every epoch is fixed by (seed, cycle, epoch): a resumed run replays it.
  const order: TrainSample[] = [];
  for (let epoch = 0; epoch < config.epochs; epoch++) order.push(...new Rng((config.seed ^ Math.imul(cycle, 7919) ^ Math.imul(epoch + 1, 104729)) >>> 0).shuffle([...samples]));
  const totalSteps = Math.ceil(order.length / effectiveBatch);
  let step = 0;
  let initialLoss: number | null = null;
  let lastLoss: number | null = null;
  let skipped = 0;
  let tokens = 0;
  const resumeFrom = plan.trainProgress;
  if (plan.phase === 'train' && resumeFrom !== undefined && resumeFrom.total_steps === totalSteps) {
    const position = trainer.loadState(resumeFrom.state_dir) as { initialLoss?: number | null; lastLoss?: number | null; skipped?: number; tokens?: number } | null;
    step = resumeFrom.step;
    initialLoss = position?.initialLoss ?? null;
    lastLoss = position?.lastLoss ?? null;
    skipped = position?.skipped ?? 0;
    tokens = position?.tokens ?? 0;
    bus.emit({ type: 'log', phase: 'train', level: 'info', message: `cycle ${cycle}: training resumes at step ${step}/${totalSteps}` });
  }
  const started = performance.now();
  for (; step < totalSteps; ) {
    if (context.signal?.aborted) throw new HaloError('ERR_CANCELLED', `raft train cancelled during cycle ${cycle} training`, { fix: 'rerun the same command to continue' });
    const batch = order.slice(step * effectiveBatch, (step + 1) * effectiveBatch);
    const report = await trainer.trainStep(batch, { microBatchRows: config.batchSize });
    step += 1;
    tokens += report.tokens;
    if (report.skipped) skipped += 1;
    else {
      initialLoss ??= report.loss;
      lastLoss = report.loss;
    }
    bus.emit({ type: 'train_step', phase: 'train', cycle, step, totalSteps, loss: report.loss, lr: report.lr, gradNorm: report.gradNorm, tokensPerSecond: report.tokensPerSecond });
    if (step % config.saveSteps === 0 && step < totalSteps) saveTrainState(paths, cycle, trainer, step, totalSteps, { initialLoss, lastLoss, skipped, tokens });
    crashPoint(`train:${cycle}:${step}`);
  }
  const optimizerSteps = totalSteps - skipped;
  return {
    seconds: (performance.now() - started) / 1000,
    tokens,
    metrics: {
      train_steps_executed: totalSteps,
      train_loss: lastLoss,
      initial_train_loss: initialLoss,
      weights_updated: optimizerSteps > 0,
      optimizer_steps: optimizerSteps,
      skipped_batches_non_finite: skipped,
      update_reason: optimizerSteps > 0 ? 'updated' : 'all_batches_non_finite',
    },
  };
}

function saveTrainState(paths: RunPaths, cycle: number, trainer: Trainer, step: number, totalSteps: number, position: Record<string, unknown>): void {
  const dir = join(paths.cycleDir(cycle), `train_state_${step}`);
  const temporary = `${dir}.tmp`;
  rmSync(temporary, { recursive: true, force: true });
  trainer.saveState(temporary, position);
  rmSync(dir, { recursive: true, force: true });
  renameSync(temporary, dir);
  const previous = readArtifact<TrainProgress>('train_progress', paths.trainProgress(cycle));
  const progress: TrainProgress = { contract_version: CONTRACT_VERSION, cycle, step, total_steps: totalSteps, state_dir: dir, timestamp: new Date().toISOString() };
  writeArtifact('train_progress', paths.trainProgress(cycle), progress);
  if (previous !== undefined && previous.state_dir !== dir) rmSync(previous.state_dir, { recursive: true, force: true });
}

function removeTrainState(paths: RunPaths, cycle: number): void {
  const progress = readArtifact<TrainProgress>('train_progress', paths.trainProgress(cycle));
  if (progress !== undefined) rmSync(progress.state_dir, { recursive: true, force: true });
  rmSync(paths.trainProgress(cycle), { force: true });
}

function previousOutcomes(paths: RunPaths, cycle: number): CycleOutcome[] {
  const outcomes: CycleOutcome[] = [];
  for (let previous = 1; previous < cycle; previous++) {
    const summary = readArtifact<CycleSummary>('cycle_summary', paths.cycleSummary(previous));
    if (summary !== undefined) outcomes.push({ cycle: previous, passRate: summary.yield_diagnostics.rates.pass_rate ?? 0, kept: summary.samples_kept });
  }
  return outcomes;
}

/** Copies `source` to a temp folder, then swaps it in for `target` (a kill leaves the old, the new, or none — never half). */
function replaceDirectory(source: string, target: string): void {
  const temporary = `${target}.tmp`;
  rmSync(temporary, { recursive: true, force: true });
  cpSync(source, temporary, { recursive: true });
  rmSync(target, { recursive: true, force: true });
  renameSync(temporary, target);
}

function buildTrainingSummary(options: RaftRunOptions, paths: RunPaths, launch: LaunchContext, started: Date, baseModel: string): TrainingSummary {
  const { config } = options;
  const cycles: CycleSummary[] = [];
  for (let cycle = 1; cycle <= config.cycles; cycle++) {
    const summary = readArtifact<CycleSummary>('cycle_summary', paths.cycleSummary(cycle));
    if (summary !== undefined) cycles.push(summary);
  }
  const phase = nullPhaseSeconds();
  for (const cycle of cycles) for (const key of Object.keys(phase) as (keyof PhaseSeconds)[]) phase[key] += cycle.phase_seconds[key];
  const generatedTokens = cycles.reduce((sum, cycle) => sum + (cycle.throughput.generate_tokens_per_second ?? 0) * cycle.phase_seconds.generate, 0);
  const verifiedSamples = cycles.reduce((sum, cycle) => sum + (cycle.throughput.verify_samples_per_second ?? 0) * cycle.phase_seconds.verify, 0);
  const trainTokens = cycles.reduce((sum, cycle) => sum + cycle.train_tokens, 0);
  const totalSteps = cycles.reduce((sum, cycle) => sum + cycle.update_metrics.train_steps_executed, 0);
  const optimizerSteps = cycles.reduce((sum, cycle) => sum + cycle.update_metrics.optimizer_steps, 0);
  const lastWithLoss = [...cycles].reverse().find((cycle) => cycle.update_metrics.train_loss !== null);
  const firstWithLoss = cycles.find((cycle) => cycle.update_metrics.initial_train_loss !== null);
  const finished = new Date();
  const resumeFromCycle = config.resumeFromCycle ?? null;
  const lastCheckpoint = resumeFromCycle !== null && resumeFromCycle > 1 ? readArtifact<CheckpointState>('checkpoint_state', paths.checkpointState(resumeFromCycle - 1)) : undefined;
  const samplesSeen = cycles.reduce((sum, cycle) => sum + cycle.samples_seen, 0);
  const baseline = readArtifact<EvalBaseline>('eval_baseline', paths.evalBaseline);
  const finalPass1 = [...cycles].reverse().find((cycle) => cycle.evaluation?.['pass@1'] !== undefined)?.evaluation?.['pass@1'];
  const samplesKept = cycles.reduce((sum, cycle) => sum + cycle.samples_kept, 0);
  return {
    contract_version: CONTRACT_VERSION,
    modality: options.modality ?? 'raft',
    command: options.modality === undefined ? 'raft train' : `${options.modality} train`,
    run_id: launch.run_id,
    model_name: config.model ?? config.checkpoint ?? '',
    base_model_name: baseModel,
    seed: config.seed,
    started_at: launch.created_at,
    finished_at: finished.toISOString(),
    seconds: Math.max(0, (finished.getTime() - started.getTime()) / 1000),
    total_cycles_planned: config.cycles,
    cycles_executed: cycles.length,
    cycles,
    ...(config.probeEvery === undefined ? {} : { probe: readProbeRecords(paths.cycleDir, config.cycles) }),
    total_train_steps_executed: totalSteps,
    weights_updated: optimizerSteps > 0,
    final_train_loss: lastWithLoss?.update_metrics.train_loss ?? null,
    final_model_path: paths.finalModel,
    phase_seconds: phase,
    throughput: throughput(generatedTokens, verifiedSamples, trainTokens, phase),
    yield_diagnostics: aggregateYieldDiagnostics(cycles.map((cycle) => cycle.yield_diagnostics)),
    resume: {
      resumed: launch.resumes.length > 0,
      resume_count: launch.resumes.length,
      resume_from_cycle: resumeFromCycle,
      resumed_from_checkpoint: lastCheckpoint === undefined ? null : { cycle: lastCheckpoint.cycle, model_dir: lastCheckpoint.model_dir },
    },
    effectiveness: effectiveness({
      samplesSeen,
      samplesKept,
      minimumSamplesKept: Math.max(1, config.minSamples ?? 1),
      optimizerSteps,
      skippedBatchesNonFinite: cycles.reduce((sum, cycle) => sum + cycle.update_metrics.skipped_batches_non_finite, 0),
      initialTrainLoss: firstWithLoss?.update_metrics.initial_train_loss ?? null,
      finalTrainLoss: lastWithLoss?.update_metrics.train_loss ?? null,
      finalModelWritten: existsSync(paths.finalModel),
      trainingSummaryWritten: true,
      ...(baseline !== undefined && finalPass1 !== undefined ? { evaluation: { metric: 'pass@1', baseline: baseline.value, final: finalPass1 } } : {}),
    }),
  };
}
