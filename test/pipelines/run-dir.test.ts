import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { raftConfig } from '../../src/pipelines/config/commands.js';
import { resolveConfig } from '../../src/pipelines/config/resolve.js';
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
  type SampleRecord,
  type TrainingSummary,
  type VerifiedRecord,
} from '../../src/pipelines/raft/artifacts.js';
import { buildLaunchContext, checkResumeConfig, configDifferences, planResume, setAsideFromCycle } from '../../src/pipelines/raft/resume.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';
import { filterSamples, type ScoredSample } from '../../src/pipelines/raft/filter.js';
import { aggregateYieldDiagnostics, cycleYieldDiagnostics, effectiveness } from '../../src/pipelines/raft/diagnostics.js';
import { emptyCurriculumState, promptKey, updateCurriculumState } from '../../src/pipelines/raft/curriculum.js';
import { EventBus, attachEventLog, type HaloEvent } from '../../src/util/events.js';
import { JsonlAppender, readJsonl } from '../../src/util/jsonl.js';
import { HaloError } from '../../src/util/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'halo-rundir-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const argv = ['--model', 'tiny', '--prompts', 'p.jsonl', '--verifier', 'math', '--samples-per-prompt', '4'];
const prompts = ['1+1', '2+2'];
const resolved = resolveConfig(raftConfig, { cli: { model: 'tiny', prompts: 'p.jsonl', verifier: 'math', samplesPerPrompt: '4' } });

function sampleRecord(promptIndex: number, sampleIndex: number): SampleRecord {
  return { prompt_index: promptIndex, sample_index: sampleIndex, prompt_key: promptKey(prompts[promptIndex]), completion: `answer ${sampleIndex}`, tokens: 3, token_ids: [5, 6, 7], finish_reason: 'stop' };
}

function verifiedRecord(promptIndex: number, sampleIndex: number): VerifiedRecord {
  const success = (promptIndex + sampleIndex) % 2 === 0;
  return { prompt_index: promptIndex, sample_index: sampleIndex, success, reward: success ? 1 : 0, details: success ? 'correct' : 'wrong answer', metadata: { expected: '2' } };
}

function checkpointState(root: string, cycle: number): CheckpointState {
  return {
    contract_version: CONTRACT_VERSION,
    modality: 'raft',
    model_name: 'tiny',
    cycle,
    timestamp: new Date(Date.UTC(2026, 0, cycle)).toISOString(),
    model_dir: runPaths(root).cycleModel(cycle),
    learning_rate: 5e-5,
    samples_seen: 8,
    samples_kept: 4,
    update_metrics: { train_steps_executed: 2, train_loss: 0.8, initial_train_loss: 1.2, weights_updated: true, optimizer_steps: 2, skipped_batches_non_finite: 0, update_reason: 'updated' },
  };
}

