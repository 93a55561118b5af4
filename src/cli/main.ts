/** The halo-forge CLI: one register* function per command group. */
import { Command, CommanderError, Help, type Option } from 'commander';
import { createRequire } from 'node:module';
import { formatError } from '../util/errors.js';
import { setNativeZstdProvider } from '../util/codecs.js';
import { loadNativeZstd } from '../engine/zstd.js';

type Register = (program: Command) => void;

/**
 * Command groups, registered in this order: the top-level command names each defines and how to
 * load its register function. Only the groups named on the command line are imported (all of them
 * for --help or an unknown command), so one command never pays for another's heavy modules
 * (`data prepare` offline must fail within 2 s). Add a group with ONE line here.
 */
const COMMAND_GROUPS: Array<{ names: string[]; load: () => Promise<Register> }> = [
  { names: ['doctor'], load: async () => (await import('./doctor.js')).registerDoctor },
  { names: ['verify'], load: async () => (await import('./verify.js')).registerVerify },
  { names: ['data'], load: async () => (await import('./data.js')).registerData },
  { names: ['raft'], load: async () => (await import('./raft.js')).registerRaft },
  { names: ['benchmark'], load: async () => (await import('./benchmark.js')).registerBenchmark },
  { names: ['sft'], load: async () => (await import('./sft.js')).registerSft },
  { names: ['demo'], load: async () => (await import('./demo.js')).registerDemo },
  { names: ['inference'], load: async () => (await import('./inference.js')).registerInference },
  { names: ['eval'], load: async () => (await import('./eval.js')).registerEval },
  { names: ['probe'], load: async () => (await import('./eval.js')).registerProbe },
  { names: ['serve'], load: async () => (await import('./serve.js')).registerServe },
  { names: ['reasoning', 'agentic'], load: async () => (await import('./modalities.js')).registerModalities },
  // last: adds `datasets` under the sft / reasoning / agentic groups
  { names: ['sft', 'reasoning', 'agentic'], load: async () => (await import('./data.js')).registerDatasetListings },
];

const plainHelp = new Help();

/** Our option texts state their defaults in words; commander's own "(default: …)" is added only where they don't. */
function describeOption(option: Option): string {
  return /\(default\b|default:/.test(option.description) ? option.description : plainHelp.optionDescription(option);
}

/** The command the user named: the first argument that is not an option (global options take no value). */
function commandNameOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((arg) => !arg.startsWith('-'));
}

const packageJson = createRequire(import.meta.url)('../../../package.json') as { version: string };

export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command();
  program
    .name('halo-forge')
    .description('RLVR training for language models: SFT, LoRA, RAFT with verifiers, benchmarks, export')
    .version(packageJson.version)
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, optionDescription: describeOption });
  const named = commandNameOf(argv);
  const known = COMMAND_GROUPS.some((group) => named !== undefined && group.names.includes(named));
  for (const group of COMMAND_GROUPS) {
    if (!known || group.names.includes(named!)) (await group.load())(program);
  }
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  setNativeZstdProvider(loadNativeZstd); // big zstd parquet files decode with libzstd when the addon is built
  const program = await buildProgram(argv);
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
  }
}
