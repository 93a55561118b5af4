/**
 * Resume bookkeeping for a RAFT run directory: where to continue (cycle, phase, samples already
 * generated / verified, training step), whether the configuration changed since the run started,
 * and --resume-from-cycle N (set later cycles aside, never delete them).
 *
 * A cycle is finished when cycle_<n>/checkpoint_state.json exists and is valid: the loop writes it
 * last, after the adapter and the curriculum state. latest_checkpoint.json is a convenience pointer
 * written after it, so a kill between the two leaves it one cycle behind; the plan says so and the
 * loop rewrites it.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { HaloError } from '../../util/errors.js';
import { readJsonl } from '../../util/jsonl.js';
import type { OptionSpecs, CommandConfigDefinition } from '../config/spec.js';
import { yamlKey } from '../config/spec.js';
import { newRunId } from '../../util/events.js';
import { readArtifact, runPaths, writeArtifact, type CheckpointState, type LatestCheckpoint, type LaunchContext, type TrainProgress } from './artifacts.js';

export type ResumePhase = 'generate' | 'verify' | 'train' | 'done';

export interface ResumePlan {
  /** nothing of a previous run is there. */
  fresh: boolean;
  /** the cycle to work on (the last finished one when phase is 'done'). */
  cycle: number;
  phase: ResumePhase;
  /** complete records in cycle_<cycle>/samples.jsonl (0 when fresh). */
  samplesGenerated: number;
  samplesVerified: number;
  /** the trainer step to continue from (0 = start of training). */
  trainStep: number;
  trainProgress?: TrainProgress;
  lastFinishedCycle: number;
  lastCheckpoint?: CheckpointState;
  /** latest_checkpoint.json is missing or points at another cycle than the last finished one. */
  latestPointerStale: boolean;
  /** in words, for the run_start event. */
  description: string;
}

export interface PlanOptions {
  cycles: number;
  /** how many samples cycle `cycle` generates in all (prompts selected x samples per prompt). */
  expectedSamples: (cycle: number) => number;
}

export function planResume(root: string, options: PlanOptions): ResumePlan {
  const paths = runPaths(root);
  const cycleNumbers = existingCycles(root);
  if (!existsSync(paths.launchContext) && cycleNumbers.length === 0) {
    return { fresh: true, cycle: 1, phase: 'generate', samplesGenerated: 0, samplesVerified: 0, trainStep: 0, lastFinishedCycle: 0, latestPointerStale: false, description: 'new run' };
  }
  let lastFinishedCycle = 0;
  let lastCheckpoint: CheckpointState | undefined;
  for (let cycle = 1; cycleNumbers.includes(cycle); cycle++) {
    const state = readArtifact<CheckpointState>('checkpoint_state', paths.checkpointState(cycle));
    if (state === undefined) break;
    if (state.cycle !== cycle) {
      throw new HaloError('ERR_RUN_STATE', `${paths.checkpointState(cycle)} says cycle ${state.cycle}, but it is in cycle_${cycle}/`, {
        fix: 'the run directory was rearranged by hand; put the cycle folders back or start a new --output',
      });
    }
    if (!existsSync(state.model_dir)) {
      throw new HaloError('ERR_RUN_STATE', `${paths.checkpointState(cycle)} points at ${state.model_dir}, which does not exist`, {
        fix: `restore that folder, or rerun with --resume-from-cycle ${cycle} to redo cycle ${cycle}`,
      });
    }
    lastFinishedCycle = cycle;
    lastCheckpoint = state;
  }
  const latest = readArtifact<LatestCheckpoint>('latest_checkpoint', paths.latestCheckpoint);
  const latestPointerStale = lastFinishedCycle === 0 ? latest !== undefined : latest?.cycle !== lastFinishedCycle;
  const base = { fresh: false, lastFinishedCycle, latestPointerStale, ...(lastCheckpoint === undefined ? {} : { lastCheckpoint }) };

  if (lastFinishedCycle >= options.cycles) {
    return { ...base, cycle: lastFinishedCycle, phase: 'done', samplesGenerated: 0, samplesVerified: 0, trainStep: 0, description: `all ${options.cycles} cycles finished` };
  }
  const cycle = lastFinishedCycle + 1;
  const samplesGenerated = readJsonl(paths.samples(cycle)).length;
  const samplesVerified = readJsonl(paths.verified(cycle)).length;
  const expected = options.expectedSamples(cycle);
  if (samplesGenerated > expected) {
    throw new HaloError('ERR_RUN_STATE', `${paths.samples(cycle)} holds ${samplesGenerated} samples, but cycle ${cycle} plans ${expected}`, {
      fix: 'the prompts or samples-per-prompt changed under a running cycle; rerun with the original settings, or --resume-from-cycle ' + cycle,
    });
  }
  if (samplesVerified > samplesGenerated) {
    throw new HaloError('ERR_RUN_STATE', `${paths.verified(cycle)} holds ${samplesVerified} results for ${samplesGenerated} samples`, {
      fix: `rerun with --resume-from-cycle ${cycle} to redo this cycle`,
    });
  }
  const counts = { cycle, samplesGenerated, samplesVerified };
  if (samplesGenerated < expected) {
    return { ...base, ...counts, phase: 'generate', trainStep: 0, description: `cycle ${cycle}, generation, ${samplesGenerated}/${expected} samples done` };
  }
  if (samplesVerified < samplesGenerated) {
    return { ...base, ...counts, phase: 'verify', trainStep: 0, description: `cycle ${cycle}, verification, ${samplesVerified}/${samplesGenerated} samples done` };
  }
  const trainProgress = readArtifact<TrainProgress>('train_progress', paths.trainProgress(cycle));
  const usable = trainProgress !== undefined && trainProgress.cycle === cycle && existsSync(trainProgress.state_dir);
  return {
    ...base,
    ...counts,
    phase: 'train',
    trainStep: usable ? trainProgress.step : 0,
    ...(usable ? { trainProgress } : {}),
    description: usable ? `cycle ${cycle}, training, step ${trainProgress.step}/${trainProgress.total_steps}` : `cycle ${cycle}, training from its start`,
  };
}

