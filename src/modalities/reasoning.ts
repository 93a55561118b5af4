/**
 * Reasoning preset: math word problems (GSM8K, MATH, AIME; MetaMathQA for SFT) asked through the
 * model's chat template with an instruction to end with \boxed{answer}; graded by the math verifier
 * (answer extraction + numeric / symbolic comparison).
 */
import type { ChatMessage } from '../data/chat.js';
import type { OutputRecord } from '../data/convert.js';
import { extractAnswer } from '../verifiers/math/answer.js';
import type { ModalityPreset } from './preset.js';

export const REASONING_INSTRUCTION = 'Solve the problem step by step. End your answer with the final result as \\boxed{ANSWER}.';

export function withInstruction(problem: string): string {
  return `${problem.trimEnd()}\n\n${REASONING_INSTRUCTION}`;
}

/** A worked solution that ends in \boxed{}: GSM8K's "#### N" becomes "The final answer is \boxed{N}.". */
export function boxedSolution(solution: string): string {
  if (/\\boxed\s*\{/.test(solution)) return solution;
  const hashes = /####\s*([^\n]+)\s*$/.exec(solution);
  if (hashes) return `${solution.slice(0, hashes.index).trimEnd()}\nThe final answer is \\boxed{${hashes[1].trim().replaceAll(',', '')}}.`;
  const found = extractAnswer(solution);
  return found === null ? solution : `${solution.trimEnd()}\nThe final answer is \\boxed{${found.answer}}.`;
}

export const reasoningPreset: ModalityPreset = {
  modality: 'reasoning',
  verifier: 'math',
  promptDatasets: ['gsm8k', 'math', 'aime'],
  sftDatasets: ['gsm8k', 'math', 'metamath'],
  defaultTrainDataset: 'gsm8k',
  defaultSftDataset: 'metamath',
  defaultBenchmarkDataset: 'gsm8k',
  toPrompts: (records) => records.map((record) => ({ ...record, prompt: withInstruction(String(record.prompt ?? '')) })),
  toConversation: (record) => {
    const messages = (record.messages as ChatMessage[]).map((message) => {
      if (message.role === 'user') return { ...message, content: withInstruction(message.content) };
      if (message.role === 'assistant') return { ...message, content: boxedSolution(message.content) };
      return message;
    });
    return { ...record, messages };
  },
};
