import type { Command } from 'commander';
import { addConfigOptions } from './config-options.js';
import { commandGroup, pipelineLaunch, runWithProgress } from './run-command.js';
import { raftConfig } from '../pipelines/config/commands.js';
import { runRaft } from '../pipelines/raft/loop.js';

export function registerRaft(program: Command): void {
  const raft = commandGroup(program, 'raft', 'RAFT: sample, verify, keep the best, train — repeated in cycles');
  const train = raft
    .command('train')
    .description('run RAFT cycles on one LoRA adapter; rerun the same command to resume a stopped run')
    .addHelpText('after', '\nEvery option is also a --config YAML key (samples_per_prompt <-> --samples-per-prompt); flags override the file.\nPresets: configs/raft_example.yaml, raft_conservative.yaml, raft_aggressive.yaml.');
  addConfigOptions(train, raftConfig);
  train.action(async (_options: unknown, command: Command) => {
    await runWithProgress(command, raftConfig, ['raft', 'train'], async (run) => {
      const result = await runRaft(pipelineLaunch(run));
      const verdict = result.summary.effectiveness;
      process.stdout.write(`raft: ${result.summary.cycles_executed} cycle${result.summary.cycles_executed === 1 ? '' : 's'}, verdict ${verdict.verdict}${verdict.reasons.length > 0 ? ` (${verdict.reasons.join(', ')})` : ''}\n  adapter: ${result.summary.final_model_path}\n  summary: ${result.summaryPath}\n`);
    });
  });
}
