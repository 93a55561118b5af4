/**
 * Merging a PEFT LoRA adapter into its base weights while exporting: W' = W + scale · B·A with
 * scale = alpha / r (alpha / √r for rsLoRA), one weight at a time, in float32.
 */
import { join } from 'node:path';
import { HaloError } from '../util/errors.js';
import { readSafetensorsHeader, readSafetensorsTensor } from './safetensors.js';

export interface LoraSettings {
  rank: number;
  alpha: number;
  useRslora: boolean;
}

export interface LoraMerger {
  /** How many base weights the adapter changes. */
  targets: number;
  /** The merged value of base tensor `hfName` (the base value when the adapter does not touch it). */
  read(hfName: string, readBase: (name: string) => Float32Array): Float32Array;
}

export function openLoraMerger(adapterDir: string, settings: LoraSettings): LoraMerger {
  const path = join(adapterDir, 'adapter_model.safetensors');
  const header = readSafetensorsHeader(path);
  const pairs = new Map<string, { a?: string; b?: string }>();
  for (const name of header.tensors.keys()) {
    const match = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
    if (!match) {
      throw new HaloError('ERR_ADAPTER', `${path}: tensor ${name} is not a LoRA A/B weight`, {
        fix: 'only plain LoRA adapters (no modules_to_save, DoRA or embedding adapters) can be merged on export',
      });
    }
    const base = `${match[1]}.weight`;
    const pair = pairs.get(base) ?? {};
    if (match[2] === 'A') pair.a = name;
    else pair.b = name;
    pairs.set(base, pair);
  }
  for (const [base, pair] of pairs) {
    if (!pair.a || !pair.b) throw new HaloError('ERR_ADAPTER', `${path}: ${base} has lora_${pair.a ? 'A' : 'B'} but not its pair`, { fix: 'the adapter file is incomplete; save it again' });
  }
  const scale = settings.useRslora ? settings.alpha / Math.sqrt(settings.rank) : settings.alpha / settings.rank;
  return {
    targets: pairs.size,
    read(hfName, readBase) {
      const base = readBase(hfName);
      const pair = pairs.get(hfName);
      if (!pair) return base;
      const a = readSafetensorsTensor(header, pair.a!); // [r, in]
      const b = readSafetensorsTensor(header, pair.b!); // [out, r]
      const [rank, inFeatures] = header.tensors.get(pair.a!)!.shape;
      const [outFeatures, rankB] = header.tensors.get(pair.b!)!.shape;
      if (rank !== rankB || outFeatures * inFeatures !== base.length) {
        throw new HaloError('ERR_ADAPTER', `${path}: ${hfName} is ${base.length} values but the adapter is [${outFeatures}×${rankB}]·[${rank}×${inFeatures}]`, {
          fix: 'the adapter was trained on a different base model; pass the matching base',
        });
      }
      const merged = new Float32Array(base);
      for (let o = 0; o < outFeatures; o++) {
        const row = o * inFeatures;
        for (let k = 0; k < rank; k++) {
          const s = scale * b[o * rank + k];
          if (s === 0) continue;
          const aRow = k * inFeatures;
          for (let i = 0; i < inFeatures; i++) merged[row + i] += s * a[aRow + i];
        }
      }
      return merged;
    },
  };
}