/** Cycle numbers with a cycle_<n> folder, ascending. */
export function existingCycles(root: string): number[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => /^cycle_(\d+)$/.exec(entry.name)?.[1])
    .filter((digits): digits is string => digits !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * --resume-from-cycle N: cycles N and later (and final_model/, training_summary.json) are renamed
 * to *.set-aside-<stamp> and latest_checkpoint.json is removed, so the next planResume starts
 * cycle N afresh from cycle N-1's adapter. Returns the renamed paths.
 */
export function setAsideFromCycle(root: string, cycle: number, stamp: string): string[] {
  const paths = runPaths(root);
  const cycles = existingCycles(root);
  const finished = planFinishedCycles(root, cycles);
  if (cycle > finished + 1) {
    throw new HaloError('ERR_RESUME_FROM_CYCLE', `--resume-from-cycle ${cycle}: only cycles 1..${finished} of ${root} are finished`, {
      fix: `use --resume-from-cycle ${finished + 1} or lower (or rerun without it to continue where the run stopped)`,
    });
  }
  const moved: string[] = [];
  const setAside = (path: string): void => {
    if (!existsSync(path)) return;
    const target = `${path}.set-aside-${stamp}`;
    renameSync(path, target);
    moved.push(target);
  };
  for (const number of cycles.filter((n) => n >= cycle)) setAside(paths.cycleDir(number));
  setAside(paths.finalModel);
  setAside(paths.trainingSummary);
  rmSync(paths.latestCheckpoint, { force: true });
  return moved;
}

function planFinishedCycles(root: string, cycles: number[]): number {
  const paths = runPaths(root);
  let finished = 0;
  for (let cycle = 1; cycles.includes(cycle); cycle++) {
    if (readArtifact<CheckpointState>('checkpoint_state', paths.checkpointState(cycle)) === undefined) break;
    finished = cycle;
  }
  return finished;
}

export interface ConfigDifference {
  key: string;
  before: unknown;
  after: unknown;
}

/** The resolved config in launch_context.json form: snake_case keys, null for unset. */
export function configSnapshot<D extends OptionSpecs>(definition: CommandConfigDefinition<D>, config: Record<string, unknown>): Record<string, unknown> {
  const snapshot: Record<string, unknown> = {};
  for (const property of Object.keys(definition.options)) snapshot[yamlKey(property)] = config[property] ?? null;
  return snapshot;
}

/** Options (other than resume-neutral ones) whose values differ between the recorded and the current config. */
export function configDifferences<D extends OptionSpecs>(definition: CommandConfigDefinition<D>, recorded: Record<string, unknown>, current: Record<string, unknown>): ConfigDifference[] {
  const now = configSnapshot(definition, current);
  const differences: ConfigDifference[] = [];
  for (const [property, spec] of Object.entries(definition.options)) {
    if (spec.resumeNeutral) continue;
    const key = yamlKey(property);
    const before = key in recorded ? recorded[key] : null;
    if (JSON.stringify(before) !== JSON.stringify(now[key])) differences.push({ key, before, after: now[key] });
  }
  return differences;
}

/**
 * Stops a resume whose configuration differs (naming every differing key) unless --force; returns
 * the differences that --force let through, for the launch context and a warning event.
 */
export function checkResumeConfig<D extends OptionSpecs>(definition: CommandConfigDefinition<D>, launch: LaunchContext, current: Record<string, unknown>, force: boolean, launchPath: string): ConfigDifference[] {
  const differences = configDifferences(definition, launch.config, current);
  if (differences.length > 0 && !force) {
    const listed = differences.map((difference) => `${difference.key} (${JSON.stringify(difference.before)} -> ${JSON.stringify(difference.after)})`).join(', ');
    throw new HaloError('ERR_RESUME_CONFIG_MISMATCH', `the run in ${launchPath.replace(/\/launch_context\.json$/, '')} was started with a different configuration: ${listed}`, {
      fix: 'rerun with the original values (see launch_context.json "rerun"), choose a new --output, or pass --force to continue with the new values',
      details: { differences },
    });
  }
  return differences;
}

export interface LaunchInput<D extends OptionSpecs> {
  definition: CommandConfigDefinition<D>;
  config: Record<string, unknown>;
  sources: Record<string, string>;
  configFile?: string;
  runId: string;
  /** the user's arguments after the command words (e.g. after "raft train"). */
  argv: readonly string[];
  cwd: string;
  version: string;
  now: Date;
}

export function buildLaunchContext<D extends OptionSpecs>(input: LaunchInput<D>): LaunchContext {
  return {
    contract_version: 1,
    command: input.definition.command,
    run_id: input.runId,
    created_at: input.now.toISOString(),
    argv: [...input.argv],
    cwd: input.cwd,
    config_file: input.configFile ?? null,
    config: configSnapshot(input.definition, input.config),
    sources: Object.fromEntries(Object.entries(input.sources).map(([property, source]) => [yamlKey(property), source])),
    halo_forge_version: input.version,
    node_version: process.version,
    platform: `${process.platform}-${process.arch}`,
    rerun: `cd ${shellQuote(input.cwd)} && halo-forge ${input.definition.command} ${input.argv.map(shellQuote).join(' ')}`.trimEnd(),
    resumes: [],
  };
}

export interface RecordLaunchInput<D extends OptionSpecs> extends Omit<LaunchInput<D>, 'runId' | 'now'> {
  /** launch_context.json of the run. */
  path: string;
  /** the run has progress that a changed configuration could corrupt (a finished cycle, a checkpoint). */
  started: boolean;
  force: boolean;
}

/**
 * Writes launch_context.json: a new one for a fresh run (keeping the run id of a run that failed before
 * it started), else the recorded one with this resume appended. A resume whose configuration differs
 * stops (checkResumeConfig) unless forced; a forced one records the new configuration and rerun line.
 */
export function recordLaunch<D extends OptionSpecs>(input: RecordLaunchInput<D>): LaunchContext {
  const { path, started, force, ...launchInput } = input;
  const recorded = readArtifact<LaunchContext>('launch_context', path);
  const now = new Date();
  if (recorded === undefined || !started) {
    const launch = buildLaunchContext({ ...launchInput, runId: recorded?.run_id ?? newRunId(now), now });
    writeArtifact('launch_context', path, launch);
    return launch;
  }
  const differences = checkResumeConfig(input.definition, recorded, input.config, force, path);
  const updated: LaunchContext = {
    ...recorded,
    resumes: [...recorded.resumes, { at: now.toISOString(), argv: [...input.argv], forced_differences: differences.map((difference) => difference.key) }],
  };
  if (differences.length > 0) {
    const current = buildLaunchContext({ ...launchInput, runId: recorded.run_id, now });
    updated.config = current.config;
    updated.sources = current.sources;
    updated.rerun = current.rerun;
  }
  writeArtifact('launch_context', path, updated);
  return updated;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
