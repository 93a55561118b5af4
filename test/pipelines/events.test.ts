import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus, attachEventLog, newRunId, type HaloEvent } from '../../src/util/events.js';
import { JsonlAppender, readJsonl } from '../../src/util/jsonl.js';
import { attachRunLog, formatEventLine } from '../../src/util/log.js';
import { attachProgress } from '../../src/cli/progress.js';
import { HaloError } from '../../src/util/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-events-'));
process.on('exit', () => rmSync(directory, { recursive: true, force: true }));

class Capture {
  text = '';
  isTTY: boolean;
  columns = 120;
  constructor(isTTY: boolean) {
    this.isTTY = isTTY;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  // cli-progress probes these on TTY streams
  cursorTo(): boolean {
    return true;
  }
  moveCursor(): boolean {
    return true;
  }
  clearLine(): boolean {
    return true;
  }
  clearScreenDown(): boolean {
    return true;
  }
  on(): this {
    return this;
  }
  removeListener(): this {
    return this;
  }
}

function clockBus(): { bus: EventBus; advance(ms: number): void; now(): number } {
  let ms = Date.parse('2026-01-02T03:04:05.000Z');
  const bus = new EventBus('run-1', { now: () => new Date(ms) });
  return { bus, advance: (delta) => (ms += delta), now: () => ms };
}

test('the bus stamps ts and run, and delivers to every listener until unsubscribed', () => {
  const { bus } = clockBus();
  const seen: HaloEvent[] = [];
  const off = bus.on((event) => seen.push(event));
  const event = bus.emit({ type: 'cycle_start', phase: 'setup', cycle: 1, cycles: 3, prompts: 8, learningRate: 5e-5, rewardThreshold: 0.5, keepPercent: 0.5 });
  assert.equal(event.ts, '2026-01-02T03:04:05.000Z');
  assert.equal(event.run, 'run-1');
  assert.deepEqual(seen, [event]);
  off();
  bus.emit({ type: 'log', phase: 'setup', level: 'info', message: 'x' });
  assert.equal(seen.length, 1);
  assert.match(newRunId(new Date('2026-01-02T03:04:05.678Z'), 'abcdef'), /^20260102T030405Z-abcdef$/);
});

test('events.jsonl gets one complete JSON line per event, and survives a torn last line', () => {
  const path = join(directory, 'run', 'events.jsonl');
  const { bus } = clockBus();
  const log = attachEventLog(bus, path);
  bus.emit({ type: 'run_start', phase: 'setup', command: 'raft train', resumed: false });
  bus.emit({ type: 'generate_progress', phase: 'generate', cycle: 1, done: 3, total: 8, tokens: 120, tokensPerSecond: 40 });
  log.close();
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  assert.equal(JSON.parse(lines[1]).type, 'generate_progress');
  // a kill mid-write leaves a partial line: reopening truncates it and keeps appending cleanly
  appendFileSync(path, '{"ts":"2026-01-02T03:04:05.000Z","ty');
  const again = attachEventLog(bus, path);
  bus.emit({ type: 'run_end', phase: 'done', status: 'completed', seconds: 1 });
  again.close();
  const records = readJsonl<HaloEvent>(path);
  assert.deepEqual(records.map((event) => event.type), ['run_start', 'generate_progress', 'run_end']);
});

test('JsonlAppender.open counts complete records, truncates a partial tail, rejects a corrupt middle line', () => {
  const path = join(directory, 'samples.jsonl');
  const first = JsonlAppender.open<{ i: number }>(path, { fsyncIntervalMs: 0 });
  assert.equal(first.records.length, 0);
  for (let i = 0; i < 5; i++) first.writer.append({ i });
  assert.equal(first.writer.length, 5);
  first.writer.close();
  appendFileSync(path, '{"i":5,"comp');
  const sizeBefore = statSync(path).size;
  const reopened = JsonlAppender.open<{ i: number }>(path);
  assert.equal(reopened.records.length, 5);
  assert.equal(reopened.truncatedBytes, '{"i":5,"comp'.length);
  assert.equal(statSync(path).size, sizeBefore - reopened.truncatedBytes);
  reopened.writer.append({ i: 5 });
  reopened.writer.close();
  assert.deepEqual(readJsonl<{ i: number }>(path).map((record) => record.i), [0, 1, 2, 3, 4, 5]);

  const corrupt = join(directory, 'corrupt.jsonl');
  writeFileSync(corrupt, '{"a":1}\nnot json\n{"a":2}\n');
  assert.throws(() => JsonlAppender.open(corrupt), (error: unknown) => error instanceof HaloError && error.code === 'ERR_JSONL_CORRUPT' && /corrupt\.jsonl:2/.test(error.message));
});

test('JsonlAppender fsyncs by interval: sync() only when something was appended', () => {
  let now = 0;
  const path = join(directory, 'interval.jsonl');
  const { writer } = JsonlAppender.open(path, { fsyncIntervalMs: 1000, now: () => now });
  writer.append({ a: 1 });
  now = 1500;
  writer.append({ a: 2 }); // crosses the interval: synced
  writer.sync();
  writer.close();
  assert.equal(readJsonl(path).length, 2);
});

test('the run log and plain progress thin high-rate events to one line per phase per interval', () => {
  const { bus, advance, now } = clockBus();
  const logPath = join(directory, 'run.log');
  const runLog = attachRunLog(bus, logPath, { intervalMs: 10_000, now });
  const plain = new Capture(false);
  const view = attachProgress(bus, { stream: plain, intervalMs: 5000, now });
  bus.emit({ type: 'cycle_start', phase: 'setup', cycle: 1, cycles: 2, prompts: 4, learningRate: 5e-5, rewardThreshold: 0.5, keepPercent: 0.5 });
  for (let done = 1; done <= 32; done++) {
    advance(500);
    bus.emit({ type: 'generate_progress', phase: 'generate', cycle: 1, done, total: 32, tokens: done * 10, tokensPerSecond: 20 });
  }
  bus.emit({ type: 'error', phase: 'verify', code: 'ERR_X', message: 'boom', fix: 'do y' });
  view.close();
  runLog.close();
  const plainLines = plain.text.trim().split('\n');
  const progressLines = plainLines.filter((line) => line.includes('generate '));
  // 16 s of progress every 0.5 s at one line per 5 s: first, ~3 interval lines, the completing one
  assert.ok(progressLines.length >= 4 && progressLines.length <= 5, `got ${progressLines.length}: ${plain.text}`);
  assert.match(progressLines.at(-1) ?? '', /generate 32\/32 samples/);
  assert.match(plain.text, /cycle 1\/2: 4 prompts/);
  assert.match(plain.text, /error \[ERR_X\]: boom\n {2}fix: do y/);
  const logLines = readFileSync(logPath, 'utf8').trim().split('\n');
  assert.ok(logLines.filter((line) => line.includes('generate ')).length < progressLines.length + 1);
  assert.match(logLines.at(-1) ?? '', /fix: do y/);
});

test('--quiet shows only errors; the TTY view draws bars with rate and ETA', () => {
  const { bus } = clockBus();
  const quiet = new Capture(false);
  const quietView = attachProgress(bus, { stream: quiet, quiet: true });
  const tty = new Capture(true);
  const ttyView = attachProgress(bus, { stream: tty });
  bus.emit({ type: 'cycle_start', phase: 'setup', cycle: 2, cycles: 3, prompts: 4, learningRate: 5e-5, rewardThreshold: 0.5, keepPercent: 0.5 });
  bus.emit({ type: 'verify_progress', phase: 'verify', cycle: 2, done: 5, total: 10, passed: 3, samplesPerSecond: 2.5 });
  bus.emit({ type: 'error', phase: 'verify', code: 'ERR_Q', message: 'quiet but shown' });
  bus.emit({ type: 'run_end', phase: 'done', status: 'failed', seconds: 2 });
  quietView.close();
  ttyView.close();
  assert.equal(quiet.text.trim().split('\n').length, 1);
  assert.match(quiet.text, /ERR_Q/);
  assert.match(tty.text, /c2 verify/);
  assert.match(tty.text, /2\.50 samples\/s, 3 passed/);
  assert.match(tty.text, /ETA/);
  assert.match(tty.text, /5\/10/);
});

test('formatEventLine covers every event type', () => {
  const { bus } = clockBus();
  const events: HaloEvent[] = [
    bus.emit({ type: 'run_start', phase: 'setup', command: 'raft train', resumed: true, resumePoint: 'cycle 2, verify', outputDir: '/r' }),
    bus.emit({ type: 'train_step', phase: 'train', cycle: 1, step: 3, totalSteps: 10, loss: 1.23456, lr: 5e-5, gradNorm: 0.5, tokensPerSecond: 900 }),
    bus.emit({ type: 'eval_result', phase: 'eval', metrics: { 'pass@1': 0.25 } }),
    bus.emit({ type: 'cycle_end', phase: 'train', cycle: 1, seconds: 12.5, samplesKept: 7, samplesGenerated: 64, trainLoss: 0.9, yield: { status: 'low_yield' } }),
    bus.emit({ type: 'checkpoint', phase: 'checkpoint', cycle: 1, path: '/r/cycle_1' }),
    bus.emit({ type: 'log', phase: 'setup', level: 'warn', message: 'careful' }),
  ];
  const lines = events.map(formatEventLine);
  assert.match(lines[0], /resuming \(cycle 2, verify\) -> \/r/);
  assert.match(lines[1], /train step 3\/10 loss 1\.2346 lr 5\.00e-5/);
  assert.match(lines[2], /pass@1 0\.25/);
  assert.match(lines[3], /kept 7\/64, loss 0\.9000 \(low_yield\)/);
  assert.match(lines[4], /checkpoint \/r\/cycle_1/);
  assert.match(lines[5], /warn: careful/);
});
