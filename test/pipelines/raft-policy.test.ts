import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cycleLearningRate } from '../../src/pipelines/raft/schedule.js';
import { shapedThresholds, type ShapingOptions } from '../../src/pipelines/raft/reward-shaping.js';
import { adaptiveTarget, emptyCurriculumState, estimateComplexity, promptKey, selectPrompts, updateCurriculumState, type CurriculumState } from '../../src/pipelines/raft/curriculum.js';
import { aggregateYieldDiagnostics, cycleYieldDiagnostics, effectiveness, rewardDistribution } from '../../src/pipelines/raft/diagnostics.js';
import { filterSamples, type ScoredSample } from '../../src/pipelines/raft/filter.js';

test('LR = max(lr x decay^(cycle-1), min_lr)', () => {
  assert.equal(cycleLearningRate(5e-5, 0.85, 1e-6, 1), 5e-5);
  assert.ok(Math.abs(cycleLearningRate(5e-5, 0.85, 1e-6, 3) - 5e-5 * 0.7225) < 1e-18);
  assert.equal(cycleLearningRate(5e-5, 0.5, 1e-5, 4), 1e-5, '5e-5/8 = 6.25e-6 is floored');
  assert.throws(() => cycleLearningRate(5e-5, 0.85, 1e-6, 0), RangeError);
});

test('reward shaping: fixed, warmup, annealing, adaptive', () => {
  const base: ShapingOptions = { strategy: 'fixed', rewardThreshold: 0.5, keepPercent: 0.5 };
  assert.deepEqual(shapedThresholds(base, 3, 5), { rewardThreshold: 0.5, keepPercent: 0.5 });
  const warmup = { ...base, strategy: 'warmup' as const, warmupCycles: 2 };
  assert.deepEqual(shapedThresholds(warmup, 1, 5), { rewardThreshold: 0.1, keepPercent: 0.8 });
  assert.deepEqual(shapedThresholds(warmup, 2, 5), { rewardThreshold: 0.1, keepPercent: 0.8 });
  assert.deepEqual(shapedThresholds(warmup, 3, 5), { rewardThreshold: 0.5, keepPercent: 0.5 });
  const annealing = { ...base, strategy: 'annealing' as const };
  assert.deepEqual(shapedThresholds(annealing, 1, 5), { rewardThreshold: 0.1, keepPercent: 0.8 });
  assert.deepEqual(shapedThresholds(annealing, 3, 5), { rewardThreshold: 0.3, keepPercent: 0.65 });
  assert.deepEqual(shapedThresholds(annealing, 5, 5), { rewardThreshold: 0.5, keepPercent: 0.5 });
  assert.deepEqual(shapedThresholds(annealing, 1, 1), { rewardThreshold: 0.5, keepPercent: 0.5 });
  const adaptive = { ...base, strategy: 'adaptive' as const, targetPassRate: 0.3, step: 0.1 };
  assert.deepEqual(shapedThresholds(adaptive, 1, 5), { rewardThreshold: 0.1, keepPercent: 0.8 });
  // cycle 1 passed 60% (> 1.5 x 0.3): tighten; cycle 2 passed 50%: tighten again; cycle 3 10% (< 0.15): loosen
  const history = [
    { cycle: 1, passRate: 0.6, kept: 40 },
    { cycle: 2, passRate: 0.5, kept: 30 },
    { cycle: 3, passRate: 0.1, kept: 5 },
  ];
  assert.deepEqual(shapedThresholds(adaptive, 2, 5, history), { rewardThreshold: 0.2, keepPercent: 0.75 });
  assert.deepEqual(shapedThresholds(adaptive, 3, 5, history), { rewardThreshold: 0.3, keepPercent: 0.7 });
  assert.deepEqual(shapedThresholds(adaptive, 4, 5, history), { rewardThreshold: 0.2, keepPercent: 0.8 });
  // nothing kept loosens even at a fine pass rate
  assert.deepEqual(shapedThresholds(adaptive, 2, 5, [{ cycle: 1, passRate: 0.3, kept: 0 }]), { rewardThreshold: 0.1, keepPercent: 0.9 });
});

const prompts = [
  'Write a function that returns 1.',
  'Implement a thread-safe LRU cache. It must handle eviction, should be efficient, and must raise an error on invalid capacity. Example: input: 3, output: ...\n'.repeat(4),
  'Add two numbers.',
  'Parse a CSV file with quoted fields; handle escaped quotes and return a list of rows. Edge case: empty lines must be skipped.',
];

