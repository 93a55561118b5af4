import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterSamples, normaliseCompletion, type FilterOptions, type ScoredSample } from '../../src/pipelines/raft/filter.js';

const defaults: FilterOptions = { rewardThreshold: 0.5, keepPercent: 1, mode: 'per-prompt', dropUnsolved: false, dropSolved: false, dedupe: false };

/** rewards[p][s] -> samples with distinct completions; success = reward >= 0.5. */
function samples(rewards: number[][], completions?: string[][]): ScoredSample[] {
  return rewards.flatMap((row, promptIndex) =>
    row.map((reward, sampleIndex) => ({ promptIndex, sampleIndex, reward, success: reward >= 0.5, completion: completions?.[promptIndex]?.[sampleIndex] ?? `p${promptIndex}s${sampleIndex}` })),
  );
}

const ids = (kept: readonly ScoredSample[]): string[] => kept.map((sample) => `${sample.promptIndex}.${sample.sampleIndex}`);

test('threshold: only samples with reward >= threshold survive; failures and low rewards are told apart', () => {
  const input = samples([[0, 0.3, 0.5, 1]]);
  input[1].success = true; // verifier said success but graded 0.3 (e.g. compiled with warnings)
  const result = filterSamples(input, defaults);
  assert.deepEqual(ids(result.kept), ['0.2', '0.3']);
  assert.equal(result.aboveThreshold, 2);
  assert.equal(result.rejectionReasons.verification_failed, 1);
  assert.equal(result.rejectionReasons.below_reward_threshold, 1);
  assert.deepEqual(result.decisions.map((decision) => (decision.kept ? 'kept' : decision.reason)), ['verification_failed', 'below_reward_threshold', 'kept', 'kept']);
  assert.equal(result.effectiveThreshold, 0.5);
  assert.equal(result.thresholdAdjusted, false);
});

test('keep-percent keeps the best ceil(p x n) above the threshold; ties break by sample index', () => {
  const result = filterSamples(samples([[0.6, 1, 0.7, 1, 0.2]]), { ...defaults, keepPercent: 0.5 });
  // 4 above threshold -> keep 2: the two 1.0s
  assert.deepEqual(ids(result.kept), ['0.1', '0.3']);
  assert.equal(result.rejectionReasons.dropped_by_keep_percent, 2);
  const three = filterSamples(samples([[0.6, 1, 0.7]]), { ...defaults, keepPercent: 0.5 });
  assert.deepEqual(ids(three.kept), ['0.1', '0.2'], 'ceil(1.5) = 2');
  const tie = filterSamples(samples([[1, 1, 1, 1]]), { ...defaults, keepPercent: 0.25 });
  assert.deepEqual(ids(tie.kept), ['0.0']);
});

test('per-prompt (best-of-N) vs global ranking', () => {
  const rewards = [
    [1, 1, 1, 1],
    [0.6, 0.6, 0.2, 0.1],
  ];
  const perPrompt = filterSamples(samples(rewards), { ...defaults, keepPercent: 0.5, mode: 'per-prompt' });
  // each prompt keeps its own best half: 2 of prompt 0, ceil(0.5 x 2) = 1 of prompt 1
  assert.deepEqual(ids(perPrompt.kept), ['0.0', '0.1', '1.0']);
  assert.equal(perPrompt.promptsContributing, 2);
  const global = filterSamples(samples(rewards), { ...defaults, keepPercent: 0.5, mode: 'global' });
  // 6 above threshold globally -> 3 best: all from prompt 0
  assert.deepEqual(ids(global.kept), ['0.0', '0.1', '0.2']);
  assert.equal(global.promptsContributing, 1);
});

