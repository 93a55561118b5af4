/**
 * Custom verifiers: a command template run in the sandbox (`{file}` is the completion's code written
 * to the work dir; success when the success regex matches stdout), a JS module exporting `verify`,
 * and composition of verifiers (chained: stop at the first failure; weighted: reward = weighted mean).
 */
import { writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HaloError } from '../util/errors.js';
import { extractCode } from './code/extract.js';
import { BaseVerifier } from './pool.js';
import type { Sandbox } from './sandbox.js';
import { result, type Sample, type Verifier, type VerifyResult } from './types.js';

export interface CommandOptions {
  sandbox: Sandbox;
  /** e.g. "python3 check.py {file}"; {file} is replaced with the code file's name in the work dir. */
  command: string;
  successRegex: string;
  /** Optional regex whose first group is the reward (0..1) when the command succeeds. */
  rewardRegex?: string;
  /** Extension / extraction language for the code file (default "txt", whole completion). */
  language?: string;
  /** Host folders (the checker's files) visible read-only inside the sandbox. */
  mounts?: string[];
  timeoutMs?: number;
  workers?: number;
}

export class CommandVerifier extends BaseVerifier {
  readonly name = 'command';
  private readonly success: RegExp;
  private readonly reward: RegExp | null;

  constructor(private readonly options: CommandOptions) {
    super(options.workers);
    if (!options.command.includes('{file}')) throw new HaloError('VERIFY_OPTION', `--verifier-cmd "${options.command}" has no {file} placeholder`, { fix: 'write the command with {file} where the code file goes, e.g. "python3 {file}"' });
    this.success = compileRegex(options.successRegex, '--success-regex');
    this.reward = options.rewardRegex ? compileRegex(options.rewardRegex, '--reward-regex') : null;
    for (const mount of options.mounts ?? []) if (!isAbsolute(mount)) throw new HaloError('VERIFY_OPTION', `mount ${mount} is not an absolute path`, { fix: 'pass absolute host folders' });
  }

  async verify(sample: Sample): Promise<VerifyResult> {
    const language = this.options.language ?? 'txt';
    const extracted = language === 'txt' ? { code: sample.completion, rule: 'whole-completion' } : extractCode(sample.completion, language);
    const file = `candidate.${language}`;
    const workDir = this.options.sandbox.makeWorkDir();
    try {
      writeFileSync(join(workDir, file), extracted.code);
      const command = this.options.command.replaceAll('{file}', file);
      const run = await this.options.sandbox.run({ argv: ['/bin/sh', '-c', command], workDir, readOnlyPaths: this.options.mounts, timeoutMs: this.options.timeoutMs });
      const metadata = { exitCode: run.exitCode, timedOut: run.timedOut, extraction: extracted.rule, wallMs: Math.round(run.wallMs) };
      if (run.timedOut) return result(false, 0, 'command timed out', metadata);
      if (!this.success.test(run.stdout)) return result(false, 0, `success regex did not match (exit ${run.exitCode})`, metadata);
      let reward = 1;
      if (this.reward) {
        const value = Number(this.reward.exec(run.stdout)?.[1]);
        if (Number.isFinite(value)) reward = value;
      }
      return result(true, reward, 'success regex matched', metadata);
    } finally {
      this.options.sandbox.removeWorkDir(workDir);
    }
  }
}

function compileRegex(source: string, flag: string): RegExp {
  try {
    return new RegExp(source, 'm');
  } catch (error) {
    throw new HaloError('VERIFY_OPTION', `${flag} ${source} is not a valid regular expression: ${(error as Error).message}`, { fix: 'escape special characters, e.g. "^OK\\b"' });
  }
}

type ModuleVerify = (sample: Sample) => unknown;

/** A JS module (trusted: the user's code, not the model's) exporting verify(sample). */
export async function loadModuleVerifier(path: string, workers?: number): Promise<Verifier> {
  const absolute = resolve(path);
  let loaded: { verify?: unknown; default?: { verify?: unknown } };
  try {
    loaded = (await import(pathToFileURL(absolute).href)) as typeof loaded;
  } catch (error) {
    throw new HaloError('VERIFY_MODULE', `cannot import verifier module ${absolute}: ${(error as Error).message}`, { fix: 'pass an ES module (.js / .mjs) that exports verify(sample)' });
  }
  const verify = (loaded.verify ?? loaded.default?.verify) as ModuleVerify | undefined;
  if (typeof verify !== 'function') throw new HaloError('VERIFY_MODULE', `${absolute} does not export a verify function`, { fix: 'add `export async function verify(sample) { return { success, reward, details } }`' });
  class ModuleVerifier extends BaseVerifier {
    readonly name = `module:${path}`;
    async verify(sample: Sample): Promise<VerifyResult> {
      const value = (await verify!(sample)) as Partial<VerifyResult> | null;
      if (!value || typeof value.reward !== 'number' || typeof value.success !== 'boolean') {
        throw new HaloError('VERIFY_MODULE', `${absolute}: verify() must return {success: boolean, reward: number, details?}`, { fix: 'return an object with success and reward' });
      }
      return result(value.success, value.reward, value.details ?? '', value.metadata ?? {}, value.error);
    }
  }
  return new ModuleVerifier(workers);
}

export interface WeightedPart {
  verifier: Verifier;
  weight: number;
}

/** Chained: each verifier in turn; the first failure ends the chain with its result. Success needs all. */
export class ChainVerifier extends BaseVerifier {
  readonly name: string;

  constructor(private readonly parts: Verifier[], workers?: number) {
    super(workers);
    this.name = `chain(${parts.map((part) => part.name).join(',')})`;
  }

  async verify(sample: Sample): Promise<VerifyResult> {
    let last: VerifyResult = result(true, 1, 'empty chain');
    const steps: Record<string, unknown>[] = [];
    for (const part of this.parts) {
      last = await part.verify(sample);
      steps.push({ verifier: part.name, success: last.success, reward: last.reward });
      if (!last.success) return { ...last, details: `${part.name}: ${last.details}`, metadata: { ...last.metadata, steps } };
    }
    return { ...last, metadata: { ...last.metadata, steps } };
  }
}

/** Weighted: every verifier runs; reward = sum(w * r) / sum(w); success needs all. */
export class WeightedVerifier extends BaseVerifier {
  readonly name: string;

  constructor(private readonly parts: WeightedPart[], workers?: number) {
    super(workers);
    if (parts.length === 0 || parts.some((part) => !(part.weight > 0))) throw new HaloError('VERIFY_OPTION', 'weighted verifier needs at least one part and every weight > 0', { fix: 'e.g. --verifier weighted:math=0.7,tools=0.3' });
    this.name = `weighted(${parts.map((part) => `${part.verifier.name}=${part.weight}`).join(',')})`;
  }

  async verify(sample: Sample): Promise<VerifyResult> {
    const results = await Promise.all(this.parts.map((part) => part.verifier.verify(sample)));
    const total = this.parts.reduce((sum, part) => sum + part.weight, 0);
    const reward = results.reduce((sum, value, index) => sum + value.reward * this.parts[index].weight, 0) / total;
    const success = results.every((value) => value.success);
    return result(success, reward, results.map((value, index) => `${this.parts[index].verifier.name}: ${value.details}`).join('; '), { parts: results.map((value, index) => ({ verifier: this.parts[index].verifier.name, reward: value.reward, success: value.success })) });
  }
}
