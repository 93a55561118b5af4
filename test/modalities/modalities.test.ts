/**
 * The reasoning and agentic presets on the shared pipelines: RAFT train end to end on a tiny qwen2
 * (gsm8k and bfcl, 2 cycles, then --resume-from-cycle 1), the capability gate (a tiny llama with no
 * Llama-3 marker is an unsupported family), and the benchmark scoring path over real data with a
 * Generator test double that answers with each problem's reference (100 %) or a wrong one (0 %).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatTemplate } from '../../src/data/chat.js';
import type { OutputRecord } from '../../src/data/convert.js';
import { HaloTokenizer } from '../../src/data/tokenizer.js';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { agenticPreset } from '../../src/modalities/agentic.js';
import { scoreModality } from '../../src/modalities/benchmark.js';
import { checkCapability, readModelIdentity } from '../../src/modalities/capability.js';
import { agenticTrainConfig, reasoningSftConfig, reasoningTrainConfig, type ModalitySftConfig, type ModalityTrainConfig } from '../../src/modalities/configs.js';
import type { ModalityPreset } from '../../src/modalities/preset.js';
import { boxedSolution, reasoningPreset, REASONING_INSTRUCTION } from '../../src/modalities/reasoning.js';
import { irrelevanceSamples } from '../../src/modalities/agentic.js';
import { benchmarkRecords, runModalitySft, runModalityTrain } from '../../src/modalities/run.js';
import { resolveConfig } from '../../src/pipelines/config/resolve.js';
import { encodePrompt, toPromptRecord } from '../../src/pipelines/prompts.js';
import { runPaths, type CheckpointState, type TrainingSummary } from '../../src/pipelines/raft/artifacts.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';
import { HaloError } from '../../src/util/errors.js';
import { EventBus } from '../../src/util/events.js';
import { readJsonl } from '../../src/util/jsonl.js';
import { groundTruthCalls, scripted } from '../support/scripted-generator.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = [process.env.HALO_FORGE_DATA_DIR, join(repoRoot, '../shared/datasets')].find((path): path is string => path !== undefined && existsSync(path));
if (dataDir !== undefined) process.env.HALO_FORGE_DATA_DIR = dataDir;
const scratch = mkdtempSync(join(tmpdir(), 'halo-modalities-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const models = new Map<string, string>();
function tiny(arch: 'qwen2' | 'llama'): string {
  let dir = models.get(arch);
  if (dir === undefined) {
    dir = join(scratch, `tiny-${arch}`);
    writeTinyModel(dir, defaultTinyOptions(arch));
    models.set(arch, dir);
  }
  return dir;
}

/** Small enough for a 2-core box: 2 samples of 16 tokens per prompt, every sample kept. */
const SMALL = { samplesPerPrompt: '2', maxNewTokens: '16', generationBatchSize: '16', batchSize: '4', gradientAccumulation: '1', loraRank: '4', loraAlpha: '8', rewardThreshold: '0', dropUnsolved: false, device: 'cpu', dtype: 'fp32' } as const;

async function train(preset: ModalityPreset, cli: Record<string, string | boolean>): Promise<Awaited<ReturnType<typeof runModalityTrain>>> {
  const input = { cli: { ...SMALL, ...cli } };
  const { config, sources } = preset.modality === 'reasoning' ? resolveConfig(reasoningTrainConfig, input) : resolveConfig(agenticTrainConfig, input);
  return runModalityTrain({ preset, config: config as ModalityTrainConfig, sources, argv: [], cwd: scratch, bus: new EventBus('modality-test'), version: '0.0.0-test' });
}

