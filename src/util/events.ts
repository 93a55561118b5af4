/**
 * The structured event stream of a run (DESIGN.md §3): pipelines emit, never print; the CLI's
 * progress view, the run log, events.jsonl and the web UI all subscribe. Every event is
 * {ts, run, phase, type, ...fields}.
 */
import { randomBytes } from 'node:crypto';
import { JsonlAppender } from './jsonl.js';

export type Phase = 'setup' | 'generate' | 'verify' | 'filter' | 'train' | 'eval' | 'checkpoint' | 'benchmark' | 'done';

export interface EventBase {
  /** ISO-8601 time the event was emitted. */
  ts: string;
  /** run id (stable across resumes of the same run directory). */
  run: string;
  phase: Phase;
}

export interface RunStartEvent extends EventBase {
  type: 'run_start';
  command: string;
  outputDir?: string;
  resumed: boolean;
  /** where a resumed run continues, in words ("cycle 3, verification, 120/256 samples done"). */
  resumePoint?: string;
}
export interface CycleStartEvent extends EventBase {
  type: 'cycle_start';
  cycle: number;
  cycles: number;
  prompts: number;
  learningRate: number;
  rewardThreshold: number;
  keepPercent: number;
}
export interface GenerateProgressEvent extends EventBase {
  type: 'generate_progress';
  cycle?: number;
  /** completions finished so far / planned. */
  done: number;
  total: number;
  tokens: number;
  tokensPerSecond: number;
}
export interface VerifyProgressEvent extends EventBase {
  type: 'verify_progress';
  cycle?: number;
  done: number;
  total: number;
  passed: number;
  samplesPerSecond: number;
}
export interface TrainStepEvent extends EventBase {
  type: 'train_step';
  cycle?: number;
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
}
export interface EvalResultEvent extends EventBase {
  type: 'eval_result';
  cycle?: number;
  metrics: Record<string, number>;
}
export interface CycleEndEvent extends EventBase {
  type: 'cycle_end';
  cycle: number;
  seconds: number;
  samplesKept: number;
  samplesGenerated: number;
  trainLoss: number | null;
  /** the cycle's yield diagnostics (see pipelines/raft/diagnostics.ts). */
  yield: Record<string, unknown>;
}
export interface CheckpointEvent extends EventBase {
  type: 'checkpoint';
  cycle?: number;
  path: string;
}
export interface LogEvent extends EventBase {
  type: 'log';
  level: 'debug' | 'info' | 'warn';
  message: string;
}
export interface ErrorEvent extends EventBase {
  type: 'error';
  code: string;
  message: string;
  fix?: string;
}
export interface RunEndEvent extends EventBase {
  type: 'run_end';
  status: 'completed' | 'failed' | 'cancelled';
  seconds: number;
  summaryPath?: string;
}

export type HaloEvent =
  | RunStartEvent
  | CycleStartEvent
  | GenerateProgressEvent
  | VerifyProgressEvent
  | TrainStepEvent
  | EvalResultEvent
  | CycleEndEvent
  | CheckpointEvent
  | LogEvent
  | ErrorEvent
  | RunEndEvent;

export type HaloEventType = HaloEvent['type'];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a pipeline passes to emit(): the bus stamps ts and run. */
export type EventInput = DistributiveOmit<HaloEvent, 'ts' | 'run'>;

export type EventListener = (event: HaloEvent) => void;

export class EventBus {
  /** the run id; a pipeline that resumes a run adopts the id recorded in its run directory. */
  run: string;
  private readonly listeners = new Set<EventListener>();
  private readonly now: () => Date;

  constructor(run: string, options: { now?: () => Date } = {}) {
    this.run = run;
    this.now = options.now ?? (() => new Date());
  }

  /** Subscribes; returns the unsubscribe function. */
  on(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(input: EventInput): HaloEvent {
    const event = { ts: this.now().toISOString(), run: this.run, ...input } as HaloEvent;
    for (const listener of this.listeners) listener(event);
    return event;
  }
}

/**
 * Appends every event to `path` (events.jsonl), one complete JSON line each; a trailing partial
 * line left by a kill is removed on open. Milestone events (everything except the high-rate
 * progress/step events) are fsynced at once; the rest at most every two seconds.
 */
export function attachEventLog(bus: EventBus, path: string): { close(): void; writer: JsonlAppender } {
  const { writer } = JsonlAppender.open(path);
  const unsubscribe = bus.on((event) => {
    writer.append(event);
    if (!isHighRate(event)) writer.sync();
  });
  return {
    writer,
    close: () => {
      unsubscribe();
      writer.close();
    },
  };
}

export function isHighRate(event: HaloEvent): event is GenerateProgressEvent | VerifyProgressEvent | TrainStepEvent {
  return event.type === 'generate_progress' || event.type === 'verify_progress' || event.type === 'train_step';
}

/** A run id: UTC time plus random hex, sortable and unique enough per machine. */
export function newRunId(now: Date = new Date(), randomHex: string = randomBytes(3).toString('hex')): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomHex}`;
}

const reported = new WeakSet<object>();

/** Marks an error as already delivered through an `error` event, so the CLI does not print it twice. */
export function markReported(error: unknown): void {
  if (typeof error === 'object' && error !== null) reported.add(error);
}

export function wasReported(error: unknown): boolean {
  return typeof error === 'object' && error !== null && reported.has(error);
}
