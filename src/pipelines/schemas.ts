/**
 * The JSON Schemas of every run artifact (schemas/*.schema.json in the repository root), compiled
 * once with ajv. Writers validate before writing (a bug never produces a malformed artifact);
 * readers validate what they load on resume (a damaged file is a HaloError naming it).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { HaloError } from '../util/errors.js';

export type ArtifactSchema =
  | 'checkpoint_state'
  | 'latest_checkpoint'
  | 'training_summary'
  | 'launch_context'
  | 'sample_record'
  | 'verified_record'
  | 'event'
  | 'benchmark_result'
  | 'train_progress'
  | 'curriculum_state'
  | 'cycle_summary'
  | 'sft_summary'
  | 'eval_baseline'
  | 'yield_diagnostics'
  | 'inference_benchmark';

/** src/pipelines/schemas.ts and dist/src/pipelines/schemas.js both sit below the repository root. */
function schemasDirectory(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const root = here.includes('/dist/src/') ? new URL('../../../schemas/', import.meta.url) : new URL('../../schemas/', import.meta.url);
  return fileURLToPath(root);
}

export const SCHEMA_BASE = 'https://halo-forge.local/schemas/';

let compiled: Map<string, ValidateFunction> | undefined;

function validators(): Map<string, ValidateFunction> {
  if (compiled !== undefined) return compiled;
  const ajv = new Ajv({ allErrors: true, strict: true });
  const directory = schemasDirectory();
  const names: string[] = [];
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.schema.json')).sort()) {
    ajv.addSchema(JSON.parse(readFileSync(`${directory}${file}`, 'utf8')) as object);
    names.push(file.replace(/\.schema\.json$/, ''));
  }
  compiled = new Map();
  for (const name of names) {
    const validate = ajv.getSchema(`${SCHEMA_BASE}${name}.schema.json`);
    if (validate === undefined) throw new Error(`schemas: ${name}.schema.json has no $id ${SCHEMA_BASE}${name}.schema.json`);
    compiled.set(name, validate);
  }
  return compiled;
}

/** Problems with `value` against the schema, as "path: message" strings (empty when valid). */
export function schemaErrors(schema: ArtifactSchema, value: unknown): string[] {
  const validate = validators().get(schema);
  if (validate === undefined) throw new Error(`schemas: no schema named ${schema}`);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'}: ${error.message ?? 'invalid'}${error.params && 'additionalProperty' in error.params ? ` (${String(error.params.additionalProperty)})` : ''}`);
}

/** Throws a HaloError naming the file when `value` does not match its schema. */
export function assertArtifact(schema: ArtifactSchema, value: unknown, path: string): void {
  const errors = schemaErrors(schema, value);
  if (errors.length === 0) return;
  throw new HaloError('ERR_ARTIFACT_INVALID', `${path} does not match the ${schema} schema: ${errors.slice(0, 3).join('; ')}`, {
    fix: 'the file was damaged or written by an incompatible version; restore it or rerun with --resume-from-cycle to rebuild from an earlier cycle',
    details: { errors },
  });
}
