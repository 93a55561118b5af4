/**
 * What a modality preset is: the datasets it takes, the verifier its samples go to, and how dataset
 * records become prompts (RAFT, benchmark) and conversations (SFT). Presets feed the shared SFT,
 * RAFT and benchmark pipelines; no modality has a training loop of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutputRecord } from '../data/convert.js';
import { prepareDataset, type PrepareResult } from '../data/prepare.js';
import { findDataset, type DatasetKind } from '../data/registry.js';
import { HaloError } from '../util/errors.js';
import { readJsonl } from '../util/jsonl.js';
import type { ModalityName } from './capability.js';

export interface PromptOptions {
  seed: number;
  /** agentic: fraction of extra "no call expected" samples (0 = none). */
  irrelevanceFraction: number;
}

export interface ModalityPreset {
  modality: ModalityName;
  /** src/verifiers registry name. */
  verifier: 'math' | 'tools';
  /** datasets `train` and `benchmark` take (RLVR prompt records). */
  promptDatasets: readonly string[];
  /** datasets `sft` takes (conversations). */
  sftDatasets: readonly string[];
  defaultTrainDataset: string;
  defaultSftDataset: string;
  defaultBenchmarkDataset: string;
  /** RLVR records of a dataset → the prompt records the pipelines read (instruction, irrelevance samples…). */
  toPrompts(records: readonly OutputRecord[], options: PromptOptions): OutputRecord[];
  /** an SFT record ({messages}, maybe tools) → the conversation trained on. */
  toConversation(record: OutputRecord): OutputRecord;
}

export function checkDataset(preset: ModalityPreset, dataset: string, use: 'train' | 'sft' | 'benchmark'): void {
  findDataset(dataset); // unknown names get the registry's own error
  const allowed = use === 'sft' ? preset.sftDatasets : preset.promptDatasets;
  if (!allowed.includes(dataset)) {
    throw new HaloError('DATASET_UNSUPPORTED', `--dataset ${dataset}: \`${preset.modality} ${use}\` takes ${allowed.join(', ')}`, {
      fix: `pass one of ${allowed.join(', ')} (see \`halo-forge ${preset.modality} datasets\`)`,
    });
  }
}

/** Records of a registry dataset in the given kind: the first `limit` of the split (HALO_FORGE_DATA_DIR, the HF cache, or the hub). */
export async function loadDatasetRecords(dataset: string, kind: DatasetKind, split: string | undefined, limit: number | undefined): Promise<{ records: OutputRecord[]; source: PrepareResult['source']; split: string }> {
  const scratch = mkdtempSync(join(tmpdir(), 'halo-modality-'));
  try {
    const output = join(scratch, 'records.jsonl');
    const prepared = await prepareDataset({ dataset, output, format: kind, ...(split === undefined ? {} : { split }), ...(limit === undefined ? {} : { maxSamples: limit }) });
    return { records: readJsonl<OutputRecord>(output), source: prepared.source, split: split ?? findDataset(dataset).defaultSplit };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
