/**
 * Read access to a Hugging Face model folder for export: config.json plus the weights of a single
 * model.safetensors or of shards listed in model.safetensors.index.json, read one tensor at a time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../util/errors.js';
import { readSafetensorsHeader, readSafetensorsTensor, type SafetensorsHeader } from './safetensors.js';

export interface HfCheckpoint {
  directory: string;
  config: Record<string, unknown>;
  tensorNames: string[];
  shape(name: string): number[];
  /** the stored safetensors dtype (F32, BF16, F16, …) */
  dtype(name: string): string;
  read(name: string): Float32Array;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new HaloError('ERR_MODEL_FILE', `${path}: ${(error as Error).message}`, { fix: 'check that the model folder is complete and the JSON is valid', cause: error });
  }
}

export function readJsonIfExists(path: string): Record<string, unknown> | undefined {
  return existsSync(path) ? readJson(path) : undefined;
}

export function openHfCheckpoint(directory: string): HfCheckpoint {
  const configPath = join(directory, 'config.json');
  if (!existsSync(configPath)) {
    throw new HaloError('ERR_MODEL_FILE', `${directory}: no config.json`, { fix: 'pass a Hugging Face model folder (config.json + model.safetensors)' });
  }
  const config = readJson(configPath);
  const headers = new Map<string, SafetensorsHeader>();
  const owner = new Map<string, string>();
  const indexPath = join(directory, 'model.safetensors.index.json');
  if (existsSync(indexPath)) {
    const weightMap = (readJson(indexPath).weight_map ?? {}) as Record<string, string>;
    for (const [name, file] of Object.entries(weightMap)) owner.set(name, file);
  } else if (existsSync(join(directory, 'model.safetensors'))) {
    const header = readSafetensorsHeader(join(directory, 'model.safetensors'));
    headers.set('model.safetensors', header);
    for (const name of header.tensors.keys()) owner.set(name, 'model.safetensors');
  } else {
    throw new HaloError('ERR_MODEL_FILE', `${directory}: no model.safetensors or model.safetensors.index.json`, { fix: 'save the model with safetensors weights' });
  }
  const headerOf = (name: string): SafetensorsHeader => {
    const file = owner.get(name);
    if (file === undefined) {
      throw new HaloError('ERR_MODEL_TENSOR_MISSING', `${directory}: tensor ${name} is missing`, { fix: 'the checkpoint does not match its config.json; re-save it' });
    }
    let header = headers.get(file);
    if (!header) {
      header = readSafetensorsHeader(join(directory, file));
      headers.set(file, header);
    }
    if (!header.tensors.has(name)) {
      throw new HaloError('ERR_MODEL_TENSOR_MISSING', `${join(directory, file)}: tensor ${name} is listed in the index but not in the file`, { fix: 're-save the checkpoint' });
    }
    return header;
  };
  return {
    directory,
    config,
    tensorNames: [...owner.keys()],
    shape: (name) => [...(headerOf(name).tensors.get(name)?.shape ?? [])],
    dtype: (name) => headerOf(name).tensors.get(name)?.dtype ?? 'F32',
    read: (name) => readSafetensorsTensor(headerOf(name), name),
  };
}
