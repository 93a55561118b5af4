import type { Command } from 'commander';
import { addConfigOptions } from './config-options.js';
import { commandGroup, pipelineLaunch, runWithProgress } from './run-command.js';
import { sftConfig } from '../pipelines/config/commands.js';
import { DryRunComplete, runSft } from '../pipelines/sft.js';

export function registerSft(program: Command): void {
  const group = commandGroup(program, 'sft', 'supervised fine-tuning');
  const train = group
    .command('train')
    .description('fine-tune on chat data (loss on assistant tokens only); rerun the same command to resume')
    .addHelpText('after', '\nEvery option is also a --config YAML key (learning_rate <-> --learning-rate); flags override the file. Preset: configs/sft_example.yaml.');
  addConfigOptions(train, sftConfig);
  train.action(async (_options: unknown, command: Command) => {
    await runWithProgress(command, sftConfig, ['sft', 'train'], async (run) => {
      try {
        const result = await runSft(pipelineLaunch(run));
        const { summary } = result;
        process.stdout.write(
          `sft: ${summary.total_train_steps_executed} steps, loss ${summary.initial_train_loss?.toFixed(4) ?? '-'} -> ${summary.final_train_loss?.toFixed(4) ?? '-'}, verdict ${summary.effectiveness.verdict}\n  model: ${summary.final_model_path}\n  summary: ${result.summaryPath}\n`,
        );
      } catch (error) {
        if (!(error instanceof DryRunComplete)) throw error;
        process.stdout.write('sft: dry run: config, model and data check out\n');
      }
    });
  });
}
