/**
 * The unbiased pass@k estimator of Chen et al. 2021 (HumanEval paper): with n samples of which c
 * pass, pass@k = 1 - C(n-c, k) / C(n, k), the probability that a random k-subset holds a pass.
 * Computed as 1 - prod_{i=n-c+1}^{n} (1 - k / i), which never forms the huge binomials.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`pass@k: n must be an integer >= 1, got ${n}`);
  if (!Number.isInteger(c) || c < 0 || c > n) throw new RangeError(`pass@k: c must be an integer in [0, n=${n}], got ${c}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`pass@k: k must be an integer >= 1, got ${k}`);
  if (k > n) throw new RangeError(`pass@k: k=${k} exceeds the n=${n} samples; sample at least k completions per prompt`);
  if (n - c < k) return 1;
  let allFail = 1;
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}

/** Mean pass@k over prompts (each with its own n and c). */
export function meanPassAtK(counts: readonly { n: number; c: number }[], k: number): number {
  if (counts.length === 0) throw new RangeError('pass@k: no prompts');
  return counts.reduce((total, { n, c }) => total + passAtK(n, c, k), 0) / counts.length;
}
