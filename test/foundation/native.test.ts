import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineInfo, matmul, matmulSelfTest, resolveDevice } from '../../src/engine/runtime.js';
import { loadNative, resolveThreadCount } from '../../src/engine/load.js';
import { HaloError } from '../../src/util/errors.js';

test('engine.info reports the libtorch this addon runs on', () => {
  const info = engineInfo();
  assert.match(info.torchVersion, /^\d+\.\d+\.\d+/);
  assert.equal(info.torchVersionMajor, Number(info.torchVersion.split('.')[0]));
  assert.ok(['cpu', 'cuda', 'rocm'].includes(info.backend));
  assert.ok(info.intraOpThreads >= 1);
  assert.ok(Array.isArray(info.devices));
  assert.equal(info.build?.libtorch.version.split('.').slice(0, 2).join('.'), info.torchVersion.split('.').slice(0, 2).join('.'));
});

test('matmul through the addon gives the right numbers', () => {
  // [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
  const result = matmul(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], new Float32Array([7, 8, 9, 10, 11, 12]), [3, 2]);
  assert.deepEqual(result.shape, [2, 2]);
  assert.deepEqual([...result.data], [58, 64, 139, 154]);
});

test('the matmul self-test agrees with a float64 reference', () => {
  const timing = matmulSelfTest(256, 2, 7);
  assert.ok(timing.ok, `max abs error ${timing.maxAbsError}`);
  assert.ok(timing.gflops > 0);
});

test('a shape error in libtorch reaches JS as ERR_TORCH and the process goes on', () => {
  assert.throws(
    () => matmul(new Float32Array(6), [2, 3], new Float32Array(8), [4, 2]),
    (error: Error & { code?: string; op?: string }) => {
      assert.equal(error.code, 'ERR_TORCH');
      assert.equal(error.op, 'matmul');
      assert.match(error.message, /cannot be multiplied|size mismatch|shapes/i);
      assert.doesNotMatch(error.message, /Exception raised from/, 'no C++ backtrace without HALO_FORGE_DEBUG=1');
      return true;
    },
  );
  const after = matmul(new Float32Array([2]), [1, 1], new Float32Array([3]), [1, 1]);
  assert.deepEqual([...after.data], [6]);
});

test('a data/shape disagreement is rejected before it reaches libtorch', () => {
  assert.throws(() => matmul(new Float32Array(5), [2, 3], new Float32Array(6), [3, 2]), { code: 'ERR_INVALID_ARG' });
  assert.throws(() => matmul(new Float64Array(6) as unknown as Float32Array, [2, 3], new Float32Array(6), [3, 2]), { code: 'ERR_INVALID_ARG' });
});

test('HALO_FORGE_BINARY pointing nowhere is ERR_NO_BINARY', () => {
  assert.throws(() => loadNative({ ...process.env, HALO_FORGE_BINARY: '/nonexistent/halo_forge.node' }), (error: unknown) => {
    assert.ok(error instanceof HaloError);
    assert.equal(error.code, 'ERR_NO_BINARY');
    assert.match(error.message, /\/nonexistent\/halo_forge\.node/);
    assert.ok(error.fix);
    return true;
  });
});

test('a binary built for another libtorch version is ERR_LIBTORCH_VERSION', () => {
  const real = loadNative();
  const directory = mkdtempSync(join(tmpdir(), 'halo-load-'));
  try {
    copyFileSync(real.path, join(directory, 'halo_forge.node'));
    const metadata = { ...real.metadata!, libtorch: { ...real.metadata!.libtorch, version: '0.4.0' } };
    writeFileSync(join(directory, 'build-metadata.json'), JSON.stringify(metadata));
    assert.throws(() => loadNative({ ...process.env, HALO_FORGE_BINARY: join(directory, 'halo_forge.node') }), (error: unknown) => {
      assert.ok(error instanceof HaloError);
      assert.equal(error.code, 'ERR_LIBTORCH_VERSION');
      assert.match(error.message, /0\.4\.0/);
      return true;
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a binary built for a GPU libtorch on a CPU libtorch is ERR_LIBTORCH_BACKEND', () => {
  const real = loadNative();
  const directory = mkdtempSync(join(tmpdir(), 'halo-load-'));
  try {
    copyFileSync(real.path, join(directory, 'halo_forge.node'));
    const metadata = { ...real.metadata!, backend: 'cuda', libtorch: { ...real.metadata!.libtorch, root: '/nonexistent/libtorch' } };
    writeFileSync(join(directory, 'build-metadata.json'), JSON.stringify(metadata));
    assert.throws(() => loadNative({ ...process.env, HALO_FORGE_BINARY: join(directory, 'halo_forge.node') }), { code: 'ERR_LIBTORCH_BACKEND' });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a file that is not a shared library is ERR_NATIVE_LOAD with a hint', () => {
  const directory = mkdtempSync(join(tmpdir(), 'halo-load-'));
  try {
    writeFileSync(join(directory, 'halo_forge.node'), 'not an ELF file');
    assert.throws(() => loadNative({ ...process.env, HALO_FORGE_BINARY: join(directory, 'halo_forge.node') }), (error: unknown) => {
      assert.ok(error instanceof HaloError);
      assert.equal(error.code, 'ERR_NATIVE_LOAD');
      assert.ok(error.fix && error.fix.length > 0);
      return true;
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('thread count: HALO_FORGE_THREADS, then OMP_NUM_THREADS, then all cores', () => {
  assert.equal(resolveThreadCount({ HALO_FORGE_THREADS: '3', OMP_NUM_THREADS: '5' }), 3);
  assert.equal(resolveThreadCount({ OMP_NUM_THREADS: '5' }), 5);
  assert.ok(resolveThreadCount({}) >= 1);
  assert.throws(() => resolveThreadCount({ HALO_FORGE_THREADS: 'many' }), { code: 'ERR_INVALID_ENV' });
});

test('asking for a GPU on a cpu build is ERR_BACKEND_UNAVAILABLE; bad device strings are rejected', (t) => {
  assert.deepEqual(resolveDevice('cpu'), { type: 'cpu', index: 0 });
  assert.throws(() => resolveDevice('tpu'), { code: 'ERR_INVALID_DEVICE' });
  if (engineInfo().backend !== 'cpu') {
    t.skip('this addon has a GPU backend; the cpu-build refusal cannot be exercised here');
    return;
  }
  assert.throws(() => resolveDevice('cuda:0'), { code: 'ERR_BACKEND_UNAVAILABLE' });
});
