#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in runner.
// Optional arguments narrow the run to files whose path contains one of them: `npm test -- engine data`.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = join(root, 'dist/test');
if (!existsSync(testRoot)) {
  console.error('run-tests: dist/test is missing; run `npm run build:ts` first');
  process.exit(1);
}
function walk(directory) {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? walk(path) : name.endsWith('.test.js') ? [path] : [];
  });
}
const filters = process.argv.slice(2);
const files = walk(testRoot)
  .filter((path) => filters.length === 0 || filters.some((filter) => relative(testRoot, path).includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files matched ${filters.join(', ') || '(all)'}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
