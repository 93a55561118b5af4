/**
 * `npm run -s bench:verify`: compile + run of 64 Codeforces C++ references through the pool at
 * one worker per core vs sequentially, and the sandbox's overhead per execution (bubblewrap vs
 * none, same rlimits and process cap, running /bin/true; median of alternating runs). Last line is the summary.
 */
import { availableParallelism } from 'node:os';
import { CompiledVerifier } from '../src/verifiers/code/compiled.js';
import { Sandbox } from '../src/verifiers/sandbox.js';
import { codeforcesSamples, datasetsDir } from './verifier-acceptance.js';

/**
 * Median wall time of one /bin/true execution in each sandbox, runs alternating between the two so
 * that background activity (e.g. the kernel tearing down earlier runs' network namespaces) lands on
 * both sides alike.
 */
async function perExecutionMs(sandboxes: readonly Sandbox[], runs: number): Promise<number[]> {
  const dir = sandboxes[0].makeWorkDir();
  const times: number[][] = sandboxes.map(() => []);
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];
  try {
    for (let i = 0; i < 5; i++) for (const sandbox of sandboxes) await sandbox.run({ argv: ['/bin/true'], workDir: dir });
    for (let i = 0; i < runs; i++) {
      for (const [index, sandbox] of sandboxes.entries()) {
        const started = performance.now();
        await sandbox.run({ argv: ['/bin/true'], workDir: dir });
        times[index].push(performance.now() - started);
      }
    }
    return times.map(median);
  } finally {
    sandboxes[0].removeWorkDir(dir);
  }
}

async function main(): Promise<void> {
  const dir = datasetsDir();
  if (!dir) {
    console.log('bench:verify: skipped — no datasets folder (set HALO_FORGE_DATA_DIR or provide ../shared/datasets)');
    return;
  }
  const bwrap = Sandbox.create({});
  const none = Sandbox.create({ mode: 'none', onWarning: () => {} });
  // Measured first, on a machine not yet busy with the compile runs below.
  const [withBwrap, withNone] = await perExecutionMs([bwrap, none], 100);
  const { samples } = codeforcesSamples(dir, 64);
  const cores = availableParallelism();
  const rates: Record<string, number> = {};
  for (const [label, workers] of [['pooled', cores], ['sequential', 1]] as const) {
    const verifier = new CompiledVerifier({ sandbox: bwrap, language: 'cpp', mode: 'run', workers });
    const started = performance.now();
    const results = await verifier.verifyBatch(samples);
    const seconds = (performance.now() - started) / 1000;
    rates[label] = samples.length / seconds;
    const ran = results.filter((value) => value.reward >= 0.5).length;
    console.log(`${label.padEnd(10)} workers=${workers}  ${samples.length} samples in ${seconds.toFixed(1)} s = ${rates[label].toFixed(2)} samples/s (${ran} compiled)`);
  }
  const overhead = withBwrap - withNone;
  console.log(`per execution: bubblewrap ${withBwrap.toFixed(2)} ms, none ${withNone.toFixed(2)} ms (process cap: ${bwrap.processCap})`);
  console.log(`pool speed-up ${(rates.pooled / rates.sequential).toFixed(2)}x on ${cores} cores`);
  console.log(`verify: ${rates.pooled.toFixed(2)} samples/s pooled, ${rates.sequential.toFixed(2)} sequential, sandbox overhead ${overhead.toFixed(2)} ms`);
}

await main();
