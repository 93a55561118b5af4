/**
 * `benchmark run`: n samples per prompt from a model (base, adapter or run directory), graded by a
 * verifier; reports the unbiased pass@k (Chen et al. 2021), success and compile rates and tokens/s.
 */
import { resolve } from 'node:path';
import { NativeGenerator } from '../engine/generator.js';
import { Trainer } from '../engine/trainer.js';
import { HaloError, isCodedError } from '../util/errors.js';
import { markReported, type EventBus } from '../util/events.js';
import { createVerifier } from '../verifiers/registry.js';
import type { Verifier, VerifyResult } from '../verifiers/types.js';
import { buildBenchmarkResult, compiledFlag, type BenchmarkResult, type PromptOutcomes } from './benchmark/result.js';
import type { BenchmarkConfig } from './config/commands.js';
import { completionText, generateAll } from './generate.js';
import { encodePrompt, loadPromptRecords } from './prompts.js';
import { writeArtifact } from './raft/artifacts.js';
import { openModel, type ModelSession } from './session.js';
import { verifyInOrder } from './verify.js';

export interface BenchmarkRunOptions {
  config: BenchmarkConfig;
  cwd: string;
  bus: EventBus;
  signal?: AbortSignal;
  verifierWorkers?: number;
}

export async function runBenchmark(options: BenchmarkRunOptions): Promise<BenchmarkResult> {
  const { config, bus } = options;
  const startedAt = new Date();
  let session: ModelSession | undefined;
  let trainer: Trainer | undefined;
  let verifier: Verifier | undefined;
  try {
    bus.emit({ type: 'run_start', phase: 'setup', command: 'benchmark run', resumed: false });
    const prompts = await loadPromptRecords(resolve(options.cwd, config.prompts ?? ''), config.maxPrompts === undefined ? {} : { maxPrompts: config.maxPrompts });
    session = await openModel(resolve(options.cwd, config.model ?? ''), {
      ...(config.cycle === undefined ? {} : { cycle: config.cycle }),
      device: config.device,
      dtype: config.dtype,
      ...(config.chatTemplate === undefined ? {} : { chatTemplate: config.chatTemplate }),
    });
    // The engine samples through live LoRA tensors: attaching the adapter is all it takes.
    if (session.source.adapterDir !== undefined) trainer = Trainer.fromAdapter(session.model, session.source.adapterDir);
    verifier = await createVerifier(config.verifier ?? '', { onWarning: (message) => bus.emit({ type: 'log', phase: 'setup', level: 'warn', message }) });
    bus.emit({ type: 'log', phase: 'setup', level: 'info', message: `benchmark: ${prompts.length} prompts x ${config.samples} samples, ${session.source.description}` });

    const currentSession = session;
    const promptIds = prompts.map((prompt) => encodePrompt(currentSession.tokenizer, currentSession.template, prompt, config.systemPrompt));
    const completions: { promptPosition: number; sampleIndex: number; text: string }[] = [];
    const generation = await generateAll(
      new NativeGenerator(session.model),
      {
        promptIds,
        n: config.samples,
        maxNewTokens: config.maxNewTokens,
        temperature: config.temperature,
        topP: config.topP,
        seed: config.seed,
        batchSize: config.generationBatchSize,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      {
        onSample: (sample) => {
          completions.push({ promptPosition: sample.promptPosition, sampleIndex: sample.sampleIndex, text: completionText(currentSession.tokenizer, sample) });
        },
        onProgress: (progress) => bus.emit({ type: 'generate_progress', phase: 'generate', ...progress }),
      },
    );

    const results: VerifyResult[] = [];
    const verification = await verifyInOrder(
      verifier,
      completions.map((completion) => ({ ...prompts[completion.promptPosition].record, completion: completion.text })),
      {
        onResult: (result) => results.push(result),
        onProgress: (progress) => bus.emit({ type: 'verify_progress', phase: 'verify', ...progress }),
      },
      { ...(options.verifierWorkers === undefined ? {} : { workers: options.verifierWorkers }), ...(options.signal === undefined ? {} : { signal: options.signal }) },
    );

    const outcomes: PromptOutcomes[] = prompts.map((prompt, position) => {
      const mine = completions.map((completion, index) => ({ completion, result: results[index] })).filter((entry) => entry.completion.promptPosition === position);
      return {
        index: prompt.index,
        id: prompt.id,
        rewards: mine.map((entry) => entry.result.reward),
        successes: mine.map((entry) => entry.result.success),
        compiled: mine.map((entry) => compiledFlag(entry.result)),
      };
    });
    const result = buildBenchmarkResult(
      {
        model: config.model ?? '',
        promptsFile: config.prompts ?? '',
        verifier: config.verifier ?? '',
        k: config.k,
        temperature: config.temperature,
        topP: config.topP,
        maxNewTokens: config.maxNewTokens,
        seed: config.seed,
        startedAt,
        seconds: (Date.now() - startedAt.getTime()) / 1000,
        generatedTokens: generation.generatedTokens,
        generateSeconds: generation.seconds,
        verifySeconds: verification.seconds,
      },
      outcomes,
    );
    if (config.output !== undefined) writeArtifact('benchmark_result', resolve(options.cwd, config.output), result);
    bus.emit({ type: 'eval_result', phase: 'benchmark', metrics: { ...result.pass_at_k, success_rate: result.success_rate ?? 0 } });
    bus.emit({ type: 'run_end', phase: 'done', status: 'completed', seconds: result.seconds, ...(config.output === undefined ? {} : { summaryPath: resolve(options.cwd, config.output) }) });
    return result;
  } catch (error) {
    bus.emit({
      type: 'error',
      phase: 'done',
      code: isCodedError(error) ? error.code : 'ERR_BENCHMARK',
      message: error instanceof Error ? error.message : String(error),
      ...(error instanceof HaloError && error.fix !== undefined ? { fix: error.fix } : {}),
    });
    bus.emit({ type: 'run_end', phase: 'done', status: options.signal?.aborted ? 'cancelled' : 'failed', seconds: (Date.now() - startedAt.getTime()) / 1000 });
    markReported(error);
    throw error;
  } finally {
    await verifier?.close?.();
    trainer?.dispose();
    session?.model.dispose();
  }
}
