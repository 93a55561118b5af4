/**
 * Shared plumbing for the long-running commands (raft train, sft train, benchmark run): resolve the
 * config, attach the progress view to the run's event stream, cancel cleanly on Ctrl-C, and print
 * an error once (a pipeline error already shown through the event stream is not printed again).
 */
import type { Command } from 'commander';
import { createRequire } from 'node:module';
import type { CommandConfigDefinition, OptionSpecs, ResolvedConfig, ValueSource } from '../pipelines/config/spec.js';
import { EventBus, newRunId, wasReported } from '../util/events.js';
import { attachProgress } from './progress.js';
import { resolveCommandConfig } from './config-options.js';

export const packageVersion = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

export interface CommandRun<D extends OptionSpecs> {
  config: ResolvedConfig<D>;
  sources: Record<string, ValueSource>;
  configFile?: string;
  /** the arguments after the command words, as typed. */
  argv: string[];
  bus: EventBus;
  signal: AbortSignal;
}

/** What every pipeline run (raft, sft, the modality commands) takes from its command run. */
export function pipelineLaunch<D extends OptionSpecs>(run: CommandRun<D>): {
  config: ResolvedConfig<D>;
  sources: Record<string, ValueSource>;
  configFile?: string;
  argv: string[];
  cwd: string;
  bus: EventBus;
  version: string;
  signal: AbortSignal;
} {
  return {
    config: run.config,
    sources: run.sources,
    ...(run.configFile === undefined ? {} : { configFile: run.configFile }),
    argv: run.argv,
    cwd: process.cwd(),
    bus: run.bus,
    version: packageVersion,
    signal: run.signal,
  };
}

/** Finds or creates a command group (`raft`, `sft`, `benchmark`) so several files can add to it. */
export function commandGroup(program: Command, name: string, description: string): Command {
  return program.commands.find((command) => command.name() === name) ?? program.command(name).description(description);
}

/** The arguments the user typed after `words` (e.g. ["raft", "train"]). */
export function argumentsAfter(command: Command, words: readonly string[]): string[] {
  let root: Command = command;
  while (root.parent) root = root.parent;
  const raw = ((root as unknown as { rawArgs?: string[] }).rawArgs ?? process.argv).slice(2);
  for (let index = 0; index + words.length <= raw.length; index++) {
    if (words.every((word, offset) => raw[index + offset] === word)) return raw.slice(index + words.length);
  }
  return raw;
}

export async function runWithProgress<D extends OptionSpecs>(
  command: Command,
  definition: CommandConfigDefinition<D>,
  words: readonly string[],
  body: (run: CommandRun<D>) => Promise<void>,
): Promise<void> {
  const { config, sources, configPath } = resolveCommandConfig(command, definition);
  const quiet = (config as Record<string, unknown>).quiet === true;
  await withRunSession(quiet, (bus, signal) =>
    body({ config, sources, ...(configPath === undefined ? {} : { configFile: configPath }), argv: argumentsAfter(command, words), bus, signal }),
  );
}

/**
 * An event bus with the progress view attached and Ctrl-C wired to an AbortSignal, around `body`;
 * an error the event stream already showed sets the exit code instead of printing twice.
 */
export async function withRunSession(quiet: boolean, body: (bus: EventBus, signal: AbortSignal) => Promise<void>): Promise<void> {
  const bus = new EventBus(newRunId());
  const view = attachProgress(bus, { quiet });
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  try {
    await body(bus, abort.signal);
  } catch (error) {
    if (wasReported(error)) {
      process.exitCode = 1;
      return;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
    view.close();
  }
}