test('resume plan walks a run through every phase boundary', () => {
  const root = join(scratch, 'run-a');
  const paths = runPaths(root);
  const plan = (cycles = 3) => planResume(root, { cycles, expectedSamples: () => 8 });
  assert.equal(plan().fresh, true);

  const launch = buildLaunchContext({ definition: raftConfig, config: resolved.config, sources: resolved.sources, runId: 'r1', argv, cwd: '/work/x y', version: '0.1.0', now: new Date('2026-01-01T00:00:00Z') });
  writeArtifact('launch_context', paths.launchContext, launch);
  assert.match(launch.rerun, /^cd '\/work\/x y' && halo-forge raft train --model tiny/);
  assert.equal(launch.config.samples_per_prompt, 4);
  assert.equal(launch.config.min_samples, null);
  let state = plan();
  assert.deepEqual([state.fresh, state.cycle, state.phase, state.samplesGenerated], [false, 1, 'generate', 0]);

  // mid-generation, killed inside a write
  const samples = JsonlAppender.open(paths.samples(1)).writer;
  for (let i = 0; i < 3; i++) samples.append(sampleRecord(0, i));
  samples.close();
  appendFileSync(paths.samples(1), '{"prompt_index":0,"sample_');
  state = plan();
  assert.deepEqual([state.phase, state.samplesGenerated], ['generate', 3]);
  assert.match(state.description, /cycle 1, generation, 3\/8/);

  const reopened = JsonlAppender.open<SampleRecord>(paths.samples(1));
  assert.equal(reopened.records.length, 3);
  for (let i = 3; i < 8; i++) reopened.writer.append(sampleRecord(Math.floor(i / 4), i % 4));
  reopened.writer.close();
  const verified = JsonlAppender.open(paths.verified(1)).writer;
  for (let i = 0; i < 5; i++) verified.append(verifiedRecord(Math.floor(i / 4), i % 4));
  verified.close();
  state = plan();
  assert.deepEqual([state.phase, state.samplesGenerated, state.samplesVerified], ['verify', 8, 5]);

  const more = JsonlAppender.open(paths.verified(1)).writer;
  for (let i = 5; i < 8; i++) more.append(verifiedRecord(Math.floor(i / 4), i % 4));
  more.close();
  state = plan();
  assert.deepEqual([state.phase, state.trainStep], ['train', 0]);

  // mid-training: the trainer saved step 3 of 5
  const stateDir = join(paths.cycleDir(1), 'train_state');
  mkdirSync(stateDir, { recursive: true });
  writeArtifact('train_progress', paths.trainProgress(1), { contract_version: 1, cycle: 1, step: 3, total_steps: 5, state_dir: stateDir, timestamp: '2026-01-01T00:10:00.000Z' });
  state = plan();
  assert.deepEqual([state.phase, state.trainStep], ['train', 3]);
  assert.match(state.description, /step 3\/5/);

  // the adapter is written, but the kill came before the commit marker: still training
  mkdirSync(paths.cycleModel(1), { recursive: true });
  assert.equal(plan().phase, 'train');

  // commit marker written, latest pointer not yet: cycle 2 starts, pointer flagged stale
  writeCurriculumState(paths, 1, updateCurriculumState(emptyCurriculumState(), prompts, 1, [{ promptIndex: 0, reward: 1, success: true }], 2));
  writeCheckpointState(paths, checkpointState(root, 1));
  state = plan();
  assert.deepEqual([state.cycle, state.phase, state.lastFinishedCycle, state.latestPointerStale], [2, 'generate', 1, true]);
  writeLatestCheckpoint(paths, checkpointState(root, 1));
  assert.equal(plan().latestPointerStale, false);
  assert.equal(plan().lastCheckpoint?.model_dir, paths.cycleModel(1));
  assert.equal(plan(1).phase, 'done');

  // schema-checked writes: every artifact written above validates
  for (const [schema, path] of [
    ['launch_context', paths.launchContext],
    ['checkpoint_state', paths.checkpointState(1)],
    ['latest_checkpoint', paths.latestCheckpoint],
    ['curriculum_state', paths.curriculumState(1)],
  ] as const) {
    assert.ok(readArtifact(schema, path) !== undefined, `${schema} read back`);
  }
  for (const record of readJsonl(paths.samples(1))) assert.deepEqual(schemaErrors('sample_record', record), []);
  for (const record of readJsonl(paths.verified(1))) assert.deepEqual(schemaErrors('verified_record', record), []);

  // --resume-from-cycle
  assert.throws(() => setAsideFromCycle(root, 3, 'x'), (error: unknown) => error instanceof HaloError && error.code === 'ERR_RESUME_FROM_CYCLE' && /cycles 1\.\.1/.test(error.message));
  const moved = setAsideFromCycle(root, 1, '20260101T000000Z');
  assert.ok(moved.some((path) => path.endsWith('cycle_1.set-aside-20260101T000000Z')));
  assert.equal(existsSync(paths.latestCheckpoint), false);
  assert.ok(readdirSync(root).includes('cycle_1.set-aside-20260101T000000Z'), 'set aside, not deleted');
  state = plan();
  assert.deepEqual([state.cycle, state.phase, state.samplesGenerated, state.lastFinishedCycle], [1, 'generate', 0, 0]);
});

