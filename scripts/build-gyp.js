#!/usr/bin/env node
// The node-gyp build of the same addon (binding.gyp) into build/Release/halo_forge.node.
// cmake-js (npm run build:native, into build-cmake/) is the primary build; this one is kept compiling.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'dist/src/engine/libtorch-locate.js'))) {
  console.error('build-gyp: run `npm run build:ts` first (the libtorch finder is TypeScript)');
  process.exit(1);
}
const { locateLibtorch, describeTried, LIBTORCH_INSTALL_FIX } = await import('../dist/src/engine/libtorch-locate.js');
const { install, tried } = locateLibtorch();
if (!install) {
  console.error(`build-gyp: libtorch not found. Tried:\n${describeTried(tried)}\nfix: ${LIBTORCH_INSTALL_FIX}`);
  process.exit(1);
}

// node-gyp ships inside npm; use that copy so nothing is downloaded.
function findNodeGyp() {
  const candidates = [];
  const npmPath = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  if (npmPath) candidates.push(join(dirname(realpathSync(npmPath)), '../node_modules/node-gyp/bin/node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
  candidates.push(join(root, 'node_modules/node-gyp/bin/node-gyp.js'));
  return candidates.find((path) => existsSync(path));
}
const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  console.error('build-gyp: node-gyp not found (it ships with npm); install it with `npm install -g node-gyp`');
  process.exit(1);
}
const nodedir = process.env.npm_config_nodedir ?? resolve(dirname(process.execPath), '..');
const common = [`--nodedir=${nodedir}`, '--release'];
for (const step of [['configure', ...common], ['build', ...common, `--jobs=${availableParallelism()}`]]) {
  const result = spawnSync(process.execPath, [nodeGyp, ...step], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    console.error(`build-gyp: node-gyp ${step[0]} failed`);
    process.exit(result.status ?? 1);
  }
}
const out = join(root, 'build/Release');
writeFileSync(join(out, 'build-metadata.json'), `${JSON.stringify({
  builder: 'node-gyp',
  libtorch: { version: install.version, root: install.root, torchDir: install.torchDir },
  backend: install.backend,
  gpuRuntimeVersion: '',
  gpuArchList: '',
  compiler: spawnSync('c++', ['-dumpfullversion'], { encoding: 'utf8' }).stdout.trim(),
  platform: `${process.platform}-${process.arch}`,
}, null, 2)}\n`);
console.log(`build-gyp: wrote ${join(out, 'halo_forge.node')}`);
