import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { addConfigOptions, resolveCommandConfig } from '../../src/cli/config-options.js';
import { benchmarkConfig, raftConfig, sftConfig } from '../../src/pipelines/config/commands.js';
import { closest, resolveConfig } from '../../src/pipelines/config/resolve.js';
import type { CommandConfigDefinition, OptionSpecs } from '../../src/pipelines/config/spec.js';
import { HaloError } from '../../src/util/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-config-'));
process.on('exit', () => rmSync(directory, { recursive: true, force: true }));

function yamlFile(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

/** Parses argv through a real commander command carrying the definition's flags. */
function parse<D extends OptionSpecs>(definition: CommandConfigDefinition<D>, argv: string[]) {
  const command = addConfigOptions(new Command('x').exitOverride(), definition);
  command.parse(argv, { from: 'user' });
  return resolveCommandConfig(command, definition);
}

function haloError(fn: () => unknown, code: string, pattern: RegExp): HaloError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HaloError, `expected HaloError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail(`expected ${code}`);
}

const base = ['--model', 'm', '--prompts', 'p.jsonl', '--verifier', 'humaneval'];

test('built-in defaults apply when neither flag nor config sets a key (seed defaults)', () => {
  const { config, sources } = parse(raftConfig, base);
  assert.equal(config.cycles, 5);
  assert.equal(config.samplesPerPrompt, 8);
  assert.equal(config.temperature, 0.7);
  assert.equal(config.maxNewTokens, 1024);
  assert.equal(config.rewardThreshold, 0.5);
  assert.equal(config.keepPercent, 0.5);
  assert.equal(config.lrDecay, 0.85);
  assert.equal(config.seed, 42);
  assert.equal(config.filter, 'per-prompt');
  assert.equal(config.minSamples, undefined);
  assert.equal(sources.cycles, 'default');
  assert.equal(sources.minSamples, 'unset');
  assert.equal(sources.model, 'cli');
});

test('precedence: a YAML value is used unless its flag is passed', () => {
  const path = yamlFile('raft.yaml', 'samples_per_prompt: 16\ntemperature: 0.9\nlearning_rate: 5e-5\ndedupe: false\nfilter: global\n');
  const fromYaml = parse(raftConfig, [...base, '--config', path]);
  assert.equal(fromYaml.config.samplesPerPrompt, 16);
  assert.equal(fromYaml.sources.samplesPerPrompt, 'config');
  assert.equal(fromYaml.config.temperature, 0.9);
  assert.equal(fromYaml.config.learningRate, 5e-5);
  assert.equal(fromYaml.config.dedupe, false);
  assert.equal(fromYaml.config.filter, 'global');
  assert.equal(fromYaml.configPath, path);

  const flagWins = parse(raftConfig, [...base, '--config', path, '--samples-per-prompt', '4', '--dedupe', '--filter', 'per-prompt']);
  assert.equal(flagWins.config.samplesPerPrompt, 4);
  assert.equal(flagWins.sources.samplesPerPrompt, 'cli');
  assert.equal(flagWins.config.dedupe, true);
  assert.equal(flagWins.config.filter, 'per-prompt');
  // keys the flags did not touch still come from the file
  assert.equal(flagWins.config.temperature, 0.9);
});

test('a --no-x switch overrides a YAML true, and lora defaults on with --no-lora turning it off', () => {
  const path = yamlFile('bools.yaml', 'drop_unsolved: true\n');
  const { config } = parse(raftConfig, [...base, '--config', path, '--no-drop-unsolved']);
  assert.equal(config.dropUnsolved, false);
  const sft = parse(sftConfig, ['--model', 'm', '--data', 'd.jsonl']);
  assert.equal(sft.config.lora, true);
  assert.equal(parse(sftConfig, ['--model', 'm', '--data', 'd.jsonl', '--no-lora']).config.lora, false);
});

test('unknown config keys are an error naming file, line and key, with the closest key', () => {
  const path = yamlFile('typo.yaml', '# comment\ncycles: 3\nsamples_per_promt: 8\n');
  const error = haloError(() => parse(raftConfig, [...base, '--config', path]), 'ERR_CONFIG_UNKNOWN_KEY', /typo\.yaml:3: unknown key "samples_per_promt" for raft train/);
  assert.match(error.fix ?? '', /samples_per_prompt/);
  const far = yamlFile('far.yaml', 'banana: 1\n');
  const farError = haloError(() => parse(raftConfig, [...base, '--config', far]), 'ERR_CONFIG_UNKNOWN_KEY', /far\.yaml:1: unknown key "banana"/);
  assert.match(farError.fix ?? '', /--help/);
});

test('the seed\'s YAML names are accepted as aliases', () => {
  const path = yamlFile('seed.yaml', 'num_cycles: 6\nkeep_top_percent: 0.3\nlr_decay_per_cycle: 0.9\nmin_samples: 100\n');
  const { config } = parse(raftConfig, [...base, '--config', path]);
  assert.equal(config.cycles, 6);
  assert.equal(config.keepPercent, 0.3);
  assert.equal(config.lrDecay, 0.9);
  assert.equal(config.minSamples, 100);
  const twice = yamlFile('twice.yaml', 'cycles: 2\nnum_cycles: 3\n');
  haloError(() => parse(raftConfig, [...base, '--config', twice]), 'ERR_CONFIG_DUPLICATE', /twice\.yaml:2/);
});

test('wrong types and ranges name the key (YAML) or the flag (CLI)', () => {
  haloError(() => parse(raftConfig, [...base, '--config', yamlFile('t1.yaml', 'cycles: three\n')]), 'ERR_CONFIG_VALUE', /t1\.yaml:1: cycles must be an integer/);
  haloError(() => parse(raftConfig, [...base, '--config', yamlFile('t2.yaml', 'cycles: 2.5\n')]), 'ERR_CONFIG_VALUE', /t2\.yaml:1: cycles must be an integer/);
  haloError(() => parse(raftConfig, [...base, '--config', yamlFile('t3.yaml', 'keep_percent: 1.5\n')]), 'ERR_CONFIG_VALUE', /keep_percent must be <= 1/);
  haloError(() => parse(raftConfig, [...base, '--config', yamlFile('t4.yaml', 'dedupe: yes please\n')]), 'ERR_CONFIG_VALUE', /dedupe must be true or false/);
  const enumError = haloError(() => parse(raftConfig, [...base, '--config', yamlFile('t5.yaml', 'curriculum: progresive\n')]), 'ERR_CONFIG_VALUE', /curriculum must be one of/);
  assert.match(enumError.fix ?? '', /progressive/);
  haloError(() => parse(raftConfig, [...base, '--cycles', '0']), 'ERR_FLAG_VALUE', /--cycles must be >= 1/);
  haloError(() => parse(raftConfig, [...base, '--learning-rate', 'fast']), 'ERR_FLAG_VALUE', /--learning-rate must be a number/);
  haloError(() => parse(raftConfig, [...base, '--config', yamlFile('t6.yaml', 'config: other.yaml\n')]), 'ERR_CONFIG_CLI_ONLY', /only be given as the flag --config/);
});

test('YAML syntax errors and non-mapping files name the line', () => {
  haloError(() => parse(raftConfig, [...base, '--config', yamlFile('bad.yaml', 'cycles: 3\n  samples: [1, 2\n')]), 'ERR_CONFIG_SYNTAX', /bad\.yaml:\d+: invalid YAML/);
  haloError(() => parse(raftConfig, [...base, '--config', yamlFile('list.yaml', '- 1\n- 2\n')]), 'ERR_CONFIG_SHAPE', /list\.yaml:1/);
  haloError(() => parse(raftConfig, [...base, '--config', join(directory, 'missing.yaml')]), 'ERR_CONFIG_READ', /missing\.yaml/);
  const empty = parse(raftConfig, [...base, '--config', yamlFile('empty.yaml', '# nothing here\n')]);
  assert.equal(empty.config.cycles, 5);
});

test('cross-field checks: required inputs and pass@k k <= n', () => {
  haloError(() => parse(raftConfig, ['--prompts', 'p', '--verifier', 'v']), 'ERR_CONFIG_INVALID', /--model or --checkpoint/);
  haloError(() => parse(sftConfig, ['--model', 'm']), 'ERR_CONFIG_INVALID', /--dataset NAME or --data PATH/);
  haloError(() => parse(benchmarkConfig, [...base, '--samples', '5']), 'ERR_CONFIG_INVALID', /--k 10 exceeds --samples 5/);
  const bench = parse(benchmarkConfig, [...base, '--samples', '20', '--k', '1,10,20']);
  assert.deepEqual(bench.config.k, [1, 10, 20]);
  const yamlK = parse(benchmarkConfig, [...base, '--config', yamlFile('k.yaml', 'k: [1, 2]\nsamples: 4\n')]);
  assert.deepEqual(yamlK.config.k, [1, 2]);
  haloError(() => parse(benchmarkConfig, [...base, '--k', '1,x']), 'ERR_FLAG_VALUE', /comma-separated list of integers/);
});

test('resolveConfig rejects a cli property the definition does not have (programming error)', () => {
  assert.throws(() => resolveConfig(raftConfig, { cli: { nonsense: '1' } }), /unknown cli property nonsense/);
});

test('closest() suggests plausible typos only', () => {
  assert.equal(closest('lerning_rate', ['learning_rate', 'lr_decay']), 'learning_rate');
  assert.equal(closest('zzz', ['learning_rate', 'lr_decay']), undefined);
});
