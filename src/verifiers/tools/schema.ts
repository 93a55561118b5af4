/** Tool schemas (BFCL or OpenAI style) validated with ajv; BFCL's dict / float / tuple / any types mapped to JSON Schema. */
import { Ajv, type ValidateFunction } from 'ajv';

export interface ToolSchema {
  name: string;
  parameters: Record<string, unknown>;
}

const TYPE_MAP: Record<string, string | null> = { dict: 'object', float: 'number', tuple: 'array', any: null, int: 'integer', str: 'string', bool: 'boolean', list: 'array' };

/** A BFCL schema turned into JSON Schema, recursively. */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (key === 'type' && typeof value === 'string') {
      const mapped = value in TYPE_MAP ? TYPE_MAP[value] : value;
      if (mapped !== null) out.type = mapped;
    } else if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, sub]) => [name, toJsonSchema(sub)]));
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = toJsonSchema(value);
    } else if (key === 'required' || key === 'enum' || key === 'minimum' || key === 'maximum' || key === 'minItems' || key === 'maxItems') {
      out[key] = value;
    }
    // description, default, optional and other annotations are dropped: they don't constrain values.
  }
  if (out.type === 'number' && Array.isArray(out.enum)) delete out.enum;
  return out;
}

/** Tools from a sample: OpenAI-style {type:"function", function:{...}} or bare {name, parameters}. */
export function readTools(raw: unknown): ToolSchema[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((entry) => {
    const item = (entry as { function?: unknown }).function ?? entry;
    const tool = item as { name?: unknown; parameters?: unknown };
    return typeof tool.name === 'string' ? [{ name: tool.name, parameters: (tool.parameters as Record<string, unknown>) ?? { type: 'object' } }] : [];
  });
}

const ajv = new Ajv({ strict: false, allErrors: true });
const cache = new Map<string, ValidateFunction>();

export function validateArguments(tool: ToolSchema, args: Record<string, unknown>): string | null {
  const key = JSON.stringify(tool.parameters);
  let validate = cache.get(key);
  if (!validate) {
    validate = ajv.compile(toJsonSchema({ ...tool.parameters, type: 'dict' }) as object);
    cache.set(key, validate);
  }
  if (validate(args)) return null;
  return ajv.errorsText(validate.errors);
}
