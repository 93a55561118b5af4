/**
 * A PEFT LoRA adapter folder as a llama.cpp GGUF LoRA adapter: general.type = adapter,
 * adapter.type = lora, adapter.lora.alpha, and for every adapted projection blk.N.<name>.weight.lora_a
 * (ggml ne [in, r], i.e. PEFT's A [r, in]) and .lora_b (ne [r, out], PEFT's B [out, r]). llama.cpp
 * scales by alpha / r, so an rsLoRA adapter (alpha / sqrt(r)) is written with alpha * sqrt(r). For
 * llama the q/k rows of B get the same rope permutation the base weights get.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../../util/errors.js';
import { readSafetensorsHeader, readSafetensorsTensor } from '../safetensors.js';
import { decoderHyperParams, mapTensors, permuteRotaryRows } from './arch.js';
import { GgmlType, gguf, type GgufValue } from './format.js';
import { writeGguf, type GgufTensor } from './writer.js';

export interface LoraGgufResult {
  path: string;
  bytes: number;
  tensors: number;
  alpha: number;
}

const KEY = /^base_model\.model\.(model\.layers\.\d+\.(?:self_attn|mlp)\.[a-z_]+)\.lora_([AB])(?:\.default)?\.weight$/;

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new HaloError('ERR_EXPORT', `${path} does not exist`, { fix: 'point at a PEFT adapter folder and its base model folder' });
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new HaloError('ERR_EXPORT', `${path} is not valid JSON: ${(error as Error).message}`, { fix: 'restore the file' });
  }
}

export function exportLoraAdapterToGguf(adapterDirectory: string, baseModelDirectory: string, outPath: string): LoraGgufResult {
  const adapterConfigPath = join(adapterDirectory, 'adapter_config.json');
  const adapterConfig = readJson(adapterConfigPath);
  const rank = adapterConfig.r;
  const loraAlpha = adapterConfig.lora_alpha;
  if (typeof rank !== 'number' || typeof loraAlpha !== 'number') {
    throw new HaloError('ERR_EXPORT', `${adapterConfigPath}: r and lora_alpha must be numbers`, { fix: 'write the adapter with a PEFT-compatible trainer' });
  }
  const alpha = adapterConfig.use_rslora === true ? loraAlpha * Math.sqrt(rank) : loraAlpha;
  const configPath = join(baseModelDirectory, 'config.json');
  const params = decoderHyperParams(readJson(configPath), configPath);
  const header = readSafetensorsHeader(join(adapterDirectory, 'adapter_model.safetensors'));

  const tensors: GgufTensor[] = [];
  for (const [key, entry] of [...header.tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const match = KEY.exec(key);
    if (!match) throw new HaloError('ERR_EXPORT', `${header.path}: tensor ${key} is not a PEFT LoRA A/B weight`, { fix: 'only LoRA adapters on the decoder projections are exported' });
    const [mapping] = mapTensors(params, [`${match[1]}.weight`], header.path);
    const isB = match[2] === 'B';
    const shape = entry.shape;
    tensors.push({
      name: `${mapping.ggufName}.lora_${isB ? 'b' : 'a'}`,
      ne: [...shape].reverse(),
      type: GgmlType.F32,
      values: () => {
        const values = readSafetensorsTensor(header, key);
        return isB && mapping.permuteHeads !== undefined ? permuteRotaryRows(values, shape[0], mapping.permuteHeads) : values;
      },
    });
  }
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gguf.str(params.arch)],
    ['general.type', gguf.str('adapter')],
    ['adapter.type', gguf.str('lora')],
    ['adapter.lora.alpha', gguf.f32(alpha)],
  ];
  const { bytes } = writeGguf(outPath, { metadata, tensors });
  return { path: outPath, bytes, tensors: tensors.length, alpha };
}
