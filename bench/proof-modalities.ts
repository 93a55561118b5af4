/**
 * proof:modalities — the reasoning and agentic presets through the real CLI on a tiny qwen2:
 * `reasoning train --dataset gsm8k --limit 16 --cycles 2`, then `--resume-from-cycle 1`;
 * `agentic train --dataset bfcl --limit 16 --cycles 2`; the capability gate on a tiny llama (no
 * Llama-3 marker) with and without --allow-prototype-train; and the benchmark scoring path over
 * the full GSM8K test split and BFCL simple with a scripted Generator (reference answers, answers
 * plus one, ground-truth calls). Last line: one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatTemplate } from '../src/data/chat.js';
import type { OutputRecord } from '../src/data/convert.js';
import { HaloTokenizer } from '../src/data/tokenizer.js';
import { defaultTinyOptions, writeTinyModel } from '../src/export/tiny-model.js';
import { agenticPreset } from '../src/modalities/agentic.js';
import { scoreModality } from '../src/modalities/benchmark.js';
import { reasoningPreset } from '../src/modalities/reasoning.js';
import { benchmarkRecords } from '../src/modalities/run.js';
import { formatError } from '../src/util/errors.js';
import { groundTruthCalls, scripted } from '../test/support/scripted-generator.js';

const bin = fileURLToPath(new URL('../../bin/halo-forge.js', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const SMALL = ['--samples-per-prompt', '2', '--max-new-tokens', '16', '--generation-batch-size', '16', '--batch-size', '4', '--gradient-accumulation', '1', '--lora-rank', '4', '--lora-alpha', '8', '--reward-threshold', '0', '--no-drop-unsolved', '--device', 'cpu', '--dtype', 'fp32', '--quiet'];
const ARTIFACTS = ['cycle_1/model/adapter_model.safetensors', 'cycle_1/checkpoint_state.json', 'cycle_1/samples.jsonl', 'cycle_1/verified.jsonl', 'cycle_2/checkpoint_state.json', 'latest_checkpoint.json', 'final_model/adapter_model.safetensors', 'training_summary.json', 'events.jsonl', 'launch_context.json', 'modality.json'];

function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string; seconds: number } {
  const started = performance.now();
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

function trainRun(modality: string, dataset: string, scratch: string, model: string, extra: string[] = []) {
  const output = join(scratch, `run-${modality}`);
  const run = cli([modality, 'train', '--model', model, '--dataset', dataset, '--limit', '16', '--cycles', '2', '--output', output, ...SMALL, ...extra], scratch);
  const missing = ARTIFACTS.filter((path) => !existsSync(join(output, path)));
  const summary = existsSync(join(output, 'training_summary.json')) ? (JSON.parse(readFileSync(join(output, 'training_summary.json'), 'utf8')) as { cycles_executed: number; weights_updated: boolean; resume: { resume_from_cycle: number | null } }) : undefined;
  return { exit: run.status, seconds: run.seconds, cycles: summary?.cycles_executed ?? 0, weights_updated: summary?.weights_updated ?? false, resume_from_cycle: summary?.resume.resume_from_cycle ?? null, missing_artifacts: missing, ...(run.status === 0 ? {} : { stderr: run.stderr.slice(-400) }) };
}

async function main(): Promise<void> {
  const dataDir = [process.env.HALO_FORGE_DATA_DIR, join(repoRoot, '../shared/datasets')].find((path): path is string => path !== undefined && existsSync(path));
  if (dataDir === undefined) throw new Error('proof:modalities needs the public datasets: set HALO_FORGE_DATA_DIR (GSM8K, BFCL)');
  process.env.HALO_FORGE_DATA_DIR = dataDir;
  const scratch = mkdtempSync(join(tmpdir(), 'halo-proof-modalities-'));
  try {
    const qwen2 = join(scratch, 'tiny-qwen2');
    writeTinyModel(qwen2, defaultTinyOptions('qwen2'));
    const llama = join(scratch, 'tiny-llama');
    writeTinyModel(llama, defaultTinyOptions('llama'));

    const reasoning = trainRun('reasoning', 'gsm8k', scratch, qwen2);
    const resumed = trainRun('reasoning', 'gsm8k', scratch, qwen2, ['--resume-from-cycle', '1']);
    const agentic = trainRun('agentic', 'bfcl', scratch, qwen2);
    process.stdout.write(`train: reasoning ${JSON.stringify(reasoning)}\n  resume ${JSON.stringify(resumed)}\n  agentic ${JSON.stringify(agentic)}\n`);

    const gateArgs = ['agentic', 'train', '--model', llama, '--dataset', 'bfcl', '--limit', '4', '--cycles', '1', '--output', join(scratch, 'run-gate'), ...SMALL];
    const refused = cli(gateArgs, scratch);
    const allowed = cli([...gateArgs, '--allow-prototype-train'], scratch);
    const gate = {
      refused_exit: refused.status,
      refused_message: /CAPABILITY_ERROR modality=agentic reason=unsupported_model/.test(refused.stderr),
      allowed_exit: allowed.status,
      allowed_trained: existsSync(join(scratch, 'run-gate', 'final_model', 'adapter_model.safetensors')),
    };
    process.stdout.write(`gate: ${JSON.stringify(gate)}\n`);

    const tokenizer = HaloTokenizer.fromFolder(qwen2);
    const template = ChatTemplate.resolve(undefined, tokenizer);
    const settings = (dataset: string) => ({ model: 'scripted', dataset, split: 'test', maxNewTokens: 512, temperature: 0, topP: 1, seed: 0, generationBatchSize: 64 });
    const gsm8k = await benchmarkRecords(reasoningPreset, 'gsm8k', 'test', undefined, 0, 0);
    const plusOne = (record: OutputRecord): string => String(record.answer).replace(/####\s*(-?[\d,]+)\s*$/, (_, n: string) => `#### ${Number(n.replaceAll(',', '')) + 1}`);
    const right = await scoreModality({ preset: reasoningPreset, records: gsm8k, generator: scripted(gsm8k, tokenizer, template, (record) => String(record.answer)), tokenizer, template, settings: settings('gsm8k') });
    const wrong = await scoreModality({ preset: reasoningPreset, records: gsm8k, generator: scripted(gsm8k, tokenizer, template, plusOne), tokenizer, template, settings: settings('gsm8k') });
    const bfcl = await benchmarkRecords(agenticPreset, 'bfcl', 'test', undefined, 0, 0.1);
    const calls = await scoreModality({ preset: agenticPreset, records: bfcl, generator: scripted(bfcl, tokenizer, template, groundTruthCalls), tokenizer, template, settings: settings('bfcl') });
    const benchmarks = {
      gsm8k_test_samples: right.samples,
      gsm8k_reference_accuracy: right.metrics.accuracy,
      gsm8k_plus_one_accuracy: wrong.metrics.accuracy,
      bfcl_samples: calls.samples,
      bfcl_call_accuracy: calls.metrics.call_accuracy,
      bfcl_irrelevance_accuracy: calls.metrics.irrelevance_accuracy,
    };
    process.stdout.write(`benchmarks: ${JSON.stringify(benchmarks)}\n`);

    const trained = (run: typeof reasoning): boolean => run.exit === 0 && run.cycles === 2 && run.missing_artifacts.length === 0 && run.weights_updated;
    const passed =
      trained(reasoning) && trained(agentic) && trained(resumed) && resumed.resume_from_cycle === 1 &&
      gate.refused_exit === 1 && gate.refused_message && gate.allowed_exit === 0 && gate.allowed_trained &&
      right.samples === 1319 && benchmarks.gsm8k_reference_accuracy === 1 && benchmarks.gsm8k_plus_one_accuracy === 0 &&
      benchmarks.bfcl_call_accuracy === 1 && benchmarks.bfcl_irrelevance_accuracy === 1;
    process.stdout.write(`${JSON.stringify({ proof: 'modalities', train: { reasoning, resume: resumed, agentic }, gate, benchmarks, passed })}\n`);
    process.exitCode = passed ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${formatError(error)}\n`);
  process.exitCode = 1;
});
