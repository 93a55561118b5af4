#!/usr/bin/env node
// Prints where libtorch is, or every step that was tried. Needs the TypeScript build (dist/).
//   node scripts/find-libtorch.js            -> JSON {install, tried}
//   node scripts/find-libtorch.js --torch-dir | --root | --lib-dir | --include   -> one value (for build files)
import { locateLibtorch, describeTried, LIBTORCH_INSTALL_FIX } from '../dist/src/engine/libtorch-locate.js';

const result = locateLibtorch();
const flag = process.argv[2];
if (!flag) {
  console.log(JSON.stringify(result, null, 2));
  process.exit(result.install ? 0 : 1);
}
if (!result.install) {
  console.error(`libtorch not found. Tried:\n${describeTried(result.tried)}\nfix: ${LIBTORCH_INSTALL_FIX}`);
  process.exit(1);
}
const { install } = result;
const values = {
  '--torch-dir': install.torchDir,
  '--root': install.root,
  '--lib-dir': install.libDir,
  '--include': `${install.root}/include ${install.root}/include/torch/csrc/api/include`,
  '--version': install.version,
  '--backend': install.backend,
};
if (!(flag in values)) {
  console.error(`unknown flag ${flag}; use one of ${Object.keys(values).join(', ')}`);
  process.exit(2);
}
console.log(values[flag]);
