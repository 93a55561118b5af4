/**
 * Opens what a generation or training pipeline works on: the model (with its adapter attached when
 * the argument named one), its tokenizer and its chat template, on the requested device.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ChatTemplate } from '../data/chat.js';
import { HaloTokenizer } from '../data/tokenizer.js';
import { Model } from '../engine/model.js';
import { engineInfo } from '../engine/runtime.js';
import type { DTypeOption } from '../engine/types.js';
import { resolveModelSource, type ModelSource } from './model-source.js';

export interface ModelSession {
  source: ModelSource;
  model: Model;
  tokenizer: HaloTokenizer;
  template: ChatTemplate;
}

/** --device auto: the first GPU this binary can use, else cpu. */
export function resolveDeviceOption(device: string): string {
  if (device !== 'auto') return device;
  const info = engineInfo();
  return info.backend !== 'cpu' && info.gpuAvailable && info.devices.length > 0 ? 'cuda:0' : 'cpu';
}

export async function openModel(argument: string, options: { cycle?: number; flag?: string; device: string; dtype: DTypeOption; chatTemplate?: string }): Promise<ModelSession> {
  const source = resolveModelSource(argument, { ...(options.cycle === undefined ? {} : { cycle: options.cycle }), ...(options.flag === undefined ? {} : { flag: options.flag }) });
  // An adapter folder may carry its own tokenizer files (saved alongside); else the base's.
  const tokenizerDir = source.adapterDir !== undefined && existsSync(join(source.adapterDir, 'tokenizer.json')) ? source.adapterDir : source.baseDir;
  const tokenizer = HaloTokenizer.fromFolder(tokenizerDir);
  const template = ChatTemplate.resolve(options.chatTemplate, tokenizer);
  const model = await Model.load(source.baseDir, { device: resolveDeviceOption(options.device), dtype: options.dtype });
  return { source, model, tokenizer, template };
}
