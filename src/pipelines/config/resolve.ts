/**
 * Resolves one command's config: command-line flag > --config YAML value > built-in default.
 * Only the flags the user actually passed reach `cli` (the CLI asks commander for each option's
 * value source), so a flag left out never overrides the config file. Unknown YAML keys are an
 * error naming the file, line and key, with the closest known key as the fix.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isNode, isScalar, parseDocument } from 'yaml';
import { HaloError } from '../../util/errors.js';
import { type CommandConfigDefinition, type OptionSpec, type OptionSpecs, type ResolvedConfig, type ValueSource, flagName, yamlKey } from './spec.js';

/** A flag's raw value as commander hands it over: a string, or a boolean for switches. */
export type RawFlagValue = string | boolean | readonly string[];

export interface ConfigInput {
  /** Only the options passed on the command line, keyed by property name (e.g. samplesPerPrompt). */
  cli?: Readonly<Record<string, RawFlagValue | undefined>>;
  /** The --config YAML file, if any. */
  configPath?: string;
}

export interface ResolvedCommandConfig<D extends OptionSpecs> {
  config: ResolvedConfig<D>;
  /** Where each option's value came from. */
  sources: Record<keyof D & string, ValueSource>;
  configPath?: string;
}

type Value = number | string | boolean | number[];

export function resolveConfig<D extends OptionSpecs>(definition: CommandConfigDefinition<D>, input: ConfigInput): ResolvedCommandConfig<D> {
  const fromFile = input.configPath === undefined ? new Map<string, Value>() : loadConfigFile(definition, input.configPath);
  const config: Record<string, Value | undefined> = {};
  const sources: Record<string, ValueSource> = {};
  for (const [property, spec] of Object.entries(definition.options)) {
    const raw = input.cli?.[property];
    if (raw !== undefined) {
      config[property] = parseFlagValue(spec, raw, `--${flagName(property)}`);
      sources[property] = 'cli';
    } else if (fromFile.has(property)) {
      config[property] = fromFile.get(property);
      sources[property] = 'config';
    } else if (spec.default !== undefined) {
      config[property] = Array.isArray(spec.default) ? [...(spec.default as readonly number[])] : (spec.default as Value);
      sources[property] = 'default';
    } else {
      config[property] = undefined;
      sources[property] = 'unset';
    }
  }
  for (const property of Object.keys(input.cli ?? {})) {
    if (!(property in definition.options)) throw new Error(`resolveConfig(${definition.command}): unknown cli property ${property}`);
  }
  const resolved = config as ResolvedConfig<D>;
  const typedSources = sources as Record<keyof D & string, ValueSource>;
  const problem = definition.validate?.(resolved, typedSources);
  if (problem !== undefined) {
    throw new HaloError('ERR_CONFIG_INVALID', `${definition.command}: ${problem}`, {
      fix: input.configPath === undefined ? 'pass the missing or corrected flag' : `pass the flag or set the key in ${input.configPath}`,
    });
  }
  return input.configPath === undefined ? { config: resolved, sources: typedSources } : { config: resolved, sources: typedSources, configPath: input.configPath };
}

