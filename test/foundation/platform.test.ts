import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { locateLibtorch } from '../../src/engine/libtorch-locate.js';
import { detectBlas } from '../../src/engine/blas.js';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { Rng } from '../../src/util/rng.js';
import { packageRoot } from '../../src/engine/load.js';

test('libtorch discovery reports every step it tried', () => {
  const { install, tried } = locateLibtorch({ HALO_FORGE_LIBTORCH: '/nonexistent/libtorch', PATH: process.env.PATH });
  assert.equal(tried[0]?.step, 'HALO_FORGE_LIBTORCH');
  assert.match(tried[0]!.detail, /does not exist/);
  assert.ok(tried.some((step) => step.step === 'LIBTORCH_USE_PYTORCH'));
  if (install) {
    assert.equal(install.source, 'system');
    assert.match(install.version, /^\d+\.\d+/);
  }
});

test('libtorch discovery finds nothing when every step misses, and lists them all', () => {
  const { install, tried } = locateLibtorch({ Torch_DIR: '/nonexistent/torch', CMAKE_PREFIX_PATH: '/nonexistent/a:/nonexistent/b' });
  // The system step may still find Debian's libtorch; the earlier steps must each be reported.
  assert.deepEqual(tried.slice(0, 3).map((step) => step.step), ['HALO_FORGE_LIBTORCH', 'LIBTORCH', 'Torch_DIR']);
  assert.ok(tried.filter((step) => step.step === 'CMAKE_PREFIX_PATH').length === 2);
  if (!install) assert.ok(tried.some((step) => step.step === 'system'));
});

test('BLAS classification from the mapped libraries', () => {
  assert.equal(detectBlas(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0']).name, 'reference');
  assert.equal(detectBlas(['/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3', '/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblasp-r0.3.21.so']).name, 'openblas');
  assert.equal(detectBlas(['/opt/intel/mkl/lib/libmkl_rt.so']).name, 'mkl');
  assert.equal(detectBlas(['/usr/lib/libc.so.6']).name, 'unknown');
});

test('atomic JSON writes leave the complete file and no temp files', () => {
  const directory = mkdtempSync(join(tmpdir(), 'halo-atomic-'));
  try {
    const path = join(directory, 'state.json');
    writeJsonAtomic(path, { step: 1 });
    writeJsonAtomic(path, { step: 2, values: [1, 2, 3] });
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { step: 2, values: [1, 2, 3] });
    assert.deepEqual(readdirSync(directory), ['state.json']);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('seeded Rng repeats and differs across seeds', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const seqA = Array.from({ length: 5 }, () => a.nextUint32());
  assert.deepEqual(seqA, Array.from({ length: 5 }, () => b.nextUint32()));
  assert.notDeepEqual(seqA, Array.from({ length: 5 }, () => c.nextUint32()));
  const values = Array.from({ length: 10000 }, () => new Rng(0).next());
  assert.ok(values.every((value) => value >= 0 && value < 1));
  const rng = new Rng(1);
  const mean = Array.from({ length: 20000 }, () => rng.next()).reduce((sum, value) => sum + value, 0) / 20000;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
});

test('`halo-forge doctor --json` prints one JSON object with the documented fields', () => {
  const result = spawnSync(process.execPath, [join(packageRoot(), 'bin/halo-forge.js'), 'doctor', '--json'], { encoding: 'utf8', timeout: 120_000 });
  const report = JSON.parse(result.stdout) as Record<string, unknown> & { ok: boolean; libtorch: { version: string; backend: string }; toolchains: Record<string, string | null>; sandbox: { bubblewrap: string | null } };
  assert.match(report.libtorch.version, /^\d+\.\d+/);
  assert.ok(['cpu', 'cuda', 'rocm'].includes(report.libtorch.backend));
  assert.ok('blas' in report && 'threads' in report);
  assert.ok('gcc' in report.toolchains && 'pwsh' in report.toolchains);
  assert.ok('bubblewrap' in report.sandbox);
  assert.equal(result.status, report.ok ? 0 : 1, 'exit code follows the report');
});

test('an unknown command is a usage error, not a stack trace', () => {
  const result = spawnSync(process.execPath, [join(packageRoot(), 'bin/halo-forge.js'), 'no-such-command'], { encoding: 'utf8' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /unknown command/);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/);
});
