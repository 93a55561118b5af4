/**
 * Finds and loads halo_forge.node: HALO_FORGE_BINARY, then a local build, then
 * prebuilds/<platform>-<arch>-<backend>/. Every failure is a HaloError with a stable code and a fix.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { HaloError } from '../util/errors.js';
import { describeTried, LIBTORCH_INSTALL_FIX, locateLibtorch, majorMinor, readLibtorchVersion, type Backend } from './libtorch-locate.js';
import type { NativeAddon } from './native-types.js';

export interface BuildMetadata {
  builder: string;
  libtorch: { version: string; root: string; torchDir?: string };
  backend: Backend;
  gpuRuntimeVersion: string;
  gpuArchList: string;
  compiler: string;
  platform?: string;
}

export interface LoadedBinary {
  path: string;
  source: 'HALO_FORGE_BINARY' | 'local build' | 'prebuild';
  metadata: BuildMetadata | null;
  threads: number;
  addon: NativeAddon;
}

/** The package root: dist/src/engine/load.js is three levels below it. */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
}

interface Candidate {
  path: string;
  source: LoadedBinary['source'];
}

function candidateBinaries(env: NodeJS.ProcessEnv): { chosen: Candidate | null; tried: string[] } {
  const tried: string[] = [];
  const explicit = env.HALO_FORGE_BINARY;
  if (explicit) {
    const path = resolve(explicit);
    if (!existsSync(path)) {
      throw new HaloError('ERR_NO_BINARY', `HALO_FORGE_BINARY points to ${path}, which does not exist`, {
        fix: 'unset HALO_FORGE_BINARY to use the local build, or point it at a built halo_forge.node',
        details: { path },
      });
    }
    return { chosen: { path, source: 'HALO_FORGE_BINARY' }, tried: [path] };
  }
  const root = packageRoot();
  // cmake-js (primary) builds into build-cmake/, node-gyp into build/.
  for (const local of [join(root, 'build-cmake/Release/halo_forge.node'), join(root, 'build/Release/halo_forge.node')]) {
    tried.push(local);
    if (existsSync(local)) return { chosen: { path: local, source: 'local build' }, tried };
  }
  const backends: Backend[] = env.HALO_FORGE_BACKEND ? [env.HALO_FORGE_BACKEND as Backend] : ['cuda', 'rocm', 'cpu'];
  for (const backend of backends) {
    const prebuild = join(root, 'prebuilds', `${process.platform}-${process.arch}-${backend}`, 'halo_forge.node');
    tried.push(prebuild);
    if (existsSync(prebuild)) return { chosen: { path: prebuild, source: 'prebuild' }, tried };
  }
  return { chosen: null, tried };
}

function readMetadata(binaryPath: string): BuildMetadata | null {
  const path = join(dirname(binaryPath), 'build-metadata.json');
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BuildMetadata;
  } catch {
    return null;
  }
}

/** Before dlopen: is the libtorch this binary was built for still there, at the same version? */
function checkLibtorch(metadata: BuildMetadata, env: NodeJS.ProcessEnv): void {
  const builtVersion = metadata.libtorch.version;
  const presentVersion = existsSync(metadata.libtorch.root) ? readLibtorchVersion(metadata.libtorch.root, metadata.libtorch.torchDir) : null;
  if (presentVersion) {
    if (builtVersion && majorMinor(presentVersion) !== majorMinor(builtVersion)) {
      throw new HaloError('ERR_LIBTORCH_VERSION', `the addon was built for libtorch ${builtVersion}, but ${metadata.libtorch.root} now holds libtorch ${presentVersion}`, {
        fix: 'rebuild the addon against the installed libtorch: `npm run build:native`',
        details: { built: builtVersion, found: presentVersion },
      });
    }
    return;
  }
  const located = locateLibtorch(env);
  if (!located.install) {
    throw new HaloError('ERR_LIBTORCH_NOT_FOUND', `libtorch not found (the addon was built against ${metadata.libtorch.root}). Tried:\n${describeTried(located.tried)}`, {
      fix: LIBTORCH_INSTALL_FIX,
      details: { tried: located.tried },
    });
  }
  if (majorMinor(located.install.version) !== majorMinor(builtVersion)) {
    throw new HaloError('ERR_LIBTORCH_VERSION', `the addon was built for libtorch ${builtVersion}, found libtorch ${located.install.version} at ${located.install.root}`, {
      fix: 'rebuild the addon against the installed libtorch: `npm run build:native`',
      details: { built: builtVersion, found: located.install.version },
    });
  }
  if (located.install.backend !== metadata.backend) {
    throw new HaloError('ERR_LIBTORCH_BACKEND', `the addon was built for a ${metadata.backend} libtorch, found a ${located.install.backend} libtorch at ${located.install.root}`, {
      fix: `rebuild with \`npm run build:native\`, or point HALO_FORGE_LIBTORCH at a ${metadata.backend} libtorch`,
    });
  }
}

