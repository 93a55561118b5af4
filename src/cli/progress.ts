/**
 * The CLI's view of a run's event stream. On a TTY: one bar per phase (generate / verify / train)
 * with its rate and ETA, milestones printed above the bars. Without a TTY: a plain line per phase
 * every few seconds plus every milestone. --quiet: errors only. Pipelines never print; this does.
 */
import cliProgress from 'cli-progress';
import type { EventBus, HaloEvent } from '../util/events.js';
import { formatEventLine, ProgressThrottle } from '../util/log.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** default process.stderr. */
  stream?: ProgressStream;
  quiet?: boolean;
  /** default: stream.isTTY. */
  tty?: boolean;
  /** plain mode: one progress line per phase at most this often (default 5000 ms). */
  intervalMs?: number;
  /** injectable clock for the plain-mode throttle. */
  now?: () => number;
  /** print debug log events too. */
  verbose?: boolean;
}

export interface ProgressView {
  close(): void;
}

export function attachProgress(bus: EventBus, options: ProgressOptions = {}): ProgressView {
  const stream = options.stream ?? process.stderr;
  const visible = (event: HaloEvent): boolean => {
    if (options.quiet) return event.type === 'error';
    return !(event.type === 'log' && event.level === 'debug' && !options.verbose);
  };
  const tty = options.tty ?? stream.isTTY === true;
  return tty && !options.quiet ? attachBars(bus, stream, visible) : attachPlain(bus, stream, visible, options);
}

function attachPlain(bus: EventBus, stream: ProgressStream, visible: (event: HaloEvent) => boolean, options: ProgressOptions): ProgressView {
  const throttle = new ProgressThrottle(options.intervalMs ?? 5000, options.now);
  const unsubscribe = bus.on((event) => {
    if (visible(event) && throttle.admit(event)) stream.write(`${formatEventLine(event)}\n`);
  });
  return { close: unsubscribe };
}

type BarPhase = 'generate' | 'verify' | 'train';

interface BarState {
  bar: cliProgress.SingleBar;
  total: number;
}

function attachBars(bus: EventBus, stream: ProgressStream, visible: (event: HaloEvent) => boolean): ProgressView {
  let multibar: cliProgress.MultiBar | undefined;
  let bars = new Map<BarPhase, BarState>();
  const open = (): cliProgress.MultiBar => {
    multibar ??= new cliProgress.MultiBar(
      {
        stream: stream as unknown as NodeJS.WritableStream,
        format: '{label} |{bar}| {percentage}% {value}/{total} | {rate} | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        barsize: 30,
        etaBuffer: 50,
        autopadding: true,
        forceRedraw: false,
      },
      cliProgress.Presets.shades_classic,
    );
    return multibar;
  };
  const close = (): void => {
    multibar?.stop();
    multibar = undefined;
    bars = new Map();
  };
  const update = (phase: BarPhase, label: string, value: number, total: number, rate: string): void => {
    let state = bars.get(phase);
    if (state === undefined) {
      state = { bar: open().create(Math.max(total, 1), 0, { label, rate }), total };
      bars.set(phase, state);
    } else if (state.total !== total) {
      state.bar.setTotal(Math.max(total, 1));
      state.total = total;
    }
    state.bar.update(value, { label, rate });
  };
  const unsubscribe = bus.on((event) => {
    if (!visible(event)) return;
    const cycle = 'cycle' in event && event.cycle !== undefined ? `c${event.cycle} ` : '';
    switch (event.type) {
      case 'generate_progress':
        update('generate', `${cycle}generate`.padEnd(12), event.done, event.total, `${event.tokensPerSecond.toFixed(1)} tok/s`);
        return;
      case 'verify_progress':
        update('verify', `${cycle}verify`.padEnd(12), event.done, event.total, `${event.samplesPerSecond.toFixed(2)} samples/s, ${event.passed} passed`);
        return;
      case 'train_step':
        update('train', `${cycle}train`.padEnd(12), event.step, event.totalSteps, `loss ${event.loss.toFixed(4)}, ${event.tokensPerSecond.toFixed(0)} tok/s`);
        return;
      case 'cycle_start':
        close();
        stream.write(`${formatEventLine(event)}\n`);
        return;
      case 'cycle_end':
      case 'run_end':
        close();
        stream.write(`${formatEventLine(event)}\n`);
        return;
      default:
        if (multibar !== undefined) multibar.log(`${formatEventLine(event)}\n`);
        else stream.write(`${formatEventLine(event)}\n`);
    }
  });
  return {
    close: () => {
      unsubscribe();
      close();
    },
  };
}
