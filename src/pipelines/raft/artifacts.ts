/**
 * The run directory (DESIGN.md §3) and its artifacts: paths, record shapes and their atomic,
 * schema-checked writers and readers. cycle_<n>/checkpoint_state.json is the commit marker of a
 * cycle: it is written (atomically) only after the cycle's adapter and curriculum state are on disk.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../util/atomic.js';
import { HaloError } from '../../util/errors.js';
import { assertArtifact, type ArtifactSchema } from '../schemas.js';
import type { CurriculumState } from './curriculum.js';
import type { Effectiveness, YieldDiagnostics } from './diagnostics.js';
import type { ProbeOutcome } from '../eval/probe.js';

export const CONTRACT_VERSION = 1;

export interface RunPaths {
  root: string;
  events: string;
  log: string;
  launchContext: string;
  latestCheckpoint: string;
  trainingSummary: string;
  finalModel: string;
  cycleDir(cycle: number): string;
  cycleModel(cycle: number): string;
  checkpointState(cycle: number): string;
  samples(cycle: number): string;
  verified(cycle: number): string;
  trainProgress(cycle: number): string;
  curriculumState(cycle: number): string;
  cycleSummary(cycle: number): string;
  evalBaseline: string;
}

export function runPaths(root: string): RunPaths {
  const cycleDir = (cycle: number): string => join(root, `cycle_${cycle}`);
  return {
    root,
    events: join(root, 'events.jsonl'),
    log: join(root, 'run.log'),
    launchContext: join(root, 'launch_context.json'),
    latestCheckpoint: join(root, 'latest_checkpoint.json'),
    trainingSummary: join(root, 'training_summary.json'),
    finalModel: join(root, 'final_model'),
    cycleDir,
    cycleModel: (cycle) => join(cycleDir(cycle), 'model'),
    checkpointState: (cycle) => join(cycleDir(cycle), 'checkpoint_state.json'),
    samples: (cycle) => join(cycleDir(cycle), 'samples.jsonl'),
    verified: (cycle) => join(cycleDir(cycle), 'verified.jsonl'),
    trainProgress: (cycle) => join(cycleDir(cycle), 'train_progress.json'),
    curriculumState: (cycle) => join(cycleDir(cycle), 'curriculum_state.json'),
    cycleSummary: (cycle) => join(cycleDir(cycle), 'cycle_summary.json'),
    evalBaseline: join(root, 'eval_baseline.json'),
  };
}

export interface UpdateMetrics {
  train_steps_executed: number;
  train_loss: number | null;
  initial_train_loss: number | null;
  weights_updated: boolean;
  optimizer_steps: number;
  skipped_batches_non_finite: number;
  /** "updated", or why not ("no_samples_kept", "no_optimizer_steps", ...). */
  update_reason: string;
}

export interface CheckpointState {
  contract_version: 1;
  modality: string;
  model_name: string;
  cycle: number;
  timestamp: string;
  /** the cycle's adapter folder (absolute). */
  model_dir: string;
  learning_rate: number;
  samples_seen: number;
  samples_kept: number;
  update_metrics: UpdateMetrics;
}

export interface LatestCheckpoint {
  contract_version: 1;
  cycle: number;
  model_dir: string;
  checkpoint_state: string;
  timestamp: string;
}

/** One line of cycle_<n>/samples.jsonl, appended as each completion is generated. */
export interface SampleRecord {
  prompt_index: number;
  sample_index: number;
  prompt_key: string;
  completion: string;
  tokens: number;
  /** the completion's token ids (the stop token included), trained on as generated. */
  token_ids: number[];
  finish_reason: 'stop' | 'length' | 'cancelled';
}

/** One line of cycle_<n>/verified.jsonl, appended as each sample is verified. */
export interface VerifiedRecord {
  prompt_index: number;
  sample_index: number;
  success: boolean;
  reward: number;
  details: string;
  error?: string;
  metadata: Record<string, unknown>;
}

/** eval_baseline.json: held-out pass@1 of the starting model, measured once before cycle 1. */
export interface EvalBaseline {
  contract_version: 1;
  metric: 'pass@1';
  value: number;
  prompts: number;
  samples: number;
  timestamp: string;
}

/** cycle_<n>/train_progress.json: the last trainer checkpoint inside a cycle (mid-training resume). */
export interface TrainProgress {
  contract_version: 1;
  cycle: number;
  step: number;
  total_steps: number;
  /** the trainer's saved state (adapter + optimizer) for this step. */
  state_dir: string;
  timestamp: string;
}

