/**
 * Options of `reasoning|agentic sft|train|benchmark`: the shared pipeline's options (SFT or RAFT)
 * with --prompts / --verifier replaced by the preset's --dataset, plus --split, --limit,
 * --allow-prototype-train (and --irrelevance-fraction for agentic). Same flag / YAML / default rules
 * as `raft train` (DESIGN.md §3).
 */
import { benchmarkConfig, raftConfig, sftConfig } from '../pipelines/config/commands.js';
import { defineCommandConfig, type ResolvedConfig } from '../pipelines/config/spec.js';

const { prompts: _prompts, verifier: _verifier, maxPrompts: _maxPrompts, ...raftShared } = raftConfig.options;
const { dataset: _sftDataset, data: _sftData, ...sftShared } = sftConfig.options;
const { config, seed, device, dtype, quiet, model, cycle, chatTemplate, topP, generationBatchSize, systemPrompt } = benchmarkConfig.options;

const split = { kind: 'string', description: "dataset split (default: the dataset's default split; benchmark: test where the dataset has one)", argName: 'NAME' } as const;
const limit = { kind: 'int', min: 1, description: 'use only the first N records of the split', argName: 'N' } as const;
const allowPrototypeTrain = { kind: 'boolean', default: false, description: 'train a model whose family (config.json) is not a supported one instead of failing with CAPABILITY_ERROR' } as const;
const irrelevanceFraction = { kind: 'number', default: 0.1, min: 0, max: 1, description: 'extra samples (this fraction of the records) pairing a query with unrelated tools, where no call is expected' } as const;

function trainOptions(defaultDataset: string, defaultOutput: string) {
  return {
    ...raftShared,
    output: { ...raftShared.output, default: defaultOutput },
    dataset: { kind: 'string', default: defaultDataset, description: 'registry dataset (see the `datasets` command)', argName: 'NAME' },
    split,
    limit,
    maxSamples: { kind: 'int', min: 1, description: 'same as --limit (the seed\'s name); --limit wins when both are set', argName: 'N' },
    allowPrototypeTrain,
  } as const;
}

function sftOptions(defaultDataset: string, defaultOutput: string) {
  return {
    ...sftShared,
    output: { ...sftShared.output, default: defaultOutput },
    dataset: { kind: 'string', default: defaultDataset, description: 'registry dataset (see the `datasets` command)', argName: 'NAME' },
    split,
    allowPrototypeTrain,
  } as const;
}

function benchmarkOptions(defaultDataset: string) {
  return {
    config,
    seed,
    device,
    dtype,
    quiet,
    model,
    cycle,
    chatTemplate,
    dataset: { kind: 'string', default: defaultDataset, description: 'registry dataset (see the `datasets` command)', argName: 'NAME' },
    split,
    limit,
    output: { kind: 'string', description: 'write the result JSON here (default: print it)', argName: 'PATH', resumeNeutral: true },
    maxNewTokens: { kind: 'int', default: 512, min: 1, description: 'tokens generated per completion at most' },
    temperature: { kind: 'number', default: 0, min: 0, description: 'sampling temperature (0 = greedy)' },
    topP,
    generationBatchSize,
    systemPrompt,
  } as const;
}

const needsModel = (c: { model?: string | undefined; checkpoint?: string | undefined }): string | undefined => (c.model === undefined && c.checkpoint === undefined ? 'no model: pass --model' : undefined);

export const reasoningTrainConfig = defineCommandConfig({ command: 'reasoning train', options: trainOptions('gsm8k', 'models/reasoning'), validate: needsModel });
export const agenticTrainConfig = defineCommandConfig({ command: 'agentic train', options: { ...trainOptions('xlam', 'models/agentic'), irrelevanceFraction }, validate: needsModel });
export const reasoningSftConfig = defineCommandConfig({ command: 'reasoning sft', options: sftOptions('metamath', 'models/reasoning_sft'), validate: needsModel });
export const agenticSftConfig = defineCommandConfig({ command: 'agentic sft', options: sftOptions('xlam_sft', 'models/agentic_sft'), validate: needsModel });
export const reasoningBenchmarkConfig = defineCommandConfig({ command: 'reasoning benchmark', options: benchmarkOptions('gsm8k'), validate: needsModel });
export const agenticBenchmarkConfig = defineCommandConfig({ command: 'agentic benchmark', options: { ...benchmarkOptions('bfcl'), irrelevanceFraction }, validate: needsModel });

export type ModalityTrainConfig = ResolvedConfig<typeof reasoningTrainConfig.options> & { irrelevanceFraction?: number };
export type ModalitySftConfig = ResolvedConfig<typeof reasoningSftConfig.options>;
export type ModalityBenchmarkConfig = ResolvedConfig<typeof reasoningBenchmarkConfig.options> & { irrelevanceFraction?: number };

/** Options that exist only on the modality commands (removed before the shared pipeline sees the config). */
export const MODALITY_ONLY_OPTIONS = ['dataset', 'split', 'limit', 'maxSamples', 'allowPrototypeTrain', 'irrelevanceFraction'] as const;