test('complexity orders prompts easy to hard; progressive grows by the increment', () => {
  const scores = prompts.map(estimateComplexity);
  assert.ok(scores[1] > scores[3] && scores[3] > scores[0], `scores ${scores}`);
  const state = emptyCurriculumState();
  assert.deepEqual(selectPrompts(prompts, 1, state, { strategy: 'none' }), [0, 1, 2, 3]);
  const order = selectPrompts(prompts, 1, state, { strategy: 'complexity' });
  assert.equal(order[3], 1);
  assert.deepEqual(order.slice(2), [3, 1]);
  const progressive = { strategy: 'progressive' as const, progressiveStart: 0.25, progressiveIncrement: 0.25 };
  assert.deepEqual(selectPrompts(prompts, 1, state, progressive), order.slice(0, 1));
  assert.deepEqual(selectPrompts(prompts, 2, state, progressive), order.slice(0, 2));
  assert.deepEqual(selectPrompts(prompts, 4, state, progressive), order);
  assert.deepEqual(selectPrompts(prompts, 9, state, progressive), order);
  // 10 prompts, 0.2 + 2 x 0.2 = 0.6000000000000001 must give 6, not 7
  const ten = Array.from({ length: 10 }, (_, index) => `prompt ${'x'.repeat(index * 50)}`);
  assert.equal(selectPrompts(ten, 3, state, { strategy: 'progressive', progressiveStart: 0.2, progressiveIncrement: 0.2 }).length, 6);
});

test('per-prompt stats update each cycle and drive historical and adaptive selection', () => {
  let state: CurriculumState = emptyCurriculumState();
  // cycle 1: prompt 1 (the hard one) always succeeds, prompt 0 never, prompt 2 half
  const outcomes = [
    ...[1, 1, 1, 1].map((reward) => ({ promptIndex: 1, reward, success: true })),
    ...[0, 0, 0, 0].map((reward) => ({ promptIndex: 0, reward, success: false })),
    ...[1, 0, 1, 0].map((reward) => ({ promptIndex: 2, reward, success: reward === 1 })),
  ];
  state = updateCurriculumState(state, prompts, 1, outcomes, 3);
  const stats1 = state.prompts[promptKey(prompts[1])];
  assert.deepEqual(stats1, { attempts: 4, successes: 4, rewardSum: 4, cyclesSeen: 1, lastCycle: 1 });
  assert.equal(state.cycles[0].successRate, 6 / 12);
  // historical: highest success first, untried prompt 3 placed by its complexity
  const historical = selectPrompts(prompts, 2, state, { strategy: 'historical' });
  const rank = (index: number): number => historical.indexOf(index);
  assert.ok(rank(1) < rank(2) && rank(2) < rank(0), `order ${historical}`);
  assert.equal(historical.at(-1), 0);
  assert.equal(historical.length, 4);
  // a previous run's stats count too
  const previous = { [promptKey(prompts[0])]: { attempts: 100, successes: 100, rewardSum: 100, cyclesSeen: 5, lastCycle: 5 } };
  assert.equal(selectPrompts(prompts, 2, state, { strategy: 'historical', historical: previous })[0], 0);
  // stats accumulate across cycles
  state = updateCurriculumState(state, prompts, 2, [{ promptIndex: 0, reward: 1, success: true }], 1);
  assert.deepEqual(state.prompts[promptKey(prompts[0])], { attempts: 5, successes: 1, rewardSum: 1, cyclesSeen: 2, lastCycle: 2 });
  assert.throws(() => updateCurriculumState(state, prompts, 3, [{ promptIndex: 9, reward: 0, success: false }], 1), RangeError);
});

test('adaptive target moves with cycle success rates and selection follows it', () => {
  const base = emptyCurriculumState();
  const withRates = (rates: number[]): CurriculumState => ({ ...base, cycles: rates.map((successRate, index) => ({ cycle: index + 1, successRate, selected: 4 })) });
  assert.equal(adaptiveTarget(base, 1, 0.7, 0.2), 0.5);
  assert.equal(adaptiveTarget(withRates([0.9, 0.8]), 3, 0.7, 0.2), 0.8);
  assert.equal(adaptiveTarget(withRates([0.9, 0.1]), 3, 0.7, 0.2), 0.5);
  assert.equal(adaptiveTarget(withRates([0.9, 0.1]), 2, 0.7, 0.2), 0.65, 'only cycles before the asked one count');
  // difficulties from stats: prompt 0 never solved (hard), prompts 1..3 always solved (easy)
  let state = withRates([0.05, 0.05, 0.05]);
  for (const [promptIndex, success] of [
    [0, false],
    [1, true],
    [2, true],
    [3, true],
  ] as const) {
    state = updateCurriculumState(state, prompts, 4, Array.from({ length: 20 }, () => ({ promptIndex, reward: success ? 1 : 0, success })), 4);
  }
  // the cycle-4 update itself had successRate 1 (last call), so the target for cycle 5 rises from 0.05 to 0.2
  const easy = selectPrompts(prompts, 5, state, { strategy: 'adaptive' });
  assert.ok(!easy.includes(0), `hard prompt excluded at a low target: ${easy}`);
  const hardState = withRates([0.9, 0.9, 0.9, 0.9]);
  hardState.prompts = state.prompts;
  const hard = selectPrompts(prompts, 5, hardState, { strategy: 'adaptive' });
  assert.deepEqual(hard, [0], 'only the unsolved prompt is near a high target (minimum n/4 = 1)');
});

