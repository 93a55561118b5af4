/**
 * raft train end to end on a tiny random llama (32k Llama-3 vocabulary prefix) with the math
 * verifier: artifacts validate against their schemas, and a run resumed from the state a kill leaves
 * (mid-generation, mid-verification, between cycles) ends with a byte-identical adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { raftConfig } from '../../src/pipelines/config/commands.js';
import { resolveConfig } from '../../src/pipelines/config/resolve.js';
import { runRaft } from '../../src/pipelines/raft/loop.js';
import { runPaths, type SampleRecord, type TrainingSummary } from '../../src/pipelines/raft/artifacts.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';
import { EventBus, type HaloEvent } from '../../src/util/events.js';
import { readJsonl } from '../../src/util/jsonl.js';
import { HaloError } from '../../src/util/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'halo-raft-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const modelDir = join(scratch, 'tiny-llama');
writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k' });
const promptsFile = join(scratch, 'prompts.jsonl');
writeFileSync(
  promptsFile,
  [
    { prompt: 'What is 2 + 3?', answer: '5' },
    { prompt: 'What is 7 - 4?', answer: '3' },
    { prompt: 'What is 3 * 3?', answer: '9' },
  ]
    .map((record) => JSON.stringify(record))
    .join('\n') + '\n',
);

function flags(output: string, extra: Record<string, string | boolean> = {}): Record<string, string | boolean> {
  return {
    model: modelDir,
    prompts: promptsFile,
    verifier: 'math',
    output,
    cycles: '2',
    samplesPerPrompt: '3',
    maxNewTokens: '12',
    temperature: '1',
    rewardThreshold: '0.1',
    keepPercent: '1',
    batchSize: '2',
    gradientAccumulation: '2',
    generationBatchSize: '2',
    saveSteps: '1',
    learningRate: '0.01',
    loraRank: '4',
    loraAlpha: '8',
    maxSeqLength: '256',
    device: 'cpu',
    dtype: 'fp32',
    ...extra,
  };
}

async function raft(output: string, extra: Record<string, string | boolean> = {}, stopWhen?: (event: HaloEvent) => boolean): Promise<{ summary: TrainingSummary; events: HaloEvent[] }> {
  const { config, sources } = resolveConfig(raftConfig, { cli: flags(output, extra) });
  const bus = new EventBus('test');
  const events: HaloEvent[] = [];
  const abort = new AbortController();
  bus.on((event) => {
    events.push(event);
    if (stopWhen?.(event)) abort.abort();
  });
  const result = await runRaft({ config, sources, argv: ['--model', modelDir], cwd: scratch, bus, version: '0.0.0-test', verifierWorkers: 1, signal: abort.signal });
  return { summary: result.summary, events };
}

const adapterBytes = (run: string): Buffer => readFileSync(join(run, 'final_model', 'adapter_model.safetensors'));

let reference: Buffer;

test('two RAFT cycles write every artifact, valid against its schema', async () => {
  const run = join(scratch, 'reference');
  const { summary, events } = await raft(run);
  const paths = runPaths(run);
  assert.equal(summary.cycles_executed, 2);
  assert.equal(summary.weights_updated, true, JSON.stringify(summary.effectiveness));
  assert.ok(summary.total_train_steps_executed >= 2);
  assert.equal(summary.cycles[1].learning_rate, 0.01 * 0.85);
  assert.deepEqual(schemaErrors('training_summary', summary), []);
  for (const cycle of [1, 2]) {
    for (const [schema, path] of [
      ['checkpoint_state', paths.checkpointState(cycle)],
      ['cycle_summary', paths.cycleSummary(cycle)],
      ['curriculum_state', paths.curriculumState(cycle)],
    ] as const) {
      assert.deepEqual(schemaErrors(schema, JSON.parse(readFileSync(path, 'utf8'))), [], path);
    }
    const samples = readJsonl<SampleRecord>(paths.samples(cycle));
    assert.equal(samples.length, 9);
    for (const record of samples) assert.deepEqual(schemaErrors('sample_record', record), []);
    const verified = readJsonl(paths.verified(cycle));
    assert.equal(verified.length, 9);
    for (const record of verified) assert.deepEqual(schemaErrors('verified_record', record), []);
    assert.ok(existsSync(join(paths.cycleModel(cycle), 'adapter_config.json')));
    assert.equal(existsSync(paths.trainProgress(cycle)), false, 'trainer state is removed once the cycle is committed');
  }
  for (const [schema, path] of [
    ['launch_context', paths.launchContext],
    ['latest_checkpoint', paths.latestCheckpoint],
    ['training_summary', paths.trainingSummary],
  ] as const) {
    assert.deepEqual(schemaErrors(schema, JSON.parse(readFileSync(path, 'utf8'))), [], path);
  }
  const logged = readJsonl<HaloEvent>(paths.events);
  assert.equal(logged.length, events.length);
  for (const event of logged) assert.deepEqual(schemaErrors('event', event), [], event.type);
  const types = new Set(events.map((event) => event.type));
  for (const type of ['run_start', 'cycle_start', 'generate_progress', 'verify_progress', 'train_step', 'checkpoint', 'cycle_end', 'run_end'] as const) assert.ok(types.has(type), type);
  assert.ok(statSync(paths.log).size > 0, 'run.log written');
  reference = adapterBytes(run);
  assert.ok(reference.length > 1000);
});

test('rerunning a finished run changes nothing; a different config stops with the differing keys', async () => {
  const run = join(scratch, 'reference');
  const { summary } = await raft(run);
  assert.equal(summary.resume.resume_count, 1);
  assert.ok(adapterBytes(run).equals(reference));
  await assert.rejects(raft(run, { temperature: '0.5' }), (error: unknown) => error instanceof HaloError && error.code === 'ERR_RESUME_CONFIG_MISMATCH' && /temperature \(1 -> 0\.5\)/.test(error.message));
});

/** Rewinds a finished copy of the reference run to the state a kill at `point` leaves behind. */
function rewind(run: string, point: 'verification' | 'between-cycles'): void {
  const paths = runPaths(run);
  rmSync(paths.finalModel, { recursive: true, force: true });
  rmSync(paths.trainingSummary, { force: true });
  if (point === 'between-cycles') {
    rmSync(paths.cycleDir(2), { recursive: true, force: true });
    return;
  }
  for (const file of [paths.checkpointState(2), paths.cycleSummary(2), paths.curriculumState(2)]) rmSync(file, { force: true });
  rmSync(paths.cycleModel(2), { recursive: true, force: true });
  // a kill inside a write leaves a partial last line
  const verifiedLines = readFileSync(paths.verified(2), 'utf8').split('\n');
  writeFileSync(paths.verified(2), `${verifiedLines.slice(0, 4).join('\n')}\n${verifiedLines[4].slice(0, 10)}`);
}

