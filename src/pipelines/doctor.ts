/**
 * `halo-forge doctor`: everything halo-forge needs from this machine, each checked and given a fix.
 * A failed required check makes the report fail; warnings are things that only some features need.
 */
import { existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { BLAS_FIX } from '../engine/blas.js';
import { engineInfo, matmulSelfTest, type EngineInfo } from '../engine/runtime.js';
import { huggingFaceHubCache } from '../data/hub-paths.js';
import { HaloError, isCodedError } from '../util/errors.js';
import { BUBBLEWRAP_FIX, probeBubblewrap } from '../verifiers/bwrap-probe.js';
import { detectToolchains, type ToolchainName } from '../verifiers/toolchains.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
  node: string;
  libtorch: { path: string | null; version: string | null; backend: string | null; binary: string | null };
  blas: { name: string; library: string | null; matmul1024Gflops: number | null } | string;
  threads: { intraOp: number | null; interOp: number | null };
  devices: EngineInfo['devices'];
  sandbox: { bubblewrap: string | null; probe: boolean; detail: string };
  toolchains: Record<ToolchainName, string | null>;
  hfCache: { path: string; freeBytes: number | null };
}

/** Toolchains the verifiers need for their core suites; the rest are optional (warn only). */
const REQUIRED_TOOLCHAINS: ToolchainName[] = ['gcc', 'g++', 'python3'];
const TOOLCHAIN_FIXES: Record<ToolchainName, string> = {
  gcc: 'sudo apt-get install gcc', 'g++': 'sudo apt-get install g++', clang: 'sudo apt-get install clang',
  'x86_64-w64-mingw32-g++': 'sudo apt-get install mingw-w64', rustc: 'sudo apt-get install rustc (or rustup)',
  cargo: 'sudo apt-get install cargo (or rustup)', go: 'sudo apt-get install golang-go', python3: 'sudo apt-get install python3',
  pytest: 'sudo apt-get install python3-pytest', dotnet: 'install the .NET SDK (packages.microsoft.com, or the dotnet-install script)',
  pwsh: 'install PowerShell (packages.microsoft.com)',
};

/** Reference BLAS gives ~7 GFLOP/s here; OpenBLAS ~180. Anything under this is not an optimised BLAS. */
const MIN_BLAS_GFLOPS = 20;

