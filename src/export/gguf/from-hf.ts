/**
 * Hugging Face folder → GGUF (F32, F16 or BF16) for llama, mistral, qwen2 and qwen3, following
 * llama.cpp's converter: norms, biases and other 1-D tensors stay F32; 2-D weights take the file's type.
 * Quantized types plug in through format.ts's encoder registry and `tensorTypeFor`.
 */
import { basename, join } from 'node:path';
import { openHfCheckpoint } from '../hf-checkpoint.js';
import { GgmlType, gguf, LlamaFileType, type GgufValue } from './format.js';
import { archMetadata, decoderHyperParams, mapTensors, permuteRotaryRows, type DecoderHyperParams } from './arch.js';
import { tokenizerMetadata } from './tokenizer.js';
import { writeGguf, type GgufTensor } from './writer.js';

export type GgufOutType = 'F32' | 'F16' | 'BF16';

const FILE_TYPES: Readonly<Record<GgufOutType, { fileType: LlamaFileType; weightType: GgmlType }>> = {
  F32: { fileType: LlamaFileType.ALL_F32, weightType: GgmlType.F32 },
  F16: { fileType: LlamaFileType.MOSTLY_F16, weightType: GgmlType.F16 },
  BF16: { fileType: LlamaFileType.MOSTLY_BF16, weightType: GgmlType.BF16 },
};

/** The converter's rule: 1-D tensors, norms and non-weights in F32, the rest in the file's type. */
export function tensorTypeFor(ggufName: string, dims: number, weightType: GgmlType): GgmlType {
  if (dims <= 1 || ggufName.endsWith('_norm.weight') || !ggufName.endsWith('.weight')) return GgmlType.F32;
  return weightType;
}

export interface GgufExportResult {
  path: string;
  bytes: number;
  arch: string;
  tensors: number;
}

/**
 * A quantized file's plan (src/export/gguf/quant-mix.ts builds one): its general.file_type, each tensor's
 * type, and optionally the float32 values to write in place of the checkpoint's (a merged LoRA adapter).
 */
export interface GgufTypePlan {
  fileType: LlamaFileType;
  types(tensors: readonly { name: string; ne: readonly number[]; sourceType: GgmlType }[], params: DecoderHyperParams): GgmlType[];
  /** Replaces checkpoint.read(hfName) (same shape). */
  read?: (hfName: string, read: (name: string) => Float32Array) => Float32Array;
}

export function exportHfToGguf(modelDirectory: string, outPath: string, outType: GgufOutType | GgufTypePlan = 'F32'): GgufExportResult {
  const checkpoint = openHfCheckpoint(modelDirectory);
  const configPath = join(modelDirectory, 'config.json');
  const params = decoderHyperParams(checkpoint.config, configPath);
  const plan = typeof outType === 'string' ? undefined : outType;
  const { fileType, weightType } = typeof outType === 'string' ? FILE_TYPES[outType] : { fileType: outType.fileType, weightType: GgmlType.F32 };
  const mappings = mapTensors(params, checkpoint.tensorNames, modelDirectory);
  const order = (name: string): [number, number] => {
    const block = /^blk\.(\d+)\./.exec(name);
    return block ? [1, Number(block[1])] : name === 'token_embd.weight' ? [0, 0] : [2, 0];
  };
  mappings.sort((a, b) => {
    const [ga, ba] = order(a.ggufName);
    const [gb, bb] = order(b.ggufName);
    return ga - gb || ba - bb || (a.ggufName < b.ggufName ? -1 : a.ggufName > b.ggufName ? 1 : 0);
  });
  const tensors: GgufTensor[] = mappings.map((mapping) => {
    const shape = checkpoint.shape(mapping.hfName);
    return {
      name: mapping.ggufName,
      ne: [...shape].reverse(),
      type: tensorTypeFor(mapping.ggufName, shape.length, weightType),
      values: () => {
        const values = plan?.read ? plan.read(mapping.hfName, checkpoint.read) : checkpoint.read(mapping.hfName);
        return mapping.permuteHeads === undefined ? values : permuteRotaryRows(values, shape[0], mapping.permuteHeads);
      },
    };
  });
  if (plan) {
    const types = plan.types(tensors.map((t) => ({ name: t.name, ne: t.ne, sourceType: t.type })), params);
    tensors.forEach((tensor, index) => { tensor.type = types[index]; });
  }
  const name = basename(modelDirectory.replace(/\/+$/, ''));
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gguf.str(params.arch)],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(name)],
    ['general.file_type', gguf.u32(fileType)],
    ['general.quantization_version', gguf.u32(2)],
    ...archMetadata(params),
    ...tokenizerMetadata(modelDirectory, params.arch, params.vocabSize, checkpoint.config),
  ];
  const { bytes } = writeGguf(outPath, { metadata, tensors });
  return { path: outPath, bytes, arch: params.arch, tensors: tensors.length };
}