test('resume refuses inconsistent run directories with a fix', () => {
  const root = join(scratch, 'run-b');
  const paths = runPaths(root);
  mkdirSync(paths.cycleDir(1), { recursive: true });
  writeFileSync(paths.samples(1), `${JSON.stringify(sampleRecord(0, 0))}\n`.repeat(9));
  assert.throws(() => planResume(root, { cycles: 2, expectedSamples: () => 8 }), (error: unknown) => error instanceof HaloError && error.code === 'ERR_RUN_STATE' && /holds 9 samples/.test(error.message));
  writeFileSync(paths.samples(1), '');
  writeFileSync(paths.verified(1), `${JSON.stringify(verifiedRecord(0, 0))}\n`);
  assert.throws(() => planResume(root, { cycles: 2, expectedSamples: () => 8 }), /holds 1 results for 0 samples/);
  rmSync(paths.verified(1));
  writeFileSync(paths.checkpointState(1), '{"contract_version": 1, "cycle":');
  assert.throws(() => planResume(root, { cycles: 2, expectedSamples: () => 8 }), (error: unknown) => error instanceof HaloError && error.code === 'ERR_ARTIFACT_INVALID');
  writeFileSync(paths.checkpointState(1), JSON.stringify({ ...checkpointState(root, 1), contract_version: 2 }));
  assert.throws(() => planResume(root, { cycles: 2, expectedSamples: () => 8 }), /does not match the checkpoint_state schema/);
  writeFileSync(paths.checkpointState(1), JSON.stringify(checkpointState(root, 1)));
  assert.throws(() => planResume(root, { cycles: 2, expectedSamples: () => 8 }), /does not exist/, 'model_dir missing');
});

test('a resume with a different configuration names the differing keys and stops unless --force', () => {
  const launch = buildLaunchContext({ definition: raftConfig, config: resolved.config, sources: resolved.sources, runId: 'r1', argv, cwd: '/w', version: '0.1.0', now: new Date() });
  const same = resolveConfig(raftConfig, { cli: { model: 'tiny', prompts: 'p.jsonl', verifier: 'math', samplesPerPrompt: '4', cycles: '9', output: 'elsewhere', quiet: true } });
  assert.deepEqual(configDifferences(raftConfig, launch.config, same.config), [], 'cycles, output and quiet are resume-neutral');
  const changed = resolveConfig(raftConfig, { cli: { model: 'tiny', prompts: 'p.jsonl', verifier: 'math', samplesPerPrompt: '8', temperature: '0.9' } });
  assert.throws(
    () => checkResumeConfig(raftConfig, launch, changed.config, false, '/runs/a/launch_context.json'),
    (error: unknown) =>
      error instanceof HaloError && error.code === 'ERR_RESUME_CONFIG_MISMATCH' && /samples_per_prompt \(4 -> 8\)/.test(error.message) && /temperature \(0\.7 -> 0\.9\)/.test(error.message) && /\/runs\/a/.test(error.message) && /--force/.test(error.fix ?? ''),
  );
  const forced = checkResumeConfig(raftConfig, launch, changed.config, true, '/runs/a/launch_context.json');
  assert.deepEqual(forced.map((difference) => difference.key), ['samples_per_prompt', 'temperature']);
});

