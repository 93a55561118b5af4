/**
 * proof:engine — parity with llama.cpp for llama, mistral, qwen2 and qwen3 (one line each), then the
 * generation benchmark against llama.cpp (bench/generate.ts; `--no-bench` skips it, `--bf16` adds bf16),
 * then one JSON line with every figure. Exit code 1 when a parity criterion fails.
 */
import { availableParallelism } from 'node:os';
import { TINY_ARCHS } from '../src/export/tiny-model.js';
import { PARITY_CRITERIA, parityLine, runArchParity, type ArchParity } from './support/engine-parity.js';
import { runGenerateBench } from './generate.js';

const quick = process.argv.includes('--no-bench');
const parity: ArchParity[] = [];
for (const arch of TINY_ARCHS) {
  const result = await runArchParity(arch);
  parity.push(result);
  process.stdout.write(`${parityLine(result)}\n`);
}
const speed = quick
  ? undefined
  : await runGenerateBench({ newTokens: 128, raftPrompts: 16, raftSamples: 8, bf16: process.argv.includes('--bf16'), threads: availableParallelism(), log: () => undefined });
process.stdout.write(
  `${JSON.stringify({
    proof: 'engine',
    criteria: PARITY_CRITERIA,
    parity: Object.fromEntries(
      parity.map((r) => [r.arch, { pass: r.pass, maxAbsDiff: r.maxAbsDiff, maxRelativeDiff: r.maxRelativeDiff, argmaxAgreement: r.argmaxAgreement, positions: r.positions, greedyIdentical: r.greedyIdentical, prompts: r.prompts, promptTokens: r.promptTokens, peer: r.peer }]),
    ),
    speed: speed ?? null,
  })}\n`,
);
if (parity.some((r) => !r.pass)) process.exitCode = 1;
