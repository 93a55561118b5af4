/**
 * The demo's built-in verifiable task: add a one-digit number to a three-digit one ("347+8=?").
 * The answer copies the leading digits and adds at the last (with a carry about half the time), so a
 * tiny model can learn the rule and apply it to problems it never saw. Problems are split by seed
 * into a small labelled SFT set, a larger unlabelled RAFT prompt pool (the math verifier is the only
 * teacher there) and a held-out set used only for benchmarks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../util/rng.js';

export interface DemoProblem {
  question: string;
  answer: string;
}

export interface DemoSplits {
  sft: DemoProblem[];
  raft: DemoProblem[];
  heldOut: DemoProblem[];
}

export function demoSplits(seed: number, sizes: { sft: number; raft: number; heldOut: number }): DemoSplits {
  const problems: DemoProblem[] = [];
  for (let a = 100; a < 1000; a++) for (let b = 1; b < 10; b++) problems.push({ question: `${a}+${b}=?`, answer: String(a + b) });
  const shuffled = new Rng(seed).shuffle(problems);
  const needed = sizes.heldOut + sizes.sft + sizes.raft;
  if (needed > shuffled.length) throw new RangeError(`demo: ${needed} problems asked for, ${shuffled.length} exist`);
  return {
    heldOut: shuffled.slice(0, sizes.heldOut),
    sft: shuffled.slice(sizes.heldOut, sizes.heldOut + sizes.sft),
    raft: shuffled.slice(sizes.heldOut + sizes.sft, needed),
  };
}

export interface DemoDataFiles {
  sft: string;
  raft: string;
  heldOut: string;
}

/** SFT records are conversations; RAFT and held-out records are prompts with the expected answer. */
export function writeDemoData(directory: string, splits: DemoSplits): DemoDataFiles {
  mkdirSync(directory, { recursive: true });
  const lines = (records: unknown[]): string => records.map((record) => JSON.stringify(record)).join('\n') + '\n';
  const files = { sft: join(directory, 'sft.jsonl'), raft: join(directory, 'raft_prompts.jsonl'), heldOut: join(directory, 'held_out.jsonl') };
  writeFileSync(files.sft, lines(splits.sft.map((problem) => ({ messages: [{ role: 'user', content: problem.question }, { role: 'assistant', content: problem.answer }] }))));
  writeFileSync(files.raft, lines(splits.raft.map((problem) => ({ prompt: problem.question, answer: problem.answer }))));
  writeFileSync(files.heldOut, lines(splits.heldOut.map((problem) => ({ prompt: problem.question, answer: problem.answer }))));
  return files;
}
