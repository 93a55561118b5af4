#!/usr/bin/env node
// Lists the C++ sources for binding.gyp, the same set CMakeLists.txt globs (native/core/**/*.cc, native/napi/*.cc).
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
function walk(directory, recursive) {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return recursive ? walk(path, true) : [];
    return name.endsWith('.cc') ? [relative(root, path)] : [];
  });
}
console.log([...walk(join(root, 'native/core'), true), ...walk(join(root, 'native/napi'), false)].sort().join(' '));
