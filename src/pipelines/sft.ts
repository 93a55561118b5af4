/**
 * `sft train`: supervised fine-tuning on chat data with the loss on assistant tokens only; a LoRA
 * adapter by default, every weight with --no-lora. Validation loss every --eval-steps (early stopping
 * after --early-stopping-patience evaluations without improvement); the trainer state is saved every
 * --save-steps, and rerunning the same command continues from the last save. Writes final_model/
 * (the adapter, or the full model with --no-lora), final_model_merged/ with --merge,
 * training_summary.json, events.jsonl, run.log and launch_context.json.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodeChat } from '../data/chat.js';
import { toCanonical } from '../data/formats.js';
import { readRecords } from '../data/loaders/index.js';
import { prepareDataset } from '../data/prepare.js';
import { Trainer, type TrainerOptions, type TrainSample } from '../engine/trainer.js';
import { crashPoint } from '../util/crash.js';
import { HaloError, isCodedError } from '../util/errors.js';
import { attachEventLog, markReported, type EventBus } from '../util/events.js';
import { attachRunLog } from '../util/log.js';
import { Rng } from '../util/rng.js';
import { sftConfig, type SftConfig } from './config/commands.js';
import { probeAfterStep, readStepProbeRecords, trainingProbe, type StepProbeOutcome } from './eval/training-probe.js';
import type { ValueSource } from './config/spec.js';
import { CONTRACT_VERSION, readArtifact, writeArtifact, type LaunchContext, type TrainProgress } from './raft/artifacts.js';
import { effectiveness, type Effectiveness } from './raft/diagnostics.js';
import { recordLaunch } from './raft/resume.js';
import { openModel, type ModelSession } from './session.js';

export interface SftRunOptions {
  config: SftConfig;
  sources: Record<string, ValueSource>;
  configFile?: string;
  argv: readonly string[];
  cwd: string;
  bus: EventBus;
  version: string;
  signal?: AbortSignal;
}

export interface SftSummary {
  contract_version: 1;
  modality: 'sft';
  command: 'sft train';
  run_id: string;
  model_name: string;
  base_model_name: string;
  seed: number;
  started_at: string;
  finished_at: string;
  seconds: number;
  mode: 'lora' | 'full';
  examples: { loaded: number; train: number; validation: number; skipped_no_target: number; truncated: number };
  epochs_planned: number;
  total_steps_planned: number;
  total_train_steps_executed: number;
  optimizer_steps: number;
  skipped_batches_non_finite: number;
  weights_updated: boolean;
  initial_train_loss: number | null;
  final_train_loss: number | null;
  validation: { step: number; loss: number }[];
  best_validation_loss: number | null;
  early_stopped: boolean;
  train_tokens: number;
  train_seconds: number;
  train_tokens_per_second: number | null;
  final_model_path: string;
  merged_model_path: string | null;
  resume: { resumed: boolean; resume_count: number; resumed_from_step: number | null };
  effectiveness: Effectiveness;
  /** forgetting-probe outcomes (sft train --probe-every N steps) */
  probe?: StepProbeOutcome[];
}

export interface SftRunResult {
  runDir: string;
  summaryPath: string;
  summary: SftSummary;
}

interface TrainPosition {
  initialLoss: number | null;
  lastLoss: number | null;
  skipped: number;
  tokens: number;
  seconds: number;
  validation: { step: number; loss: number }[];
  bestLoss: number | null;
  sinceBest: number;
}

