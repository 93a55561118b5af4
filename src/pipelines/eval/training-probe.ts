/**
 * The forgetting probe inside a training run (`--probe-every N` on raft train): after every Nth
 * cycle the cycle's adapter is attached to the live model, the probe runs through the native
 * runner, and its outcome is written to cycle_<n>/probe.json (atomically) so that a resumed run
 * still reports every probe in training_summary.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { HaloTokenizer } from '../../data/tokenizer.js';
import type { Model } from '../../engine/model.js';
import { Trainer } from '../../engine/trainer.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { HaloError } from '../../util/errors.js';
import type { EventBus } from '../../util/events.js';
import { createNativeRunner } from './native-runner.js';
import { MidTrainingProbe, type ProbeOutcome } from './probe.js';
import { expandTasks } from './tasks.js';

/** The probe's settings as the training commands' config holds them. */
export interface TrainingProbeConfig {
  probeEvery?: number | undefined;
  probeBaseline?: string | undefined;
  probeTasks: string;
  probeLimit: number;
  probeTolerance: number;
  haltOnRegression: boolean;
}

export const PROBE_FILE = 'probe.json';

/** undefined when --probe-every is not set. */
export function trainingProbe(config: TrainingProbeConfig, options: { model: Model; tokenizer: HaloTokenizer; modelName: string; runDir: string; cwd: string }): MidTrainingProbe | undefined {
  if (config.probeEvery === undefined) return undefined;
  const baselinePath = resolve(options.cwd, config.probeBaseline ?? join(options.runDir, 'probe_baseline.json'));
  return new MidTrainingProbe(config.probeEvery, {
    modelName: options.modelName,
    baselinePath,
    tasks: expandTasks(config.probeTasks),
    limit: config.probeLimit,
    tolerance: config.probeTolerance,
    runner: createNativeRunner({ model: options.model, tokenizer: options.tokenizer }),
  });
}

/**
 * Runs the probe after `cycle` when due, with that cycle's adapter attached; writes
 * `<cycleDir>/probe.json`. Throws PROBE_REGRESSION when haltOnRegression is set and a task regressed.
 */
export async function probeAfterCycle(probe: MidTrainingProbe | undefined, config: TrainingProbeConfig, context: { cycle: number; cycleDir: string; adapterDir: string; model: Model; bus: EventBus }): Promise<ProbeOutcome | undefined> {
  if (probe === undefined || !probe.shouldRun(context.cycle)) return undefined;
  const attached = Trainer.fromAdapter(context.model, context.adapterDir);
  let outcome: ProbeOutcome;
  try {
    outcome = await probe.run(context.cycle);
  } finally {
    attached.dispose();
  }
  writeJsonAtomic(join(context.cycleDir, PROBE_FILE), outcome);
  const values = Object.entries(outcome.values).map(([task, value]) => `${task} ${value === null ? 'n/a' : value.toFixed(4)}`).join(', ');
  context.bus.emit({ type: 'log', phase: 'eval', level: outcome.regressed.length > 0 ? 'warn' : 'info', message: `probe after cycle ${context.cycle}: ${values}${outcome.baseline_written ? ' (baseline written)' : ''}${outcome.regressed.length > 0 ? `; REGRESSED ${outcome.regressed.map((r) => r.task).join(', ')}` : ''}` });
  if (config.haltOnRegression && outcome.regressed.length > 0) {
    throw new HaloError('PROBE_REGRESSION', `probe after cycle ${context.cycle}: ${outcome.regressed.map((r) => `${r.task} fell ${r.baseline.toFixed(4)} -> ${r.current.toFixed(4)}`).join(', ')} (tolerance ${config.probeTolerance})`, {
      fix: 'lower --learning-rate or --cycles, raise --probe-tolerance, or drop --halt-on-regression to continue anyway',
    });
  }
  return outcome;
}

/** The probe records of cycles 1..cycles found in the run directory, in cycle order. */
export function readProbeRecords(cycleDir: (cycle: number) => string, cycles: number): ProbeOutcome[] {
  const out: ProbeOutcome[] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    const path = join(cycleDir(cycle), PROBE_FILE);
    if (existsSync(path)) out.push(JSON.parse(readFileSync(path, 'utf8')) as ProbeOutcome);
  }
  return out;
}

/** An SFT probe record: the optimizer step it ran after instead of a cycle. */
export type StepProbeOutcome = Omit<ProbeOutcome, 'cycle'> & { step: number };

export const SFT_PROBE_FILE = 'probe_results.json';

/** Probe records an interrupted sft run already wrote (resume keeps them). */
export function readStepProbeRecords(runDir: string): StepProbeOutcome[] {
  const path = join(runDir, SFT_PROBE_FILE);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as StepProbeOutcome[]) : [];
}

/**
 * sft train: runs the probe after optimizer step `step` when due, on the model as it trains (the
 * LoRA tensors are live), appends the record to <runDir>/probe_results.json and honours
 * haltOnRegression like the RAFT hook.
 */
export async function probeAfterStep(probe: MidTrainingProbe | undefined, config: TrainingProbeConfig, context: { step: number; runDir: string; records: StepProbeOutcome[]; bus: EventBus }): Promise<void> {
  if (probe === undefined || !probe.shouldRun(context.step)) return;
  const { cycle: _cycle, ...rest } = await probe.run(context.step);
  const record: StepProbeOutcome = { ...rest, step: context.step };
  context.records.push(record);
  writeJsonAtomic(join(context.runDir, SFT_PROBE_FILE), context.records);
  context.bus.emit({ type: 'log', phase: 'eval', level: record.regressed.length > 0 ? 'warn' : 'info', message: `probe after step ${context.step}: ${Object.entries(record.values).map(([task, value]) => `${task} ${value === null ? 'n/a' : value.toFixed(4)}`).join(', ')}${record.regressed.length > 0 ? `; REGRESSED ${record.regressed.map((r) => r.task).join(', ')}` : ''}` });
  if (config.haltOnRegression && record.regressed.length > 0) {
    throw new HaloError('PROBE_REGRESSION', `probe after step ${context.step}: ${record.regressed.map((r) => `${r.task} fell ${r.baseline.toFixed(4)} -> ${r.current.toFixed(4)}`).join(', ')} (tolerance ${config.probeTolerance})`, {
      fix: 'lower --learning-rate or --epochs, raise --probe-tolerance, or drop --halt-on-regression to continue anyway',
    });
  }
}