/** Reads and checks a YAML config file; returns values keyed by property name. */
export function loadConfigFile<D extends OptionSpecs>(definition: CommandConfigDefinition<D>, path: string): Map<string, Value> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HaloError('ERR_CONFIG_READ', `cannot read config file ${path}: ${(error as Error).message}`, {
      fix: 'check the --config path (relative paths are resolved from the current directory)',
      cause: error,
    });
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    const first = document.errors[0];
    const line = first.linePos?.[0]?.line ?? lineCounter.linePos(first.pos[0]).line;
    throw new HaloError('ERR_CONFIG_SYNTAX', `${path}:${line}: invalid YAML: ${first.message.split('\n')[0]}`, {
      fix: 'fix the YAML syntax at that line (indentation, a missing colon, an unclosed quote)',
    });
  }
  const values = new Map<string, Value>();
  const contents = document.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) return values;
  if (!isMap(contents)) {
    throw new HaloError('ERR_CONFIG_SHAPE', `${path}:1: a config file must be a mapping of keys to values`, {
      fix: 'write one "key: value" per line, e.g. "samples_per_prompt: 8"',
    });
  }
  const byYamlName = yamlNameIndex(definition.options);
  for (const pair of contents.items) {
    const keyNode = pair.key;
    const line = isNode(keyNode) && keyNode.range ? lineCounter.linePos(keyNode.range[0]).line : 0;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const where = `${path}:${line}`;
    const property = byYamlName.get(key);
    if (property === undefined) {
      const suggestion = closest(key, [...byYamlName.keys()].filter((name) => !definition.options[byYamlName.get(name) ?? '']?.cliOnly));
      throw new HaloError('ERR_CONFIG_UNKNOWN_KEY', `${where}: unknown key "${key}" for ${definition.command}`, {
        fix: suggestion === undefined ? `remove it; \`halo-forge ${definition.command} --help\` lists the options (key = flag with _ for -)` : `did you mean "${suggestion}"?`,
        details: { key, line, suggestion },
      });
    }
    const spec = definition.options[property];
    if (spec.cliOnly) {
      throw new HaloError('ERR_CONFIG_CLI_ONLY', `${where}: "${key}" can only be given as the flag --${flagName(property)}`, {
        fix: `remove "${key}" from the file and pass --${flagName(property)} on the command line`,
      });
    }
    if (values.has(property)) {
      throw new HaloError('ERR_CONFIG_DUPLICATE', `${where}: "${key}" sets ${yamlKey(property)} a second time (an alias of the same option)`, {
        fix: `keep only one of ${[yamlKey(property), ...(spec.aliases ?? [])].join(' / ')}`,
      });
    }
    const raw: unknown = isNode(pair.value) ? pair.value.toJSON() : pair.value;
    if (raw === null || raw === undefined) continue; // "key:" with no value leaves the default in place
    values.set(property, parseYamlValue(spec, raw, `${where}: ${key}`));
  }
  return values;
}

function yamlNameIndex(options: OptionSpecs): Map<string, string> {
  const index = new Map<string, string>();
  for (const [property, spec] of Object.entries(options)) {
    index.set(yamlKey(property), property);
    for (const alias of spec.aliases ?? []) index.set(alias, property);
  }
  return index;
}

function parseFlagValue(spec: OptionSpec, raw: RawFlagValue, flag: string): Value {
  if (spec.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    throw new HaloError('ERR_FLAG_VALUE', `${flag} is a switch and takes no value (got "${String(raw)}")`, { fix: `pass ${flag} alone, or --no-${flag.slice(2)}` });
  }
  const text = Array.isArray(raw) ? raw.join(',') : String(raw);
  return parseText(spec, text, flag, 'ERR_FLAG_VALUE');
}

function parseYamlValue(spec: OptionSpec, raw: unknown, where: string): Value {
  switch (spec.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      throw new HaloError('ERR_CONFIG_VALUE', `${where} must be true or false (got ${JSON.stringify(raw)})`, { fix: 'write true or false without quotes' });
    case 'int-list':
      if (Array.isArray(raw)) return checkList(spec, raw.map((item) => parseYamlValue({ kind: 'int', description: spec.description, min: spec.min }, item, where) as number), where, 'ERR_CONFIG_VALUE');
      if (typeof raw === 'number' || typeof raw === 'string') return parseText(spec, String(raw), where, 'ERR_CONFIG_VALUE');
      break;
    case 'string':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number') return String(raw);
      break;
    case 'enum':
      if (typeof raw === 'string') return parseText(spec, raw, where, 'ERR_CONFIG_VALUE');
      break;
    case 'int':
    case 'number':
      // PyYAML-era files often quote exponents ("5e-5"); accept numeric strings.
      if (typeof raw === 'number' || typeof raw === 'string') return parseText(spec, String(raw), where, 'ERR_CONFIG_VALUE');
      break;
  }
  throw new HaloError('ERR_CONFIG_VALUE', `${where} has the wrong type (got ${JSON.stringify(raw)}, expected ${describeKind(spec)})`, {
    fix: `write ${describeKind(spec)}`,
  });
}

