/** The demo's built-in task and model assets (the full demo runs in `npm run proof:pipelines`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatTemplate, encodeChat } from '../../src/data/chat.js';
import { HaloTokenizer } from '../../src/data/tokenizer.js';
import { demoVocabulary, writeDemoModel } from '../../src/pipelines/demo/model.js';
import { demoSplits, writeDemoData } from '../../src/pipelines/demo/task.js';
import { formatDemoReport } from '../../src/cli/demo.js';
import { MathVerifier } from '../../src/verifiers/math/math.js';

const scratch = mkdtempSync(join(tmpdir(), 'halo-demo-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

test('demo splits are disjoint, deterministic per seed, and answers are right', () => {
  const sizes = { sft: 300, raft: 1200, heldOut: 100 };
  const a = demoSplits(42, sizes);
  const b = demoSplits(42, sizes);
  assert.deepEqual(a, b);
  assert.notDeepEqual(demoSplits(7, sizes).heldOut, a.heldOut);
  const questions = [...a.sft, ...a.raft, ...a.heldOut].map((problem) => problem.question);
  assert.equal(new Set(questions).size, questions.length, 'no problem is in two splits');
  for (const problem of a.heldOut) {
    const [left, right] = problem.question.replace('=?', '').split('+').map(Number);
    assert.equal(problem.answer, String(left + right));
  }
  assert.throws(() => demoSplits(1, { sft: 9000, raft: 1, heldOut: 1 }), RangeError);
});

test('demo model folder: char tokenizer round-trips, the chat template masks only the answer, the math verifier grades it', async () => {
  const dir = join(scratch, 'model');
  const { vocabSize, parameters } = writeDemoModel(dir, { seed: 1, hidden: 64 });
  assert.equal(vocabSize, demoVocabulary().length);
  assert.ok(parameters > 10_000 && parameters < 1_000_000);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number; eos_token_id: number };
  assert.equal(config.vocab_size, vocabSize);
  const tokenizer = HaloTokenizer.fromFolder(dir);
  const text = 'Q: 347+8=?\nA: 355';
  assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  assert.equal(tokenizer.encode(text).length, text.length, 'one token per character');
  const encoded = encodeChat(tokenizer, ChatTemplate.resolve(undefined, tokenizer), [{ role: 'user', content: '347+8=?' }, { role: 'assistant', content: '355' }], { contentSpecialTokens: 'literal' });
  assert.equal(encoded.text, '<s>Q: 347+8=?\nA: 355</s>');
  const learned = encoded.ids.filter((_, index) => encoded.mask[index] === 1);
  assert.equal(tokenizer.decode(learned), '355</s>');
  assert.equal(learned.at(-1), config.eos_token_id);
  const files = writeDemoData(join(scratch, 'data'), demoSplits(3, { sft: 2, raft: 2, heldOut: 2 }));
  const prompt = JSON.parse(readFileSync(files.heldOut, 'utf8').split('\n')[0]) as { prompt: string; answer: string };
  const verifier = new MathVerifier();
  assert.equal((await verifier.verify({ ...prompt, completion: prompt.answer })).success, true);
  assert.equal((await verifier.verify({ ...prompt, completion: '1' })).success, false);
});

test('the demo report prints every stage and the improvement', () => {
  const text = formatDemoReport({
    seed: 42,
    fast: false,
    model: { parameters: 300_000, vocabulary: 74 },
    problems: { sft: 300, raft: 1200, held_out: 100 },
    stages: [
      { stage: 'sft', pass1: 0.1, passK: 0.3, k: 8, seconds: 1 },
      { stage: 'raft cycle 1', pass1: 0.25, passK: 0.5, k: 8, seconds: 1 },
    ],
    baseline_pass1: 0.1,
    final_pass1: 0.25,
    improvement_points: 15,
    seconds: { model: 1, sft: 2, raft: 3, benchmarks: 4, total: 10 },
    raft_phase_seconds: { generate: 1, verify: 1, train: 1 },
    paths: { output: '/o', base_model: '/o/b', sft: '/o/sft', raft: '/o/raft', final_adapter: '/o/raft/final_model', benchmarks: '/o/benchmarks' },
  });
  assert.match(text, /sft\s+10\.0%\s+30\.0%/);
  assert.match(text, /raft cycle 1\s+25\.0%/);
  assert.match(text, /10\.0% after SFT -> 25\.0% after RAFT \(\+15\.0 points\)/);
});
