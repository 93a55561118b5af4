import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensorsHeader, readSafetensorsTensor, writeSafetensors } from '../../src/export/safetensors.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from '../../src/export/float-convert.js';
import { HaloError } from '../../src/util/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-st-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

test('safetensors: F32 / F16 / BF16 round trip, aligned data, deterministic layout', () => {
  const a = new Float32Array([1, -2.5, 3.25, 0.1, 65504, 1e-8]);
  const b = new Float32Array([0.5, -0.75, 1.5]);
  const c = new Float32Array(Array.from({ length: 7 }, (_, i) => i * 0.3 - 1));
  const path = join(directory, 'x.safetensors');
  writeSafetensors(path, [
    { name: 'b.half', shape: [3], dtype: 'F16', values: () => b },
    { name: 'a.full', shape: [2, 3], dtype: 'F32', values: () => a },
    { name: 'c.brain', shape: [7], dtype: 'BF16', values: () => c },
  ]);
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + headerLength) % 8, 0, 'data section starts 8-byte aligned');
  const header = readSafetensorsHeader(path);
  assert.deepEqual([...header.tensors.keys()].sort(), ['a.full', 'b.half', 'c.brain']);
  assert.deepEqual(header.tensors.get('a.full'), { dtype: 'F32', shape: [2, 3], dataOffsets: [0, 24] });
  assert.deepEqual(header.tensors.get('b.half')?.dataOffsets, [24, 30]);
  assert.deepEqual(header.tensors.get('c.brain')?.dataOffsets, [30, 44]);
  assert.equal(bytes.length, header.dataStart + 44, 'no holes, no trailing bytes');
  assert.deepEqual(header.metadata, { format: 'pt' });
  assert.deepEqual(readSafetensorsTensor(header, 'a.full'), a);
  assert.deepEqual([...readSafetensorsTensor(header, 'b.half')], [0.5, -0.75, 1.5]);
  const brain = readSafetensorsTensor(header, 'c.brain');
  for (let i = 0; i < c.length; i++) assert.ok(Math.abs(brain[i] - c[i]) <= Math.abs(c[i]) / 128, `bf16 value ${i}`);
  // Same input → same bytes, regardless of the order tensors were listed in.
  const again = join(directory, 'y.safetensors');
  writeSafetensors(again, [
    { name: 'c.brain', shape: [7], dtype: 'BF16', values: () => c },
    { name: 'a.full', shape: [2, 3], dtype: 'F32', values: () => a },
    { name: 'b.half', shape: [3], dtype: 'F16', values: () => b },
  ]);
  assert.ok(readFileSync(again).equals(bytes));
});

test('float conversions round to nearest even like torch', () => {
  assert.equal(float32ToFloat16Bits(1), 0x3c00);
  assert.equal(float32ToFloat16Bits(-2), 0xc000);
  assert.equal(float32ToFloat16Bits(65504), 0x7bff);
  assert.equal(float32ToFloat16Bits(70000), 0x7c00);
  assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001);
  assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00, 'tie rounds to even (down)');
  assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02, 'tie rounds to even (up)');
  assert.equal(float16BitsToFloat32(0x3555), 0.333251953125);
  assert.equal(float32ToBfloat16Bits(1), 0x3f80);
  assert.equal(bfloat16BitsToFloat32(float32ToBfloat16Bits(3.140625)), 3.140625);
  assert.equal(float32ToBfloat16Bits(1 + 2 ** -8), 0x3f80, 'bf16 tie to even');
  assert.ok(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(NaN))));
  for (let i = 0; i < 2000; i++) {
    const x = (i - 1000) * 0.0137;
    const back = float16BitsToFloat32(float32ToFloat16Bits(x));
    assert.ok(Math.abs(back - x) <= Math.max(Math.abs(x) * 2 ** -11, 2 ** -25), `f16 round trip of ${x}`);
  }
});

test('safetensors: wrong value count, truncated file and bad header are HaloErrors; no partial file is left', () => {
  const path = join(directory, 'bad.safetensors');
  assert.throws(
    () => writeSafetensors(path, [{ name: 'w', shape: [2, 2], dtype: 'F32', values: () => new Float32Array(3) }]),
    (error: unknown) => error instanceof HaloError && error.code === 'ERR_SAFETENSORS_SHAPE' && error.message.includes('w'),
  );
  assert.deepEqual(readdirSync(directory).filter((name) => name.includes('bad')), [], 'temp file removed');

  const good = join(directory, 'good.safetensors');
  writeSafetensors(good, [{ name: 'model.w', shape: [16], dtype: 'F32', values: () => new Float32Array(16) }]);
  truncateSync(good, readFileSync(good).length - 4);
  assert.throws(() => readSafetensorsHeader(good), (error: unknown) => error instanceof HaloError && error.code === 'ERR_SAFETENSORS_CORRUPT' && error.message.includes('model.w'));
  writeFileSync(good, Buffer.from([1, 2, 3]));
  assert.throws(() => readSafetensorsHeader(good), (error: unknown) => error instanceof HaloError && error.code === 'ERR_SAFETENSORS_CORRUPT');
  const junk = Buffer.alloc(8 + 4);
  junk.writeBigUInt64LE(4n);
  junk.write('{{{{', 8);
  writeFileSync(good, junk);
  assert.throws(() => readSafetensorsHeader(good), (error: unknown) => error instanceof HaloError && /not valid JSON/.test(error.message));
});
