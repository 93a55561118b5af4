/**
 * Tool-calling verifier. Parses Hermes <tool_call> blocks, validates arguments against each tool's
 * schema (ajv), and compares with the expected calls using BFCL's semantics: each argument has a
 * list of acceptable values ("" = may be omitted), ints are accepted for floats, strings compare
 * case- and punctuation-insensitively, parallel calls match in any order.
 * Rewards: correct function + arguments 1.0, correct function wrong arguments 0.5, valid JSON
 * wrong function 0.25, no call when one was expected 0.0, a call when none was expected -0.25.
 */
import { HaloError } from '../../util/errors.js';
import { SyncVerifier } from '../pool.js';
import { result, type Sample, type VerifyResult } from '../types.js';
import { parseToolCalls, type ToolCall } from './parse.js';
import { readTools, validateArguments, type ToolSchema } from './schema.js';

export const TOOL_REWARDS = { correct: 1.0, wrongArguments: 0.5, wrongFunction: 0.25, missingCall: 0.0, unexpectedCall: -0.25 } as const;

/** One expected call: per argument, the acceptable values. */
export interface ExpectedCall {
  name: string;
  arguments: Record<string, unknown[]>;
}

export interface ToolOptions {
  workers?: number;
  /** Sample field with the tool schemas (default: "tools", then BFCL's "function"). */
  toolsField?: string;
  /** Sample field with the expected calls (default: "expected_calls", then BFCL's "ground_truth"). */
  expectedField?: string;
}

/** BFCL ground truth [{fname: {arg: [values]}}] or [{name, arguments}] with plain or list values. */
export function readExpectedCalls(raw: unknown): ExpectedCall[] {
  if (!Array.isArray(raw)) throw new HaloError('VERIFY_SAMPLE', 'expected calls must be a list', { fix: 'use [{"name": ..., "arguments": {...}}] or BFCL ground_truth' });
  return raw.map((entry) => {
    const record = entry as Record<string, unknown>;
    if (typeof record.name === 'string' && record.arguments && typeof record.arguments === 'object') {
      const args = Object.fromEntries(Object.entries(record.arguments as Record<string, unknown>).map(([key, value]) => [key, Array.isArray(value) ? value : [value]]));
      return { name: record.name, arguments: args };
    }
    const keys = Object.keys(record);
    if (keys.length !== 1) throw new HaloError('VERIFY_SAMPLE', `expected call ${JSON.stringify(entry).slice(0, 80)} is neither {name, arguments} nor {fname: {...}}`, { fix: 'use BFCL ground_truth or {name, arguments}' });
    return { name: keys[0], arguments: record[keys[0]] as Record<string, unknown[]> };
  });
}

/** BFCL's string normalisation: drop spaces and , . / - _ * ^, lowercase. */
function normalizeString(text: string): string {
  return text.replace(/[ ,./\-_*^]/g, '').toLowerCase();
}

export function valuesMatch(actual: unknown, acceptable: unknown): boolean {
  if (typeof acceptable === 'number' && typeof actual === 'number') return actual === acceptable;
  if (typeof acceptable === 'string' && typeof actual === 'string') return normalizeString(actual) === normalizeString(acceptable);
  if (Array.isArray(acceptable)) return Array.isArray(actual) && actual.length === acceptable.length && acceptable.every((value, index) => valuesMatch(actual[index], value));
  if (acceptable !== null && typeof acceptable === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const want = acceptable as Record<string, unknown>;
    const got = actual as Record<string, unknown>;
    // Nested dicts in BFCL also hold lists of acceptable values per key.
    return Object.keys(got).every((key) => key in want) && Object.entries(want).every(([key, options]) => {
      const choices = Array.isArray(options) ? options : [options];
      if (!(key in got)) return choices.includes('');
      return choices.some((choice) => choice !== '' && valuesMatch(got[key], choice));
    });
  }
  return actual === acceptable;
}

function argumentsMatch(call: ToolCall, expected: ExpectedCall): boolean {
  for (const key of Object.keys(call.arguments)) if (!(key in expected.arguments)) return false;
  for (const [key, options] of Object.entries(expected.arguments)) {
    if (!(key in call.arguments)) {
      if (!options.includes('')) return false;
      continue;
    }
    if (!options.some((option) => option !== '' && valuesMatch(call.arguments[key], option))) return false;
  }
  return true;
}

/** Order-free matching of actual to expected calls (small n: greedy over a bipartite check suffices via backtracking). */
function matchAll(calls: ToolCall[], expected: ExpectedCall[], ok: (call: ToolCall, want: ExpectedCall) => boolean): boolean {
  if (calls.length !== expected.length) return false;
  const used = new Array<boolean>(calls.length).fill(false);
  const assign = (index: number): boolean => {
    if (index === expected.length) return true;
    for (let i = 0; i < calls.length; i++) {
      if (used[i] || !ok(calls[i], expected[index])) continue;
      used[i] = true;
      if (assign(index + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return assign(0);
}

export class ToolCallVerifier extends SyncVerifier {
  readonly name = 'tools';

  constructor(private readonly options: ToolOptions = {}) {
    super(options.workers);
  }

  verifyNow(sample: Sample): VerifyResult {
    const tools = readTools(sample[this.options.toolsField ?? 'tools'] ?? sample.function);
    const rawExpected = sample[this.options.expectedField ?? 'expected_calls'] ?? sample.ground_truth;
    const expected = rawExpected === undefined || rawExpected === null ? [] : readExpectedCalls(rawExpected);
    const parsed = parseToolCalls(sample.completion);
    const metadata: Record<string, unknown> = { calls: parsed.calls.length, invalidBlocks: parsed.invalid, expectedCalls: expected.length };
    if (expected.length === 0) {
      if (parsed.calls.length > 0 || parsed.invalid > 0) return result(false, TOOL_REWARDS.unexpectedCall, 'a tool call when none was expected', metadata);
      return result(true, TOOL_REWARDS.correct, 'no call, as expected', metadata);
    }
    if (parsed.calls.length === 0) return result(false, TOOL_REWARDS.missingCall, parsed.invalid > 0 ? 'tool call blocks hold no valid JSON call' : 'no tool call when one was expected', metadata);
    const schemaErrors = parsed.calls.map((call) => {
      const tool = tools.find((candidate: ToolSchema) => candidate.name === call.name);
      return tool ? validateArguments(tool, call.arguments) : null;
    });
    metadata.schemaErrors = schemaErrors.filter((error): error is string => error !== null);
    const namesMatch = matchAll(parsed.calls, expected, (call, want) => call.name === want.name);
    if (!namesMatch) return result(false, TOOL_REWARDS.wrongFunction, `wrong function: called ${parsed.calls.map((call) => call.name).join(', ')}, expected ${expected.map((call) => call.name).join(', ')}`, metadata);
    const allValid = schemaErrors.every((error) => error === null) && parsed.invalid === 0;
    if (allValid && matchAll(parsed.calls, expected, (call, want) => call.name === want.name && argumentsMatch(call, want))) {
      return result(true, TOOL_REWARDS.correct, 'correct function and arguments', metadata);
    }
    const why = schemaErrors.find((error) => error !== null) ?? 'argument values differ from the expected ones';
    return result(false, TOOL_REWARDS.wrongArguments, `correct function, wrong arguments: ${why}`, metadata);
  }

  override async verifyBatch(samples: readonly Sample[]): Promise<VerifyResult[]> {
    return samples.map((sample) => {
      try {
        return this.verifyNow(sample);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return result(false, 0, `verifier error: ${message}`, { verifierError: true }, message);
      }
    });
  }
}
