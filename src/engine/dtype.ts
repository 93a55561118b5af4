/** Resolves `dtype: auto`: bf16 on GPUs and on CPUs with AVX-512 BF16 or AMX, fp32 elsewhere. */
import { readFileSync } from 'node:fs';
import type { DType, DTypeOption } from './types.js';

export function cpuHasFastBf16(cpuinfo?: string): boolean {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return false;
    }
  }
  const flags = /^flags\s*:(.*)$/m.exec(text)?.[1].split(/\s+/) ?? [];
  return flags.includes('avx512_bf16') || flags.includes('amx_bf16');
}

export function resolveDType(option: DTypeOption, deviceType: 'cpu' | 'cuda'): DType {
  if (option !== 'auto') return option;
  if (deviceType === 'cuda') return 'bf16';
  return cpuHasFastBf16() ? 'bf16' : 'fp32';
}
