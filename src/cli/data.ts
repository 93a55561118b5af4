/** `data prepare | validate | generate` and the dataset listing commands (`sft|reasoning|agentic datasets`). */
import type { Command } from 'commander';
import { HaloError } from '../util/errors.js';
import { DATASETS, datasetsFor, formatDatasetTable, type DatasetKind } from '../data/registry.js';

function integer(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed)) throw new HaloError('CLI_BAD_FLAG', `${flag} ${value} is not an integer`, { fix: `pass ${flag} with a whole number` });
    return parsed;
  };
}

interface PrepareFlags {
  list?: boolean;
  dataset?: string;
  output?: string;
  format?: string;
  split?: string;
  maxSamples?: number;
  seed?: number;
  systemPrompt?: string;
  template?: string;
}

export function registerData(program: Command): void {
  const data = program.command('data').description('prepare, validate and list datasets');

  data
    .command('prepare')
    .description('write SFT JSONL ({messages}) or RLVR prompt JSONL (prompt + verifier fields) from a registry dataset or a local file')
    .option('--list', 'list the registry datasets and exit (default: off)')
    .option('--dataset <name|file>', 'registry name (see --list) or a local .jsonl/.json/.csv/.parquet file (default: none, required)')
    .option('--output <file>', 'output JSONL path (default: none, required)')
    .option('--format <sft|rlvr>', "output kind (default: the dataset's kind; local files: sft)")
    .option('--split <name>', "dataset split (default: the dataset's default split)")
    .option('--max-samples <n>', 'keep at most n records (default: all)', integer('--max-samples'))
    .option('--seed <n>', 'with --max-samples: sample uniformly with this seed instead of taking the first n (default: first n)', integer('--seed'))
    .option('--system-prompt <text>', 'system prompt to put in front of each conversation (default: none)')
    .option('--template <name|file>', 'chat template (chatml, qwen2.5, llama3, mistral or a .jinja file) used to add a rendered "text" field (default: none)')
    .action(async (flags: PrepareFlags) => {
      if (flags.list) {
        process.stdout.write(`${formatDatasetTable(DATASETS)}\n`);
        return;
      }
      if (!flags.dataset) throw new HaloError('CLI_MISSING_FLAG', 'data prepare needs --dataset', { fix: 'pass --dataset NAME (see --list) or a file path' });
      if (!flags.output) throw new HaloError('CLI_MISSING_FLAG', 'data prepare needs --output', { fix: 'pass --output FILE.jsonl' });
      if (flags.format !== undefined && flags.format !== 'sft' && flags.format !== 'rlvr') {
        throw new HaloError('CLI_BAD_FLAG', `--format ${flags.format} is not sft or rlvr`, { fix: 'pass --format sft or --format rlvr' });
      }
      const { prepareDataset } = await import('../data/prepare.js'); // loaded on use: keeps CLI start-up fast
      const { downloadProgressView } = await import('./download-progress.js');
      const downloads = downloadProgressView();
      const result = await prepareDataset({
        dataset: flags.dataset,
        output: flags.output,
        format: flags.format as DatasetKind | undefined,
        split: flags.split,
        maxSamples: flags.maxSamples,
        seed: flags.seed,
        systemPrompt: flags.systemPrompt,
        template: flags.template,
        onDownload: downloads.onDownload,
      }).finally(() => downloads.close());
      process.stdout.write(`wrote ${result.written} ${result.format} records to ${result.output} (from ${result.source}: ${result.files.join(', ')})\n`);
    });

  data
    .command('validate')
    .description('check every line of a JSONL file; report each bad line with its line number and field')
    .argument('<file>', 'JSONL file to check')
    .option('--preview [n]', 'print the first n valid records (default: off; n defaults to 3)')
    .option('--json', 'print the report as one JSON object (default: text)')
    .action(async (file: string, flags: { preview?: string | boolean; json?: boolean }) => {
      const preview = flags.preview === undefined ? 0 : flags.preview === true ? 3 : Number(flags.preview);
      const { validateJsonl } = await import('../data/validate.js');
      const report = await validateJsonl(file, { preview });
      if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        for (const problem of report.problems) {
          process.stdout.write(`${file}:${problem.line}: ${problem.field ? `field ${problem.field}: ` : ''}${problem.message}\n`);
        }
        for (const record of report.preview) process.stdout.write(`preview: ${JSON.stringify(record).slice(0, 400)}\n`);
        const kinds = Object.entries(report.kinds).map(([k, n]) => `${k}=${n}`).join(' ');
        process.stdout.write(`${report.valid} valid, ${report.problems.length} bad (${kinds || 'no records'})\n`);
      }
      process.exitCode = report.problems.length === 0 && report.valid > 0 ? 0 : 1;
    });

  registerGenerate(data);
}

interface GenerateFlags {
  topic?: string;
  backend?: string;
  model?: string;
  output?: string;
  count?: number;
  concurrency: number;
  seed: number;
  temperature: number;
  maxTokens: number;
  baseUrl?: string;
  maxRetries: number;
  maxRequests?: number;
}

