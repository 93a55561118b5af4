/**
 * bench:blas — a 1024x1024 fp32 matmul through the addon with the BLAS this machine uses, and the same
 * matmul with Debian's reference BLAS (a child process whose loader path puts it first).
 * Last line: `blas: <name>, matmul1024 <ms> ms, <GFLOP/s> GFLOP/s`; the line before: the reference figure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { engineInfo, matmulSelfTest } from '../src/engine/runtime.js';
import { multiarchTriplet } from '../src/engine/libtorch-locate.js';
import { formatError } from '../src/util/errors.js';

const N = 1024;
const MIN_RATIO = 10;

interface Measurement {
  blas: string;
  library: string | null;
  bestMs: number;
  gflops: number;
  maxAbsError: number;
}

function measure(iterations: number): Measurement {
  const info = engineInfo();
  const timing = matmulSelfTest(N, iterations, 0);
  if (!timing.ok) throw new Error(`matmul result is wrong: max abs error ${timing.maxAbsError}`);
  return { blas: info.blas.name, library: info.blas.library, bestMs: timing.bestMs, gflops: timing.gflops, maxAbsError: timing.maxAbsError };
}

function measureReference(): Measurement | string {
  const referenceDir = `/usr/lib/${multiarchTriplet()}/blas`;
  if (!existsSync(`${referenceDir}/libblas.so.3`)) return `reference BLAS not installed (${referenceDir}/libblas.so.3); install it with: sudo apt-get install libblas3`;
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child'], {
    encoding: 'utf8',
    env: { ...process.env, LD_LIBRARY_PATH: [referenceDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') },
    timeout: 300_000,
  });
  if (child.status !== 0) return `reference run failed: ${child.stderr.trim()}`;
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as Measurement;
}

function main(): number {
  if (process.argv.includes('--child')) {
    process.stdout.write(`${JSON.stringify(measure(3))}\n`);
    return 0;
  }
  const ours = measure(20);
  const reference = measureReference();
  let status = 0;
  if (typeof reference === 'string') {
    process.stdout.write(`reference-blas: ${reference}\n`);
    status = 1;
  } else {
    const ratio = ours.gflops / reference.gflops;
    if (reference.blas !== 'reference') {
      process.stdout.write(`reference-blas: the child did not load reference BLAS (it got ${reference.blas}); cannot compare\n`);
      status = 1;
    } else {
      process.stdout.write(`reference-blas: matmul${N} ${reference.bestMs.toFixed(1)} ms, ${reference.gflops.toFixed(1)} GFLOP/s (${reference.library}); ours is ${ratio.toFixed(1)}x${ratio < MIN_RATIO ? ` — below the ${MIN_RATIO}x floor` : ''}\n`);
      if (ratio < MIN_RATIO) status = 1;
    }
  }
  process.stdout.write(`blas: ${ours.blas}, matmul${N} ${ours.bestMs.toFixed(2)} ms, ${ours.gflops.toFixed(1)} GFLOP/s\n`);
  return status;
}

try {
  process.exitCode = main();
} catch (error) {
  process.stderr.write(`${formatError(error)}\n`);
  process.exitCode = 1;
}