function checkRunDirectory(root: string, cycles: number): TrainingSummary {
  const paths = runPaths(root);
  for (let cycle = 1; cycle <= cycles; cycle++) {
    assert.deepEqual(schemaErrors('checkpoint_state', JSON.parse(readFileSync(paths.checkpointState(cycle), 'utf8'))), []);
    assert.deepEqual(schemaErrors('cycle_summary', JSON.parse(readFileSync(paths.cycleSummary(cycle), 'utf8'))), []);
    assert.ok(existsSync(join(paths.cycleModel(cycle), 'adapter_model.safetensors')), `cycle ${cycle} adapter`);
    assert.ok(readJsonl(paths.samples(cycle)).length > 0);
    assert.equal(readJsonl(paths.verified(cycle)).length, readJsonl(paths.samples(cycle)).length);
  }
  for (const [schema, path] of [['launch_context', paths.launchContext], ['latest_checkpoint', paths.latestCheckpoint], ['training_summary', paths.trainingSummary]] as const) {
    assert.deepEqual(schemaErrors(schema, JSON.parse(readFileSync(path, 'utf8'))), [], path);
  }
  for (const event of readJsonl(paths.events)) assert.deepEqual(schemaErrors('event', event), []);
  assert.ok(existsSync(join(paths.finalModel, 'adapter_model.safetensors')));
  return JSON.parse(readFileSync(paths.trainingSummary, 'utf8')) as TrainingSummary;
}

test('reasoning train --dataset gsm8k --limit 16 --cycles 2 writes the run directory; --resume-from-cycle 1 redoes from cycle 1', async (t) => {
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR)');
  const output = join(scratch, 'run-reasoning');
  const first = await train(reasoningPreset, { model: tiny('qwen2'), dataset: 'gsm8k', limit: '16', cycles: '2', output });
  const summary = checkRunDirectory(output, 2);
  assert.equal(summary.cycles_executed, 2);
  assert.equal(summary.weights_updated, true);
  assert.equal(first.capability.family, 'qwen2');
  const prompts = readJsonl<{ prompt: string; answer: string }>(join(output, 'prompts.jsonl'));
  assert.equal(prompts.length, 16);
  assert.ok(prompts.every((prompt) => prompt.prompt.endsWith(REASONING_INSTRUCTION) && prompt.answer.includes('####')));
  const verified = readJsonl<{ metadata: { expected?: string } }>(runPaths(output).verified(1));
  assert.equal(verified[0].metadata.expected, '72'); // the math verifier graded against GSM8K's "#### 72"
  const modality = JSON.parse(readFileSync(join(output, 'modality.json'), 'utf8')) as { modality: string; verifier: string; split: string };
  assert.deepEqual([modality.modality, modality.verifier, modality.split], ['reasoning', 'math', 'train']);

  const cycle1Before = readFileSync(runPaths(output).checkpointState(1), 'utf8');
  await train(reasoningPreset, { model: tiny('qwen2'), dataset: 'gsm8k', limit: '16', cycles: '2', output, resumeFromCycle: '1' });
  const resumed = checkRunDirectory(output, 2);
  assert.equal(resumed.resume.resume_from_cycle, 1);
  assert.equal(resumed.resume.resumed, true);
  const cycle1After = JSON.parse(readFileSync(runPaths(output).checkpointState(1), 'utf8')) as CheckpointState;
  assert.notEqual(JSON.stringify(cycle1After), cycle1Before, 'cycle 1 was run again');
});

test('agentic train --dataset bfcl --limit 16 --cycles 2: Hermes prompts with tools, irrelevance samples, tool verifier', async (t) => {
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR)');
  const output = join(scratch, 'run-agentic');
  await train(agenticPreset, { model: tiny('qwen2'), dataset: 'bfcl', limit: '16', cycles: '2', output });
  const summary = checkRunDirectory(output, 2);
  assert.equal(summary.cycles_executed, 2);
  assert.equal(summary.weights_updated, true);
  const prompts = readJsonl<{ tools: unknown[]; expected_calls?: unknown[]; irrelevance?: boolean }>(join(output, 'prompts.jsonl'));
  const irrelevant = prompts.filter((prompt) => prompt.irrelevance === true);
  assert.equal(prompts.length, 16 + 2); // 10 % of 16, rounded
  assert.equal(irrelevant.length, 2);
  assert.ok(irrelevant.every((prompt) => Array.isArray(prompt.expected_calls) && prompt.expected_calls.length === 0 && prompt.tools.length > 0));
  // the tools verifier graded each sample: its metadata counts the expected calls (0 for irrelevance samples)
  const verified = readJsonl<{ prompt_index: number; metadata: { expectedCalls?: number } }>(runPaths(output).verified(1));
  assert.ok(verified.every((record) => record.metadata.expectedCalls === (prompts[record.prompt_index].irrelevance ? 0 : 1)));
});

