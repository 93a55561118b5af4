/** The C++ decoder's logits against the float64 JS reference decoder, for every architecture. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../src/engine/model.js';
import { TINY_ARCHS } from '../../src/export/tiny-model.js';
import { loadReferenceModel } from '../support/reference-decoder.js';
import { argmax, logSoftmax, tinyModelDir, tokens } from './fixtures.js';

for (const arch of TINY_ARCHS) {
  test(`${arch}: teacher-forced log-probs match the float64 reference`, async () => {
    const dir = tinyModelDir(arch);
    const model = await Model.load(dir, { dtype: 'fp32' });
    try {
      const sequence = tokens(12, model.config.vocabSize, 7);
      const { rows, vocabSize } = await model.logits([sequence]);
      const reference = loadReferenceModel(dir).logProbs(sequence);
      let worst = 0;
      for (let t = 0; t < sequence.length; t++) {
        const ours = logSoftmax(rows[0].subarray(t * vocabSize, (t + 1) * vocabSize));
        for (let v = 0; v < vocabSize; v++) worst = Math.max(worst, Math.abs(ours[v] - reference[t][v]));
        assert.equal(argmax(ours), argmax(reference[t]), `argmax at position ${t}`);
      }
      assert.ok(worst < 1e-3, `max |log p ours - log p reference| = ${worst}`);
    } finally {
      model.dispose();
    }
  });
}
