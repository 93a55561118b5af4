#!/usr/bin/env node
// Builds build/Release/halo_forge.node with cmake-js against the libtorch that scripts/find-libtorch.js finds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'dist/src/engine/libtorch-locate.js'))) {
  console.error('build-native: run `npm run build:ts` first (the libtorch finder is TypeScript)');
  process.exit(1);
}
const { locateLibtorch, describeTried, LIBTORCH_INSTALL_FIX } = await import('../dist/src/engine/libtorch-locate.js');
const { install, tried } = locateLibtorch();
if (!install) {
  console.error(`build-native: libtorch not found. Tried:\n${describeTried(tried)}\nfix: ${LIBTORCH_INSTALL_FIX}`);
  process.exit(1);
}
console.log(`build-native: libtorch ${install.version} (${install.backend}) at ${install.root} [found via ${install.source}]`);

const env = { ...process.env };
// Use this Node's own headers when they are installed, so nothing is downloaded.
const localHeaders = resolve(dirname(process.execPath), '..');
if (!env.npm_config_nodedir && existsSync(join(localHeaders, 'include/node/node_api.h'))) env.npm_config_nodedir = localHeaders;

const hasNinja = spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0;
const args = [
  join(root, 'node_modules/cmake-js/bin/cmake-js'), 'compile',
  '--directory', root, '--out', join(root, 'build-cmake'), '--config', 'Release',
  '--parallel', String(Number(env.HALO_FORGE_BUILD_JOBS) || availableParallelism()),
  `--CDTorch_DIR=${install.torchDir}`,
  ...(hasNinja ? ['--generator', 'Ninja'] : []),
  ...(env.CI ? ['--log-level', 'warn'] : []),
];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env, cwd: root });
if (result.status !== 0) {
  console.error('build-native: the native build failed (see the compiler output above)');
  process.exit(result.status ?? 1);
}
console.log(`build-native: wrote ${join(root, 'build-cmake/Release/halo_forge.node')}`);
