/**
 * Comparing next-token distributions from two implementations. Logits are only defined up to a
 * per-position constant once they pass through a softmax (and node-llama-cpp returns probabilities),
 * so each position's difference is centred by its mean before taking the maximum; the tolerance is
 * relative to that position's logit range (max − min), as the Engine issue's parity criterion states.
 */
export interface ParityStats {
  positions: number;
  /** max over positions of max_i |(a_i − b_i) − mean(a − b)| */
  maxAbsDiff: number;
  /** the largest ratio maxAbsDiff(position) / range(position) */
  maxRelativeDiff: number;
  /** the smallest per-position logit range seen (max − min of `a`) */
  minRange: number;
  argmaxAgree: number;
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function compareLogitRows(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): ParityStats {
  if (a.length !== b.length) throw new Error(`compareLogitRows: ${a.length} rows vs ${b.length}`);
  let maxAbsDiff = 0;
  let maxRelativeDiff = 0;
  let minRange = Infinity;
  let argmaxAgree = 0;
  a.forEach((rowA, position) => {
    const rowB = b[position];
    if (rowA.length !== rowB.length) throw new Error(`compareLogitRows: row ${position} has ${rowA.length} vs ${rowB.length} entries`);
    let meanDiff = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < rowA.length; i++) {
      meanDiff += rowA[i] - rowB[i];
      if (rowA[i] < min) min = rowA[i];
      if (rowA[i] > max) max = rowA[i];
    }
    meanDiff /= rowA.length;
    let diff = 0;
    for (let i = 0; i < rowA.length; i++) diff = Math.max(diff, Math.abs(rowA[i] - rowB[i] - meanDiff));
    const range = max - min;
    maxAbsDiff = Math.max(maxAbsDiff, diff);
    maxRelativeDiff = Math.max(maxRelativeDiff, diff / range);
    minRange = Math.min(minRange, range);
    if (argmax(rowA) === argmax(rowB)) argmaxAgree++;
  });
  return { positions: a.length, maxAbsDiff, maxRelativeDiff, minRange, argmaxAgree };
}