// (the CLI crash test SIGKILLs at every phase; these two cover the in-process path)
for (const point of ['verification', 'between-cycles'] as const) {
  test(`a run stopped during ${point} resumes to a byte-identical adapter`, async () => {
    const run = join(scratch, `resume-${point}`);
    cpSync(join(scratch, 'reference'), run, { recursive: true });
    rewind(run, point);
    const { summary, events } = await raft(run);
    const start = events.find((event) => event.type === 'run_start');
    assert.ok(start?.type === 'run_start' && start.resumed);
    assert.ok(adapterBytes(run).equals(reference), `adapter after resuming from ${point} differs`);
    assert.equal(summary.cycles_executed, 2);
  });
}

test('--resume-from-cycle 2 redoes cycle 2 from cycle 1 and reproduces the adapter', async () => {
  const run = join(scratch, 'resume-from-cycle');
  cpSync(join(scratch, 'reference'), run, { recursive: true });
  const { summary } = await raft(run, { resumeFromCycle: '2' });
  assert.ok(adapterBytes(run).equals(reference));
  assert.equal(summary.resume.resume_from_cycle, 2);
  assert.equal(summary.resume.resumed_from_checkpoint?.cycle, 1);
});

test('a run extended with more cycles continues from the last one (--cycles is resume-neutral)', async () => {
  const run = join(scratch, 'extend');
  await raft(run, { cycles: '1' });
  const { summary } = await raft(run, { cycles: '2' });
  assert.equal(summary.cycles_executed, 2);
  assert.ok(adapterBytes(run).equals(reference), 'final_model/ is the new last cycle, identical to a 2-cycle run');
});

