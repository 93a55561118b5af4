/** The learning rate of RAFT cycle `cycle` (1-based): one adapter trains on across cycles at LR = max(lr x decay^(cycle-1), min_lr). */
export function cycleLearningRate(baseLearningRate: number, decay: number, minLearningRate: number, cycle: number): number {
  if (!Number.isInteger(cycle) || cycle < 1) throw new RangeError(`cycle must be an integer >= 1, got ${cycle}`);
  return Math.max(baseLearningRate * decay ** (cycle - 1), minLearningRate);
}
