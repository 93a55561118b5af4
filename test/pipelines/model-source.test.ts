import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveModelSource } from '../../src/pipelines/model-source.js';
import { HaloError } from '../../src/util/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'halo-model-source-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

function folder(path: string, files: Record<string, unknown>): string {
  mkdirSync(path, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(path, name), typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const base = folder(join(scratch, 'base'), { 'config.json': { architectures: ['LlamaForCausalLM'] } });
const adapterConfig = (baseModel: string) => ({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: baseModel });

test('a model folder, an adapter folder (base from adapter_config.json) and a run directory', () => {
  assert.deepEqual(resolveModelSource(base), { baseDir: base, description: `model ${base}` });
  const adapter = folder(join(scratch, 'adapter'), { 'adapter_config.json': adapterConfig(base) });
  const fromAdapter = resolveModelSource(adapter);
  assert.equal(fromAdapter.baseDir, base);
  assert.equal(fromAdapter.adapterDir, adapter);

  const run = join(scratch, 'run');
  folder(join(run, 'cycle_1', 'model'), { 'adapter_config.json': adapterConfig(base) });
  folder(join(run, 'cycle_1'), { 'checkpoint_state.json': { cycle: 1 } });
  folder(join(run, 'cycle_2', 'model'), { 'adapter_config.json': adapterConfig(base) });
  folder(run, { 'latest_checkpoint.json': { model_dir: join(run, 'cycle_1', 'model') } });
  assert.equal(resolveModelSource(run).adapterDir, join(run, 'cycle_1', 'model'), 'no final_model yet: the latest finished cycle');
  assert.equal(resolveModelSource(run, { cycle: 1 }).adapterDir, join(run, 'cycle_1', 'model'));
  assert.throws(() => resolveModelSource(run, { cycle: 2 }), (error: unknown) => error instanceof HaloError && /cycle 2 of .* has not finished/.test(error.message));
  folder(join(run, 'final_model'), { 'adapter_config.json': adapterConfig(base) });
  assert.equal(resolveModelSource(run).adapterDir, join(run, 'final_model'));
  assert.match(resolveModelSource(run).description, /^run .*final_model on /);
});

test('wrong model arguments are HaloErrors with a fix', () => {
  const check = (fn: () => unknown, code: string, pattern: RegExp): void => {
    assert.throws(fn, (error: unknown) => error instanceof HaloError && error.code === code && pattern.test(error.message) && (error.fix ?? '') !== '');
  };
  check(() => resolveModelSource(join(scratch, 'missing')), 'ERR_MODEL_ARG', /no such folder/);
  check(() => resolveModelSource(folder(join(scratch, 'empty'), {})), 'ERR_MODEL_ARG', /neither config\.json/);
  check(() => resolveModelSource(base, { cycle: 1 }), 'ERR_MODEL_ARG', /--cycle 1 needs --model to be a run directory/);
  check(() => resolveModelSource(folder(join(scratch, 'orphan'), { 'adapter_config.json': adapterConfig('') })), 'ERR_MODEL_ARG', /does not name its base model/);
  const env = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = join(scratch, 'empty-cache');
  try {
    check(() => resolveModelSource('someone/some-model'), 'ERR_MODEL_NOT_CACHED', /not in the Hugging Face cache/);
  } finally {
    if (env === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = env;
  }
});
