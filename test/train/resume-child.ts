/**
 * Child process of resume.test.ts: trains `steps` steps from a saved state (or from scratch), then
 * saves the adapter and the state. Data order: epoch e is the sample list shuffled by Rng(seed + e);
 * the data position saved with the state is the next step's index.
 */
import { Model } from '../../src/engine/model.js';
import { Trainer } from '../../src/engine/trainer.js';
import { Rng } from '../../src/util/rng.js';
import { randomSamples } from './helpers.js';

const [modelDir, outDir, stepsText, resumeDir] = process.argv.slice(2);
const BATCH = 4;
const model = await Model.load(modelDir, { dtype: 'fp32' });
const trainer = Trainer.create(model, { rank: 8, alpha: 16, dropout: 0.1, lr: 3e-3, schedule: 'cosine', warmupSteps: 3, totalSteps: 20, weightDecay: 0.01, seed: 9 });
const samples = randomSamples(12, 77, model.config.vocabSize);
let next = 0;
if (resumeDir) next = (trainer.loadState(resumeDir) as { nextStep: number }).nextStep;
const perEpoch = Math.floor(samples.length / BATCH);
for (let i = 0; i < Number(stepsText); i++, next++) {
  const epoch = Math.floor(next / perEpoch);
  const order = new Rng(1000 + epoch).shuffle(samples.map((_, k) => k));
  const offset = (next % perEpoch) * BATCH;
  const batch = order.slice(offset, offset + BATCH).map((k) => samples[k]);
  const report = await trainer.trainStep(batch, { microBatchRows: 2 });
  process.stdout.write(`step ${report.step} loss ${report.loss.toFixed(6)} lr ${report.lr.toExponential(3)}\n`);
}
trainer.saveAdapter(outDir);
trainer.saveState(outDir, { nextStep: next });
trainer.dispose();
model.dispose();
