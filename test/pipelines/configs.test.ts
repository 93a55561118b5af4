import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchmarkConfig, raftConfig, sftConfig } from '../../src/pipelines/config/commands.js';
import { agenticTrainConfig, reasoningTrainConfig } from '../../src/modalities/configs.js';
import { loadConfigFile, resolveConfig } from '../../src/pipelines/config/resolve.js';
import type { CommandConfigDefinition, OptionSpecs } from '../../src/pipelines/config/spec.js';

// dist/test/pipelines/configs.test.js -> the repository's configs/
const configsDirectory = fileURLToPath(new URL('../../../configs/', import.meta.url));
const required = {
  raft: { model: 'm', prompts: 'p.jsonl', verifier: 'humaneval' },
  sft: { model: 'm', data: 'd.jsonl' },
  benchmark: { model: 'm', prompts: 'p.jsonl', verifier: 'humaneval' },
};

test('every shipped config loads through the config system with known keys only', () => {
  const files = readdirSync(configsDirectory).filter((name) => name.endsWith('.yaml'));
  for (const name of ['raft_conservative.yaml', 'raft_aggressive.yaml', 'raft_example.yaml', 'sft_example.yaml', 'reasoning_example.yaml', 'agentic_example.yaml']) assert.ok(files.includes(name), `configs/${name} ships`);
  for (const file of files) {
    const path = `${configsDirectory}${file}`;
    const kind = file.split('_')[0];
    assert.ok(['raft', 'sft', 'benchmark', 'reasoning', 'agentic'].includes(kind!), `configs/${file}: name it raft_*, sft_*, benchmark_*, reasoning_* or agentic_* so this test knows its command`);
    if (kind === 'raft') checkFile(raftConfig, path, required.raft);
    else if (kind === 'sft') checkFile(sftConfig, path, required.sft);
    else if (kind === 'reasoning') checkFile(reasoningTrainConfig, path, { model: 'm' });
    else if (kind === 'agentic') checkFile(agenticTrainConfig, path, { model: 'm' });
    else checkFile(benchmarkConfig, path, required.benchmark);
  }
});

function checkFile<D extends OptionSpecs>(definition: CommandConfigDefinition<D>, path: string, cli: Record<string, string>): void {
  const values = loadConfigFile(definition, path);
  assert.ok(values.size >= 5, `${path} sets ${values.size} keys`);
  const { config, sources } = resolveConfig(definition, { cli, configPath: path });
  const fromFile = Object.values(sources).filter((source) => source === 'config').length;
  assert.equal(fromFile, values.size, `${path}: every key it sets is used`);
  assert.equal((config as Record<string, unknown>).seed, 42);
}

test('the profiles differ the way their comments say', () => {
  const load = (file: string) => resolveConfig(raftConfig, { cli: required.raft, configPath: `${configsDirectory}${file}` }).config;
  const conservative = load('raft_conservative.yaml');
  const aggressive = load('raft_aggressive.yaml');
  assert.ok(conservative.rewardThreshold < aggressive.rewardThreshold);
  assert.ok(conservative.keepPercent > aggressive.keepPercent);
  assert.ok(conservative.samplesPerPrompt < aggressive.samplesPerPrompt);
  assert.ok(conservative.learningRate < aggressive.learningRate);
  assert.equal(aggressive.dropSolved, true);
  assert.equal(conservative.curriculum, 'progressive');
});
