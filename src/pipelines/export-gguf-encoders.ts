/**
 * Plugs the addon's block quantizers (engine/ggml-quant.ts) into the GGUF writer's encoder registry
 * (export/gguf/format.ts); the export layer itself never touches the addon.
 */
import { ggmlQuantize, NATIVE_GGML_TYPES } from '../engine/ggml-quant.js';
import { registerTensorEncoder, type GgmlType } from '../export/gguf/format.js';

let registered = false;

export function registerNativeGgufEncoders(): void {
  if (registered) return;
  for (const type of NATIVE_GGML_TYPES) {
    registerTensorEncoder(type as GgmlType, (values, rowLength) => ggmlQuantize(type, values, rowLength));
  }
  registered = true;
}