test('yield diagnostics: stage counts, rates, reasons, distribution, status; aggregation sums cycles', () => {
  const verified: ScoredSample[] = [1, 1, 0.5, 0, 0, 0, 0.3, 0.9].map((reward, sampleIndex) => ({ promptIndex: 0, sampleIndex, reward, success: reward >= 0.5, completion: `c${sampleIndex}` }));
  const filter = filterSamples(verified, { rewardThreshold: 0.5, keepPercent: 0.5, mode: 'per-prompt', dropUnsolved: true, dropSolved: false, dedupe: true });
  const diagnostics = cycleYieldDiagnostics({ generated: 10, verified, filter, keepPercent: 0.5, minSamples: 1 });
  assert.deepEqual(diagnostics.stage_counts, { generated: 10, verified: 8, filtered: 4, kept: 2, dropped: 6 });
  assert.equal(diagnostics.rates.verification_rate, 0.8);
  assert.equal(diagnostics.rates.success_rate, 4 / 8);
  assert.equal(diagnostics.rates.keep_rate, 0.2);
  assert.equal(diagnostics.rejection_reasons.verification_failed, 4);
  assert.equal(diagnostics.rejection_reasons.dropped_by_keep_percent, 2);
  assert.equal(diagnostics.dominant_rejection_reason, 'verification_failed');
  assert.deepEqual(diagnostics.reward_distribution, { lt_0_2: 3, '0_2_to_0_5': 1, '0_5_to_0_8': 1, '0_8_plus': 3 });
  assert.equal(diagnostics.status, 'healthy');
  const starving = cycleYieldDiagnostics({ generated: 10, verified, filter, keepPercent: 0.5, minSamples: 5 });
  assert.equal(starving.status, 'low_yield');
  assert.equal(starving.minimums.shortfall_count, 3);
  const none = filterSamples(verified, { rewardThreshold: 2, keepPercent: 1, mode: 'global', dropUnsolved: false, dropSolved: false, dedupe: false });
  const empty = cycleYieldDiagnostics({ generated: 8, verified, filter: none, keepPercent: 1 });
  assert.equal(empty.status, 'no_signal');
  assert.match(empty.summary, /reward-threshold/);
  const total = aggregateYieldDiagnostics([diagnostics, empty]);
  assert.deepEqual(total.stage_counts, { generated: 18, verified: 16, filtered: 4, kept: 2, dropped: 14 });
  assert.equal(total.rates.success_rate, 8 / 16);
  assert.equal(total.rejection_reasons.verification_failed, 4 + 4);
  assert.equal(total.reward_distribution['0_8_plus'], 6);
  assert.equal(aggregateYieldDiagnostics([]).status, 'no_signal');
  assert.deepEqual(rewardDistribution([0.19, 0.2, 0.79, 0.8, Number.NaN]), { lt_0_2: 1, '0_2_to_0_5': 1, '0_5_to_0_8': 1, '0_8_plus': 1 });
});

test('effectiveness verdict: pass / warn without evaluation / fail on regression or no updates', () => {
  const good = { samplesSeen: 100, samplesKept: 30, minimumSamplesKept: 1, optimizerSteps: 12, skippedBatchesNonFinite: 0, initialTrainLoss: 1.5, finalTrainLoss: 0.9, finalModelWritten: true, trainingSummaryWritten: true };
  const pass = effectiveness({ ...good, evaluation: { metric: 'pass@1', baseline: 0.2, final: 0.35 } });
  assert.equal(pass.verdict, 'pass');
  assert.ok(Math.abs((pass.evaluation.delta ?? 0) - 0.15) < 1e-12);
  assert.ok(Math.abs((pass.update_quality.loss_delta ?? 0) + 0.6) < 1e-12);
  const warn = effectiveness(good);
  assert.equal(warn.verdict, 'warn');
  assert.deepEqual(warn.reasons, ['evaluation_not_available']);
  const regressed = effectiveness({ ...good, evaluation: { metric: 'pass@1', baseline: 0.4, final: 0.3 } });
  assert.equal(regressed.verdict, 'fail');
  assert.ok(regressed.reasons.includes('evaluation_regressed'));
  const idle = effectiveness({ ...good, optimizerSteps: 0, samplesKept: 0 });
  assert.equal(idle.verdict, 'fail');
  assert.deepEqual(idle.reasons.slice(0, 2), ['no_optimizer_steps', 'samples_kept_below_minimum']);
});
