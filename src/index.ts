/**
 * halo-forge as a library: the same engine, verifiers, data tools and pipelines the CLI uses.
 * Pipelines report through an EventBus (subscribe to it for progress); nothing here prints.
 */
import { setNativeZstdProvider } from './util/codecs.js';
import { loadNativeZstd } from './engine/zstd.js';

// Large zstd parquet files decode with the addon's libzstd when it is built (pure JS otherwise).
setNativeZstdProvider(loadNativeZstd);

export { HaloError, formatError } from './util/errors.js';
export { EventBus, type HaloEvent, type HaloEventType } from './util/events.js';
export { writeFileAtomic, writeJsonAtomic } from './util/atomic.js';
export { Rng } from './util/rng.js';

export { engineInfo, matmulSelfTest, resolveDevice, type EngineInfo } from './engine/runtime.js';
export { Model } from './engine/model.js';
export { NativeGenerator, type Generator } from './engine/generator.js';
export { Trainer, type TrainerOptions, type StepResult } from './engine/trainer.js';
export type * from './engine/types.js';

export { HaloTokenizer } from './data/tokenizer.js';
export { ChatTemplate, encodeChat, type ChatMessage, type ToolSchema } from './data/chat.js';
export { DATASETS, findDataset, type DatasetSpec } from './data/registry.js';
export { prepareDataset, type PrepareOptions, type PrepareResult } from './data/prepare.js';

export * as verifiers from './verifiers/index.js';
export { createVerifier, VERIFIER_NAMES, type Verifier, type VerifyResult, type Sample } from './verifiers/index.js';

export { runSft, type SftRunOptions, type SftRunResult } from './pipelines/sft.js';
export { runRaft, type RaftRunOptions, type RaftRunResult } from './pipelines/raft/loop.js';
export { runBenchmark, type BenchmarkRunOptions } from './pipelines/benchmark.js';
export { runDemo, type DemoOptions, type DemoReport } from './pipelines/demo.js';
export { runLmEval, type RunLmEvalOptions } from './pipelines/eval/run.js';
export { MidTrainingProbe } from './pipelines/eval/probe.js';
export { exportGguf, exportGgufLora, exportOnnx } from './pipelines/export.js';
export { optimizeModel, type OptimizeOptions, type OptimizeReport } from './pipelines/optimize.js';
export { runInferenceBenchmark, type InferenceBenchmarkOptions, type InferenceBenchmarkReport } from './pipelines/inference-benchmark.js';
export { runModalityTrain, runModalitySft, runModalityBenchmark } from './modalities/run.js';