test('min-samples fallback lowers the bar to the best remaining non-zero samples', () => {
  const rewards = [
    [1, 0.3, 0],
    [0.2, 0.4, 0],
  ];
  const result = filterSamples(samples(rewards), { ...defaults, minSamples: 3 });
  // 1 above threshold; fallback adds 0.4 and 0.3
  assert.deepEqual(ids(result.kept), ['0.0', '0.1', '1.1']);
  assert.equal(result.thresholdAdjusted, true);
  assert.equal(result.effectiveThreshold, 0.3);
  assert.deepEqual(result.decisions.filter((decision) => decision.kept && decision.viaFallback).length, 2);
  // never a zero-reward sample, even when min-samples cannot be reached
  const short = filterSamples(samples(rewards), { ...defaults, minSamples: 10 });
  assert.equal(short.kept.length, 4);
  assert.ok(short.kept.every((sample) => sample.reward > 0));
  // keep-percent drops are the first to come back
  const dropped = filterSamples(samples([[1, 0.9, 0.8, 0.3]]), { ...defaults, keepPercent: 0.3, minSamples: 2 });
  assert.deepEqual(ids(dropped.kept), ['0.0', '0.1']);
  assert.equal(dropped.thresholdAdjusted, false);
  assert.equal(dropped.decisions[1].kept && dropped.decisions[1].viaFallback, true);
});

test('drop-unsolved / drop-solved skip prompts with no / only passing samples, also for the fallback', () => {
  const rewards = [
    [1, 1, 1], // solved
    [1, 0, 0.7], // mixed
    [0.4, 0.3, 0], // unsolved
  ];
  const plain = filterSamples(samples(rewards), { ...defaults, minSamples: 8 });
  assert.ok(ids(plain.kept).includes('2.0'), 'without drop-unsolved the fallback dips into the unsolved prompt');
  const result = filterSamples(samples(rewards), { ...defaults, dropUnsolved: true, dropSolved: true, minSamples: 8 });
  assert.deepEqual(ids(result.kept), ['1.0', '1.2']);
  assert.equal(result.rejectionReasons.prompt_solved, 3);
  assert.equal(result.rejectionReasons.prompt_unsolved, 3);
  assert.equal(result.rejectionReasons.verification_failed, 1);
  const solvedOnly = filterSamples(samples(rewards), { ...defaults, dropSolved: true });
  assert.deepEqual(ids(solvedOnly.kept), ['1.0', '1.2']);
  const unsolvedKeepsSolved = filterSamples(samples(rewards), { ...defaults, dropUnsolved: true });
  assert.deepEqual(ids(unsolvedKeepsSolved.kept), ['0.0', '0.1', '0.2', '1.0', '1.2']);
});

test('dedupe keeps the first copy of an identical completion per prompt (whitespace-normalised)', () => {
  const rewards = [
    [1, 1, 1, 0.8],
    [1, 1, 0, 0],
  ];
  const completions = [
    ['return 1', 'return 1  \r\n', 'return 2', 'return 1'],
    ['return 1', 'return 3', 'x', 'x'],
  ];
  const result = filterSamples(samples(rewards, completions), { ...defaults, dedupe: true });
  // prompt 0: samples 1 and 3 duplicate sample 0; prompt 1's "return 1" is another prompt, kept
  assert.deepEqual(ids(result.kept), ['0.0', '0.2', '1.0', '1.1']);
  assert.equal(result.rejectionReasons.duplicate, 3);
  const without = filterSamples(samples(rewards, completions), defaults);
  assert.equal(without.kept.length, 6);
  // dedupe runs before keep-percent: distinct completions compete, not copies
  const ranked = filterSamples(samples([[1, 1, 0.9]], [['a', 'a', 'b']]), { ...defaults, dedupe: true, keepPercent: 1 });
  assert.deepEqual(ids(ranked.kept), ['0.0', '0.2']);
  assert.equal(normaliseCompletion('a \t\nb  \n\n'), 'a\nb');
});

test('counts add up and bad keepPercent is rejected', () => {
  const input = samples([
    [1, 0.5, 0.2, 0],
    [0.9, 0.9, 0.9, 0.1],
  ]);
  const result = filterSamples(input, { ...defaults, keepPercent: 0.5, dedupe: true, dropSolved: true });
  const rejected = Object.values(result.rejectionReasons).reduce((a, b) => a + b, 0);
  assert.equal(rejected + result.kept.length, input.length);
  assert.throws(() => filterSamples(input, { ...defaults, keepPercent: 0 }), RangeError);
  assert.throws(() => filterSamples(input, { ...defaults, keepPercent: 1.5 }), RangeError);
});
