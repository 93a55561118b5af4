/** Argument parsing for scripts/make-tiny-model (kept in TypeScript so it is type-checked and tested). */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { formatError, HaloError } from '../util/errors.js';
import { bench100mOptions, defaultTinyOptions, TINY_ARCHS, writeTinyModel, type TinyArch, type TinyModelOptions } from './tiny-model.js';
import { VOCAB_NAMES, type VocabName } from './tokenizer-assets.js';

const PRESETS = ['bench100m'] as const;

function integer(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`--${flag} takes a non-negative integer, got "${value}"`);
    return Number(value);
  };
}

interface RawFlags {
  arch?: string;
  preset?: string;
  out: string;
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  intermediate?: number;
  seed?: number;
  vocab?: string;
  tie?: boolean;
}

export function tinyOptionsFromFlags(flags: RawFlags): TinyModelOptions {
  let base: TinyModelOptions;
  if (flags.preset !== undefined) {
    if (!(PRESETS as readonly string[]).includes(flags.preset)) {
      throw new HaloError('ERR_TINY_MODEL_OPTION', `--preset: unknown preset "${flags.preset}"`, { fix: `use one of ${PRESETS.join(', ')}` });
    }
    if (flags.arch !== undefined && flags.arch !== 'llama') {
      throw new HaloError('ERR_TINY_MODEL_OPTION', `--preset bench100m is a llama model; --arch ${flags.arch} conflicts`, { fix: 'drop --arch or pass --arch llama' });
    }
    base = bench100mOptions();
  } else {
    if (flags.arch === undefined) throw new HaloError('ERR_TINY_MODEL_OPTION', '--arch is required (or --preset)', { fix: `pass --arch ${TINY_ARCHS.join('|')}` });
    if (!(TINY_ARCHS as readonly string[]).includes(flags.arch)) {
      throw new HaloError('ERR_TINY_MODEL_OPTION', `--arch: unknown architecture "${flags.arch}"`, { fix: `use one of ${TINY_ARCHS.join(', ')}` });
    }
    base = defaultTinyOptions(flags.arch as TinyArch);
  }
  if (flags.vocab !== undefined && !(VOCAB_NAMES as readonly string[]).includes(flags.vocab)) {
    throw new HaloError('ERR_TINY_MODEL_OPTION', `--vocab: unknown vocabulary "${flags.vocab}"`, { fix: `use one of ${VOCAB_NAMES.join(', ')}` });
  }
  const hidden = flags.hidden ?? base.hidden;
  const heads = flags.heads ?? base.heads;
  // head_dim follows hidden / heads unless given (or the arch default decouples it, as Qwen3 does).
  const headDim = flags.headDim ?? (flags.hidden !== undefined || flags.heads !== undefined ? Math.floor((hidden / heads) * (base.headDim / (base.hidden / base.heads))) : base.headDim);
  return {
    ...base,
    layers: flags.layers ?? base.layers,
    hidden,
    heads,
    kvHeads: flags.kvHeads ?? base.kvHeads,
    headDim,
    intermediate: flags.intermediate ?? base.intermediate,
    seed: flags.seed ?? base.seed,
    vocab: (flags.vocab as VocabName | undefined) ?? base.vocab,
    tieWordEmbeddings: flags.tie ?? base.tieWordEmbeddings,
  };
}

export function buildMakeTinyModelCommand(): Command {
  return new Command('make-tiny-model')
    .description('write a random-init Hugging Face model folder (byte-identical for the same flags and seed)')
    .option('--arch <arch>', `architecture: ${TINY_ARCHS.join('|')} (required unless --preset)`)
    .option('--preset <name>', 'bench100m: llama, hidden 768, 12 layers, 12 heads / 4 kv heads, ffn 2048, vocab 32,000 (llama3-32k), tied embeddings (default: none)')
    .requiredOption('--out <dir>', 'output folder (created if missing; files are replaced atomically)')
    .option('--layers <n>', 'decoder layers (default: 2)', integer('layers'))
    .option('--hidden <n>', 'hidden size (default: 128)', integer('hidden'))
    .option('--heads <n>', 'attention heads (default: 4)', integer('heads'))
    .option('--kv-heads <n>', 'key/value heads, GQA (default: 2)', integer('kv-heads'))
    .option('--head-dim <n>', 'per-head width (default: hidden/heads; qwen3: 2 x hidden/heads)', integer('head-dim'))
    .option('--intermediate <n>', 'MLP width (default: 256)', integer('intermediate'))
    .option('--seed <n>', 'random seed (default: 0)', integer('seed'))
    .option('--vocab <name>', `tokenizer: ${VOCAB_NAMES.join('|')} (default: qwen2 for qwen2/qwen3, llama3 for llama/mistral)`)
    .option('--tie', 'tie lm_head to the embedding (default: qwen2/qwen3 tied, llama/mistral not)')
    .option('--no-tie', 'untie lm_head from the embedding')
    .exitOverride();
}

/** Runs the script; returns the process exit code. Prints one summary line (it is a CLI tool). */
export async function runMakeTinyModel(argv: string[]): Promise<number> {
  const command = buildMakeTinyModelCommand();
  try {
    command.parse(argv);
    const flags = command.opts<RawFlags>();
    const options = tinyOptionsFromFlags(flags);
    const started = Date.now();
    const summary = writeTinyModel(flags.out, options);
    process.stdout.write(
      `make-tiny-model: ${options.arch} ${(summary.parameters / 1e6).toFixed(2)}M parameters (layers ${options.layers}, hidden ${options.hidden}, heads ${options.heads}/${options.kvHeads}, head_dim ${options.headDim}, ffn ${options.intermediate}, vocab ${options.vocab}, seed ${options.seed}) -> ${flags.out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    process.stderr.write(`${formatError(error)}\n`);
    return 1;
  }
}
