/** `halo-forge serve`: an OpenAI-compatible HTTP server on a model (lm-eval local-completions, any OpenAI client). */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { Trainer } from '../engine/trainer.js';
import { HaloError } from '../util/errors.js';
import { openModel } from '../pipelines/session.js';
import { OpenAIServer } from '../pipelines/serve/openai-server.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model over an OpenAI-compatible API: /v1/completions (logprobs, echo), /v1/chat/completions, /v1/models')
    .requiredOption('--model <path>', 'model folder, hub id in the local cache, adapter folder or run directory (required)')
    .option('--port <n>', 'TCP port; 0 picks a free one (default 8000)', '8000')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)', '127.0.0.1')
    .option('--model-id <id>', 'the id /v1/models lists (default: the --model argument)')
    .option('--device <device>', 'cpu, cuda, cuda:N or auto (default cpu)', 'cpu')
    .action(async (flags: { model: string; port: string; host: string; modelId?: string; device: string }) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new HaloError('CLI_BAD_NUMBER', `--port ${flags.port}: must be an integer in 0..65535`, { fix: 'pass e.g. --port 8000' });
      const session = await openModel(resolve(flags.model), { device: flags.device, dtype: 'auto' });
      const trainer = session.source.adapterDir === undefined ? undefined : Trainer.fromAdapter(session.model, session.source.adapterDir);
      const server = new OpenAIServer({
        model: session.model,
        tokenizer: session.tokenizer,
        template: session.template,
        modelId: flags.modelId ?? flags.model,
        eosTokenIds: session.model.generation.eosTokenIds,
        host: flags.host,
        port,
        onLog: (line) => process.stderr.write(`serve: ${line}\n`),
      });
      const address = await server.listen();
      process.stdout.write(`serve: listening on ${address.url}/v1 (model ${flags.modelId ?? flags.model})\n`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          void server.close().then(() => done());
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      trainer?.dispose();
      session.model.dispose();
    });
}
