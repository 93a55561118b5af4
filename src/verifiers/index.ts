/** The verifiers layer's public surface: the contract, the registry, the sandbox and the pool. */
export type { Sample, Verifier, VerifyResult } from './types.js';
export { createVerifier, needsSandbox, VERIFIER_NAMES, type VerifierConfig } from './registry.js';
export { Sandbox, NO_SANDBOX_WARNING, DEFAULT_LIMITS, type SandboxMode, type SandboxOptions, type ResourceLimits, type RunRequest, type RunResult } from './sandbox.js';
export { mapOrdered, verifyAll, defaultWorkers } from './pool.js';
export { extractCode, type ExtractedCode, type ExtractionRule } from './code/extract.js';
export { LADDER } from './code/compiled.js';
export { MATH_REWARDS, answersEquivalent } from './math/math.js';
export { TOOL_REWARDS } from './tools/tools.js';
export { parseToolCalls, formatHermesCall, type ToolCall } from './tools/parse.js';
