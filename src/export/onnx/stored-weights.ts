/**
 * A temporary Hugging Face folder holding the weights an ONNX file of a given precision stores, decoded
 * to float32 (fp16 rounding, int8 / int4 dequantized): our engine on it is the exact reference for what
 * onnxruntime computes, so verification can separate "the file is right" (agreement, tight) from "the
 * precision costs this much" (fidelity vs the source). A tied model whose lm_head is stored differently
 * from its embedding (int4: an 8-bit head, a float16 embedding) is written untied.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../util/atomic.js';
import { openHfCheckpoint } from '../hf-checkpoint.js';
import { writeSafetensors } from '../safetensors.js';
import { onnxHeadTensor, onnxStoredTensor, type OnnxPrecision, type OnnxWriteOptions } from './decoder.js';

const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];

export function writeOnnxStoredWeightsFolder(modelDir: string, precision: OnnxPrecision, options: OnnxWriteOptions = {}): string {
  const checkpoint = openHfCheckpoint(modelDir);
  const head = onnxHeadTensor(modelDir);
  const tied = head === 'model.embed_tokens.weight';
  const dir = mkdtempSync(join(tmpdir(), 'halo-onnx-stored-'));
  for (const file of SIDE_FILES) if (existsSync(join(modelDir, file))) copyFileSync(join(modelDir, file), join(dir, file));
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeJsonAtomic(join(dir, 'config.json'), tied ? { ...config, tie_word_embeddings: false } : config);
  const stored = (name: string, lmHead: boolean) => () => onnxStoredTensor(precision, name, checkpoint.shape(name), checkpoint.read(name), lmHead, options);
  writeSafetensors(join(dir, 'model.safetensors'), [
    ...checkpoint.tensorNames.filter((name) => !(tied && name === 'lm_head.weight')).map((name) => ({ name, shape: checkpoint.shape(name), dtype: 'F32' as const, values: stored(name, !tied && name === head) })),
    ...(tied ? [{ name: 'lm_head.weight', shape: checkpoint.shape(head), dtype: 'F32' as const, values: stored(head, true) }] : []),
  ]);
  return dir;
}
