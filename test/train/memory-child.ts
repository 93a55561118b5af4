/**
 * Child process of memory.test.ts: one LoRA training step (batch 4 x 1024 tokens) on a model with a
 * 151,936-token vocabulary, with the given loss chunk (0 = unchunked). Prints JSON: resident set
 * before the step, and the peak during it (the kernel's high-water mark, reset just before the step).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Model } from '../../src/engine/model.js';
import { Trainer } from '../../src/engine/trainer.js';
import { randomSamples } from './helpers.js';

function statusKb(field: string): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? NaN);
}

const [modelDir, chunkText] = process.argv.slice(2);
const model = await Model.load(modelDir, { dtype: 'fp32' });
const trainer = Trainer.create(model, { rank: 8, lossChunkTokens: Number(chunkText), seed: 1 });
const samples = randomSamples(4, 3, model.config.vocabSize, 1024, 1024, 0);
const warm = randomSamples(1, 4, model.config.vocabSize, 8, 8, 0);
await trainer.trainStep(warm); // thread pools and allocator warm-up, outside the measured window
const baseline = statusKb('VmRSS');
writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
const report = await trainer.trainStep(samples, { microBatchRows: 4 });
const peak = statusKb('VmHWM');
process.stdout.write(JSON.stringify({ chunk: Number(chunkText), baselineKb: baseline, peakKb: peak, aboveKb: peak - baseline, loss: report.loss, tokens: report.tokens }) + '\n');
trainer.dispose();
model.dispose();
