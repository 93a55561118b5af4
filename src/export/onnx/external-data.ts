/**
 * Writing an ONNX model, with its weights in an external-data side file when they would push the
 * protobuf past its 2 GB limit. ONNX external data: each moved initializer gets data_location EXTERNAL
 * and external_data entries location (relative to the model's folder) / offset / length; offsets are
 * multiples of 4096, as optimum and onnx write them, so runtimes can mmap the file.
 */
import { existsSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { StringStringEntryProtoSchema, TensorProto_DataLocation, type ModelProto } from 'onnx-buf';
import { AtomicFileStream } from '../../util/atomic-stream.js';
import { HaloError } from '../../util/errors.js';
import { serializeModel } from './builder.js';

export const PROTOBUF_LIMIT = 2 ** 31 - 1;
/** Weights past this many bytes go to an external-data file: the protobuf limit less room for the graph. */
export const EXTERNAL_DATA_THRESHOLD = PROTOBUF_LIMIT - (64 << 20);
/** Initializers smaller than this stay in the model file (onnx's own default size threshold). */
const EXTERNAL_MIN_BYTES = 1024;
const EXTERNAL_ALIGNMENT = 4096;

/** Moves the initializers of at least EXTERNAL_MIN_BYTES out of `model`; returns the side file's chunks in order. */
export function moveToExternalData(model: ModelProto, location: string): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph?.initializer ?? []) {
    const length = tensor.rawData.byteLength;
    if (length < EXTERNAL_MIN_BYTES) continue;
    const padding = (EXTERNAL_ALIGNMENT - (offset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
    if (padding > 0) chunks.push(new Uint8Array(padding));
    offset += padding;
    chunks.push(tensor.rawData);
    tensor.externalData = [
      create(StringStringEntryProtoSchema, { key: 'location', value: location }),
      create(StringStringEntryProtoSchema, { key: 'offset', value: String(offset) }),
      create(StringStringEntryProtoSchema, { key: 'length', value: String(length) }),
    ];
    tensor.dataLocation = TensorProto_DataLocation.EXTERNAL;
    tensor.rawData = new Uint8Array(0);
    offset += length;
  }
  return chunks;
}

export interface WrittenOnnxFiles {
  /** model file + side file */
  bytes: number;
  externalData?: string;
}

/**
 * Writes `model` to `path`; when its weights pass `threshold` bytes they go to `<path>.data`. Both files
 * are written to temp files first and renamed only when both are complete (the side file first, the
 * model that refers to it last); on failure neither new file is left behind. A side file left by an
 * earlier export under the same name is removed when this one needs none.
 */
export function writeOnnxModel(path: string, model: ModelProto, weightBytes: number, threshold = EXTERNAL_DATA_THRESHOLD): WrittenOnnxFiles {
  const dataPath = `${path}.data`;
  const external = weightBytes > threshold;
  const chunks = external ? moveToExternalData(model, basename(dataPath)) : [];
  const bytes = serializeModel(model);
  if (bytes.byteLength > PROTOBUF_LIMIT) {
    throw new HaloError('ERR_ONNX_TOO_LARGE', `${path}: the ONNX graph alone is ${bytes.byteLength} bytes, past the 2 GB protobuf limit`, { fix: 'report this model as a bug: its graph (not its weights) is too large' });
  }
  const streams: AtomicFileStream[] = [];
  let committedData = false;
  try {
    if (external) {
      const data = new AtomicFileStream(dataPath);
      streams.push(data);
      for (const chunk of chunks) data.write(chunk);
    }
    const modelStream = new AtomicFileStream(path);
    streams.push(modelStream);
    modelStream.write(bytes);
    if (external) {
      streams[0].commit();
      committedData = true;
    }
    modelStream.commit();
  } catch (error) {
    for (const stream of streams) stream.abort();
    if (committedData) rmSync(dataPath, { force: true });
    throw error;
  }
  if (!external && existsSync(dataPath)) rmSync(dataPath, { force: true });
  const dataBytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  return { bytes: bytes.byteLength + dataBytes, ...(external ? { externalData: dataPath } : {}) };
}
