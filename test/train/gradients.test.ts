import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { gradientCheck, type GradCheckFigure } from './scenarios.js';
import { tempDir } from './helpers.js';

const work = tempDir('grad');
after(() => rmSync(work, { recursive: true, force: true }));

function expectClose(figure: GradCheckFigure): void {
  console.log(`${figure.label}: ${figure.checked} entries of ${figure.tensors} tensors, max rel err ${figure.maxRelError.toExponential(2)}, max abs err ${figure.maxAbsError.toExponential(2)}`);
  assert.ok(figure.tensors > 0 && figure.checked >= 2 * figure.tensors);
  assert.ok(figure.maxRelError <= 1e-4, `${figure.label}: max relative error ${figure.maxRelError}`);
}

test('float64 gradient check: LoRA A/B on every projection, checkpointed, chunked loss, packed rows', async () => {
  expectClose(await gradientCheck(work, 'lora', { rank: 4, alpha: 8, lossChunkTokens: 5, checkpointing: true }, true));
});

test('float64 gradient check: LoRA without checkpointing, rsLoRA, three targets, padded rows', async () => {
  expectClose(await gradientCheck(work, 'lora-plain', { rank: 3, alpha: 6, useRslora: true, checkpointing: false, targets: ['q_proj', 'v_proj', 'down_proj'] }, false));
});

test('float64 gradient check: full fine-tuning (every weight incl. tied embedding, norms, biases)', async () => {
  expectClose(await gradientCheck(work, 'full', { mode: 'full', lossChunkTokens: 4 }, true));
});