function explainLoadFailure(path: string, error: Error, env: NodeJS.ProcessEnv): HaloError {
  const message = error.message;
  const missing = /([^\s:]+\.so[.\d]*): cannot open shared object file/.exec(message)?.[1];
  if (missing && /^(libtorch|libc10|libtorch_cpu|libtorch_cuda|libtorch_hip)/.test(missing)) {
    const located = locateLibtorch(env);
    return new HaloError('ERR_LIBTORCH_NOT_FOUND', `loading ${path} failed: ${missing} not found. Tried:\n${describeTried(located.tried)}`, {
      fix: located.install
        ? `libtorch is at ${located.install.libDir}: rebuild (\`npm run build:native\`) or add it to LD_LIBRARY_PATH`
        : LIBTORCH_INSTALL_FIX,
      cause: error,
    });
  }
  let hint = 'rebuild the addon with `npm run build:native`';
  if (missing && /blas|lapack/.test(missing)) hint = 'install an optimised BLAS: `sudo apt-get install libopenblas0-openmp`';
  else if (missing && /cudart|cublas|cudnn|nvrtc/.test(missing)) hint = 'this binary needs the CUDA runtime libraries: install the CUDA toolkit matching the libtorch, or use the cpu build';
  else if (missing && /amdhip|rocblas|hipblas|MIOpen/.test(missing)) hint = 'this binary needs ROCm: install ROCm matching the libtorch, or use the cpu build';
  else if (/undefined symbol/.test(message)) hint = 'the addon and the libtorch on this machine do not match: rebuild with `npm run build:native`';
  else if (/wrong ELF class|invalid ELF header/.test(message)) hint = `the binary is for another platform; this is ${process.platform}-${process.arch}`;
  return new HaloError('ERR_NATIVE_LOAD', `loading ${path} failed: ${message}`, { fix: hint, cause: error });
}

/** Intra-op threads: HALO_FORGE_THREADS, then OMP_NUM_THREADS, then every available core. */
export function resolveThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  for (const name of ['HALO_FORGE_THREADS', 'OMP_NUM_THREADS'] as const) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new HaloError('ERR_INVALID_ENV', `${name}=${value} is not a positive integer`, { fix: `set ${name} to a thread count such as 4, or unset it` });
    }
    return parsed;
  }
  return availableParallelism();
}

let cached: LoadedBinary | null = null;

export function loadNative(env: NodeJS.ProcessEnv = process.env): LoadedBinary {
  if (cached && env === process.env) return cached;
  const { chosen, tried } = candidateBinaries(env);
  if (!chosen) {
    throw new HaloError('ERR_NO_BINARY', `no halo_forge.node found. Looked at:\n${tried.map((path) => `  - ${path}`).join('\n')}`, {
      fix: 'build it with `npm run build:native` (or `bash scripts/bootstrap`), or set HALO_FORGE_BINARY to a built addon',
      details: { tried },
    });
  }
  const metadata = readMetadata(chosen.path);
  if (metadata) checkLibtorch(metadata, env);
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(chosen.path) as NativeAddon;
  } catch (error) {
    throw explainLoadFailure(chosen.path, error as Error, env);
  }
  const threads = resolveThreadCount(env);
  addon.setThreads(threads);
  const loaded: LoadedBinary = { path: chosen.path, source: chosen.source, metadata, threads, addon };
  if (env === process.env) cached = loaded;
  return loaded;
}