export async function runSft(options: SftRunOptions): Promise<SftRunResult> {
  const { config, bus } = options;
  const started = new Date();
  const root = resolve(options.cwd, config.output);
  mkdirSync(root, { recursive: true });
  const launch = prepareLaunch(options, root);
  bus.run = launch.run_id;
  const eventLog = attachEventLog(bus, join(root, 'events.jsonl'));
  const runLog = attachRunLog(bus, join(root, 'run.log'));
  let session: ModelSession | undefined;
  let trainer: Trainer | undefined;
  try {
    session = await openModel(resolve(options.cwd, config.model ?? ''), {
      ...(config.cycle === undefined ? {} : { cycle: config.cycle }),
      device: config.device,
      dtype: config.dtype,
      ...(config.chatTemplate === undefined ? {} : { chatTemplate: config.chatTemplate }),
    });
    const dataFile = await trainingFile(options, root);
    const examples = await loadExamples(dataFile, session, config);
    if (examples.samples.length < 1) {
      throw new HaloError('ERR_SFT_DATA', `${dataFile}: no usable training examples (${examples.skipped} had no assistant tokens)`, { fix: 'each record needs an assistant turn (or a "text" field)' });
    }
    const shuffled = new Rng(config.seed).shuffle([...examples.samples]);
    const validationCount = config.validationSplit > 0 && shuffled.length >= 2 ? Math.max(1, Math.round(shuffled.length * config.validationSplit)) : 0;
    const validation = shuffled.slice(0, validationCount);
    const train = shuffled.slice(validationCount);
    const effectiveBatch = config.batchSize * config.gradientAccumulation;
    // Epochs are concatenated and cut into effective batches (a batch may straddle two epochs).
    const order: TrainSample[] = [];
    for (let epoch = 0; epoch < config.epochs; epoch++) order.push(...new Rng((config.seed ^ Math.imul(epoch + 1, 104729)) >>> 0).shuffle([...train]));
    const totalSteps = Math.ceil(order.length / effectiveBatch);

    const trainerOptions: TrainerOptions = {
      lr: config.learningRate,
      schedule: config.lrScheduler,
      warmupRatio: config.warmupRatio,
      totalSteps,
      weightDecay: config.weightDecay,
      maxGradNorm: config.maxGradNorm,
      seed: config.seed,
    };
    const adapterDir = session.source.adapterDir;
    if (!config.lora && adapterDir !== undefined) {
      throw new HaloError('ERR_SFT_MODE', `--no-lora with --model ${config.model}: that is an adapter; full fine-tuning needs a full model`, { fix: 'merge the adapter first (sft train --merge), or drop --no-lora to keep training the adapter' });
    }
    trainer = !config.lora
      ? Trainer.create(session.model, { ...trainerOptions, mode: 'full' })
      : adapterDir !== undefined
        ? Trainer.fromAdapter(session.model, adapterDir, trainerOptions)
        : Trainer.create(session.model, { ...trainerOptions, mode: 'lora', rank: config.loraRank, alpha: config.loraAlpha, dropout: config.loraDropout });

    const progressPath = join(root, 'train_progress.json');
    const explicit = config.resume === undefined ? undefined : resolve(options.cwd, config.resume);
    const saved = readArtifact<TrainProgress>('train_progress', progressPath);
    let step = 0;
    let position: TrainPosition = { initialLoss: null, lastLoss: null, skipped: 0, tokens: 0, seconds: 0, validation: [], bestLoss: null, sinceBest: 0 };
    const stateDir = explicit ?? (saved !== undefined && saved.total_steps === totalSteps && existsSync(saved.state_dir) ? saved.state_dir : undefined);
    if (stateDir !== undefined) {
      position = { ...position, ...((trainer.loadState(stateDir) as Partial<TrainPosition> | null) ?? {}) };
      step = trainer.step;
    }
    bus.emit({ type: 'run_start', phase: 'setup', command: 'sft train', outputDir: root, resumed: step > 0, resumePoint: step > 0 ? `step ${step}/${totalSteps}` : 'new run' });
    bus.emit({ type: 'log', phase: 'setup', level: 'info', message: `sft: ${train.length} train / ${validation.length} validation examples, ${totalSteps} steps, ${session.source.description}` });
    if (config.dryRun) {
      bus.emit({ type: 'log', phase: 'setup', level: 'info', message: 'sft: --dry-run, stopping before training' });
      throw new DryRunComplete();
    }

    const resumedFrom = step > 0 ? step : null;
    const probe = trainingProbe(config, { model: session.model, tokenizer: session.tokenizer, modelName: config.model ?? '', runDir: root, cwd: options.cwd });
    const probeRecords = probe === undefined ? [] : readStepProbeRecords(root).filter((record) => record.step <= step);
    let earlyStopped = false;
    const trainStarted = performance.now();
    const secondsBefore = position.seconds;
    while (step < totalSteps) {
      if (options.signal?.aborted) throw new HaloError('ERR_CANCELLED', `sft train cancelled at step ${step}`, { fix: 'rerun the same command to continue from the last saved step' });
      const batch = order.slice(step * effectiveBatch, (step + 1) * effectiveBatch);
      const report = await trainer.trainStep(batch, { microBatchRows: config.batchSize });
      step += 1;
      position.tokens += report.tokens;
      if (report.skipped) position.skipped += 1;
      else {
        position.initialLoss ??= report.loss;
        position.lastLoss = report.loss;
      }
      bus.emit({ type: 'train_step', phase: 'train', step, totalSteps, loss: report.loss, lr: report.lr, gradNorm: report.gradNorm, tokensPerSecond: report.tokensPerSecond });
      if (validation.length > 0 && (step % config.evalSteps === 0 || step === totalSteps)) {
        const loss = await trainer.loss(validation, { microBatchRows: config.batchSize });
        position.validation.push({ step, loss });
        bus.emit({ type: 'eval_result', phase: 'eval', metrics: { validation_loss: loss, step } });
        if (position.bestLoss === null || loss < position.bestLoss) {
          position.bestLoss = loss;
          position.sinceBest = 0;
        } else position.sinceBest += 1;
        if (config.earlyStoppingPatience > 0 && position.sinceBest >= config.earlyStoppingPatience && step < totalSteps) {
          bus.emit({ type: 'log', phase: 'eval', level: 'info', message: `sft: validation loss has not improved for ${position.sinceBest} evaluations; stopping early at step ${step}` });
          earlyStopped = true;
          break;
        }
      }
      await probeAfterStep(probe, config, { step, runDir: root, records: probeRecords, bus });
      if (step % config.saveSteps === 0 && step < totalSteps) {
        position.seconds = secondsBefore + (performance.now() - trainStarted) / 1000;
        saveCheckpoint(root, trainer, step, totalSteps, position, config.saveTotalLimit);
      }
      crashPoint(`sft-train:${step}`);
    }
    const trainSeconds = secondsBefore + (performance.now() - trainStarted) / 1000;

    const finalModel = join(root, 'final_model');
    const temporary = `${finalModel}.tmp`;
    rmSync(temporary, { recursive: true, force: true });
    if (config.lora) trainer.saveAdapter(temporary, session.source.baseDir);
    else trainer.saveMerged(temporary, { sourceDir: session.source.baseDir });
    rmSync(finalModel, { recursive: true, force: true });
    renameSync(temporary, finalModel);
    let merged: string | null = null;
    if (config.merge && config.lora) {
      merged = join(root, 'final_model_merged');
      rmSync(`${merged}.tmp`, { recursive: true, force: true });
      trainer.saveMerged(`${merged}.tmp`, { sourceDir: session.source.baseDir });
      rmSync(merged, { recursive: true, force: true });
      renameSync(`${merged}.tmp`, merged);
    }
    bus.emit({ type: 'checkpoint', phase: 'checkpoint', path: finalModel });

    const optimizerSteps = step - position.skipped;
    const finished = new Date();
    const firstValidation = position.validation[0];
    const lastValidation = position.validation.at(-1);
    const summary: SftSummary = {
      contract_version: CONTRACT_VERSION,
      modality: 'sft',
      command: 'sft train',
      run_id: launch.run_id,
      model_name: config.model ?? '',
      base_model_name: session.source.baseDir,
      seed: config.seed,
      started_at: launch.created_at,
      finished_at: finished.toISOString(),
      seconds: (finished.getTime() - started.getTime()) / 1000,
      mode: config.lora ? 'lora' : 'full',
      examples: { loaded: examples.loaded, train: train.length, validation: validation.length, skipped_no_target: examples.skipped, truncated: examples.truncated },
      epochs_planned: config.epochs,
      total_steps_planned: totalSteps,
      total_train_steps_executed: step,
      optimizer_steps: optimizerSteps,
      skipped_batches_non_finite: position.skipped,
      weights_updated: optimizerSteps > 0,
      initial_train_loss: position.initialLoss,
      final_train_loss: position.lastLoss,
      validation: position.validation,
      best_validation_loss: position.bestLoss,
      early_stopped: earlyStopped,
      train_tokens: position.tokens,
      train_seconds: trainSeconds,
      train_tokens_per_second: trainSeconds > 0 ? position.tokens / trainSeconds : null,
      final_model_path: finalModel,
      merged_model_path: merged,
      resume: { resumed: launch.resumes.length > 0, resume_count: launch.resumes.length, resumed_from_step: resumedFrom },
      ...(probe === undefined ? {} : { probe: probeRecords }),
      effectiveness: effectiveness({
        samplesSeen: examples.loaded,
        samplesKept: train.length,
        minimumSamplesKept: 1,
        optimizerSteps,
        skippedBatchesNonFinite: position.skipped,
        initialTrainLoss: position.initialLoss,
        finalTrainLoss: position.lastLoss,
        finalModelWritten: true,
        trainingSummaryWritten: true,
        ...(firstValidation !== undefined && lastValidation !== undefined
          ? { evaluation: { metric: 'validation_loss', baseline: firstValidation.loss, final: lastValidation.loss, higherIsBetter: false, tolerance: 0.05 * Math.abs(firstValidation.loss) } }
          : {}),
      }),
    };
    const summaryPath = join(root, 'training_summary.json');
    writeArtifact('sft_summary', summaryPath, summary);
    removeCheckpoints(root);
    bus.emit({ type: 'run_end', phase: 'done', status: 'completed', seconds: summary.seconds, summaryPath });
    return { runDir: root, summaryPath, summary };
  } catch (error) {
    if (error instanceof DryRunComplete) {
      bus.emit({ type: 'run_end', phase: 'done', status: 'completed', seconds: (Date.now() - started.getTime()) / 1000 });
      throw error;
    }
    bus.emit({
      type: 'error',
      phase: 'done',
      code: isCodedError(error) ? error.code : 'ERR_SFT',
      message: error instanceof Error ? error.message : String(error),
      ...(error instanceof HaloError && error.fix !== undefined ? { fix: error.fix } : {}),
    });
    bus.emit({ type: 'run_end', phase: 'done', status: options.signal?.aborted ? 'cancelled' : 'failed', seconds: (Date.now() - started.getTime()) / 1000 });
    markReported(error);
    throw error;
  } finally {
    trainer?.dispose();
    session?.model.dispose();
    runLog.close();
    eventLog.close();
  }
}