export interface PhaseSeconds {
  generate: number;
  verify: number;
  filter: number;
  train: number;
  checkpoint: number;
  /** held-out pass@1 measurement (--eval-prompts). */
  eval: number;
}

export interface Throughput {
  generate_tokens_per_second: number | null;
  verify_samples_per_second: number | null;
  train_tokens_per_second: number | null;
}

export interface CycleSummary {
  cycle: number;
  learning_rate: number;
  reward_threshold: number;
  keep_percent: number;
  prompts: number;
  samples_seen: number;
  samples_kept: number;
  generated_tokens: number;
  train_tokens: number;
  cycle_duration_seconds: number;
  phase_seconds: PhaseSeconds;
  throughput: Throughput;
  update_metrics: UpdateMetrics;
  yield_diagnostics: YieldDiagnostics;
  /** held-out metrics measured after this cycle, e.g. {"pass@1": 0.4}. */
  evaluation?: Record<string, number>;
}

export interface ResumeInfo {
  resumed: boolean;
  resume_count: number;
  resume_from_cycle: number | null;
  resumed_from_checkpoint: { cycle: number; model_dir: string } | null;
}

export interface TrainingSummary {
  contract_version: 1;
  modality: string;
  command: string;
  run_id: string;
  model_name: string;
  base_model_name: string;
  seed: number;
  started_at: string;
  finished_at: string;
  seconds: number;
  total_cycles_planned: number;
  cycles_executed: number;
  cycles: CycleSummary[];
  /** forgetting-probe outcomes per probed cycle (raft train --probe-every N) */
  probe?: ProbeOutcome[];
  total_train_steps_executed: number;
  weights_updated: boolean;
  final_train_loss: number | null;
  final_model_path: string | null;
  phase_seconds: PhaseSeconds;
  throughput: Throughput;
  yield_diagnostics: YieldDiagnostics;
  resume: ResumeInfo;
  effectiveness: Effectiveness;
}

export interface LaunchContext {
  contract_version: 1;
  command: string;
  run_id: string;
  created_at: string;
  argv: string[];
  cwd: string;
  config_file: string | null;
  /** the resolved configuration, snake_case keys as in a config file; unset options are null. */
  config: Record<string, unknown>;
  sources: Record<string, string>;
  halo_forge_version: string;
  node_version: string;
  platform: string;
  /** a command line that continues this run. */
  rerun: string;
  resumes: { at: string; argv: string[]; forced_differences: string[] }[];
}

export function writeArtifact(schema: ArtifactSchema, path: string, value: unknown): void {
  assertArtifact(schema, value, path);
  writeJsonAtomic(path, value);
}

/** Reads and schema-checks a JSON artifact; undefined when the file does not exist. */
export function readArtifact<T>(schema: ArtifactSchema, path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new HaloError('ERR_ARTIFACT_INVALID', `${path} is not valid JSON: ${(error as Error).message}`, {
      fix: 'every JSON artifact is written atomically, so this file was changed outside halo-forge; restore or delete it',
    });
  }
  assertArtifact(schema, value, path);
  return value as T;
}

export function nullPhaseSeconds(): PhaseSeconds {
  return { generate: 0, verify: 0, filter: 0, train: 0, checkpoint: 0, eval: 0 };
}

export function throughput(generatedTokens: number, verifiedSamples: number, trainTokens: number, seconds: PhaseSeconds): Throughput {
  const rate = (count: number, time: number): number | null => (time > 0 ? count / time : null);
  return {
    generate_tokens_per_second: rate(generatedTokens, seconds.generate),
    verify_samples_per_second: rate(verifiedSamples, seconds.verify),
    train_tokens_per_second: rate(trainTokens, seconds.train),
  };
}

export function writeCheckpointState(paths: RunPaths, state: CheckpointState): void {
  writeArtifact('checkpoint_state', paths.checkpointState(state.cycle), state);
}

export function writeLatestCheckpoint(paths: RunPaths, state: CheckpointState): void {
  const latest: LatestCheckpoint = {
    contract_version: CONTRACT_VERSION,
    cycle: state.cycle,
    model_dir: state.model_dir,
    checkpoint_state: paths.checkpointState(state.cycle),
    timestamp: state.timestamp,
  };
  writeArtifact('latest_checkpoint', paths.latestCheckpoint, latest);
}

export function writeCurriculumState(paths: RunPaths, cycle: number, state: CurriculumState): void {
  writeArtifact('curriculum_state', paths.curriculumState(cycle), state);
}
