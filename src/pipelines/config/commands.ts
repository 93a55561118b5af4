/**
 * The options of `sft train`, `raft train` and `benchmark run`, with the Python seed's flags and
 * defaults. Each property is a flag (--kebab-case) and a YAML key (snake_case); `aliases` accept the
 * seed's YAML names.
 */
import { defineCommandConfig, type ResolvedConfig } from './spec.js';

const DTYPES = ['auto', 'fp32', 'bf16', 'fp16'] as const;

/** Options every training/generation command shares. */
const runtimeOptions = {
  config: { kind: 'string', description: 'YAML config file; flags you pass override its values', cliOnly: true, resumeNeutral: true, argName: 'PATH' },
  seed: { kind: 'int', default: 42, min: 0, description: 'random seed for sampling, shuffling and init' },
  device: { kind: 'string', default: 'auto', description: 'cpu, cuda or cuda:N (ROCm GPUs are cuda); auto = the first GPU, else cpu', resumeNeutral: true },
  dtype: { kind: 'enum', choices: DTYPES, default: 'auto', description: 'weights/activations dtype; auto = bf16 where fast (GPU, AVX-512 BF16/AMX), fp32 otherwise', resumeNeutral: true },
  quiet: { kind: 'boolean', default: false, description: 'no progress output (errors still print; the run log is still written)', resumeNeutral: true },
} as const;

const chatTemplateOption = {
  chatTemplate: { kind: 'string', description: 'chat template: chatml, qwen2.5, llama3, mistral or a .jinja file (default: the tokenizer\'s own)', argName: 'NAME|FILE' },
} as const;

const modelSelection = {
  model: { kind: 'string', description: 'model: a local HF folder, a hub id, an adapter folder, or a run directory', argName: 'PATH|ID', aliases: ['model_name'] },
  cycle: { kind: 'int', min: 1, description: 'with --model RUN_DIR: use cycle N\'s adapter instead of final_model/', argName: 'N' },
} as const;

/** The forgetting probe during training (src/pipelines/eval/training-probe.ts). */
const probeOptions = {
  probeEvery: { kind: 'int', min: 1, description: 'run the forgetting probe every N cycles (raft) or optimizer steps (sft) (unset: no probe)', argName: 'N', resumeNeutral: true },
  probeBaseline: { kind: 'string', description: 'probe baseline JSON, written by the first probe when absent (unset: <output>/probe_baseline.json)', argName: 'PATH', resumeNeutral: true },
  probeTasks: { kind: 'string', default: 'mmlu,arc_challenge,gsm8k,hellaswag', description: 'probe tasks or eval groups', argName: 'LIST', resumeNeutral: true },
  probeLimit: { kind: 'int', default: 100, min: 1, description: 'documents per probe task', resumeNeutral: true },
  probeTolerance: { kind: 'number', default: 0.05, min: 0, description: 'largest allowed drop below the baseline', resumeNeutral: true },
  haltOnRegression: { kind: 'boolean', default: false, description: 'stop the run (error PROBE_REGRESSION) when the probe finds a regression', resumeNeutral: true },
} as const;

const loraOptions = {
  loraRank: { kind: 'int', default: 16, min: 1, description: 'LoRA rank r', aliases: ['lora_r'] },
  loraAlpha: { kind: 'number', default: 32, min: 0, exclusiveMin: true, description: 'LoRA alpha (scale = alpha / r)' },
  loraDropout: { kind: 'number', default: 0.05, min: 0, max: 0.99, description: 'dropout on the LoRA input' },
} as const;

