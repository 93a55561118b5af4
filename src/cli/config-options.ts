/**
 * Commander glue for the config system: registers one flag per option of a command definition
 * (booleans get --x and --no-x) and collects only the flags the user actually passed, so that the
 * resolver can apply flag > --config YAML > default.
 */
import { Option, type Command } from 'commander';
import type { CommandConfigDefinition, OptionSpecs } from '../pipelines/config/spec.js';
import { flagName, formatDefault, yamlKey } from '../pipelines/config/spec.js';
import { resolveConfig, type RawFlagValue, type ResolvedCommandConfig } from '../pipelines/config/resolve.js';

export function addConfigOptions<D extends OptionSpecs>(command: Command, definition: CommandConfigDefinition<D>): Command {
  for (const [property, spec] of Object.entries(definition.options)) {
    const flag = flagName(property);
    const where = spec.cliOnly ? 'flag only' : `config key ${yamlKey(property)}`;
    if (spec.kind === 'boolean') {
      command.addOption(new Option(`--${flag}`, `${spec.description} (default: ${spec.default}; ${where})`));
      command.addOption(new Option(`--no-${flag}`, `turn --${flag} off`).hideHelp(spec.default === false));
      continue;
    }
    const placeholder = spec.argName ?? (spec.kind === 'int-list' ? 'LIST' : spec.kind === 'string' ? 'VALUE' : spec.kind === 'enum' ? 'NAME' : 'N');
    const option = new Option(`--${flag} <${placeholder}>`, `${spec.description} (default: ${formatDefault(spec)}; ${where})`);
    if (spec.kind === 'enum') option.choices(spec.choices);
    command.addOption(option);
  }
  return command;
}

/** The values of the flags the user passed on the command line (source 'cli'), by property name. */
export function passedFlags<D extends OptionSpecs>(command: Command, definition: CommandConfigDefinition<D>): Record<string, RawFlagValue> {
  const passed: Record<string, RawFlagValue> = {};
  const values = command.opts() as Record<string, unknown>;
  for (const property of Object.keys(definition.options)) {
    if (command.getOptionValueSource(property) !== 'cli') continue;
    const value = values[property];
    if (typeof value === 'string' || typeof value === 'boolean') passed[property] = value;
    else if (Array.isArray(value)) passed[property] = value.map(String);
  }
  return passed;
}

/** Resolves a command's config from its parsed flags and --config file. */
export function resolveCommandConfig<D extends OptionSpecs>(command: Command, definition: CommandConfigDefinition<D>): ResolvedCommandConfig<D> {
  const cli = passedFlags(command, definition);
  const configPath = typeof cli.config === 'string' ? cli.config : undefined;
  return resolveConfig(definition, configPath === undefined ? { cli } : { cli, configPath });
}
