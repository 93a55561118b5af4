/**
 * Agentic preset: function calling in the Hermes format. Tool schemas go to the chat template as
 * its `tools` (Qwen / Hermes templates list them in the system turn; the model answers with
 * <tool_call>{"name", "arguments"}</tool_call> blocks); graded by the tool-calling verifier.
 * Irrelevance samples pair a query with another record's tools: no call is expected there, and a
 * call is penalised, so training also teaches when not to call.
 */
import type { OutputRecord } from '../data/convert.js';
import { Rng } from '../util/rng.js';
import { readTools } from '../verifiers/tools/schema.js';
import type { ModalityPreset, PromptOptions } from './preset.js';

function toolNames(record: OutputRecord): Set<string> {
  return new Set(readTools(record.tools).map((tool) => tool.name));
}

/** `fraction` x n extra samples (at least one when fraction > 0 and two records exist): record i's query with record j's unrelated tools. */
export function irrelevanceSamples(records: readonly OutputRecord[], options: PromptOptions): OutputRecord[] {
  if (options.irrelevanceFraction <= 0 || records.length < 2) return [];
  const count = Math.max(1, Math.round(options.irrelevanceFraction * records.length));
  const rng = new Rng(options.seed >>> 0);
  const made: OutputRecord[] = [];
  for (let k = 0; k < count; k++) {
    const i = rng.int(records.length);
    const own = toolNames(records[i]);
    const start = rng.int(records.length);
    for (let step = 0; step < records.length; step++) {
      const j = (start + step) % records.length;
      const theirs = records[j].tools;
      if (j === i || !Array.isArray(theirs) || theirs.length === 0 || [...toolNames(records[j])].some((name) => own.has(name))) continue;
      const source = records[i];
      made.push({
        id: `${String(source.id)}#irrelevance${k}`,
        dataset: source.dataset,
        prompt: source.prompt,
        ...(Array.isArray(source.messages) ? { messages: source.messages } : {}),
        tools: theirs,
        expected_calls: [],
        irrelevance: true,
      });
      break;
    }
  }
  return made;
}

export const agenticPreset: ModalityPreset = {
  modality: 'agentic',
  verifier: 'tools',
  promptDatasets: ['xlam', 'bfcl'],
  sftDatasets: ['xlam_sft', 'xlam', 'glaive'],
  defaultTrainDataset: 'xlam',
  defaultSftDataset: 'xlam_sft',
  defaultBenchmarkDataset: 'bfcl',
  toPrompts: (records, options) => [...records, ...irrelevanceSamples(records, options)],
  toConversation: (record) => record,
};