test('a run cancelled mid-training resumes from the trainer checkpoint to a byte-identical adapter', async () => {
  const run = join(scratch, 'mid-training');
  await assert.rejects(
    raft(run, {}, (event) => event.type === 'train_step' && event.cycle === 2 && event.step === 1),
    (error: unknown) => error instanceof HaloError && error.code === 'ERR_CANCELLED',
  );
  const progress = JSON.parse(readFileSync(runPaths(run).trainProgress(2), 'utf8')) as { step: number };
  assert.equal(progress.step, 1);
  const { events } = await raft(run);
  assert.ok(events.some((event) => event.type === 'log' && /training resumes at step 1\//.test(event.message)));
  assert.ok(adapterBytes(run).equals(reference), 'adapter after a mid-training resume differs');
});

test('the byte-identity checks can fail: another seed trains a different adapter', async () => {
  const run = join(scratch, 'other-seed');
  await raft(run, { seed: '7' });
  assert.equal(adapterBytes(run).length, reference.length);
  assert.ok(!adapterBytes(run).equals(reference));
});

test('a run that failed before its first cycle can be rerun with corrected settings', async () => {
  const run = join(scratch, 'fixed-typo');
  await assert.rejects(raft(run, { prompts: join(scratch, 'no-such-prompts.jsonl') }), (error: unknown) => error instanceof HaloError && error.code === 'ERR_PROMPTS');
  const firstId = (JSON.parse(readFileSync(join(run, 'launch_context.json'), 'utf8')) as { run_id: string }).run_id;
  const { summary } = await raft(run, { cycles: '1' });
  assert.equal(summary.cycles_executed, 1);
  assert.equal(summary.run_id, firstId, 'the run keeps its id');
});

test('--eval-prompts measures held-out pass@1 before cycle 1 and after each cycle, and feeds the verdict', async () => {
  const run = join(scratch, 'with-eval');
  const { summary, events } = await raft(run, { cycles: '2', evalPrompts: promptsFile, evalSamples: '2' });
  const baseline = JSON.parse(readFileSync(join(run, 'eval_baseline.json'), 'utf8')) as { value: number; prompts: number; samples: number };
  assert.deepEqual(schemaErrors('eval_baseline', baseline), []);
  assert.equal(baseline.prompts, 3);
  assert.equal(baseline.samples, 2);
  for (const cycle of summary.cycles) assert.equal(typeof cycle.evaluation?.['pass@1'], 'number');
  assert.equal(summary.effectiveness.evaluation.status, 'available');
  assert.equal(summary.effectiveness.evaluation.baseline_value, baseline.value);
  assert.equal(summary.effectiveness.evaluation.final_value, summary.cycles[1].evaluation?.['pass@1']);
  assert.ok(summary.cycles.every((cycle) => cycle.phase_seconds.eval > 0));
  assert.equal(events.filter((event) => event.type === 'eval_result').length, 3);
  assert.deepEqual(schemaErrors('training_summary', summary), []);
  assert.ok(['pass', 'fail'].includes(summary.effectiveness.verdict), 'with an evaluation the verdict is no longer "warn"');
  assert.ok(adapterBytes(run).equals(reference), 'measuring changes nothing: the adapter equals the run without --eval-prompts');
});
