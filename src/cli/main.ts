/** The halo-forge CLI: one register* function per command group. */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { formatError } from '../util/errors.js';
import { registerDoctor } from './doctor.js';

const packageJson = createRequire(import.meta.url)('../../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('halo-forge')
    .description('RLVR training for language models: SFT, LoRA, RAFT with verifiers, benchmarks, export')
    .version(packageJson.version)
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true });
  registerDoctor(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
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