function parseText(spec: OptionSpec, text: string, where: string, code: string): Value {
  const trimmed = text.trim();
  switch (spec.kind) {
    case 'string':
      return text;
    case 'boolean':
      throw new Error('unreachable: booleans are parsed by the caller');
    case 'enum':
      if ((spec.choices as readonly string[]).includes(trimmed)) return trimmed;
      throw new HaloError(code, `${where} must be one of ${spec.choices.join(' | ')} (got "${trimmed}")`, {
        fix: closestFix(trimmed, spec.choices) ?? `use one of ${spec.choices.join(', ')}`,
      });
    case 'int':
    case 'number': {
      const value = trimmed === '' ? Number.NaN : Number(trimmed);
      if (!Number.isFinite(value)) throw new HaloError(code, `${where} must be ${describeKind(spec)} (got "${text}")`, { fix: `write ${describeKind(spec)}` });
      return checkNumber(spec, value, where, code);
    }
    case 'int-list': {
      const items = trimmed.split(',').map((part) => part.trim());
      const values = items.map((part) => {
        const value = part === '' ? Number.NaN : Number(part);
        if (!Number.isInteger(value)) throw new HaloError(code, `${where} must be a comma-separated list of integers (got "${text}")`, { fix: 'write e.g. 1,5,10' });
        return value;
      });
      return checkList(spec, values, where, code);
    }
  }
}

function checkNumber(spec: OptionSpec & { kind: 'int' | 'number' }, value: number, where: string, code: string): number {
  if (spec.kind === 'int' && !Number.isInteger(value)) throw new HaloError(code, `${where} must be an integer (got ${value})`, { fix: 'write a whole number' });
  const exclusive = spec.kind === 'number' && spec.exclusiveMin === true;
  if (spec.min !== undefined && (exclusive ? value <= spec.min : value < spec.min)) {
    throw new HaloError(code, `${where} must be ${exclusive ? '>' : '>='} ${spec.min} (got ${value})`, { fix: `use a value ${exclusive ? 'above' : 'of at least'} ${spec.min}` });
  }
  if (spec.max !== undefined && value > spec.max) throw new HaloError(code, `${where} must be <= ${spec.max} (got ${value})`, { fix: `use a value of at most ${spec.max}` });
  return value;
}

function checkList(spec: OptionSpec & { kind: 'int-list' }, values: number[], where: string, code: string): number[] {
  if (values.length === 0) throw new HaloError(code, `${where} must list at least one integer`, { fix: 'write e.g. 1,5,10' });
  for (const value of values) {
    if (spec.min !== undefined && value < spec.min) throw new HaloError(code, `${where}: every value must be >= ${spec.min} (got ${value})`, { fix: `use values of at least ${spec.min}` });
  }
  return values;
}

function describeKind(spec: OptionSpec): string {
  switch (spec.kind) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${spec.choices.join(' | ')}`;
    case 'int-list':
      return 'a list of integers';
  }
}

function closestFix(value: string, candidates: readonly string[]): string | undefined {
  const suggestion = closest(value, candidates);
  return suggestion === undefined ? undefined : `did you mean "${suggestion}"?`;
}

/** The candidate with the smallest edit distance, when it is close enough to be a plausible typo. */
export function closest(value: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(value.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(Math.max(value.length, best.length) / 3));
  const containsOther = best.includes(value) || value.includes(best);
  return bestDistance <= limit || containsOther ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