test('capability gate: an unsupported family fails with CAPABILITY_ERROR, and trains with --allow-prototype-train', async (t) => {
  const llama = tiny('llama'); // model_type "llama", no Llama-3 marker: not a supported family
  assert.equal(checkCapability('agentic', readModelIdentity(tiny('qwen2')), false).family, 'qwen2');
  assert.throws(() => checkCapability('reasoning', readModelIdentity(llama), false), (error: unknown) => error instanceof HaloError && error.code === 'CAPABILITY_ERROR' && error.message.startsWith('CAPABILITY_ERROR modality=reasoning reason=unsupported_model'));
  const renamed = join(scratch, 'llama3-named');
  mkdirSync(renamed, { recursive: true });
  writeFileSync(join(renamed, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(llama, 'config.json'), 'utf8')), _name_or_path: 'meta-llama/Meta-Llama-3-8B-Instruct' }));
  assert.equal(checkCapability('reasoning', readModelIdentity(renamed), false).family, 'llama-3');
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR) for the training half');
  const output = join(scratch, 'run-prototype');
  await assert.rejects(train(agenticPreset, { model: llama, dataset: 'bfcl', limit: '4', cycles: '1', output }), (error: unknown) => error instanceof HaloError && /^CAPABILITY_ERROR modality=agentic reason=unsupported_model/.test(error.message));
  assert.equal(existsSync(join(output, 'cycle_1')), false, 'nothing ran');
  const allowed = await train(agenticPreset, { model: llama, dataset: 'bfcl', limit: '4', cycles: '1', output, allowPrototypeTrain: true });
  assert.equal(allowed.capability.prototype, true);
  assert.equal(checkRunDirectory(output, 1).cycles_executed, 1);
});

const settings = (dataset: string, split: string) => ({ model: 'scripted', dataset, split, maxNewTokens: 512, temperature: 0, topP: 1, seed: 0, generationBatchSize: 64 });

test('reasoning benchmark over the full GSM8K test split: reference solutions score 100 %, final answers plus one 0 %', async (t) => {
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR)');
  const records = await benchmarkRecords(reasoningPreset, 'gsm8k', 'test', undefined, 0, 0);
  assert.equal(records.length, 1319);
  const tokenizer = HaloTokenizer.fromFolder(tiny('qwen2'));
  const template = ChatTemplate.resolve(undefined, tokenizer);
  const reference = (record: OutputRecord): string => String(record.answer);
  const right = await scoreModality({ preset: reasoningPreset, records, generator: scripted(records, tokenizer, template, reference), tokenizer, template, settings: settings('gsm8k', 'test') });
  assert.equal(right.samples, 1319);
  assert.equal(right.counts.correct, 1319, JSON.stringify(right.results.find((r) => !r.success)));
  assert.equal(right.metrics.accuracy, 1);
  const plusOne = (record: OutputRecord): string => String(record.answer).replace(/####\s*(-?[\d,]+)\s*$/, (_, n: string) => `#### ${Number(n.replaceAll(',', '')) + 1}`);
  assert.ok(records.every((record) => plusOne(record) !== reference(record)), 'every final answer was changed');
  const wrong = await scoreModality({ preset: reasoningPreset, records, generator: scripted(records, tokenizer, template, plusOne), tokenizer, template, settings: settings('gsm8k', 'test') });
  assert.equal(wrong.counts.correct, 0, JSON.stringify(wrong.results.find((r) => r.success)));
  assert.equal(wrong.metrics.accuracy, 0);
  assert.equal(wrong.metrics.answer_rate, 1);
});

