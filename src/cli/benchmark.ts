import type { Command } from 'commander';
import { addConfigOptions } from './config-options.js';
import { commandGroup, runWithProgress } from './run-command.js';
import { benchmarkConfig } from '../pipelines/config/commands.js';
import { runBenchmark } from '../pipelines/benchmark.js';

export function registerBenchmark(program: Command): void {
  const group = commandGroup(program, 'benchmark', 'measure a model with a verifier: pass@k, success and compile rates, tokens/s');
  const run = group
    .command('run')
    .description('sample --samples completions per prompt, verify them, report pass@k (unbiased estimator); JSON on stdout unless --output')
    .addHelpText('after', '\n--model accepts a model folder, a hub id in the local cache, an adapter folder, or a run directory (final_model/, or --cycle N).');
  addConfigOptions(run, benchmarkConfig);
  run.action(async (_options: unknown, command: Command) => {
    await runWithProgress(command, benchmarkConfig, ['benchmark', 'run'], async (invocation) => {
      const result = await runBenchmark({ config: invocation.config, cwd: process.cwd(), bus: invocation.bus, signal: invocation.signal });
      if (invocation.config.output === undefined) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        const passAtK = Object.entries(result.pass_at_k).map(([name, value]) => `${name} ${(value * 100).toFixed(1)}%`).join(', ');
        process.stdout.write(`benchmark: ${result.prompts} prompts x ${result.samples}: ${passAtK}; result: ${invocation.config.output}\n`);
      }
    });
  });
}
