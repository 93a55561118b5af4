/**
 * Human-readable lines from the event stream: one formatter shared by the run log file
 * (<run>/run.log) and the CLI's plain (non-TTY) progress output. High-rate progress events are
 * thinned to one line per phase every few seconds (plus the line that completes a phase).
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EventBus, HaloEvent } from './events.js';
import { isHighRate } from './events.js';

export function formatEventLine(event: HaloEvent): string {
  const time = event.ts.slice(11, 19);
  const cycle = 'cycle' in event && event.cycle !== undefined ? `cycle ${event.cycle} ` : '';
  switch (event.type) {
    case 'run_start':
      return `${time} ${event.command}: ${event.resumed ? `resuming (${event.resumePoint ?? 'from the last checkpoint'})` : 'starting'}${event.outputDir ? ` -> ${event.outputDir}` : ''}`;
    case 'cycle_start':
      return `${time} cycle ${event.cycle}/${event.cycles}: ${event.prompts} prompts, lr ${formatNumber(event.learningRate)}, threshold ${formatNumber(event.rewardThreshold)}, keep ${formatNumber(event.keepPercent)}`;
    case 'generate_progress':
      return `${time} ${cycle}generate ${event.done}/${event.total} samples, ${event.tokens} tokens, ${event.tokensPerSecond.toFixed(1)} tok/s`;
    case 'verify_progress':
      return `${time} ${cycle}verify ${event.done}/${event.total} samples, ${event.passed} passed, ${event.samplesPerSecond.toFixed(2)} samples/s`;
    case 'train_step':
      return `${time} ${cycle}train step ${event.step}/${event.totalSteps} loss ${event.loss.toFixed(4)} lr ${formatNumber(event.lr)} grad ${event.gradNorm.toFixed(3)} ${event.tokensPerSecond.toFixed(0)} tok/s`;
    case 'eval_result':
      return `${time} ${cycle}eval ${Object.entries(event.metrics).map(([name, value]) => `${name} ${formatNumber(value)}`).join(', ')}`;
    case 'cycle_end':
      return `${time} cycle ${event.cycle} done in ${event.seconds.toFixed(1)} s: kept ${event.samplesKept}/${event.samplesGenerated}${event.trainLoss === null ? '' : `, loss ${event.trainLoss.toFixed(4)}`}${typeof event.yield.status === 'string' ? ` (${event.yield.status})` : ''}`;
    case 'checkpoint':
      return `${time} ${cycle}checkpoint ${event.path}`;
    case 'log':
      return `${time} ${event.level === 'info' ? '' : `${event.level}: `}${event.message}`;
    case 'error':
      return `${time} error [${event.code}]: ${event.message}${event.fix ? `\n  fix: ${event.fix}` : ''}`;
    case 'run_end':
      return `${time} run ${event.status} in ${event.seconds.toFixed(1)} s${event.summaryPath ? `; summary: ${event.summaryPath}` : ''}`;
  }
}

function formatNumber(value: number): string {
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) return value.toExponential(2);
  return Number.parseFloat(value.toPrecision(4)).toString();
}

/** Lets a progress line through per phase at most every `intervalMs`, and always the completing one. */
export class ProgressThrottle {
  private readonly last = new Map<string, number>();
  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  admit(event: HaloEvent): boolean {
    if (!isHighRate(event)) return true;
    const key = `${event.type}:${'cycle' in event ? (event.cycle ?? '') : ''}`;
    const completes = event.type === 'train_step' ? event.step >= event.totalSteps : event.done >= event.total;
    const now = this.now();
    const previous = this.last.get(key);
    if (!completes && previous !== undefined && now - previous < this.intervalMs) return false;
    this.last.set(key, now);
    return true;
  }
}

/** Writes formatted events to a log file (appending across resumes). */
export function attachRunLog(bus: EventBus, path: string, options: { intervalMs?: number; now?: () => number } = {}): { close(): void } {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number | undefined = openSync(path, 'a');
  const throttle = new ProgressThrottle(options.intervalMs ?? 10_000, options.now);
  const unsubscribe = bus.on((event) => {
    if (fd === undefined || !throttle.admit(event)) return;
    writeSync(fd, `${formatEventLine(event)}\n`);
  });
  return {
    close: () => {
      unsubscribe();
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
