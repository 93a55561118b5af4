/**
 * Typed option specs shared by the CLI flags and the --config YAML of one command. One property
 * name per option: `samplesPerPrompt` is the flag `--samples-per-prompt` and the YAML key
 * `samples_per_prompt`. Precedence (DESIGN.md §3): flag > --config YAML > built-in default.
 */

interface SpecBase {
  /** Help text; the default is appended by the CLI. */
  description: string;
  /** Other YAML names accepted for this key (the Python seed's names, e.g. num_cycles). */
  aliases?: readonly string[];
  /** Flag only: not accepted in a config file (e.g. --config itself). */
  cliOnly?: boolean;
  /** Changing it between a run and its resume is fine (output paths, --cycles, --quiet). */
  resumeNeutral?: boolean;
  /** Placeholder shown in help, e.g. PATH. */
  argName?: string;
}

export interface IntSpec extends SpecBase {
  kind: 'int';
  default?: number;
  min?: number;
  max?: number;
}

export interface NumberSpec extends SpecBase {
  kind: 'number';
  default?: number;
  min?: number;
  max?: number;
  /** min itself is not allowed (e.g. learning rate > 0). */
  exclusiveMin?: boolean;
}

export interface StringSpec extends SpecBase {
  kind: 'string';
  default?: string;
}

export interface BooleanSpec extends SpecBase {
  kind: 'boolean';
  default: boolean;
}

export interface EnumSpec<C extends string = string> extends SpecBase {
  kind: 'enum';
  choices: readonly C[];
  default?: C;
}

export interface IntListSpec extends SpecBase {
  kind: 'int-list';
  default?: readonly number[];
  min?: number;
}

export type OptionSpec = IntSpec | NumberSpec | StringSpec | BooleanSpec | EnumSpec | IntListSpec;
export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S> = S extends { kind: 'int' | 'number' }
  ? number
  : S extends { kind: 'string' }
    ? string
    : S extends { kind: 'boolean' }
      ? boolean
      : S extends { kind: 'enum'; choices: readonly (infer C)[] }
        ? C
        : S extends { kind: 'int-list' }
          ? number[]
          : never;

/** The resolved config of a spec set: options with a default are always present. */
export type ResolvedConfig<D extends OptionSpecs> = {
  -readonly [K in keyof D]: D[K] extends { default: unknown } ? ValueOf<D[K]> : ValueOf<D[K]> | undefined;
};

export type ValueSource = 'cli' | 'config' | 'default' | 'unset';

/** One command's options plus the cross-field checks that a single option cannot express. */
export interface CommandConfigDefinition<D extends OptionSpecs> {
  /** e.g. "raft train"; used in messages. */
  command: string;
  options: D;
  /** Returns a problem (flag/key named) or undefined; runs on the fully resolved config. */
  validate?: (config: ResolvedConfig<D>, sources: Record<keyof D & string, ValueSource>) => string | undefined;
}

export function defineCommandConfig<const D extends OptionSpecs>(definition: CommandConfigDefinition<D>): CommandConfigDefinition<D> {
  return definition;
}

/** samplesPerPrompt -> samples-per-prompt */
export function flagName(property: string): string {
  return property.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** samplesPerPrompt -> samples_per_prompt */
export function yamlKey(property: string): string {
  return property.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

export function formatDefault(spec: OptionSpec): string {
  if (spec.default === undefined) return 'none';
  if (spec.kind === 'int-list') return (spec.default ?? []).join(',');
  if (spec.kind === 'string' && spec.default === '') return '""';
  return String(spec.default);
}
