import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../../src/engine/model.js';
import { Trainer } from '../../src/engine/trainer.js';
import { writeSafetensors, readSafetensorsHeader } from '../../src/export/safetensors.js';
import { randomSamples, tempDir, writeSmallModel } from './helpers.js';
import { maxAbsDiff } from './scenarios.js';

let dir = '';
let work = '';
let model: Model;

before(async () => {
  work = tempDir('lora');
  dir = writeSmallModel(join(work, 'base'));
  model = await Model.load(dir, { dtype: 'fp32' });
});
after(() => {
  model?.dispose();
  rmSync(work, { recursive: true, force: true });
});

test('PEFT adapter folder: keys, config, and a round trip into a new trainer', async () => {
  const trainer = Trainer.create(model, { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 4, lr: 5e-3 });
  const adapterDir = join(work, 'adapter');
  let before: Float32Array[];
  try {
    await trainer.trainStep(randomSamples(4, 40, model.config.vocabSize));
    before = (await model.logits([[1, 2, 3, 4, 5]])).rows;
    trainer.saveAdapter(adapterDir, 'tiny-llama');
  } finally {
    trainer.dispose();
  }
  const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.r, 4);
  assert.equal(config.lora_alpha, 8);
  assert.equal(config.task_type, 'CAUSAL_LM');
  assert.equal(config.peft_type, 'LORA');
  assert.equal(config.use_rslora, false);
  assert.equal(config.base_model_name_or_path, 'tiny-llama');
  assert.deepEqual(config.target_modules, ['down_proj', 'q_proj', 'v_proj']);
  const header = readSafetensorsHeader(join(adapterDir, 'adapter_model.safetensors'));
  const keys = [...header.tensors.keys()].sort();
  assert.equal(keys.length, 2 * 3 * model.config.numLayers);
  assert.ok(keys.includes('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
  assert.ok(keys.includes('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight'));
  assert.deepEqual(header.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape, [4, model.config.hiddenSize]);

  const reloaded = Trainer.fromAdapter(model, adapterDir);
  try {
    const after = (await model.logits([[1, 2, 3, 4, 5]])).rows;
    assert.equal(maxAbsDiff(before, after), 0, 'the reloaded adapter reproduces the logits exactly');
  } finally {
    reloaded.dispose();
  }
  const wrongRank = Trainer.create(model, { rank: 8, targets: ['q_proj', 'v_proj', 'down_proj'] });
  try {
    assert.throws(() => wrongRank.loadAdapter(adapterDir), (error: Error & { code?: string }) => error.code === 'ERR_ADAPTER' && /adapter_config\.json: r is 4/.test(error.message));
  } finally {
    wrongRank.dispose();
  }
});

test('a PEFT-made adapter file (adapter name in the keys, no prefix differences) loads', async () => {
  const peftDir = join(work, 'peft-made');
  const reference = Trainer.create(model, { rank: 2, alpha: 4, targets: ['o_proj'], seed: 8, lr: 1e-2 });
  let tensors;
  let expected: Float32Array[];
  try {
    await reference.trainStep(randomSamples(2, 50, model.config.vocabSize));
    tensors = reference.trainableTensors();
    expected = (await model.logits([[3, 4, 5, 6]])).rows;
    reference.saveAdapter(peftDir);
  } finally {
    reference.dispose();
  }
  // Older PEFT versions keep the adapter name: ...o_proj.lora_A.default.weight
  writeSafetensors(join(peftDir, 'adapter_model.safetensors'), tensors.map((t) => ({ name: t.name.replace('.weight', '.default.weight'), shape: t.shape, dtype: 'F32' as const, values: () => t.data })));
  const loaded = Trainer.fromAdapter(model, peftDir);
  try {
    assert.equal(maxAbsDiff(expected, (await model.logits([[3, 4, 5, 6]])).rows), 0);
  } finally {
    loaded.dispose();
  }
});

test('a non-finite loss skips the step, is reported, and leaves weights and moments untouched', async () => {
  const trainer = Trainer.create(model, { rank: 2, targets: ['q_proj'], seed: 6 });
  const poisonDir = join(work, 'poison');
  try {
    await trainer.trainStep(randomSamples(2, 60, model.config.vocabSize));
    const good = trainer.trainableTensors();
    // B = inf makes the q projections inf and the attention NaN: the loss is not finite.
    trainer.saveAdapter(poisonDir);
    writeSafetensors(join(poisonDir, 'adapter_model.safetensors'), good.map((t) => ({ name: t.name, shape: t.shape, dtype: 'F32' as const, values: () => (t.name.includes('lora_B') ? new Float32Array(t.data.length).fill(Infinity) : t.data) })));
    trainer.loadAdapter(poisonDir);
    const poisoned = trainer.trainableTensors();
    trainer.saveState(join(poisonDir, 'before'));
    const report = await trainer.trainStep(randomSamples(2, 61, model.config.vocabSize));
    trainer.saveState(join(poisonDir, 'after'));
    assert.equal(report.skipped, true);
    assert.match(report.skipReason ?? '', /non-finite/);
    assert.equal(report.step, 1, 'the step counter did not advance');
    const afterSkip = trainer.trainableTensors();
    afterSkip.forEach((t, i) => assert.deepEqual(t.data, poisoned[i].data, `${t.name} unchanged by the skipped step`));
    const stateFile = (name: string): Buffer => readFileSync(join(poisonDir, name, 'trainer_state.safetensors'));
    assert.ok(stateFile('before').equals(stateFile('after')), 'weights and AdamW moments are byte-identical across the skipped step');
  } finally {
    trainer.dispose();
  }
  assert.ok(existsSync(join(poisonDir, 'after', 'trainer_state.json')));
});

test('bf16 compute trains through fp32 master weights', async () => {
  const bf16 = await Model.load(dir, { dtype: 'bf16' });
  const trainer = Trainer.create(bf16, { rank: 4, lr: 1e-3, seed: 7 });
  try {
    const samples = randomSamples(4, 90, bf16.config.vocabSize);
    const first = await trainer.trainStep(samples);
    let last = first;
    for (let i = 0; i < 5; i++) last = await trainer.trainStep(samples);
    assert.ok(Number.isFinite(last.loss) && last.loss < first.loss, `loss ${first.loss} -> ${last.loss}`);
    // A master value that is not a bf16 number proves the update ran in fp32 (bf16 keeps 8 mantissa bits).
    const masters = trainer.trainableTensors();
    const words = new Uint32Array(masters[0].data.buffer, masters[0].data.byteOffset, masters[0].data.length);
    assert.ok(words.some((word) => (word & 0xffff) !== 0), 'master weights carry fp32 precision');
    assert.equal(masters.length, 2 * 7 * bf16.config.numLayers);
  } finally {
    trainer.dispose();
    bf16.dispose();
  }
});

test('full fine-tuning updates every weight in place, exports them, and dispose() leaves the trained weights', async () => {
  const fullDir = writeSmallModel(join(work, 'full-base'), { seed: 3 });
  const full = await Model.load(fullDir, { dtype: 'fp32' });
  try {
    const probe = [[5, 6, 7, 8, 9]];
    const base = (await full.logits(probe)).rows;
    const trainer = Trainer.create(full, { mode: 'full', lr: 1e-3, seed: 1 });
    const samples = randomSamples(4, 95, full.config.vocabSize);
    let first;
    let last;
    try {
      assert.throws(() => trainer.saveAdapter(join(work, 'nothing')), { code: 'ERR_TRAIN_MODE' });
      first = await trainer.trainStep(samples);
      for (let i = 0; i < 4; i++) last = await trainer.trainStep(samples);
      assert.ok(last && last.loss < first.loss, `loss ${first.loss} -> ${last?.loss}`);
      const names = trainer.trainableTensors().map((t) => t.name);
      assert.ok(names.includes('model.embed_tokens.weight') && names.includes('model.layers.1.mlp.down_proj.weight') && names.includes('lm_head.weight'));
      trainer.saveMerged(join(work, 'full-out'));
    } finally {
      trainer.dispose();
    }
    const trained = (await full.logits(probe)).rows;
    assert.ok(maxAbsDiff(base, trained) > 1e-3, 'the weights changed');
    const reloaded = await Model.load(join(work, 'full-out'), { dtype: 'fp32' });
    try {
      assert.ok(maxAbsDiff(trained, (await reloaded.logits(probe)).rows) <= 1e-6, 'the exported folder holds the trained weights');
    } finally {
      reloaded.dispose();
    }
  } finally {
    full.dispose();
  }
});

test('bad adapter and state files are coded errors naming the file, tensor or field; the process goes on', async () => {
  const otherDir = writeSmallModel(join(work, 'other-base'), { hidden: 32, headDim: 8, intermediate: 64 });
  const other = await Model.load(otherDir, { dtype: 'fp32' });
  const foreignDir = join(work, 'foreign-adapter');
  const foreign = Trainer.create(other, { rank: 4, targets: ['q_proj'] });
  try {
    foreign.saveAdapter(foreignDir);
  } finally {
    foreign.dispose();
    other.dispose();
  }
  const trainer = Trainer.create(model, { rank: 4, targets: ['q_proj'] });
  try {
    assert.throws(() => trainer.loadAdapter(foreignDir), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ERR_ADAPTER_SHAPE');
      assert.match(error.message, /adapter_model\.safetensors/);
      assert.match(error.message, /layers\.0\.self_attn\.q_proj\.lora_A\.weight/);
      return true;
    });
    const config = JSON.parse(readFileSync(join(foreignDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(foreignDir, 'adapter_config.json'), JSON.stringify({ ...config, r: 0 }));
    assert.throws(() => trainer.loadAdapter(foreignDir), (error: Error & { code?: string }) => error.code === 'ERR_ADAPTER' && /field "r"/.test(error.message));

    const stateDir = join(work, 'state-bad');
    assert.throws(() => trainer.loadState(stateDir), { code: 'ERR_TRAINER_STATE' });
    trainer.saveState(stateDir);
    const tensors = join(stateDir, 'trainer_state.safetensors');
    writeFileSync(tensors, readFileSync(tensors).subarray(0, 100));
    assert.throws(() => trainer.loadState(stateDir), (error: Error & { code?: string }) => error.code === 'ERR_SAFETENSORS' && error.message.includes(tensors));
    const report = await trainer.trainStep(randomSamples(2, 99, model.config.vocabSize));
    assert.equal(report.skipped, false, 'the trainer still works');
  } finally {
    trainer.dispose();
  }
});
