/**
 * Finds a libtorch installation, in the documented order, recording every step that was tried:
 *   1. HALO_FORGE_LIBTORCH / LIBTORCH (a libtorch root)
 *   2. Torch_DIR / CMAKE_PREFIX_PATH
 *   3. LIBTORCH_USE_PYTORCH=1 (python3's torch.utils.cmake_prefix_path)
 *   4. system paths (Debian /usr/lib/<multiarch>/cmake/Torch, /usr/local/libtorch, /opt/libtorch)
 * Used by the native build (scripts/find-libtorch.js) and by the runtime loader.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';

export type Backend = 'cpu' | 'cuda' | 'rocm';

export interface LibtorchInstall {
  /** The install prefix: include/ and lib/ live under it. */
  root: string;
  /** The folder holding TorchConfig.cmake. */
  torchDir: string;
  /** The folder holding libtorch_cpu.so. */
  libDir: string;
  version: string;
  backend: Backend;
  /** Which step found it. */
  source: string;
}

export interface LocateStep {
  step: string;
  detail: string;
  found: boolean;
}

export interface LocateResult {
  install: LibtorchInstall | null;
  tried: LocateStep[];
}

export function multiarchTriplet(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  return `${arch}-linux-gnu`;
}

const TORCH_CONFIG_SUBDIRS = ['share/cmake/Torch', 'lib/cmake/Torch', `lib/${multiarchTriplet()}/cmake/Torch`];

/** The libtorch version of a root: torch/version.h, then build-version, then TorchConfigVersion.cmake. */
export function readLibtorchVersion(root: string, torchDir?: string): string | null {
  const header = join(root, 'include/torch/csrc/api/include/torch/version.h');
  if (existsSync(header)) {
    const text = readFileSync(header, 'utf8');
    const major = /#define TORCH_VERSION_MAJOR (\d+)/.exec(text)?.[1];
    const minor = /#define TORCH_VERSION_MINOR (\d+)/.exec(text)?.[1];
    const patch = /#define TORCH_VERSION_PATCH (\d+)/.exec(text)?.[1];
    if (major && minor && patch) return `${major}.${minor}.${patch}`;
  }
  const buildVersion = join(root, 'build-version');
  if (existsSync(buildVersion)) return readFileSync(buildVersion, 'utf8').trim();
  if (torchDir) {
    const versionFile = join(torchDir, 'TorchConfigVersion.cmake');
    if (existsSync(versionFile)) {
      const match = /set\(PACKAGE_VERSION "([^"]+)"\)/.exec(readFileSync(versionFile, 'utf8'));
      if (match?.[1]) return match[1];
    }
  }
  return null;
}

function findLibDir(root: string): string | null {
  for (const candidate of [join(root, 'lib'), join(root, 'lib', multiarchTriplet())]) {
    if (existsSync(join(candidate, 'libtorch_cpu.so')) || existsSync(join(candidate, 'libtorch.so'))) return candidate;
  }
  return null;
}

function detectBackend(libDir: string): Backend {
  if (existsSync(join(libDir, 'libtorch_hip.so'))) return 'rocm';
  if (existsSync(join(libDir, 'libtorch_cuda.so'))) return 'cuda';
  return 'cpu';
}

/** TorchConfig.cmake lives in <root>/share/cmake/Torch (or lib/cmake, lib/<multiarch>/cmake). */
function rootFromTorchDir(torchDir: string): string {
  const parts = resolve(torchDir).split('/');
  // .../share/cmake/Torch -> strip 3; .../lib/<triplet>/cmake/Torch -> strip 4
  const stripped = parts[parts.length - 3] === multiarchTriplet() ? 4 : 3;
  return parts.slice(0, parts.length - stripped).join('/') || '/';
}

function inspectTorchDir(torchDir: string, source: string): { install: LibtorchInstall | null; detail: string } {
  if (!existsSync(join(torchDir, 'TorchConfig.cmake'))) return { install: null, detail: `${torchDir}: no TorchConfig.cmake` };
  const root = rootFromTorchDir(torchDir);
  const libDir = findLibDir(root);
  if (!libDir) return { install: null, detail: `${torchDir}: TorchConfig.cmake present but no libtorch_cpu.so under ${root}/lib` };
  const version = readLibtorchVersion(root, torchDir);
  if (!version) return { install: null, detail: `${root}: cannot read the libtorch version` };
  return { install: { root, torchDir: resolve(torchDir), libDir, version, backend: detectBackend(libDir), source }, detail: `${torchDir}: libtorch ${version}` };
}

