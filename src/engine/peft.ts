/**
 * PEFT adapter folders: adapter_config.json + adapter_model.safetensors with PEFT's key names
 * (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight ...), readable by PEFT, transformers
 * and llama.cpp's convert_lora_to_gguf.py; adapters PEFT wrote load here too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../util/errors.js';

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export interface AdapterSettings {
  rank: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  targets: LoraTarget[];
}

/** What PEFT writes (the fields that matter to loaders, plus the defaults PEFT itself puts there). */
export function adapterConfigJson(settings: AdapterSettings, baseModelNameOrPath: string): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModelNameOrPath,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: settings.alpha,
    lora_dropout: settings.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: settings.rank,
    rank_pattern: {},
    revision: null,
    target_modules: [...settings.targets].sort(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: settings.useRslora,
  };
}

/** Resolves `all-linear` and checks names (PEFT accepts module names; we support the seven projections). */
export function resolveTargets(targets: string | readonly string[] | undefined, where: string): LoraTarget[] {
  if (targets === undefined || targets === 'all-linear') return [...LORA_TARGETS];
  const list = typeof targets === 'string' ? targets.split(',').map((item) => item.trim()).filter(Boolean) : [...targets];
  if (list.length === 0) throw new HaloError('ERR_LORA_TARGET', `${where}: the target list is empty`, { fix: `use all-linear or some of ${LORA_TARGETS.join(', ')}` });
  for (const target of list) {
    if (!(LORA_TARGETS as readonly string[]).includes(target)) {
      throw new HaloError('ERR_LORA_TARGET', `${where}: unknown LoRA target module "${target}"`, { fix: `use all-linear or some of ${LORA_TARGETS.join(', ')}` });
    }
  }
  return [...new Set(list)] as LoraTarget[];
}

/** Reads adapter_config.json; every field we rely on is checked and named when wrong. */
export function readAdapterConfig(dir: string): AdapterSettings & { baseModelNameOrPath: string } {
  const path = join(dir, ADAPTER_CONFIG);
  if (!existsSync(path)) throw new HaloError('ERR_ADAPTER', `${path} does not exist`, { fix: 'point at a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)' });
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new HaloError('ERR_ADAPTER', `${path} is not valid JSON: ${(error as Error).message}`, { fix: 'restore the adapter_config.json' });
  }
  const fail = (field: string, rule: string): never => {
    throw new HaloError('ERR_ADAPTER', `${path}: field "${field}" = ${JSON.stringify(raw[field])} ${rule}`, { fix: `set ${field} in ${ADAPTER_CONFIG}` });
  };
  if (raw.peft_type !== undefined && raw.peft_type !== 'LORA') fail('peft_type', 'is not LORA (only LoRA adapters are supported)');
  if (typeof raw.r !== 'number' || !Number.isInteger(raw.r) || raw.r < 1) fail('r', 'must be an integer >= 1');
  if (typeof raw.lora_alpha !== 'number' || !(raw.lora_alpha > 0)) fail('lora_alpha', 'must be a number > 0');
  if (raw.use_dora === true) fail('use_dora', 'is true; DoRA adapters are not supported');
  const dropout = typeof raw.lora_dropout === 'number' ? raw.lora_dropout : 0;
  const targets = resolveTargets(raw.target_modules as string | string[] | undefined, `${path}: target_modules`);
  return {
    rank: raw.r as number,
    alpha: raw.lora_alpha as number,
    dropout,
    useRslora: raw.use_rslora === true,
    targets,
    baseModelNameOrPath: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : '',
  };
}
