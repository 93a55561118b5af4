/** Verifiers by name, so pipelines and the CLI can create them from a string plus options. */
import { HaloError } from '../util/errors.js';
import { CompiledVerifier } from './code/compiled.js';
import type { LanguageName } from './code/languages.js';
import { MATCH_MODES, type MatchMode } from './code/match.js';
import { HumanEvalVerifier, MbppVerifier, PythonTestsVerifier } from './code/python-tests.js';
import { ChainVerifier, CommandVerifier, loadModuleVerifier, WeightedVerifier } from './custom.js';
import { MathVerifier } from './math/math.js';
import { Sandbox, type SandboxMode } from './sandbox.js';
import { ToolCallVerifier } from './tools/tools.js';
import type { Verifier } from './types.js';

export interface VerifierConfig {
  /** A shared sandbox; created from sandboxMode / timeoutMs when absent. */
  sandbox?: Sandbox;
  sandboxMode?: SandboxMode;
  onWarning?: (message: string) => void;
  workers?: number;
  timeoutMs?: number;
  /** compiled verifiers: compile only, or compile and run (default: run for execution, compile for the rest unless the sample has cases). */
  mode?: 'compile' | 'run';
  match?: MatchMode;
  /** execution: which language the program is in (default python). */
  language?: LanguageName;
  /** humaneval: HumanEval.jsonl to look problems up by task_id. */
  problemsFile?: string;
  testsField?: string;
  answerField?: string;
  command?: string;
  successRegex?: string;
  rewardRegex?: string;
  mounts?: string[];
  modulePath?: string;
}

const COMPILED: Record<string, LanguageName> = { gcc: 'c', 'g++': 'cpp', cpp: 'cpp', clang: 'clang', mingw: 'mingw', rust: 'rust', go: 'go', dotnet: 'csharp', pwsh: 'powershell' };
const SANDBOXED = new Set([...Object.keys(COMPILED), 'execution', 'python', 'humaneval', 'mbpp', 'command']);

export const VERIFIER_NAMES = [...Object.keys(COMPILED), 'execution', 'python', 'humaneval', 'mbpp', 'math', 'tools', 'command', 'module'] as const;

/** Whether this verifier (or any part of a composite) runs model-written code. */
export function needsSandbox(name: string): boolean {
  return splitComposite(name).some((part) => SANDBOXED.has(part.name));
}

interface Part {
  name: string;
  weight: number;
}

function splitComposite(spec: string): Part[] {
  const match = /^(chain|weighted):(.+)$/.exec(spec);
  if (!match) return [{ name: spec, weight: 1 }];
  return match[2].split(',').map((item) => {
    const [name, weight] = item.split('=');
    return { name: name.trim(), weight: weight === undefined ? 1 : Number(weight) };
  });
}

/**
 * Creates a verifier: a name from VERIFIER_NAMES, or a composite `chain:a,b` (stop at the first
 * failure) / `weighted:a=0.7,b=0.3` (weighted mean of rewards).
 */
export async function createVerifier(spec: string, config: VerifierConfig = {}): Promise<Verifier> {
  if (config.match !== undefined && !MATCH_MODES.includes(config.match)) {
    throw new HaloError('VERIFY_OPTION', `--match ${config.match} is not one of ${MATCH_MODES.join(', ')}`, { fix: `use one of ${MATCH_MODES.join(', ')}` });
  }
  const sandbox = config.sandbox ?? (needsSandbox(spec) ? Sandbox.create({ mode: config.sandboxMode, timeoutMs: config.timeoutMs, onWarning: config.onWarning }) : undefined);
  const shared = { ...config, sandbox };
  const composite = /^(chain|weighted):/.exec(spec);
  if (composite) {
    const parts = splitComposite(spec);
    const verifiers = await Promise.all(parts.map((part) => createSingle(part.name, shared)));
    if (composite[1] === 'chain') return new ChainVerifier(verifiers, config.workers);
    return new WeightedVerifier(verifiers.map((verifier, index) => ({ verifier, weight: parts[index].weight })), config.workers);
  }
  return createSingle(spec, shared);
}

async function createSingle(name: string, config: VerifierConfig): Promise<Verifier> {
  const needSandbox = (): Sandbox => {
    if (!config.sandbox) throw new HaloError('VERIFY_OPTION', `verifier ${name} needs a sandbox`, { fix: 'pass sandbox in the verifier config' });
    return config.sandbox;
  };
  const { workers, timeoutMs } = config;
  if (name in COMPILED) {
    return new CompiledVerifier({ sandbox: needSandbox(), language: COMPILED[name], mode: config.mode ?? 'compile', match: config.match, timeoutMs, workers, casesField: config.testsField }, name);
  }
  switch (name) {
    case 'execution':
      return new CompiledVerifier({ sandbox: needSandbox(), language: config.language ?? 'python', mode: config.mode ?? 'run', match: config.match, timeoutMs, workers, casesField: config.testsField }, 'execution');
    case 'python':
      return new PythonTestsVerifier({ sandbox: needSandbox(), timeoutMs, workers, testsField: config.testsField });
    case 'humaneval':
      return new HumanEvalVerifier({ sandbox: needSandbox(), problemsFile: config.problemsFile, timeoutMs, workers });
    case 'mbpp':
      return new MbppVerifier({ sandbox: needSandbox(), timeoutMs, workers, testsField: config.testsField });
    case 'math':
      return new MathVerifier({ workers, answerField: config.answerField });
    case 'tools':
      return new ToolCallVerifier({ workers });
    case 'command':
      if (!config.command || !config.successRegex) throw new HaloError('VERIFY_OPTION', 'the command verifier needs --verifier-cmd and --success-regex', { fix: 'e.g. --verifier-cmd "python3 {file}" --success-regex "^PASS"' });
      return new CommandVerifier({ sandbox: needSandbox(), command: config.command, successRegex: config.successRegex, rewardRegex: config.rewardRegex, mounts: config.mounts, language: config.language, timeoutMs, workers });
    case 'module':
      if (!config.modulePath) throw new HaloError('VERIFY_OPTION', 'the module verifier needs --verifier-module PATH', { fix: 'pass a JS module exporting verify(sample)' });
      return loadModuleVerifier(config.modulePath, workers);
    default:
      throw new HaloError('VERIFY_UNKNOWN', `--verifier ${name} is not a verifier`, { fix: `use one of ${VERIFIER_NAMES.join(', ')}, or chain:a,b / weighted:a=0.5,b=0.5` });
  }
}