function registerGenerate(data: Command): void {
  data
    .command('generate')
    .description('ask a chat API (deepseek, openai, ollama, anthropic) for distinct SFT samples ({messages}) about a topic; rerun to resume')
    .option('--topic <text>', 'what the samples are about (default: none, required)')
    .option('--backend <name>', 'deepseek | openai | ollama | anthropic; keys from DEEPSEEK_API_KEY, OPENAI_API_KEY, ANTHROPIC_API_KEY (default: none, required)')
    .option('--model <name>', "model name (default: deepseek-chat, gpt-4o-mini, llama3.2 or claude-haiku-4-5, by backend)")
    .option('--output <file>', 'output JSONL; in progress it is <file>.partial (default: none, required)')
    .option('--count <n>', 'distinct samples to end with, counting those the output already holds (default: none, required)', integer('--count'))
    .option('--concurrency <n>', 'requests in flight at once', integer('--concurrency'), 4)
    .option('--seed <n>', "fixes each request's style, difficulty and provider seed", integer('--seed'), 0)
    .option('--temperature <t>', 'sampling temperature', Number, 0.9)
    .option('--max-tokens <n>', 'longest reply in tokens', integer('--max-tokens'), 1024)
    .option('--base-url <url>', 'API base URL (default: $DEEPSEEK_BASE_URL, $OPENAI_BASE_URL, $OLLAMA_HOST or $ANTHROPIC_BASE_URL, else the public endpoint)')
    .option('--max-retries <n>', 'retries per request on 429 / 5xx / network errors, with exponential backoff', integer('--max-retries'), 5)
    .option('--max-requests <n>', 'stop after this many requests in one run (default: 2 x count + 10)', integer('--max-requests'))
    .action(async (flags: GenerateFlags) => {
      const { generateDataset } = await import('../data/generate/generate.js');
      const { BACKENDS, isBackend } = await import('../data/generate/providers.js');
      if (!flags.topic) throw new HaloError('CLI_MISSING_FLAG', 'data generate needs --topic', { fix: 'pass --topic "what the samples should be about"' });
      if (!flags.backend || !isBackend(flags.backend)) {
        throw new HaloError('CLI_BAD_FLAG', `--backend ${flags.backend ?? '(missing)'} is not one of ${BACKENDS.join(', ')}`, { fix: `pass --backend ${BACKENDS.join('|')}` });
      }
      if (!flags.output) throw new HaloError('CLI_MISSING_FLAG', 'data generate needs --output', { fix: 'pass --output FILE.jsonl' });
      if (flags.count === undefined) throw new HaloError('CLI_MISSING_FLAG', 'data generate needs --count', { fix: 'pass --count N' });
      if (!Number.isFinite(flags.temperature) || flags.temperature < 0) {
        throw new HaloError('CLI_BAD_FLAG', `--temperature ${flags.temperature} is not a number >= 0`, { fix: 'pass --temperature 0.9' });
      }
      let lastPrint = 0;
      const result = await generateDataset({
        topic: flags.topic,
        backend: flags.backend,
        model: flags.model,
        output: flags.output,
        count: flags.count,
        concurrency: flags.concurrency,
        seed: flags.seed,
        temperature: flags.temperature,
        maxTokens: flags.maxTokens,
        baseUrl: flags.baseUrl,
        maxRequests: flags.maxRequests,
        retry: { maxRetries: flags.maxRetries },
        onProgress: (p) => {
          if (Date.now() - lastPrint < 2000 && p.held < p.count) return;
          lastPrint = Date.now();
          process.stderr.write(`generate: ${p.held}/${p.count} samples, ${p.requests} requests, ${p.retries} retries, ${p.duplicates} duplicates, ${p.malformed} malformed\n`);
        },
      });
      const resumed = result.resumedFrom > 0 ? ` (${result.resumedFrom} already held)` : '';
      process.stdout.write(
        `wrote ${result.held} samples to ${result.output}${resumed} with ${flags.backend}/${result.model}: ${result.requests} requests, ${result.retries} retries, ${result.duplicates} duplicates, ${result.malformed} malformed\n`,
      );
    });
}

/** `sft datasets`, `reasoning datasets`, `agentic datasets`: print the matching registry rows. */
export function registerDatasetListings(program: Command): void {
  const listings: Array<{ group: string; describe: string; select: () => ReturnType<typeof datasetsFor> }> = [
    { group: 'sft', describe: 'SFT datasets (conversations)', select: () => datasetsFor({ kind: 'sft' }) },
    { group: 'reasoning', describe: 'reasoning (math) datasets', select: () => datasetsFor({ modalities: ['math'] }) },
    { group: 'agentic', describe: 'agentic (tool-calling) datasets', select: () => datasetsFor({ modalities: ['agentic'] }) },
  ];
  for (const listing of listings) {
    const group = program.commands.find((c) => c.name() === listing.group) ?? program.command(listing.group).description(`${listing.group} commands`);
    group
      .command('datasets')
      .description(`list the registry's ${listing.describe}`)
      .action(() => {
        process.stdout.write(`${formatDatasetTable(listing.select())}\n`);
      });
  }
}
