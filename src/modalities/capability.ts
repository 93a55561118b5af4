/**
 * The capability gate of the modality commands: which modalities train for real, and which model
 * families a modality's presets (prompt format, chat template, tool-call syntax) were built for.
 * A model's family is read from its config.json (model_type, architectures, _name_or_path,
 * rope_scaling.rope_type);
 * anything else is refused with `CAPABILITY_ERROR modality=<m> reason=unsupported_model` unless
 * the user opts in with --allow-prototype-train.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelSource } from '../pipelines/model-source.js';
import { HaloError } from '../util/errors.js';

export type ModalityName = 'reasoning' | 'agentic';

/** real_training: `train` runs RAFT cycles that update LoRA weights (no modality is a prototype here). */
export const MODALITY_STATUS: Readonly<Record<ModalityName, { status: 'real_training'; pipelines: readonly string[] }>> = {
  reasoning: { status: 'real_training', pipelines: ['sft', 'raft', 'benchmark'] },
  agentic: { status: 'real_training', pipelines: ['sft', 'raft', 'benchmark'] },
};

/** Family tokens, most specific first; a model matches when one of its config strings contains one. */
export const SUPPORTED_FAMILY_TOKENS = ['qwen2.5', 'qwen2', 'qwen', 'llama-3', 'llama3', 'mistral'] as const;

export interface ModelIdentity {
  configPath: string;
  modelType: string | undefined;
  architectures: string[];
  nameOrPath: string | undefined;
  /** rope_scaling.rope_type: "llama3" marks Llama 3.1+ configs, whose model_type is plain "llama". */
  ropeType: string | undefined;
}

export interface CapabilityVerdict {
  modality: ModalityName;
  status: 'real_training';
  /** the family token that matched, or null for a prototype run of an unsupported family. */
  family: string | null;
  /** true when the family is not supported and --allow-prototype-train let it through. */
  prototype: boolean;
  identity: ModelIdentity;
}

/** config.json of a model argument (a model folder, an adapter folder, a run directory or a cached hub id). */
export function readModelIdentity(modelArgument: string): ModelIdentity {
  const configPath = join(resolveModelSource(modelArgument).baseDir, 'config.json');
  if (!existsSync(configPath)) throw new HaloError('ERR_MODEL_ARG', `--model ${modelArgument}: ${configPath} is missing`, { fix: 'point --model at a Hugging Face model folder (config.json + weights)' });
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (error) {
    throw new HaloError('ERR_MODEL_CONFIG', `${configPath}: not valid JSON (${error instanceof Error ? error.message : String(error)})`, { fix: 'restore the model\'s config.json' });
  }
  const config = (raw ?? {}) as Record<string, unknown>;
  return {
    configPath,
    modelType: typeof config.model_type === 'string' ? config.model_type : undefined,
    architectures: Array.isArray(config.architectures) ? config.architectures.filter((value): value is string => typeof value === 'string') : [],
    nameOrPath: typeof config._name_or_path === 'string' ? config._name_or_path : undefined,
    ropeType: typeof (config.rope_scaling as { rope_type?: unknown } | null)?.rope_type === 'string' ? String((config.rope_scaling as { rope_type: string }).rope_type) : undefined,
  };
}

/** The first supported family token found in model_type, architectures or _name_or_path (case-insensitive). */
export function familyOf(identity: ModelIdentity): string | null {
  const haystack = [identity.modelType, ...identity.architectures, identity.nameOrPath, identity.ropeType].filter((value): value is string => value !== undefined).map((value) => value.toLowerCase());
  return SUPPORTED_FAMILY_TOKENS.find((token) => haystack.some((text) => text.includes(token))) ?? null;
}

export function checkCapability(modality: ModalityName, identity: ModelIdentity, allowPrototypeTrain: boolean): CapabilityVerdict {
  const family = familyOf(identity);
  const status = MODALITY_STATUS[modality].status;
  if (family !== null) return { modality, status, family, prototype: false, identity };
  if (allowPrototypeTrain) return { modality, status, family: null, prototype: true, identity };
  const seen = [`model_type=${identity.modelType ?? '(none)'}`, `architectures=${identity.architectures.join(',') || '(none)'}`, `_name_or_path=${identity.nameOrPath ?? '(none)'}`].join(' ');
  throw new HaloError('CAPABILITY_ERROR', `CAPABILITY_ERROR modality=${modality} reason=unsupported_model: ${identity.configPath} (${seen}) names none of the supported families ${SUPPORTED_FAMILY_TOKENS.join(', ')}`, {
    fix: `use a ${SUPPORTED_FAMILY_TOKENS.join(' / ')} model, or pass --allow-prototype-train to train this family anyway (its prompt format is untested)`,
    details: { modality, reason: 'unsupported_model', config: identity.configPath },
  });
}
