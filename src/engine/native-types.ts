/** The shape of halo_forge.node as seen from TypeScript. Only src/engine/ imports this. */

export interface NativeDeviceInfo {
  index: number;
  name: string;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
}

export interface NativeRuntimeInfo {
  torchVersion: string;
  torchVersionMajor: number;
  torchVersionMinor: number;
  backend: 'cpu' | 'cuda' | 'rocm';
  intraOpThreads: number;
  interOpThreads: number;
  gpuAvailable: boolean;
  parallelInfo: string;
  devices: NativeDeviceInfo[];
}

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

export interface NativeMatmulTiming {
  n: number;
  iterations: number;
  bestMs: number;
  medianMs: number;
  gflops: number;
  maxAbsError: number;
}

/** ModelConfig with every field resolved (see types.ts); passed as is to the NativeModel constructor. */
export type NativeModelConfig = import('./types.js').ModelConfig;

export interface NativeGenerateRequest {
  prompts: number[][];
  n: number;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  stopTokenIds: number[];
  seed: number;
}

export interface NativeGenerateHandle {
  promise: Promise<import('./types.js').GenerateResult>;
  cancel(): void;
}

export interface NativeModel {
  generate(request: NativeGenerateRequest, onProgress?: (progress: import('./types.js').GenerateProgress) => void): NativeGenerateHandle;
  logits(tokens: number[][], positions: number[][]): Promise<Float32Array[]>;
  score(contexts: number[][], continuations: number[][]): Promise<{ logprob: number; greedy: boolean }[]>;
  prefillCount(): number;
  parameterCount(): number;
  dispose(): void;
}

export interface NativeAddon {
  NativeModel: new (config: NativeModelConfig, files: string[], device: string, dtype: 'fp32' | 'bf16' | 'fp16') => NativeModel;
  abiVersion: number;
  info(): NativeRuntimeInfo;
  setThreads(threads: number): void;
  matmul(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[]): NativeTensor;
  timeMatmul(n: number, iterations: number, seed: number): NativeMatmulTiming;
  /** libzstd (native/napi/zstd.cc); absent from builds older than it. Throws code ERR_ZSTD. */
  zstdDecompress?(input: Uint8Array, outputLength: number, into?: Uint8Array): Uint8Array;
  zstdVersion?: string;
}
