/**
 * The Export issue's demo criterion, shared by test/export/demo-adapter-gguf.test.ts and proof:export:
 * run `halo-forge demo` (SFT, then RAFT cycles training a LoRA adapter), export the final RAFT adapter
 * merged onto its base as an F32 GGUF through the export pipeline, then greedy-decode every held-out
 * prompt of the demo in llama.cpp (node-llama-cpp, F32 KV cache, one sequence at a time) and in our
 * engine (the base model with the adapter live, not merged), and compare the token ids.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatTemplate } from '../../src/data/chat.js';
import { HaloTokenizer } from '../../src/data/tokenizer.js';
import { Model } from '../../src/engine/model.js';
import { Trainer } from '../../src/engine/trainer.js';
import { openLlamaCppPeer } from '../../src/export/llama-cpp-peer.js';
import { runDemo, type DemoReport } from '../../src/pipelines/demo.js';
import { exportGguf, type GgufVerifyReport } from '../../src/pipelines/export.js';
import { resolveModelSource } from '../../src/pipelines/model-source.js';
import { encodePrompt, loadPromptRecords } from '../../src/pipelines/prompts.js';
import { EventBus } from '../../src/util/events.js';

export interface DemoAdapterOptions {
  /** the demo's smaller scale (about a minute) instead of the full one */
  fast: boolean;
  cycles: number;
  seed: number;
  /** greedy tokens per prompt at most (the continuation ends at the first stop token) */
  maxNewTokens: number;
}

export interface DemoAdapterComparison {
  demo: Pick<DemoReport, 'baseline_pass1' | 'final_pass1' | 'fast'> & { seconds: number };
  adapter: string;
  ggufBytes: number;
  verify: GgufVerifyReport | undefined;
  prompts: number;
  maxNewTokens: number;
  /** prompts whose continuation up to the first stop token is identical (same tokens, both stop or both run on) */
  identical: number;
  /** held-out questions that llama.cpp's tokenizer (from the GGUF metadata) splits into the same ids as ours */
  tokenizerIdentical: number;
  /** prompts whose continuation stops at a stop token (ours) */
  stopped: number;
  /** generated tokens before the stop, summed over prompts (ours) */
  visibleTokens: number;
  seconds: { demo: number; export: number; llamaCpp: number; ours: number };
  /** the first prompts that differ: index, ours, theirs */
  mismatches: { prompt: number; ours: number[]; theirs: number[] }[];
}

/**
 * The continuation as a user sees it: the tokens before the first stop token, and whether it stopped.
 * node-llama-cpp's evaluate() ends at an end-of-generation token without yielding it, so a peer
 * continuation shorter than asked for stopped there.
 */
function visible(tokens: readonly number[], stop: readonly number[], maxNewTokens: number): string {
  const end = tokens.findIndex((token) => stop.includes(token));
  const stopped = end >= 0 || tokens.length < maxNewTokens;
  return JSON.stringify({ tokens: end < 0 ? tokens : tokens.slice(0, end), stopped });
}

export async function compareDemoAdapterGreedy(options: DemoAdapterOptions): Promise<DemoAdapterComparison> {
  const scratch = mkdtempSync(join(tmpdir(), 'halo-demo-gguf-'));
  try {
    let clock = performance.now();
    const lap = (): number => {
      const now = performance.now();
      const seconds = (now - clock) / 1000;
      clock = now;
      return seconds;
    };
    const bus = new EventBus('demo-adapter-gguf');
    const report = await runDemo({ output: join(scratch, 'demo'), cycles: options.cycles, fast: options.fast, seed: options.seed, cwd: scratch, bus, version: 'test' });
    const adapter = report.paths.final_adapter;
    const source = resolveModelSource(adapter);
    if (source.adapterDir === undefined) throw new Error(`${adapter} is not a LoRA adapter (${source.description})`);
    const tokenizer = HaloTokenizer.fromFolder(source.baseDir);
    const template = ChatTemplate.resolve(undefined, tokenizer);
    const records = await loadPromptRecords(join(report.paths.output, 'data', 'held_out.jsonl'));
    const prompts = records.map((record) => encodePrompt(tokenizer, template, record, undefined));

    const demoSeconds = lap();
    const gguf = join(scratch, 'demo-adapter-f32.gguf');
    const exported = await exportGguf({ model: adapter, output: gguf, quantization: 'F32', sequences: prompts.slice(0, 8), threads: 2 });

    const exportSeconds = lap();
    const peer = await openLlamaCppPeer(gguf, { contextSize: 128, threads: 1, kvCacheType: 'F32' });
    const theirs: number[][] = [];
    let tokenizerIdentical = 0;
    try {
      // the GGUF's tokenizer metadata: llama.cpp splits each held-out question into our tokenizer's ids
      for (const record of records) {
        const ids = peer.tokenize(record.text).filter((id, i) => !(i === 0 && id === tokenizer.bosId));
        if (JSON.stringify(ids) === JSON.stringify(tokenizer.encode(record.text, { addSpecialTokens: false }))) tokenizerIdentical++;
      }
      // one sequence at a time: parallel sequences of one context intermittently decode differently (docs/export.md)
      for (const prompt of prompts) theirs.push(await peer.greedy(prompt, options.maxNewTokens));
    } finally {
      await peer.dispose();
    }

    const llamaCppSeconds = lap();
    const model = await Model.load(source.baseDir, { dtype: 'fp32', device: 'cpu' });
    let ours: number[][];
    try {
      const trainer = Trainer.fromAdapter(model, source.adapterDir);
      try {
        const result = await model.generate(prompts, { maxNewTokens: options.maxNewTokens, temperature: 0, stopTokenIds: [] });
        ours = result.sequences.map((sequence) => sequence.tokens);
      } finally {
        trainer.dispose();
      }
    } finally {
      model.dispose();
    }

    const oursSeconds = lap();
    const stop = model.generation.eosTokenIds;
    let identical = 0;
    let stopped = 0;
    let visibleTokens = 0;
    const mismatches: DemoAdapterComparison['mismatches'] = [];
    prompts.forEach((_, index) => {
      const a = ours[index];
      const b = theirs[index];
      const end = a.findIndex((token) => stop.includes(token));
      if (end >= 0) stopped++;
      visibleTokens += end < 0 ? a.length : end;
      if (visible(a, stop, options.maxNewTokens) === visible(b, stop, options.maxNewTokens)) identical++;
      else if (mismatches.length < 5) mismatches.push({ prompt: index, ours: a, theirs: b });
    });
    return {
      demo: { baseline_pass1: report.baseline_pass1, final_pass1: report.final_pass1, fast: report.fast, seconds: report.seconds.total },
      adapter,
      ggufBytes: exported.bytes,
      verify: exported.verify,
      prompts: prompts.length,
      maxNewTokens: options.maxNewTokens,
      identical,
      tokenizerIdentical,
      stopped,
      visibleTokens,
      seconds: { demo: demoSeconds, export: exportSeconds, llamaCpp: llamaCppSeconds, ours: oursSeconds },
      mismatches,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
