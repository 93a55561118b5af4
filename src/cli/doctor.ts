import type { Command } from 'commander';
import { runDoctor } from '../pipelines/doctor.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check libtorch, the BLAS, threads, GPUs, the verifier sandbox and toolchains; each line ok / warn / fail with a fix')
    .option('--json', 'print one JSON object instead of the table (default: table)', false)
    .action((options: { json: boolean }) => {
      const report = runDoctor();
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        for (const check of report.checks) {
          process.stdout.write(`${check.status.padEnd(4)}  ${check.name.padEnd(34)} ${check.detail}\n`);
          if (check.fix && check.status !== 'ok') process.stdout.write(`      fix: ${check.fix}\n`);
        }
        process.stdout.write(report.ok ? '\ndoctor: everything required is in place\n' : '\ndoctor: something required failed (see fix lines above)\n');
      }
      process.exitCode = report.ok ? 0 : 1;
    });
}
