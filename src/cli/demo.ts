import { Option, type Command } from 'commander';
import { runDemo, type DemoReport } from '../pipelines/demo.js';
import { HaloError } from '../util/errors.js';
import { packageVersion, withRunSession } from './run-command.js';

function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < 1) throw new HaloError('ERR_FLAG_VALUE', `${flag} must be an integer >= 1 (got "${value}")`, { fix: `pass e.g. ${flag} 3` });
    return number;
  };
}

export function formatDemoReport(report: DemoReport): string {
  const percent = (value: number): string => `${(value * 100).toFixed(1)}%`.padStart(7);
  const lines = [
    '',
    `halo-forge demo: ${report.model.parameters.toLocaleString('en-US')}-parameter model, held-out ${report.problems.held_out} problems (never trained on)`,
    '',
    `  stage            pass@1   pass@${report.stages[0].k}`,
    ...report.stages.map((stage) => `  ${stage.stage.padEnd(15)} ${percent(stage.pass1)} ${percent(stage.passK)}`),
    '',
    `  pass@1: ${percent(report.baseline_pass1).trim()} after SFT -> ${percent(report.final_pass1).trim()} after RAFT (${report.improvement_points >= 0 ? '+' : ''}${report.improvement_points.toFixed(1)} points)`,
    `  time: model ${report.seconds.model.toFixed(1)} s, SFT ${report.seconds.sft.toFixed(1)} s, RAFT ${report.seconds.raft.toFixed(1)} s (generate ${(report.raft_phase_seconds.generate ?? 0).toFixed(1)}, verify ${(report.raft_phase_seconds.verify ?? 0).toFixed(1)}, train ${(report.raft_phase_seconds.train ?? 0).toFixed(1)}), benchmarks ${report.seconds.benchmarks.toFixed(1)} s, total ${report.seconds.total.toFixed(1)} s`,
    `  artifacts: ${report.paths.output}`,
    `    SFT model    ${report.paths.sft}/final_model`,
    `    RAFT run     ${report.paths.raft} (adapter: ${report.paths.final_adapter})`,
    `    benchmarks   ${report.paths.benchmarks}`,
    '',
  ];
  return lines.join('\n');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('end to end on a built-in tiny model and task: create, SFT, benchmark, RAFT, benchmark after each cycle; prints a report')
    .addOption(new Option('--output <DIR>', 'where everything is written (default: halo-forge-demo)').default('halo-forge-demo'))
    .addOption(new Option('--cycles <N>', 'RAFT cycles (default: 3)').default(3).argParser(positiveInteger('--cycles')))
    .addOption(new Option('--seed <N>', 'seed for the model, the data split and every sampler (default: 42)').default(42).argParser(positiveInteger('--seed')))
    .option('--fast', 'a smaller smoke run (about a minute; the numbers mean less) (default: false)', false)
    .option('--quiet', 'print only the report (default: false)', false)
    .option('--json', 'print the report as one JSON line instead of the table (default: false)', false)
    .action(async (options: { output: string; cycles: number; seed: number; fast: boolean; quiet: boolean; json: boolean }) => {
      let report: DemoReport | undefined;
      await withRunSession(options.quiet || options.json, async (bus, signal) => {
        report = await runDemo({ output: options.output, cycles: options.cycles, fast: options.fast, seed: options.seed, cwd: process.cwd(), bus, version: packageVersion, signal });
      });
      // Printed after the progress view has closed, so the table is not interleaved with bars.
      if (report) process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatDemoReport(report));
    });
}