export const sftConfig = defineCommandConfig({
  command: 'sft train',
  options: {
    ...runtimeOptions,
    ...modelSelection,
    ...chatTemplateOption,
    dataset: { kind: 'string', description: 'registered dataset name (see `halo-forge data list`)', argName: 'NAME' },
    data: { kind: 'string', description: 'local training data file (jsonl, json, parquet, csv)', argName: 'PATH', aliases: ['train_file'] },
    output: { kind: 'string', default: 'models/sft', description: 'output directory', argName: 'DIR', aliases: ['output_dir'], resumeNeutral: true },
    epochs: { kind: 'int', default: 3, min: 1, description: 'passes over the training data', aliases: ['num_epochs', 'num_train_epochs'] },
    batchSize: { kind: 'int', default: 2, min: 1, description: 'sequences per micro-batch', aliases: ['per_device_train_batch_size'] },
    gradientAccumulation: { kind: 'int', default: 16, min: 1, description: 'micro-batches per optimizer step (effective batch = batch size x this)', aliases: ['gradient_accumulation_steps'] },
    learningRate: { kind: 'number', default: 2e-4, min: 0, exclusiveMin: true, description: 'peak learning rate' },
    warmupRatio: { kind: 'number', default: 0.03, min: 0, max: 1, description: 'fraction of steps spent warming up the learning rate' },
    weightDecay: { kind: 'number', default: 0.01, min: 0, description: 'AdamW weight decay' },
    maxGradNorm: { kind: 'number', default: 0.3, min: 0, exclusiveMin: true, description: 'gradient clipping norm' },
    lrScheduler: { kind: 'enum', choices: ['cosine', 'linear', 'constant'] as const, default: 'cosine', description: 'learning-rate schedule after warmup', aliases: ['lr_scheduler_type'] },
    ...loraOptions,
    ...probeOptions,
    lora: { kind: 'boolean', default: true, description: 'train a LoRA adapter; --no-lora fine-tunes every weight' },
    merge: { kind: 'boolean', default: false, description: 'also write the merged full model to final_model_merged/' },
    maxSeqLength: { kind: 'int', default: 2048, min: 8, description: 'longer examples are truncated' },
    validationSplit: { kind: 'number', default: 0.05, min: 0, max: 0.5, description: 'fraction held out for validation loss' },
    maxSamples: { kind: 'int', min: 1, description: 'use at most this many training examples' },
    saveSteps: { kind: 'int', default: 500, min: 1, description: 'checkpoint every N optimizer steps' },
    evalSteps: { kind: 'int', default: 250, min: 1, description: 'validation loss every N optimizer steps' },
    saveTotalLimit: { kind: 'int', default: 3, min: 1, description: 'checkpoints kept on disk (oldest removed)' },
    earlyStoppingPatience: { kind: 'int', default: 5, min: 0, description: 'stop after N evaluations without improvement (0 = never)' },
    systemPrompt: { kind: 'string', description: 'system message added to examples that have none' },
    resume: { kind: 'string', description: 'resume from this checkpoint folder (default: continue OUTPUT\'s last checkpoint automatically)', argName: 'DIR', cliOnly: true, resumeNeutral: true },
    force: { kind: 'boolean', default: false, description: 'resume even when the configuration differs from the interrupted run', cliOnly: true, resumeNeutral: true },
    dryRun: { kind: 'boolean', default: false, description: 'check the config, model and data, then stop before training', resumeNeutral: true },
  },
  validate: (config) => {
    if (config.model === undefined) return 'no model: pass --model (or set model: in the config file)';
    if (config.dataset === undefined && config.data === undefined) return 'no training data: pass --dataset NAME or --data PATH';
    if (config.dataset !== undefined && config.data !== undefined) return '--dataset and --data are both set; keep one';
    return undefined;
  },
});

export const CURRICULA = ['none', 'complexity', 'progressive', 'adaptive', 'historical'] as const;
export const REWARD_SHAPINGS = ['fixed', 'warmup', 'annealing', 'adaptive'] as const;
export const FILTER_MODES = ['per-prompt', 'global'] as const;