function inspectRoot(root: string, source: string): { install: LibtorchInstall | null; detail: string } {
  if (!existsSync(root)) return { install: null, detail: `${root}: does not exist` };
  for (const sub of TORCH_CONFIG_SUBDIRS) {
    const torchDir = join(root, sub);
    if (existsSync(join(torchDir, 'TorchConfig.cmake'))) return inspectTorchDir(torchDir, source);
  }
  return { install: null, detail: `${root}: no TorchConfig.cmake under ${TORCH_CONFIG_SUBDIRS.join(', ')}` };
}

function pythonTorchPrefix(): { prefix: string | null; detail: string } {
  try {
    const out = execFileSync('python3', ['-c', 'import torch;print(torch.utils.cmake_prefix_path)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    return { prefix: out.trim(), detail: `python3 torch.utils.cmake_prefix_path = ${out.trim()}` };
  } catch (error) {
    return { prefix: null, detail: `python3 could not import torch (${(error as Error).message.split('\n')[0]})` };
  }
}

export function locateLibtorch(env: NodeJS.ProcessEnv = process.env): LocateResult {
  const tried: LocateStep[] = [];
  const attempt = (step: string, outcome: { install: LibtorchInstall | null; detail: string }): LibtorchInstall | null => {
    tried.push({ step, detail: outcome.detail, found: outcome.install !== null });
    return outcome.install;
  };

  for (const name of ['HALO_FORGE_LIBTORCH', 'LIBTORCH'] as const) {
    const value = env[name];
    if (value) {
      const install = attempt(name, inspectRoot(value, name));
      if (install) return { install, tried };
    } else tried.push({ step: name, detail: 'not set', found: false });
  }

  if (env.Torch_DIR) {
    const install = attempt('Torch_DIR', inspectTorchDir(env.Torch_DIR, 'Torch_DIR'));
    if (install) return { install, tried };
  } else tried.push({ step: 'Torch_DIR', detail: 'not set', found: false });

  if (env.CMAKE_PREFIX_PATH) {
    for (const entry of env.CMAKE_PREFIX_PATH.split(':').filter(Boolean)) {
      const outcome = existsSync(join(entry, 'TorchConfig.cmake')) ? inspectTorchDir(entry, 'CMAKE_PREFIX_PATH') : inspectRoot(entry, 'CMAKE_PREFIX_PATH');
      const install = attempt('CMAKE_PREFIX_PATH', outcome);
      if (install) return { install, tried };
    }
  } else tried.push({ step: 'CMAKE_PREFIX_PATH', detail: 'not set', found: false });

  if (env.LIBTORCH_USE_PYTORCH === '1') {
    const python = pythonTorchPrefix();
    if (python.prefix) {
      const install = attempt('LIBTORCH_USE_PYTORCH', inspectTorchDir(join(python.prefix, 'Torch'), 'LIBTORCH_USE_PYTORCH'));
      if (install) return { install, tried };
    } else tried.push({ step: 'LIBTORCH_USE_PYTORCH', detail: python.detail, found: false });
  } else tried.push({ step: 'LIBTORCH_USE_PYTORCH', detail: 'not set to 1', found: false });

  const systemDirs = [`/usr/lib/${multiarchTriplet()}/cmake/Torch`, '/usr/local/libtorch/share/cmake/Torch', '/opt/libtorch/share/cmake/Torch'];
  for (const torchDir of systemDirs) {
    const install = attempt('system', inspectTorchDir(torchDir, 'system'));
    if (install) return { install, tried };
  }
  return { install: null, tried };
}

/** "1.13.0" -> "1.13": binaries are compatible within a major.minor release. */
export function majorMinor(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

export function describeTried(tried: LocateStep[]): string {
  return tried.map((step) => `  - ${step.step}: ${step.detail}`).join('\n');
}

export const LIBTORCH_INSTALL_FIX =
  'install libtorch: on Debian/Ubuntu run `sudo apt-get install libtorch-dev libopenblas0-openmp` (or `bash scripts/bootstrap`); ' +
  'for CUDA/ROCm point HALO_FORGE_LIBTORCH at an unpacked libtorch, or set LIBTORCH_USE_PYTORCH=1 to use the one inside python3 torch';

