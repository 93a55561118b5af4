/** The acceptance counts on real public data (../shared/datasets); Codeforces uses a deterministic 48-problem subset here, the full 500 run in proof:verifiers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/verifiers/sandbox.js';
import { probeBubblewrap } from '../../src/verifiers/bwrap-probe.js';
import { bfcl, codeforcesCompile, datasetsDir, gsm8k, humanEval, mbppTrain } from '../../bench/verifier-acceptance.js';

const dir = datasetsDir();
const bwrap = probeBubblewrap().works;
const noData = dir === null ? 'no datasets folder (set HALO_FORGE_DATA_DIR or provide ../shared/datasets)' : false;
const noSandbox = noData || (!bwrap && 'bubblewrap unavailable');
let sandbox: Sandbox | null = null;
const box = () => (sandbox ??= Sandbox.create({}));

test('HumanEval: canonical solutions 164/164, `return None` bodies 0/164', { skip: noSandbox }, async () => {
  const canonical = await humanEval(dir!, box(), 'canonical');
  assert.equal(canonical.total, 164);
  assert.deepEqual(canonical.failures, []);
  const none = await humanEval(dir!, box(), 'return-none');
  assert.equal(none.passed, 0, 'a `return None` body succeeded');
});

test('MBPP train reference solutions pass their tests >= 95 %', { skip: noSandbox }, async () => {
  const count = await mbppTrain(dir!, box());
  assert.equal(count.total, 374);
  assert.ok(count.passed / count.total >= 0.95, `${count.passed}/${count.total}: ${JSON.stringify(count.failures)}`);
});

test('Codeforces C++ references compile (reward >= 0.5) >= 95 % (48-problem subset)', { skip: noSandbox }, async () => {
  const count = await codeforcesCompile(dir!, box(), 48);
  assert.equal(count.total, 48);
  assert.ok(count.passed / count.total >= 0.95, JSON.stringify(count.failures));
});

test('GSM8K test: own answers 1319/1319, final number + 1 0 successes', { skip: noData }, async () => {
  const own = await gsm8k(dir!, 'own');
  assert.equal(own.total, 1319);
  assert.deepEqual(own.failures, []);
  const plus = await gsm8k(dir!, 'plus-one');
  assert.equal(plus.passed, 0);
});

test('BFCL simple: ground truth 1.0 on every row, wrong function 0.25, missing required argument 0.5', { skip: noData }, async () => {
  const truth = await bfcl(dir!, 'ground-truth');
  assert.ok(truth.total >= 399);
  assert.deepEqual(truth.failures, []);
  const wrong = await bfcl(dir!, 'wrong-function');
  assert.deepEqual(wrong.failures, []);
  const missing = await bfcl(dir!, 'missing-required');
  assert.ok(missing.total > 300);
  assert.deepEqual(missing.failures, []);
});