export const raftConfig = defineCommandConfig({
  command: 'raft train',
  options: {
    ...runtimeOptions,
    ...modelSelection,
    ...chatTemplateOption,
    checkpoint: { kind: 'string', description: 'start from this SFT output (final_model/ or an adapter folder) instead of --model', argName: 'DIR', aliases: ['sft_checkpoint'] },
    prompts: { kind: 'string', description: 'prompts file (.jsonl, .json, .parquet, .csv)', argName: 'PATH' },
    verifier: { kind: 'string', description: 'verifier name (see `halo-forge verifiers list`)', argName: 'NAME' },
    output: { kind: 'string', default: 'models/raft', description: 'run directory', argName: 'DIR', aliases: ['output_dir'], resumeNeutral: true },
    cycles: { kind: 'int', default: 5, min: 1, description: 'generate-verify-filter-train cycles', aliases: ['num_cycles'], resumeNeutral: true },
    samplesPerPrompt: { kind: 'int', default: 8, min: 1, description: 'completions sampled per prompt' },
    temperature: { kind: 'number', default: 0.7, min: 0, description: 'sampling temperature (0 = greedy)' },
    topP: { kind: 'number', default: 1, min: 0, max: 1, exclusiveMin: true, description: 'nucleus sampling mass (1 = off)' },
    maxNewTokens: { kind: 'int', default: 1024, min: 1, description: 'tokens generated per completion at most' },
    maxPrompts: { kind: 'int', min: 1, description: 'use only the first N prompts' },
    generationBatchSize: { kind: 'int', default: 8, min: 1, description: 'prompts per generation call (each with all its samples)' },
    evalPrompts: { kind: 'string', description: 'held-out prompts: pass@1 before cycle 1 and after every cycle, for the effectiveness verdict (default: none)', argName: 'PATH' },
    evalSamples: { kind: 'int', default: 4, min: 1, description: 'completions per held-out prompt when measuring pass@1' },
    rewardThreshold: { kind: 'number', default: 0.5, min: 0, description: 'a sample needs at least this reward to be kept' },
    keepPercent: { kind: 'number', default: 0.5, min: 0, max: 1, exclusiveMin: true, description: 'of the samples above the threshold, keep the best fraction', aliases: ['keep_top_percent'] },
    minSamples: { kind: 'int', min: 0, description: 'if fewer samples are kept, lower the threshold to reach this many (never below reward 0)', aliases: ['min_samples_per_cycle'] },
    filter: { kind: 'enum', choices: FILTER_MODES, default: 'per-prompt', description: 'per-prompt: keep-percent within each prompt (best-of-N); global: across all samples' },
    dropUnsolved: { kind: 'boolean', default: true, description: 'skip prompts none of whose samples pass (also for the min-samples fallback)' },
    dropSolved: { kind: 'boolean', default: false, description: 'skip prompts all of whose samples pass (they teach little; Xiong et al. 2025)' },
    dedupe: { kind: 'boolean', default: true, description: 'keep one copy of identical completions of the same prompt' },
    curriculum: { kind: 'enum', choices: CURRICULA, default: 'none', description: 'prompt order/selection across cycles' },
    curriculumStart: { kind: 'number', default: 0.2, min: 0, max: 1, exclusiveMin: true, description: 'progressive: fraction of prompts (easiest first) in cycle 1' },
    curriculumIncrement: { kind: 'number', default: 0.2, min: 0, max: 1, description: 'progressive: fraction added each cycle' },
    curriculumStats: { kind: 'string', description: 'historical: a previous run\'s curriculum_state.json with per-prompt success rates', argName: 'PATH' },
    rewardShaping: { kind: 'enum', choices: REWARD_SHAPINGS, default: 'fixed', description: 'how threshold and keep-percent change across cycles' },
    learningRate: { kind: 'number', default: 5e-5, min: 0, exclusiveMin: true, description: 'learning rate of cycle 1' },
    lrDecay: { kind: 'number', default: 0.85, min: 0, max: 1, exclusiveMin: true, description: 'LR of cycle c = max(lr x decay^(c-1), min-lr)', aliases: ['lr_decay_per_cycle'] },
    minLr: { kind: 'number', default: 1e-6, min: 0, description: 'learning-rate floor across cycles' },
    epochs: { kind: 'int', default: 1, min: 1, description: 'passes over the kept samples per cycle' },
    batchSize: { kind: 'int', default: 2, min: 1, description: 'sequences per micro-batch' },
    gradientAccumulation: { kind: 'int', default: 16, min: 1, description: 'micro-batches per optimizer step', aliases: ['gradient_accumulation_steps'] },
    warmupSteps: { kind: 'int', default: 10, min: 0, description: 'learning-rate warmup steps within a cycle' },
    saveSteps: { kind: 'int', default: 10, min: 1, description: 'trainer checkpoint every N steps inside a cycle (a killed run resumes from it)' },
    weightDecay: { kind: 'number', default: 0, min: 0, description: 'AdamW weight decay' },
    maxGradNorm: { kind: 'number', default: 1, min: 0, exclusiveMin: true, description: 'gradient clipping norm' },
    ...loraOptions,
    ...probeOptions,
    maxSeqLength: { kind: 'int', default: 2048, min: 8, description: 'prompt + completion tokens per training example at most' },
    systemPrompt: { kind: 'string', description: 'system message for generation and training (default: none, or the prompt record\'s own)' },
    resumeFromCycle: { kind: 'int', min: 1, description: 'restart from the start of cycle N (later cycles are set aside)', argName: 'N', cliOnly: true, resumeNeutral: true },
    force: { kind: 'boolean', default: false, description: 'resume even when the configuration differs from the interrupted run', cliOnly: true, resumeNeutral: true },
  },
  validate: (config) => {
    if (config.model === undefined && config.checkpoint === undefined) return 'no model: pass --model or --checkpoint';
    if (config.prompts === undefined) return 'no prompts: pass --prompts PATH';
    if (config.verifier === undefined) return 'no verifier: pass --verifier NAME';
    if (config.minLr > config.learningRate) return `--min-lr ${config.minLr} is above --learning-rate ${config.learningRate}`;
    return undefined;
  },
});