test('agentic benchmark over BFCL simple: ground-truth calls score 100 % call and irrelevance accuracy; no calls score 0 % call accuracy', async (t) => {
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR)');
  const records = await benchmarkRecords(agenticPreset, 'bfcl', 'test', undefined, 0, 0.1);
  assert.equal(records.length, 400 + 40);
  const tokenizer = HaloTokenizer.fromFolder(tiny('qwen2'));
  const template = ChatTemplate.resolve(undefined, tokenizer);
  const ids = encodePrompt(tokenizer, template, toPromptRecord(records[0], 0, 'test'), undefined);
  assert.match(tokenizer.decode(ids), /<tools>[\s\S]*calculate_triangle_area[\s\S]*<\/tools>/, 'the tools went through the chat template');
  const right = await scoreModality({ preset: agenticPreset, records, generator: scripted(records, tokenizer, template, groundTruthCalls), tokenizer, template, settings: settings('bfcl', 'test') });
  assert.deepEqual([right.counts.call_samples, right.counts.irrelevance_samples], [400, 40]);
  assert.equal(right.metrics.call_accuracy, 1, JSON.stringify(right.results.find((r) => !r.success)));
  assert.equal(right.metrics.irrelevance_accuracy, 1);
  assert.equal(right.metrics.overall_accuracy, 1);
  const silent = await scoreModality({ preset: agenticPreset, records, generator: scripted(records, tokenizer, template, () => 'I will not call anything.'), tokenizer, template, settings: settings('bfcl', 'test') });
  assert.equal(silent.metrics.call_accuracy, 0);
  assert.equal(silent.metrics.irrelevance_accuracy, 1);
});

test('reasoning SFT targets end in \\boxed{}; irrelevance samples are deterministic and use unrelated tools', () => {
  assert.equal(boxedSolution('48/2 = 24\n#### 1,024'), '48/2 = 24\nThe final answer is \\boxed{1024}.');
  assert.equal(boxedSolution('so \\boxed{\\frac{1}{2}}'), 'so \\boxed{\\frac{1}{2}}');
  assert.equal(boxedSolution('The answer is: 7'), 'The answer is: 7\nThe final answer is \\boxed{7}.');
  const records = ['a', 'b', 'c', 'd'].map((name) => ({ id: name, dataset: 'x', prompt: `use ${name}`, tools: [{ name, parameters: { type: 'object' } }], expected_calls: [{ name, arguments: {} }] }));
  const made = irrelevanceSamples(records, { seed: 7, irrelevanceFraction: 0.5 });
  assert.deepEqual(made, irrelevanceSamples(records, { seed: 7, irrelevanceFraction: 0.5 }));
  assert.equal(made.length, 2);
  for (const sample of made) {
    const source = records.find((record) => record.prompt === sample.prompt)!;
    assert.notEqual((sample.tools as { name: string }[])[0].name, source.tools[0].name);
    assert.deepEqual(sample.expected_calls, []);
  }
  assert.deepEqual(irrelevanceSamples(records, { seed: 7, irrelevanceFraction: 0 }), []);
});

test('reasoning sft --dataset gsm8k runs sft train on boxed conversations; a bad dataset writes nothing', async (t) => {
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR)');
  const output = join(scratch, 'sft-reasoning');
  const cli = { model: tiny('qwen2'), dataset: 'gsm8k', maxSamples: '8', epochs: '1', batchSize: '4', gradientAccumulation: '1', loraRank: '4', maxSeqLength: '256', validationSplit: '0', output, device: 'cpu', dtype: 'fp32' };
  const { config, sources } = resolveConfig(reasoningSftConfig, { cli });
  const result = await runModalitySft({ preset: reasoningPreset, config: config as ModalitySftConfig, sources, argv: [], cwd: scratch, bus: new EventBus('sft'), version: '0.0.0-test' });
  assert.equal(result.summary.weights_updated, true);
  assert.equal(result.summary.examples.loaded, 8);
  const data = readJsonl<{ messages: { role: string; content: string }[] }>(join(output, 'sft_data.jsonl'));
  assert.equal(data.length, 8);
  assert.ok(data.every((record) => record.messages[0].content.endsWith(REASONING_INSTRUCTION) && /\\boxed\{[\d.-]+\}\.$/.test(record.messages[1].content)));
  const bad = join(scratch, 'sft-bad');
  const wrong = resolveConfig(reasoningSftConfig, { cli: { ...cli, dataset: 'bfcl', output: bad } });
  await assert.rejects(runModalitySft({ preset: reasoningPreset, config: wrong.config as ModalitySftConfig, sources: wrong.sources, argv: [], cwd: scratch, bus: new EventBus('sft'), version: '0.0.0-test' }), (error: unknown) => error instanceof HaloError && error.code === 'DATASET_UNSUPPORTED');
  assert.equal(existsSync(bad), false);
});
