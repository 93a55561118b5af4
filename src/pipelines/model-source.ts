/**
 * What a --model / --checkpoint argument names: a Hugging Face model folder, a hub id (resolved in
 * the local Hugging Face cache; never downloaded here), a PEFT adapter folder (its base comes from
 * adapter_config.json), or a run directory (final_model/, or cycle_<N>/model with --cycle N, or the
 * latest finished cycle while the run is still going).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findCachedFiles } from '../data/hub.js';
import { readAdapterConfig } from '../engine/peft.js';
import { HaloError } from '../util/errors.js';

export interface ModelSource {
  /** the base model folder (config.json + safetensors). */
  baseDir: string;
  /** a LoRA adapter to apply on top, when the argument named one. */
  adapterDir?: string;
  /** how the argument was understood, for logs. */
  description: string;
}

export function resolveModelSource(argument: string, options: { cycle?: number; flag?: string } = {}): ModelSource {
  const flag = options.flag ?? '--model';
  const path = resolve(argument);
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (isRunDirectory(path)) return fromRunDirectory(path, options.cycle, flag);
    if (options.cycle !== undefined) {
      throw new HaloError('ERR_MODEL_ARG', `--cycle ${options.cycle} needs ${flag} to be a run directory, but ${path} is not one`, { fix: `point ${flag} at the run directory (the one holding cycle_<n>/), or drop --cycle` });
    }
    if (existsSync(join(path, 'adapter_config.json'))) return fromAdapter(path, flag);
    if (existsSync(join(path, 'config.json'))) return { baseDir: path, description: `model ${path}` };
    throw new HaloError('ERR_MODEL_ARG', `${flag} ${argument}: ${path} holds neither config.json (a model), adapter_config.json (an adapter) nor cycle_<n>/ folders (a run)`, {
      fix: 'point at a Hugging Face model folder, a PEFT adapter folder or a halo-forge run directory',
    });
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(argument)) {
    const files = findCachedFiles('model', argument, 'main', ['config.json']);
    if (files.length > 0) return { baseDir: dirname(files[0]), description: `hub model ${argument} (cache ${dirname(files[0])})` };
    throw new HaloError('ERR_MODEL_NOT_CACHED', `${flag} ${argument}: not a folder, and the hub model is not in the Hugging Face cache`, {
      fix: `download it first (e.g. \`huggingface-cli download ${argument}\`), or pass a local folder`,
    });
  }
  throw new HaloError('ERR_MODEL_ARG', `${flag} ${argument}: no such folder`, { fix: 'check the path (relative paths are resolved from the current directory)' });
}

function isRunDirectory(path: string): boolean {
  return existsSync(join(path, 'latest_checkpoint.json')) || existsSync(join(path, 'final_model')) || existsSync(join(path, 'cycle_1'));
}

function fromRunDirectory(path: string, cycle: number | undefined, flag: string): ModelSource {
  let chosen: string;
  if (cycle !== undefined) {
    chosen = join(path, `cycle_${cycle}`, 'model');
    if (!existsSync(join(path, `cycle_${cycle}`, 'checkpoint_state.json')) || !existsSync(chosen)) {
      throw new HaloError('ERR_MODEL_ARG', `--cycle ${cycle}: cycle ${cycle} of ${path} has not finished (no checkpoint_state.json)`, { fix: 'pick a finished cycle (see latest_checkpoint.json)' });
    }
  } else if (existsSync(join(path, 'final_model'))) {
    chosen = join(path, 'final_model');
  } else if (existsSync(join(path, 'latest_checkpoint.json'))) {
    const latest = JSON.parse(readFileSync(join(path, 'latest_checkpoint.json'), 'utf8')) as { model_dir?: unknown };
    if (typeof latest.model_dir !== 'string') throw new HaloError('ERR_MODEL_ARG', `${join(path, 'latest_checkpoint.json')} has no model_dir`, { fix: 'pass --cycle N to pick a finished cycle' });
    chosen = latest.model_dir;
  } else {
    throw new HaloError('ERR_MODEL_ARG', `${flag} ${path}: the run has no finished cycle and no final_model/ yet`, { fix: 'wait for the first cycle to finish, or pass the base model' });
  }
  const inner = existsSync(join(chosen, 'adapter_config.json')) ? fromAdapter(chosen, flag) : { baseDir: chosen, description: `model ${chosen}` };
  return { ...inner, description: `run ${path}: ${inner.description}` };
}

function fromAdapter(path: string, flag: string): ModelSource {
  const base = readAdapterConfig(path).baseModelNameOrPath;
  if (base === '') {
    throw new HaloError('ERR_MODEL_ARG', `${join(path, 'adapter_config.json')} does not name its base model (base_model_name_or_path)`, { fix: 'set base_model_name_or_path to the base model folder or hub id' });
  }
  const resolvedBase = resolveModelSource(base, { flag: `${flag} (base of ${path})` });
  if (resolvedBase.adapterDir !== undefined) {
    throw new HaloError('ERR_MODEL_ARG', `${path}'s base ${base} is itself an adapter`, { fix: 'merge the first adapter into a full model, or point base_model_name_or_path at the real base' });
  }
  return { baseDir: resolvedBase.baseDir, adapterDir: path, description: `adapter ${path} on ${resolvedBase.baseDir}` };
}