/** Thrown by --dry-run after the checks; the CLI reports success. */
export class DryRunComplete extends Error {
  constructor() {
    super('dry run complete');
    this.name = 'DryRunComplete';
  }
}

function prepareLaunch(options: SftRunOptions, root: string): LaunchContext {
  return recordLaunch({
    definition: sftConfig,
    config: options.config,
    sources: options.sources,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    argv: options.argv,
    cwd: options.cwd,
    version: options.version,
    path: join(root, 'launch_context.json'),
    // Only a run that saved a checkpoint (or finished) has progress a changed config could corrupt.
    started: existsSync(join(root, 'train_progress.json')) || existsSync(join(root, 'final_model')),
    force: options.config.force,
  });
}

async function trainingFile(options: SftRunOptions, root: string): Promise<string> {
  const { config } = options;
  if (config.data !== undefined) return resolve(options.cwd, config.data);
  const output = join(root, 'data', `${config.dataset}.jsonl`);
  if (!existsSync(output)) {
    await prepareDataset({
      dataset: config.dataset ?? '',
      output,
      format: 'sft',
      seed: config.seed,
      ...(config.maxSamples === undefined ? {} : { maxSamples: config.maxSamples }),
      ...(config.systemPrompt === undefined ? {} : { systemPrompt: config.systemPrompt }),
    });
  }
  return output;
}

