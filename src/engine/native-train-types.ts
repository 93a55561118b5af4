/** The trainer's part of halo_forge.node as seen from TypeScript. Only src/engine/ imports this. */
import type { NativeModel } from './native-types.js';

export interface NativeTrainOptions {
  fullFinetune: boolean;
  rank: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  targets: string[];
  lr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  totalSteps: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
  checkpointing: boolean;
  lossChunkTokens: number;
  seed: number;
}

/** One micro-batch, row-major [rows, cols]. */
export interface NativeMicroBatch {
  rows: number;
  cols: number;
  tokens: Int32Array;
  positions: Int32Array;
  /** segment id per token; -1 = padding. Attention never crosses segments. */
  segments: Int32Array;
  targets: Int32Array;
  /** loss weight per position (0 = not counted). */
  weights: Float32Array;
}

export interface NativeStepReport {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  countedTokens: number;
  seconds: number;
  skipped: boolean;
  skipReason?: string;
}

export interface NativeNamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface NativeTrainer {
  step(batches: NativeMicroBatch[]): Promise<NativeStepReport>;
  loss(batches: NativeMicroBatch[]): Promise<number>;
  trainable(): NativeNamedTensor[];
  loadTrainable(file: string, requireAll: boolean): void;
  stateTensors(): NativeNamedTensor[];
  loadState(file: string, stepCount: number, rngState: Uint8Array): void;
  rngState(): Uint8Array;
  stepCount(): number;
  mergedWeights(): NativeNamedTensor[];
  dispose(): void;
}

export interface NativeTrainChecks {
  gradCheck(model: NativeModel, options: NativeTrainOptions, batches: NativeMicroBatch[], perTensor: number, epsilon: number, seed: number): {
    maxRelError: number;
    maxAbsError: number;
    checked: number;
    tensors: number;
  };
  chunkedLossCheck(n: number, h: number, v: number, chunk: number, seed: number): { lossAbsDiff: number; gradHiddenMaxDiff: number; gradWeightMaxDiff: number };
  adamwCheck(steps: number, lr: number, weightDecay: number, seed: number): { maxAbsDiff: number };
  lrAt(kind: string, lr: number, warmupSteps: number, totalSteps: number, step: number): number;
}

export interface NativeTrainAddon {
  NativeTrainer: new (model: NativeModel, options: NativeTrainOptions) => NativeTrainer;
  trainChecks: NativeTrainChecks;
}
