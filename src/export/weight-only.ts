/**
 * The `inference optimize` folder format ("halo-forge-weight-only", docs/export.md): the attention and
 * MLP projections (q/k/v/o, gate/up/down) of a Hugging Face checkpoint stored weight-only quantized,
 * everything else (embeddings, norms, biases, lm_head) in its source dtype:
 *  - int8: `<name>.weight` I8 [out, in] and `<name>.weight_scale` F32 [out] — w = scale[r] · q
 *  - int4: `<name>.weight` U8 [out, in / 2] (per group, element j in the low nibble, j + group/2 in the
 *    high one), `<name>.weight_scale` and `<name>.weight_min` F16 [out, in / group] — w = scale · q + min
 * and config.json gains `quantization_config`. fp16 is a plain fp16 checkpoint (no quantization_config).
 */
import { HaloError } from '../util/errors.js';
import type { HfCheckpoint } from './hf-checkpoint.js';
import type { SafetensorsDtype, TensorSource } from './safetensors.js';

export type OptimizePrecision = 'int8' | 'int4' | 'fp16';
export const OPTIMIZE_PRECISIONS: readonly OptimizePrecision[] = ['int8', 'int4', 'fp16'];
export const DEFAULT_INT4_GROUP_SIZE = 32;

/** The projections that get quantized: model.layers.N.{self_attn,mlp}.X_proj.weight. */
const PROJECTION = /^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/;
export const QUANTIZED_MODULES: readonly string[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

const FP16_MAX = 65504;

/** What a quantizer hands back for one [rows, cols] matrix (the engine's native quantizer, injected by the pipeline). */
export interface QuantizedParts {
  data: Int8Array | Uint8Array;
  scale: Float32Array;
  min?: Float32Array;
}
export type WeightQuantizer = (values: Float32Array, rows: number, cols: number, bits: 8 | 4, groupSize: number) => QuantizedParts;

export function isQuantizedProjection(name: string): boolean {
  return PROJECTION.test(name);
}

function floatDtype(stored: string): SafetensorsDtype {
  return stored === 'BF16' || stored === 'F16' || stored === 'F32' ? stored : 'F32';
}

function checkedFp16(name: string, values: Float32Array): Float32Array {
  for (const value of values) {
    if (Math.abs(value) > FP16_MAX) {
      throw new HaloError('ERR_FP16_RANGE', `tensor ${name} holds ${value}, outside fp16's range (±${FP16_MAX})`, { fix: 'use --target-precision int8 or int4 (they keep such tensors in their source dtype)' });
    }
  }
  return values;
}

/**
 * The tensors of the optimized checkpoint, computed lazily as the safetensors writer asks for them;
 * a projection is quantized once and its parts (levels, scales, mins) handed out as they are written.
 */
export function optimizedTensors(checkpoint: HfCheckpoint, precision: OptimizePrecision, groupSize: number, quantize: WeightQuantizer): TensorSource[] {
  if (precision === 'fp16') {
    return checkpoint.tensorNames.map((name) => ({ name, shape: checkpoint.shape(name), dtype: 'F16', values: () => checkedFp16(name, checkpoint.read(name)) }));
  }
  const bits = precision === 'int8' ? 8 : 4;
  const pending = new Map<string, { matrix: QuantizedParts; parts: number }>();
  const part = (name: string, pick: (matrix: QuantizedParts) => Float32Array | Int8Array | Uint8Array): (() => Float32Array | Int8Array | Uint8Array) => () => {
    let entry = pending.get(name);
    if (!entry) {
      const [rows, cols] = checkpoint.shape(name);
      entry = { matrix: quantize(checkpoint.read(name), rows, cols, bits, groupSize), parts: bits === 8 ? 2 : 3 };
      pending.set(name, entry);
    }
    const values = pick(entry.matrix);
    if (--entry.parts === 0) pending.delete(name);
    return values;
  };
  const tensors: TensorSource[] = [];
  for (const name of checkpoint.tensorNames) {
    const shape = checkpoint.shape(name);
    if (!isQuantizedProjection(name)) {
      tensors.push({ name, shape, dtype: floatDtype(checkpoint.dtype(name)), values: () => checkpoint.read(name) });
      continue;
    }
    const [rows, cols] = shape;
    if (shape.length !== 2) throw new HaloError('ERR_MODEL_FILE', `${checkpoint.directory}: tensor ${name} has shape [${shape.join(', ')}], expected [out, in]`, { fix: 'the checkpoint is damaged; re-save it' });
    if (bits === 4 && cols % groupSize !== 0) {
      throw new HaloError('ERR_OPTIMIZE_GROUP_SIZE', `--group-size ${groupSize} does not divide ${name}'s input size ${cols}`, { fix: 'pick a group size (a multiple of 16) that divides every projection\'s input size, e.g. 32 or 64' });
    }
    const scaleName = name.replace(/\.weight$/, '.weight_scale');
    if (bits === 8) {
      tensors.push({ name, shape: [rows, cols], dtype: 'I8', values: part(name, (m) => m.data) });
      tensors.push({ name: scaleName, shape: [rows], dtype: 'F32', values: part(name, (m) => m.scale) });
    } else {
      const groups = cols / groupSize;
      tensors.push({ name, shape: [rows, cols / 2], dtype: 'U8', values: part(name, (m) => m.data) });
      tensors.push({ name: scaleName, shape: [rows, groups], dtype: 'F16', values: part(name, (m) => m.scale) });
      tensors.push({ name: name.replace(/\.weight$/, '.weight_min'), shape: [rows, groups], dtype: 'F16', values: part(name, (m) => m.min ?? new Float32Array(0)) });
    }
  }
  return tensors;
}

/** config.json of the optimized folder (`quantMethod`: the engine's name for this format). */
export function optimizedConfig(config: Record<string, unknown>, precision: OptimizePrecision, groupSize: number, quantMethod: string): Record<string, unknown> {
  if (precision === 'fp16') return { ...config, torch_dtype: 'float16' };
  const bits = precision === 'int8' ? 8 : 4;
  return {
    ...config,
    quantization_config: {
      quant_method: quantMethod,
      bits,
      group_size: bits === 8 ? -1 : groupSize,
      symmetric: bits === 8,
      modules: [...QUANTIZED_MODULES],
      format_version: 1,
    },
  };
}