async function loadExamples(path: string, session: ModelSession, config: SftConfig): Promise<{ samples: TrainSample[]; loaded: number; skipped: number; truncated: number }> {
  if (!existsSync(path)) throw new HaloError('ERR_SFT_DATA', `--data ${path}: no such file`, { fix: 'pass a .jsonl, .json, .parquet or .csv file of chat records' });
  const samples: TrainSample[] = [];
  let loaded = 0;
  let skipped = 0;
  let truncated = 0;
  for await (const { record, line } of readRecords(path)) {
    if (config.maxSamples !== undefined && loaded >= config.maxSamples) break;
    loaded += 1;
    const canonical = toCanonical(record, { file: path, line });
    let tokens: number[];
    let lossMask: number[];
    if (canonical.kind === 'messages') {
      const encoded = encodeChat(session.tokenizer, session.template, canonical.messages, { ...(config.systemPrompt === undefined ? {} : { systemPrompt: config.systemPrompt }), contentSpecialTokens: 'literal' });
      tokens = encoded.ids;
      lossMask = encoded.mask;
    } else {
      tokens = session.tokenizer.encode(canonical.text, { specialTokens: 'literal' });
      lossMask = tokens.map(() => 1);
    }
    if (tokens.length > config.maxSeqLength) {
      truncated += 1;
      tokens = tokens.slice(0, config.maxSeqLength);
      lossMask = lossMask.slice(0, config.maxSeqLength);
    }
    // the first token is never predicted, so it cannot carry the only target
    if (tokens.length < 2 || !lossMask.slice(1).some((bit) => bit === 1)) {
      skipped += 1;
      continue;
    }
    samples.push({ tokens, lossMask });
  }
  return { samples, loaded, skipped, truncated };
}

function saveCheckpoint(root: string, trainer: Trainer, step: number, totalSteps: number, position: TrainPosition, keep: number): void {
  const directory = join(root, 'checkpoints', `step_${step}`);
  rmSync(`${directory}.tmp`, { recursive: true, force: true });
  trainer.saveState(`${directory}.tmp`, position);
  rmSync(directory, { recursive: true, force: true });
  renameSync(`${directory}.tmp`, directory);
  const progress: TrainProgress = { contract_version: CONTRACT_VERSION, cycle: 1, step, total_steps: totalSteps, state_dir: directory, timestamp: new Date().toISOString() };
  writeArtifact('train_progress', join(root, 'train_progress.json'), progress);
  const steps = readdirSync(join(root, 'checkpoints'))
    .map((name) => /^step_(\d+)$/.exec(name)?.[1])
    .filter((digits): digits is string => digits !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  for (const old of steps.slice(keep)) rmSync(join(root, 'checkpoints', `step_${old}`), { recursive: true, force: true });
}

function removeCheckpoints(root: string): void {
  rmSync(join(root, 'checkpoints'), { recursive: true, force: true });
  rmSync(join(root, 'train_progress.json'), { force: true });
}

