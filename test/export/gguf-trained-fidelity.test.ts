/**
 * The Export issue's Q4_K_M fidelity criterion on weights with structure: the trained tiny llama
 * (test/support/trained-tiny-model.ts, shared with the ONNX int4 test) exported to Q4_K_M keeps a mean
 * centred-logit cosine >= 0.98 against our fp32 engine on held-out text (256 teacher-forced positions
 * here to keep the suite short; proof:export reports 512, and the random-init figure beside it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportGguf } from '../../src/pipelines/export.js';
import { ensureTrainedTinyModel, trainedTinyHeldOutSequences, trainedTinyModelSkipReason, trainedTinySummary } from '../support/trained-tiny-model.js';

let peerMissing: string | undefined;
try {
  await import('node-llama-cpp');
} catch (error) {
  peerMissing = `node-llama-cpp is not installed (${(error as Error).message})`;
}

test('trained tiny llama: Q4_K_M logit cosine >= 0.98 vs our fp32 engine on held-out text', async (t) => {
  const reason = trainedTinyModelSkipReason() ?? peerMissing;
  if (reason) return t.skip(reason);
  const model = await ensureTrainedTinyModel();
  const summary = trainedTinySummary(model);
  assert.ok(summary.heldOutLossAfter < summary.heldOutLossBefore - 3, `the fixture is trained: held-out loss ${summary.heldOutLossBefore} -> ${summary.heldOutLossAfter}`);
  const scratch = mkdtempSync(join(tmpdir(), 'halo-gguf-trained-'));
  try {
    const sequences = trainedTinyHeldOutSequences(model, 4, 64);
    const result = await exportGguf({ model, output: join(scratch, 'trained-q4_k_m.gguf'), quantization: 'Q4_K_M', sequences, threads: 2 });
    const report = result.verify;
    assert.ok(report !== undefined);
    t.diagnostic(`Q4_K_M on the trained llama: fidelity cosine ${report.fidelity.meanCosine.toFixed(6)} (min ${report.fidelity.minCosine.toFixed(4)}, argmax ${(report.fidelity.argmaxAgreement * 100).toFixed(1)}%) over ${report.fidelity.positions} positions; agreement ${report.agreement.meanCosine.toFixed(6)}`);
    assert.equal(report.passed, true);
    assert.equal(report.fidelity.positions, 256);
    assert.ok(report.fidelity.meanCosine >= 0.98, `Q4_K_M fidelity ${report.fidelity.meanCosine}`);
    assert.equal(report.fidelityMet, true);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
