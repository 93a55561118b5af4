/**
 * `reasoning sft|train|benchmark` and `agentic sft|train|benchmark` (the `datasets` listings of both
 * groups come from data.ts's registerDatasetListings). Presets on the shared SFT / RAFT / benchmark
 * pipelines; see docs/modalities.md.
 */
import type { Command } from 'commander';
import { agenticPreset } from '../modalities/agentic.js';
import { agenticBenchmarkConfig, agenticSftConfig, agenticTrainConfig, reasoningBenchmarkConfig, reasoningSftConfig, reasoningTrainConfig } from '../modalities/configs.js';
import type { ModalityBenchmarkConfig, ModalitySftConfig, ModalityTrainConfig } from '../modalities/configs.js';
import type { ModalityPreset } from '../modalities/preset.js';
import type { CommandConfigDefinition, OptionSpecs } from '../pipelines/config/spec.js';
import { reasoningPreset } from '../modalities/reasoning.js';
import { runModalityBenchmark, runModalitySft, runModalityTrain } from '../modalities/run.js';
import { addConfigOptions } from './config-options.js';
import { commandGroup, pipelineLaunch, runWithProgress } from './run-command.js';

/** Each modality's definitions; the agentic ones add --irrelevance-fraction to the same shape. */
type Definitions = { train: CommandConfigDefinition<OptionSpecs>; sft: CommandConfigDefinition<OptionSpecs>; benchmark: CommandConfigDefinition<OptionSpecs> };

function registerModality(program: Command, preset: ModalityPreset, describe: string, definitions: Definitions): void {
  const group = commandGroup(program, preset.modality, describe);
  const name = preset.modality;

  const train = group
    .command('train')
    .description(`RAFT cycles on ${preset.promptDatasets.join(' / ')} prompts graded by the ${preset.verifier} verifier; rerun the same command to resume`)
    .addHelpText('after', `\nThe ${name} preset on \`raft train\`: the run directory has the same artifacts, plus prompts.jsonl and modality.json.`);
  addConfigOptions(train, definitions.train);
  train.action(async (_options: unknown, command: Command) => {
    await runWithProgress(command, definitions.train, [name, 'train'], async (run) => {
      const result = await runModalityTrain({ ...pipelineLaunch(run), preset, config: run.config as unknown as ModalityTrainConfig });
      const verdict = result.summary.effectiveness;
      const gate = result.capability.prototype ? 'prototype (unsupported family allowed)' : `family ${result.capability.family}`;
      process.stdout.write(`${name}: ${result.summary.cycles_executed} cycles, ${gate}, verdict ${verdict.verdict}${verdict.reasons.length > 0 ? ` (${verdict.reasons.join(', ')})` : ''}\n  adapter: ${result.summary.final_model_path}\n  summary: ${result.summaryPath}\n`);
    });
  });

  const sft = group
    .command('sft')
    .description(`supervised fine-tuning on ${preset.sftDatasets.join(' / ')} conversations in the ${name} prompt format; rerun to resume`)
    .addHelpText('after', `\nThe ${name} preset on \`sft train\`: the output folder also holds sft_data.jsonl and modality.json.`);
  addConfigOptions(sft, definitions.sft);
  sft.action(async (_options: unknown, command: Command) => {
    await runWithProgress(command, definitions.sft, [name, 'sft'], async (run) => {
      const result = await runModalitySft({ ...pipelineLaunch(run), preset, config: run.config as unknown as ModalitySftConfig });
      const { summary } = result;
      process.stdout.write(`${name} sft: ${summary.total_train_steps_executed} steps, loss ${summary.initial_train_loss?.toFixed(4) ?? '-'} -> ${summary.final_train_loss?.toFixed(4) ?? '-'}, verdict ${summary.effectiveness.verdict}\n  model: ${summary.final_model_path}\n  summary: ${result.summaryPath}\n`);
    });
  });

  const benchmark = group
    .command('benchmark')
    .description(name === 'reasoning' ? 'accuracy (final answer extracted, exact match) on a math split; JSON on stdout unless --output' : 'call accuracy (function + arguments) and irrelevance accuracy on a tool-calling split; JSON on stdout unless --output')
    .addHelpText('after', '\n--model accepts a model folder, a hub id in the local cache, an adapter folder, or a run directory (final_model/, or --cycle N).');
  addConfigOptions(benchmark, definitions.benchmark);
  benchmark.action(async (_options: unknown, command: Command) => {
    await runWithProgress(command, definitions.benchmark, [name, 'benchmark'], async (run) => {
      const result = await runModalityBenchmark({ preset, config: run.config as unknown as ModalityBenchmarkConfig, cwd: process.cwd(), bus: run.bus, signal: run.signal });
      const output = (run.config as unknown as ModalityBenchmarkConfig).output;
      if (output === undefined) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        const metrics = Object.entries(result.metrics).map(([key, value]) => `${key} ${value === null ? '-' : `${(value * 100).toFixed(1)}%`}`).join(', ');
        process.stdout.write(`${name} benchmark: ${result.samples} samples of ${result.dataset}/${result.split}: ${metrics}; result: ${output}\n`);
      }
    });
  });
}

/** The definitions differ in their option sets; the actions read the resolved config through the modality config types. */
const loose = (definition: unknown): CommandConfigDefinition<OptionSpecs> => definition as CommandConfigDefinition<OptionSpecs>;

export function registerModalities(program: Command): void {
  registerModality(program, reasoningPreset, 'math reasoning (GSM8K, MATH, AIME, MetaMathQA): sft, RAFT train, benchmark', { train: loose(reasoningTrainConfig), sft: loose(reasoningSftConfig), benchmark: loose(reasoningBenchmarkConfig) });
  registerModality(program, agenticPreset, 'tool calling in the Hermes format (xLAM, Glaive, BFCL): sft, RAFT train, benchmark', { train: loose(agenticTrainConfig), sft: loose(agenticSftConfig), benchmark: loose(agenticBenchmarkConfig) });
}