export const benchmarkConfig = defineCommandConfig({
  command: 'benchmark run',
  options: {
    ...runtimeOptions,
    ...modelSelection,
    ...chatTemplateOption,
    prompts: { kind: 'string', description: 'prompts file (.jsonl, .json, .parquet, .csv)', argName: 'PATH' },
    verifier: { kind: 'string', description: 'verifier name (see `halo-forge verifiers list`)', argName: 'NAME' },
    samples: { kind: 'int', default: 10, min: 1, description: 'completions per prompt (n in pass@k)' },
    k: { kind: 'int-list', default: [1, 5, 10], min: 1, description: 'k values for pass@k, comma-separated; each must be <= --samples' },
    maxPrompts: { kind: 'int', min: 1, description: 'evaluate only the first N prompts' },
    output: { kind: 'string', description: 'write the result JSON here (default: print it)', argName: 'PATH', resumeNeutral: true },
    temperature: { kind: 'number', default: 0.7, min: 0, description: 'sampling temperature (0 = greedy)' },
    topP: { kind: 'number', default: 1, min: 0, max: 1, exclusiveMin: true, description: 'nucleus sampling mass (1 = off)' },
    maxNewTokens: { kind: 'int', default: 1024, min: 1, description: 'tokens generated per completion at most' },
    generationBatchSize: { kind: 'int', default: 8, min: 1, description: 'prompts per generation call (each with all its samples)' },
    systemPrompt: { kind: 'string', description: 'system message for generation (default: none, or the prompt record\'s own)' },
  },
  validate: (config) => {
    if (config.model === undefined) return 'no model: pass --model';
    if (config.prompts === undefined) return 'no prompts: pass --prompts PATH';
    if (config.verifier === undefined) return 'no verifier: pass --verifier NAME';
    const tooLarge = config.k.filter((k) => k > config.samples);
    if (tooLarge.length > 0) return `--k ${tooLarge.join(',')} exceeds --samples ${config.samples} (pass@k needs k <= n)`;
    return undefined;
  },
});

export type SftConfig = ResolvedConfig<typeof sftConfig.options>;
export type RaftConfig = ResolvedConfig<typeof raftConfig.options>;
export type BenchmarkConfig = ResolvedConfig<typeof benchmarkConfig.options>;