function freeBytesAt(path: string): number | null {
  let probe = path;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    const stats = statfsSync(probe);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

export function runDoctor(): DoctorReport {
  const checks: DoctorCheck[] = [];
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  checks.push(nodeMajor >= 20
    ? { name: 'node', status: 'ok', detail: `Node ${process.versions.node}` }
    : { name: 'node', status: 'fail', detail: `Node ${process.versions.node} is too old`, fix: 'install Node.js 20 or newer' });

  let info: EngineInfo | null = null;
  let gflops: number | null = null;
  try {
    info = engineInfo();
    checks.push({ name: 'native addon', status: 'ok', detail: `${info.binaryPath} (${info.binarySource})` });
    checks.push({ name: 'libtorch', status: 'ok', detail: `libtorch ${info.torchVersion}, backend ${info.backend}${info.build ? `, at ${info.build.libtorch.root}` : ''}` });
    const selfTest = matmulSelfTest(1024, 5, 0);
    gflops = selfTest.gflops;
    if (!selfTest.ok) checks.push({ name: 'matmul self-test', status: 'fail', detail: `max abs error ${selfTest.maxAbsError} vs float64`, fix: 'the BLAS returns wrong results: reinstall libopenblas0-openmp' });
    else checks.push({ name: 'matmul self-test', status: 'ok', detail: `1024x1024 fp32 in ${selfTest.bestMs.toFixed(1)} ms (${selfTest.gflops.toFixed(1)} GFLOP/s)` });
    if (info.blas.name === 'reference' || gflops < MIN_BLAS_GFLOPS) {
      checks.push({ name: 'blas', status: 'fail', detail: `${info.blas.name} BLAS (${info.blas.library ?? 'unknown library'}) at ${gflops.toFixed(1)} GFLOP/s: matmuls run ~25x slower than with OpenBLAS`, fix: BLAS_FIX });
    } else {
      checks.push({ name: 'blas', status: 'ok', detail: `${info.blas.name} (${info.blas.library ?? 'library path unknown'})` });
    }
    checks.push({ name: 'threads', status: 'ok', detail: `${info.intraOpThreads} intra-op, ${info.interOpThreads} inter-op (HALO_FORGE_THREADS overrides)` });
    if (info.backend !== 'cpu') {
      checks.push(info.devices.length > 0
        ? { name: 'gpu', status: 'ok', detail: info.devices.map((d) => `${d.index}: ${d.name} ${(d.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB (${(d.freeMemoryBytes / 2 ** 30).toFixed(1)} free)`).join('; ') }
        : { name: 'gpu', status: 'fail', detail: `built for ${info.backend} but no device is visible`, fix: 'check the driver (nvidia-smi / rocm-smi) and CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES' });
    } else {
      checks.push({ name: 'gpu', status: 'ok', detail: 'cpu build (no GPU backend)' });
    }
  } catch (error) {
    const code = isCodedError(error) ? error.code : 'ERR_UNKNOWN';
    checks.push({ name: 'native addon', status: 'fail', detail: `[${code}] ${(error as Error).message}`, fix: error instanceof HaloError ? error.fix : 'run `bash scripts/bootstrap`' });
  }

  const bubblewrap = probeBubblewrap();
  checks.push(bubblewrap.works
    ? { name: 'sandbox', status: 'ok', detail: `bubblewrap ${bubblewrap.version}: ${bubblewrap.detail}` }
    : { name: 'sandbox', status: 'fail', detail: `bubblewrap ${bubblewrap.version ?? 'missing'}: ${bubblewrap.detail}`, fix: BUBBLEWRAP_FIX });

  const toolchains = detectToolchains();
  for (const [name, version] of Object.entries(toolchains) as [ToolchainName, string | null][]) {
    const required = REQUIRED_TOOLCHAINS.includes(name);
    if (version) checks.push({ name: `toolchain ${name}`, status: 'ok', detail: version });
    else checks.push({ name: `toolchain ${name}`, status: required ? 'fail' : 'warn', detail: `not found${required ? '' : ' (only its verifier needs it)'}`, fix: TOOLCHAIN_FIXES[name] });
  }

  const cachePath = huggingFaceHubCache();
  const freeBytes = freeBytesAt(cachePath);
  const lowDisk = freeBytes !== null && freeBytes < 5 * 2 ** 30;
  checks.push({ name: 'hf cache', status: lowDisk ? 'warn' : 'ok', detail: `${cachePath}: ${freeBytes === null ? 'free space unknown' : `${(freeBytes / 2 ** 30).toFixed(1)} GiB free`}`, ...(lowDisk ? { fix: 'free disk space or point HF_HUB_CACHE at a larger disk' } : {}) });

  return {
    ok: checks.every((check) => check.status !== 'fail'),
    checks,
    node: process.versions.node,
    libtorch: { path: info?.build?.libtorch.root ?? null, version: info?.torchVersion ?? null, backend: info?.backend ?? null, binary: info?.binaryPath ?? null },
    blas: info ? { name: info.blas.name, library: info.blas.library, matmul1024Gflops: gflops } : 'unavailable',
    threads: { intraOp: info?.intraOpThreads ?? null, interOp: info?.interOpThreads ?? null },
    devices: info?.devices ?? [],
    sandbox: { bubblewrap: bubblewrap.version, probe: bubblewrap.works, detail: bubblewrap.detail },
    toolchains,
    hfCache: { path: cachePath, freeBytes },
  };
}
