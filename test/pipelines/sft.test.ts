/** sft train on a tiny random llama: assistant-only loss, validation, resume after a cancel, full fine-tuning, dry run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { sftConfig } from '../../src/pipelines/config/commands.js';
import { resolveConfig } from '../../src/pipelines/config/resolve.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';
import { DryRunComplete, runSft, type SftSummary } from '../../src/pipelines/sft.js';
import { EventBus, type HaloEvent } from '../../src/util/events.js';
import { HaloError } from '../../src/util/errors.js';
import { readJsonl } from '../../src/util/jsonl.js';

const scratch = mkdtempSync(join(tmpdir(), 'halo-sft-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const modelDir = join(scratch, 'tiny-llama');
writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 5 });
const dataFile = join(scratch, 'train.jsonl');
const records = Array.from({ length: 24 }, (_, index) => {
  const a = index % 7;
  const b = (index * 3) % 5;
  return index % 4 === 3
    ? { instruction: `Add ${a} and ${b}.`, input: '', output: `${a + b}` }
    : { messages: [{ role: 'user', content: `What is ${a} + ${b}?` }, { role: 'assistant', content: `${a} + ${b} = ${a + b}. The answer is ${a + b}.` }] };
});
writeFileSync(dataFile, records.map((record) => JSON.stringify(record)).join('\n') + '\n');

function flags(output: string, extra: Record<string, string | boolean> = {}): Record<string, string | boolean> {
  return { model: modelDir, data: dataFile, output, epochs: '2', batchSize: '4', gradientAccumulation: '1', learningRate: '0.005', loraRank: '4', loraAlpha: '8', validationSplit: '0.2', evalSteps: '3', saveSteps: '2', maxSeqLength: '128', device: 'cpu', dtype: 'fp32', warmupRatio: '0', ...extra };
}

async function sft(output: string, extra: Record<string, string | boolean> = {}, stopAtStep?: number): Promise<{ summary: SftSummary; events: HaloEvent[] }> {
  const { config, sources } = resolveConfig(sftConfig, { cli: flags(output, extra) });
  const bus = new EventBus('test');
  const events: HaloEvent[] = [];
  const abort = new AbortController();
  bus.on((event) => {
    events.push(event);
    if (stopAtStep !== undefined && event.type === 'train_step' && event.step === stopAtStep) abort.abort();
  });
  const result = await runSft({ config, sources, argv: [], cwd: scratch, bus, version: '0.0.0-test', signal: abort.signal });
  return { summary: result.summary, events };
}

let reference: Buffer;

test('LoRA SFT: loss falls, validation is measured, artifacts validate', async () => {
  const run = join(scratch, 'lora');
  const { summary, events } = await sft(run);
  assert.deepEqual(schemaErrors('sft_summary', summary), []);
  assert.deepEqual(schemaErrors('sft_summary', JSON.parse(readFileSync(join(run, 'training_summary.json'), 'utf8'))), []);
  assert.equal(summary.examples.loaded, 24);
  assert.equal(summary.examples.validation, 5);
  assert.equal(summary.examples.train, 19);
  assert.equal(summary.total_train_steps_executed, 10, '2 epochs x ceil(19 / 4)');
  assert.ok(summary.final_train_loss !== null && summary.initial_train_loss !== null && summary.final_train_loss < summary.initial_train_loss, `loss ${summary.initial_train_loss} -> ${summary.final_train_loss}`);
  assert.ok(summary.validation.length >= 3);
  assert.ok(summary.validation.at(-1)!.loss < summary.validation[0].loss, JSON.stringify(summary.validation));
  assert.equal(summary.effectiveness.verdict, 'pass', JSON.stringify(summary.effectiveness));
  assert.ok(existsSync(join(run, 'final_model', 'adapter_config.json')));
  assert.equal(existsSync(join(run, 'checkpoints')), false);
  for (const event of readJsonl<HaloEvent>(join(run, 'events.jsonl'))) assert.deepEqual(schemaErrors('event', event), []);
  assert.ok(events.some((event) => event.type === 'eval_result'));
  reference = readFileSync(join(run, 'final_model', 'adapter_model.safetensors'));
});

test('SFT cancelled mid-run resumes from the saved step to a byte-identical adapter', async () => {
  const run = join(scratch, 'resume');
  await assert.rejects(sft(run, {}, 5), (error: unknown) => error instanceof HaloError && error.code === 'ERR_CANCELLED');
  const { summary } = await sft(run);
  assert.equal(summary.resume.resumed_from_step, 4);
  assert.ok(readFileSync(join(run, 'final_model', 'adapter_model.safetensors')).equals(reference));
});

test('--no-lora fine-tunes every weight and writes a full model; --dry-run stops before training', async () => {
  const run = join(scratch, 'full');
  const { summary } = await sft(run, { lora: false, epochs: '1', learningRate: '0.001' });
  assert.equal(summary.mode, 'full');
  assert.ok(summary.weights_updated);
  assert.ok(existsSync(join(run, 'final_model', 'model.safetensors')));
  assert.ok(existsSync(join(run, 'final_model', 'config.json')));
  await assert.rejects(sft(join(scratch, 'dry'), { dryRun: true }), DryRunComplete);
  assert.equal(existsSync(join(scratch, 'dry', 'final_model')), false);
});
