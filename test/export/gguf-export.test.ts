/**
 * The GGUF export pipeline (`inference export`): a model folder or a PEFT adapter (merged onto its base)
 * becomes a GGUF that llama.cpp loads and whose logits agree with our engine's; a file of the wrong
 * weights is caught by the same verification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGguf, readGgufTensorBytes } from '../../src/export/gguf/reader.js';
import { writeSafetensors } from '../../src/export/safetensors.js';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { exportGguf, exportGgufLora, verifyGguf, verifySequences } from '../../src/pipelines/export.js';
import { Rng } from '../../src/util/rng.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-gguf-export-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

let peerMissing: string | undefined;
try {
  await import('node-llama-cpp');
} catch (error) {
  peerMissing = `node-llama-cpp is not installed (${(error as Error).message})`;
}

const model = join(directory, 'llama');
const other = join(directory, 'llama-other');
const tiny = { ...defaultTinyOptions('llama'), layers: 2, hidden: 256, heads: 4, kvHeads: 2, headDim: 64, intermediate: 512, vocab: 'llama3-32k' as const };
writeTinyModel(model, { ...tiny, seed: 1 });

test('Q8_0 export loads in llama.cpp, agrees with our engine and keeps logit cosine >= 0.999 vs fp32', async (t) => {
  if (peerMissing) return t.skip(peerMissing);
  const output = join(directory, 'q8.gguf');
  const result = await exportGguf({ model, output, quantization: 'Q8_0', threads: 2 });
  const report = result.verify!;
  t.diagnostic(`Q8_0: ${result.bytes} bytes, agreement ${report.agreement.meanCosine.toFixed(6)}, fidelity ${report.fidelity.meanCosine.toFixed(6)} over ${report.fidelity.positions} positions`);
  assert.ok(report.passed);
  assert.ok(report.fidelity.positions >= 30);
  assert.ok(report.fidelity.meanCosine >= 0.999, `fidelity ${report.fidelity.meanCosine}`);
  assert.deepEqual(result.tensorTypes, { F32: 5, Q8_0: 16 }); // 2 layers x 7 projections + token_embd + output
});

test('a PEFT adapter is merged onto its base: the GGUF holds W + (alpha/r)·B·A and verifies against the merged model', async (t) => {
  if (peerMissing) return t.skip(peerMissing);
  const adapter = join(directory, 'adapter');
  const rank = 4;
  writeTinyModel(adapter, { ...tiny, seed: 1 }); // gives the folder a tokenizer; the adapter files go beside it
  rmSync(join(adapter, 'config.json'));
  rmSync(join(adapter, 'model.safetensors'));
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: rank, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: model }));
  const rng = new Rng(3);
  const random = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * scale);
  const tensors = [];
  for (let layer = 0; layer < tiny.layers; layer++) {
    for (const [module, out] of [['q_proj', 256], ['v_proj', 128]] as const) {
      const prefix = `base_model.model.model.layers.${layer}.self_attn.${module}`;
      const a = random(rank * 256, 0.2);
      const b = random(out * rank, 0.2);
      tensors.push({ name: `${prefix}.lora_A.weight`, shape: [rank, 256], dtype: 'F32' as const, values: () => a });
      tensors.push({ name: `${prefix}.lora_B.weight`, shape: [out, rank], dtype: 'F32' as const, values: () => b });
    }
  }
  writeSafetensors(join(adapter, 'adapter_model.safetensors'), tensors);
  const events: string[] = [];
  const merged = await exportGguf({ model: adapter, output: join(directory, 'merged.gguf'), quantization: 'F32', threads: 2, onEvent: (e) => events.push(e.type === 'export_start' ? `merged ${e.mergedTargets}` : e.type) });
  assert.ok(events.includes('merged 4'), JSON.stringify(events));
  assert.ok(merged.verify!.passed, JSON.stringify(merged.verify));
  const base = await exportGguf({ model, output: join(directory, 'base.gguf'), quantization: 'F32', verify: false });
  const a = readGguf(merged.output);
  const b = readGguf(base.output);
  assert.ok(!readGgufTensorBytes(a, 'blk.0.attn_v.weight').equals(readGgufTensorBytes(b, 'blk.0.attn_v.weight')), 'attn_v changed by the merge');
  assert.ok(readGgufTensorBytes(a, 'blk.0.attn_k.weight').equals(readGgufTensorBytes(b, 'blk.0.attn_k.weight')), 'attn_k untouched');
  t.diagnostic(`merged F32: agreement max relative diff ${merged.verify!.agreement.maxRelativeDiff.toExponential(2)}`);

  // the same adapter as a llama.cpp LoRA GGUF, applied on the base in llama.cpp, matches the merged model
  const lora = await exportGgufLora({ model: adapter, output: join(directory, 'adapter.gguf'), threads: 2 });
  t.diagnostic(`gguf-lora: ${lora.tensors} tensors, max relative diff ${lora.verify!.maxRelativeDiff.toExponential(2)}`);
  assert.ok(lora.verify!.passed, JSON.stringify(lora.verify));
});

test('verification fails for a file that does not hold the model (a different seed)', async (t) => {
  if (peerMissing) return t.skip(peerMissing);
  writeTinyModel(other, { ...tiny, seed: 2 });
  const wrong = await exportGguf({ model: other, output: join(directory, 'other.gguf'), quantization: 'F32', verify: false });
  const sequences = verifySequences(model, 32000);
  const report = await verifyGguf(wrong.output, model, model, 'F32', sequences, 2);
  assert.equal(report.passed, false);
  assert.ok(report.agreement.meanCosine < 0.9, `cosine ${report.agreement.meanCosine}`);
});
