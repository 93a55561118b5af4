/**
 * `reasoning|agentic train|sft|benchmark`: the capability gate, then the preset's data written into
 * the run directory, then the shared pipeline (RAFT, SFT) or the shared generation path (benchmark).
 * The run directory gets one more artifact, modality.json: the preset, dataset, split, verifier
 * and the gate's verdict.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { OutputRecord } from '../data/convert.js';
import { findDataset } from '../data/registry.js';
import { NativeGenerator } from '../engine/generator.js';
import { Trainer } from '../engine/trainer.js';
import type { RaftConfig, SftConfig } from '../pipelines/config/commands.js';
import type { ValueSource } from '../pipelines/config/spec.js';
import { runRaft, type RaftRunResult } from '../pipelines/raft/loop.js';
import { openModel } from '../pipelines/session.js';
import { runSft, type SftRunResult } from '../pipelines/sft.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import type { EventBus } from '../util/events.js';
import { scoreModality, type ModalityBenchmarkResult } from './benchmark.js';
import { checkCapability, readModelIdentity, type CapabilityVerdict } from './capability.js';
import { MODALITY_ONLY_OPTIONS, type ModalityBenchmarkConfig, type ModalitySftConfig, type ModalityTrainConfig } from './configs.js';
import { checkDataset, loadDatasetRecords, type ModalityPreset } from './preset.js';

export interface ModalityRunOptions<C> {
  preset: ModalityPreset;
  config: C;
  sources: Record<string, ValueSource>;
  configFile?: string;
  /** the user's arguments after "<modality> <command>". */
  argv: readonly string[];
  cwd: string;
  bus: EventBus;
  version: string;
  signal?: AbortSignal;
}

function toJsonl(records: readonly OutputRecord[]): string {
  return records.map((record) => JSON.stringify(record)).join('\n') + '\n';
}

