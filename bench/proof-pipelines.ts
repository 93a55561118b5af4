/**
 * proof:pipelines — (1) the demo end to end (built-in tiny model and task: SFT, held-out pass@1,
 * RAFT cycles, held-out pass@1 after each) with its before/after table; (2) crash safety: `raft
 * train` through the real CLI is SIGKILLed at five points (generation, verification, training, a
 * checkpoint write, between cycles), rerun, and its final adapter compared byte for byte with an
 * uninterrupted run. Last line: one JSON object with both results.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDemoReport } from '../src/cli/demo.js';
import { defaultTinyOptions, writeTinyModel } from '../src/export/tiny-model.js';
import { runDemo } from '../src/pipelines/demo.js';
import { EventBus } from '../src/util/events.js';
import { formatError } from '../src/util/errors.js';

const bin = fileURLToPath(new URL('../../bin/halo-forge.js', import.meta.url));
const CRASH_POINTS = ['generate:2:4', 'verify:2:3', 'train:2:1', 'checkpoint:2', 'cycle-end:1'];

async function demo(scratch: string): Promise<Awaited<ReturnType<typeof runDemo>>> {
  const report = await runDemo({ output: join(scratch, 'demo'), cycles: 3, fast: false, seed: 42, cwd: scratch, bus: new EventBus('proof'), version: 'proof' });
  process.stdout.write(formatDemoReport(report));
  return report;
}

function crashSafety(scratch: string): { points: number; identical: number; killed: number } {
  const model = join(scratch, 'crash-model');
  writeTinyModel(model, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 3 });
  const prompts = join(scratch, 'crash-prompts.jsonl');
  writeFileSync(prompts, ['What is 1 + 1?', 'What is 4 + 4?', 'What is 6 - 1?'].map((prompt, index) => JSON.stringify({ prompt, answer: String([2, 8, 5][index]) })).join('\n') + '\n');
  const config = join(scratch, 'crash.yaml');
  writeFileSync(config, 'cycles: 2\nsamples_per_prompt: 3\nmax_new_tokens: 10\ntemperature: 1.0\nreward_threshold: 0.1\nkeep_percent: 1.0\nbatch_size: 2\ngradient_accumulation: 2\ngeneration_batch_size: 2\nsave_steps: 1\nlearning_rate: 0.01\nlora_rank: 4\nlora_alpha: 8\nmax_seq_length: 256\ndevice: cpu\ndtype: fp32\n');
  const run = (output: string, crashAt?: string) => {
    const env = { ...process.env };
    delete env.HALO_FORGE_CRASH_AT;
    if (crashAt !== undefined) env.HALO_FORGE_CRASH_AT = crashAt;
    return spawnSync(process.execPath, [bin, 'raft', 'train', '--config', config, '--model', model, '--prompts', prompts, '--verifier', 'math', '--output', output, '--quiet'], { env, encoding: 'utf8' });
  };
  const adapter = (output: string): Buffer => readFileSync(join(output, 'final_model', 'adapter_model.safetensors'));
  const reference = join(scratch, 'crash-reference');
  const clean = run(reference);
  if (clean.status !== 0) throw new Error(`uninterrupted raft train failed: ${clean.stderr}`);
  let identical = 0;
  let killed = 0;
  process.stdout.write('crash safety: raft train SIGKILLed, then rerun with the same command\n');
  for (const point of CRASH_POINTS) {
    const output = join(scratch, `crash-${point.replace(/:/g, '-')}`);
    const first = run(output, point);
    if (first.signal === 'SIGKILL') killed += 1;
    const second = run(output);
    const same = second.status === 0 && adapter(output).equals(adapter(reference));
    if (same) identical += 1;
    process.stdout.write(`  kill at ${point.padEnd(13)} ${first.signal === 'SIGKILL' ? 'killed' : `NOT killed (${first.status})`}, resumed: ${second.status === 0 ? 'ok' : 'FAILED'}, adapter ${same ? 'byte-identical' : 'DIFFERS'}\n`);
  }
  return { points: CRASH_POINTS.length, identical, killed };
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'halo-proof-pipelines-'));
  try {
    const report = await demo(scratch);
    const crash = crashSafety(scratch);
    const passed = report.improvement_points >= 10 && report.seconds.total <= 600 && crash.identical === crash.points && crash.killed === crash.points;
    process.stdout.write(
      `${JSON.stringify({
        proof: 'pipelines',
        demo: { baseline_pass1: report.baseline_pass1, final_pass1: report.final_pass1, improvement_points: report.improvement_points, seconds: Math.round(report.seconds.total), stages: report.stages.map((stage) => ({ stage: stage.stage, pass1: stage.pass1 })) },
        crash_safety: crash,
        passed,
      })}\n`,
    );
    process.exitCode = passed ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${formatError(error)}\n`);
  process.exitCode = 1;
});
