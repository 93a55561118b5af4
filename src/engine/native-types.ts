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

export interface NativeAddon {
  abiVersion: number;
  info(): NativeRuntimeInfo;
  setThreads(threads: number): void;
  matmul(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[]): NativeTensor;
  timeMatmul(n: number, iterations: number, seed: number): NativeMatmulTiming;
}