test('training_summary built from real filter/diagnostics output validates; broken ones do not', () => {
  const verified: ScoredSample[] = [1, 0, 0.5, 1, 0, 0, 0.2, 1].map((reward, index) => ({ promptIndex: Math.floor(index / 4), sampleIndex: index % 4, reward, success: reward >= 0.5, completion: `c${index % 3}` }));
  const filter = filterSamples(verified, { rewardThreshold: 0.5, keepPercent: 0.5, mode: 'per-prompt', dropUnsolved: true, dropSolved: false, dedupe: true, minSamples: 2 });
  const yieldDiagnostics = cycleYieldDiagnostics({ generated: 8, verified, filter, keepPercent: 0.5, minSamples: 2 });
  const seconds = { ...nullPhaseSeconds(), generate: 4, verify: 2, train: 3 };
  const cycle: CycleSummary = {
    cycle: 1,
    learning_rate: 5e-5,
    reward_threshold: 0.5,
    keep_percent: 0.5,
    prompts: 2,
    samples_seen: 8,
    samples_kept: filter.kept.length,
    generated_tokens: 400,
    train_tokens: 120,
    cycle_duration_seconds: 9,
    phase_seconds: seconds,
    throughput: throughput(400, 8, 120, seconds),
    update_metrics: checkpointState('/r', 1).update_metrics,
    yield_diagnostics: yieldDiagnostics,
    evaluation: { 'pass@1': 0.5 },
  };
  const summary: TrainingSummary = {
    contract_version: 1,
    modality: 'raft',
    command: 'raft train',
    run_id: 'r1',
    model_name: 'tiny',
    base_model_name: 'tiny',
    seed: 42,
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:00:09.000Z',
    seconds: 9,
    total_cycles_planned: 1,
    cycles_executed: 1,
    cycles: [cycle],
    total_train_steps_executed: 2,
    weights_updated: true,
    final_train_loss: 0.8,
    final_model_path: '/r/final_model',
    phase_seconds: seconds,
    throughput: cycle.throughput,
    yield_diagnostics: aggregateYieldDiagnostics([yieldDiagnostics]),
    resume: { resumed: true, resume_count: 1, resume_from_cycle: null, resumed_from_checkpoint: { cycle: 1, model_dir: '/r/cycle_1/model' } },
    effectiveness: effectiveness({ samplesSeen: 8, samplesKept: filter.kept.length, minimumSamplesKept: 2, optimizerSteps: 2, skippedBatchesNonFinite: 0, initialTrainLoss: 1.2, finalTrainLoss: 0.8, finalModelWritten: true, trainingSummaryWritten: true, evaluation: { metric: 'pass@1', baseline: 0.25, final: 0.5 } }),
  };
  assert.deepEqual(schemaErrors('training_summary', summary), []);
  assert.equal(cycle.throughput.generate_tokens_per_second, 100);
  const path = join(scratch, 'training_summary.json');
  writeArtifact('training_summary', path, summary);
  assert.deepEqual(readArtifact('training_summary', path), summary);

  const missing = { ...summary } as Partial<TrainingSummary>;
  delete missing.effectiveness;
  assert.ok(schemaErrors('training_summary', missing).some((error) => /effectiveness/.test(error)));
  const wrongStatus = structuredClone(summary);
  (wrongStatus.cycles[0].yield_diagnostics as { status: string }).status = 'great';
  assert.ok(schemaErrors('training_summary', wrongStatus).length > 0);
  assert.throws(() => writeArtifact('training_summary', join(scratch, 'bad.json'), missing), (error: unknown) => error instanceof HaloError && error.code === 'ERR_ARTIFACT_INVALID');
  assert.equal(existsSync(join(scratch, 'bad.json')), false, 'an invalid artifact is never written');
});

test('every event the bus emits matches the event schema', () => {
  const bus = new EventBus('r1');
  const path = join(scratch, 'events.jsonl');
  const log = attachEventLog(bus, path);
  bus.emit({ type: 'run_start', phase: 'setup', command: 'raft train', resumed: true, resumePoint: 'cycle 2', outputDir: '/r' });
  bus.emit({ type: 'cycle_start', phase: 'setup', cycle: 1, cycles: 2, prompts: 2, learningRate: 5e-5, rewardThreshold: 0.5, keepPercent: 0.5 });
  bus.emit({ type: 'generate_progress', phase: 'generate', cycle: 1, done: 1, total: 8, tokens: 30, tokensPerSecond: 12 });
  bus.emit({ type: 'verify_progress', phase: 'verify', cycle: 1, done: 1, total: 8, passed: 1, samplesPerSecond: 3 });
  bus.emit({ type: 'train_step', phase: 'train', cycle: 1, step: 1, totalSteps: 2, loss: 1.1, lr: 5e-5, gradNorm: 0.4, tokensPerSecond: 800 });
  bus.emit({ type: 'eval_result', phase: 'eval', cycle: 1, metrics: { 'pass@1': 0.5 } });
  bus.emit({ type: 'cycle_end', phase: 'train', cycle: 1, seconds: 9, samplesKept: 3, samplesGenerated: 8, trainLoss: 0.8, yield: { status: 'healthy' } });
  bus.emit({ type: 'checkpoint', phase: 'checkpoint', cycle: 1, path: '/r/cycle_1' });
  bus.emit({ type: 'log', phase: 'setup', level: 'warn', message: 'm' });
  bus.emit({ type: 'error', phase: 'train', code: 'ERR', message: 'm', fix: 'f' });
  bus.emit({ type: 'run_end', phase: 'done', status: 'completed', seconds: 9, summaryPath: '/r/training_summary.json' });
  log.close();
  const events = readJsonl<HaloEvent>(path);
  assert.equal(events.length, 11);
  for (const event of events) assert.deepEqual(schemaErrors('event', event), [], event.type);
  assert.ok(schemaErrors('event', { ...events[2], done: -1 }).length > 0);
  assert.ok(schemaErrors('event', { ...events[2], type: 'nonsense' }).length > 0);
});
