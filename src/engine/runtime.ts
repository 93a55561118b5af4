/** The engine's view of the runtime: info, thread count, a matmul self-test, device resolution. */
import { HaloError } from '../util/errors.js';
import { detectBlas, type BlasInfo } from './blas.js';
import { loadNative, type BuildMetadata } from './load.js';
import type { NativeMatmulTiming, NativeRuntimeInfo, NativeTensor } from './native-types.js';

export interface EngineInfo extends NativeRuntimeInfo {
  binaryPath: string;
  binarySource: string;
  build: BuildMetadata | null;
  blas: BlasInfo;
}

export function engineInfo(): EngineInfo {
  const loaded = loadNative();
  const info = loaded.addon.info();
  // One small matmul makes sure the BLAS library is actually mapped before we look for it.
  loaded.addon.timeMatmul(64, 1, 0);
  return { ...info, binaryPath: loaded.path, binarySource: loaded.source, build: loaded.metadata, blas: detectBlas() };
}

/** Total and free memory of each GPU as the driver reports it now (device-wide, every process); empty on CPU-only builds. */
export function gpuMemory(): { index: number; name: string; totalMemoryBytes: number; freeMemoryBytes: number }[] {
  return loadNative().addon.info().devices.map((device) => ({ ...device }));
}

/** libtorch's intra-op thread count for this process (every model); returns the previous count. */
export function setIntraOpThreads(threads: number): number {
  const addon = loadNative().addon;
  const previous = addon.info().intraOpThreads;
  addon.setThreads(threads);
  return previous;
}

export function intraOpThreads(): number {
  return loadNative().addon.info().intraOpThreads;
}

export interface SelfTestResult extends NativeMatmulTiming {
  ok: boolean;
}

/** Times an n x n fp32 matmul through the addon and checks it against a float64 reference. */
export function matmulSelfTest(n = 1024, iterations = 10, seed = 0): SelfTestResult {
  const timing = loadNative().addon.timeMatmul(n, iterations, seed);
  // fp32 accumulation over n terms of N(0,1) products: error grows like sqrt(n) * eps * |values|.
  const tolerance = 1e-4 * Math.sqrt(n) * 10;
  return { ...timing, ok: timing.maxAbsError <= tolerance };
}

export function matmul(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[]): NativeTensor {
  return loadNative().addon.matmul(a, aShape, b, bShape);
}

export type DeviceSpec = 'cpu' | `cuda` | `cuda:${number}`;

/** Validates a device string against what this binary and machine offer. */
export function resolveDevice(device: string): { type: 'cpu' | 'cuda'; index: number } {
  if (device === 'cpu') return { type: 'cpu', index: 0 };
  const match = /^cuda(?::(\d+))?$/.exec(device);
  if (!match) {
    throw new HaloError('ERR_INVALID_DEVICE', `unknown device "${device}"`, { fix: 'use cpu, cuda or cuda:N (ROCm GPUs are cuda too)' });
  }
  const index = match[1] === undefined ? 0 : Number(match[1]);
  const info = loadNative().addon.info();
  if (info.backend === 'cpu') {
    throw new HaloError('ERR_BACKEND_UNAVAILABLE', `device ${device} asked for, but this halo_forge.node was built for cpu`, {
      fix: 'build against a CUDA or ROCm libtorch (HALO_FORGE_LIBTORCH=/path/to/libtorch npm run build:native, or LIBTORCH_USE_PYTORCH=1), or use --device cpu',
    });
  }
  if (!info.gpuAvailable || index >= info.devices.length) {
    throw new HaloError('ERR_BACKEND_UNAVAILABLE', `device ${device} asked for, but ${info.devices.length} GPU(s) are visible`, {
      fix: 'check the driver (nvidia-smi / rocm-smi) and CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES, or use --device cpu',
    });
  }
  return { type: 'cuda', index };
}