/** The user's argv without the modality-only flags (and their values), for launch_context.json's rerun line. */
export function pipelineArgv(argv: readonly string[], dropped: readonly string[]): string[] {
  const flags = new Set(dropped.flatMap((property) => {
    const flag = `--${property.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
    return [flag, `--no-${flag.slice(2)}`];
  }));
  const kept: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const name = arg.split('=')[0];
    if (!flags.has(name)) {
      kept.push(arg);
      continue;
    }
    const takesValue = !arg.includes('=') && !name.startsWith('--no-') && name !== '--allow-prototype-train';
    if (takesValue) index++;
  }
  return kept;
}

/** modality.json: the preset, dataset, split and the capability gate's verdict, plus the command's own fields. */
function writeModalityRecord(root: string, preset: ModalityPreset, command: 'train' | 'sft', loaded: { split: string; source: string }, dataset: string, capability: CapabilityVerdict, fields: Record<string, unknown>): void {
  writeJsonAtomic(join(root, 'modality.json'), {
    contract_version: 1,
    modality: preset.modality,
    command: `${preset.modality} ${command}`,
    pipeline: `${command === 'train' ? 'raft' : 'sft'} train`,
    dataset,
    split: loaded.split,
    source: loaded.source,
    ...fields,
    capability: { status: capability.status, family: capability.family, prototype: capability.prototype, model_type: capability.identity.modelType ?? null, architectures: capability.identity.architectures },
  });
}

/** The config and value sources without the modality-only keys, ready for the shared pipeline. */
function withoutKeys(config: object, sources: Record<string, ValueSource>, keys: readonly string[]): { fields: Record<string, unknown>; sources: Record<string, ValueSource> } {
  const fields: Record<string, unknown> = { ...config };
  const kept: Record<string, ValueSource> = { ...sources };
  for (const key of keys) {
    delete fields[key];
    delete kept[key];
  }
  return { fields, sources: kept };
}

function gate(preset: ModalityPreset, model: string, allow: boolean, cwd: string): CapabilityVerdict {
  return checkCapability(preset.modality, readModelIdentity(resolve(cwd, model)), allow);
}

export async function runModalityTrain(options: ModalityRunOptions<ModalityTrainConfig>): Promise<RaftRunResult & { capability: CapabilityVerdict }> {
  const { preset, config, cwd } = options;
  checkDataset(preset, config.dataset, 'train');
  const capability = gate(preset, config.checkpoint ?? config.model ?? '', config.allowPrototypeTrain, cwd);
  const limit = config.limit ?? config.maxSamples;
  const loaded = await loadDatasetRecords(config.dataset, 'rlvr', config.split, limit);
  const prompts = preset.toPrompts(loaded.records, { seed: config.seed, irrelevanceFraction: config.irrelevanceFraction ?? 0 });
  const root = resolve(cwd, config.output);
  mkdirSync(root, { recursive: true });
  const promptsPath = join(root, 'prompts.jsonl');
  writeFileAtomic(promptsPath, toJsonl(prompts));
  writeModalityRecord(root, preset, 'train', loaded, config.dataset, capability, { records: loaded.records.length, prompts: prompts.length, prompts_file: promptsPath, verifier: preset.verifier });
  const { fields: raftFields, sources } = withoutKeys(config, options.sources, MODALITY_ONLY_OPTIONS);
  const raft = { ...raftFields, prompts: promptsPath, verifier: preset.verifier, maxPrompts: undefined } as RaftConfig;
  const result = await runRaft({
    config: raft,
    sources: { ...sources, prompts: 'cli', verifier: 'cli', maxPrompts: 'unset' },
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    argv: [...pipelineArgv(options.argv, MODALITY_ONLY_OPTIONS), '--prompts', promptsPath, '--verifier', preset.verifier],
    cwd,
    bus: options.bus,
    version: options.version,
    modality: preset.modality,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { ...result, capability };
}

export async function runModalitySft(options: ModalityRunOptions<ModalitySftConfig>): Promise<SftRunResult & { capability: CapabilityVerdict }> {
  const { preset, config, cwd } = options;
  checkDataset(preset, config.dataset, 'sft');
  const capability = gate(preset, config.model ?? '', config.allowPrototypeTrain, cwd);
  const loaded = await loadDatasetRecords(config.dataset, 'sft', config.split, config.maxSamples);
  const conversations = loaded.records.map((record) => preset.toConversation(record));
  const root = resolve(cwd, config.output);
  mkdirSync(root, { recursive: true });
  const dataPath = join(root, 'sft_data.jsonl');
  writeFileAtomic(dataPath, toJsonl(conversations));
  writeModalityRecord(root, preset, 'sft', loaded, config.dataset, capability, { records: conversations.length, data_file: dataPath });
  const SFT_ONLY = ['dataset', 'split', 'allowPrototypeTrain'];
  const { fields: sftFields, sources } = withoutKeys(config, options.sources, SFT_ONLY);
  const sft = { ...sftFields, data: dataPath, dataset: undefined } as SftConfig;
  const result = await runSft({
    config: sft,
    sources: { ...sources, data: 'cli', dataset: 'unset' },
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    argv: [...pipelineArgv(options.argv, SFT_ONLY), '--data', dataPath],
    cwd,
    bus: options.bus,
    version: options.version,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { ...result, capability };
}

/** The split a benchmark reads: --split, else test where the dataset has one, else its default split. */
export function benchmarkSplit(dataset: string, split: string | undefined): string {
  if (split !== undefined) return split;
  const spec = findDataset(dataset);
  return spec.splits.includes('test') ? 'test' : spec.defaultSplit;
}

/** The prompt records a benchmark scores (the preset's toPrompts over the first --limit records of the split). */
export async function benchmarkRecords(preset: ModalityPreset, dataset: string, split: string, limit: number | undefined, seed: number, irrelevanceFraction: number): Promise<OutputRecord[]> {
  checkDataset(preset, dataset, 'benchmark');
  const loaded = await loadDatasetRecords(dataset, 'rlvr', split, limit);
  return preset.toPrompts(loaded.records, { seed, irrelevanceFraction });
}

export async function runModalityBenchmark(options: Omit<ModalityRunOptions<ModalityBenchmarkConfig>, 'sources' | 'argv' | 'version'>): Promise<ModalityBenchmarkResult> {
  const { preset, config, cwd } = options;
  const split = benchmarkSplit(config.dataset, config.split);
  const records = await benchmarkRecords(preset, config.dataset, split, config.limit, config.seed, config.irrelevanceFraction ?? 0);
  const session = await openModel(resolve(cwd, config.model ?? ''), {
    ...(config.cycle === undefined ? {} : { cycle: config.cycle }),
    device: config.device,
    dtype: config.dtype,
    ...(config.chatTemplate === undefined ? {} : { chatTemplate: config.chatTemplate }),
  });
  // the engine samples through live LoRA tensors: attaching the adapter is all it takes
  const trainer = session.source.adapterDir === undefined ? undefined : Trainer.fromAdapter(session.model, session.source.adapterDir);
  try {
    const result = await scoreModality({
      preset,
      records,
      generator: new NativeGenerator(session.model),
      tokenizer: session.tokenizer,
      template: session.template,
      settings: {
        model: config.model ?? '',
        dataset: config.dataset,
        split,
        maxNewTokens: config.maxNewTokens,
        temperature: config.temperature,
        topP: config.topP,
        seed: config.seed,
        generationBatchSize: config.generationBatchSize,
        ...(config.systemPrompt === undefined ? {} : { systemPrompt: config.systemPrompt }),
      },
      bus: options.bus,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (config.output !== undefined) writeJsonAtomic(resolve(cwd, config.output), result);
    return result;
  } finally {
    trainer?.dispose();
    session.model.dispose();
  }
}
