import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { generateDataset, partialPathOf } from '../../src/data/generate/generate.js';
import type { Backend } from '../../src/data/generate/providers.js';
import { validateJsonl } from '../../src/data/validate.js';
import { HaloError } from '../../src/util/errors.js';
import { repoRoot } from './helpers.js';
import { startMockChatServer } from './mock-chat-server.js';

const cli = join(repoRoot, 'bin/halo-forge.js');
const FAST = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5000 };
const KEYS = { DEEPSEEK_API_KEY: 'test-key', OPENAI_API_KEY: 'test-key', ANTHROPIC_API_KEY: 'test-key' };

const lines = (path: string): Array<{ messages: Array<{ role: string; content: string }>; generation: { request: number } }> =>
  readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { messages: Array<{ role: string; content: string }>; generation: { request: number } });
const prompts = (path: string): string[] => lines(path).map((r) => r.messages[0]!.content);

async function expectHaloError(run: Promise<unknown>, code: string, message: RegExp): Promise<HaloError> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof HaloError, `expected a HaloError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

test('each backend speaks its API shape and writes {messages} records that data validate passes', async () => {
  const server = await startMockChatServer();
  const dir = mkdtempSync(join(tmpdir(), 'halo-generate-'));
  try {
    const expectations: Record<Backend, { path: string; check: (r: (typeof server.requests)[number]) => void }> = {
      openai: {
        path: '/chat/completions',
        check: (r) => {
          assert.equal(r.headers.authorization, 'Bearer test-key');
          assert.equal((r.body.messages as Array<{ role: string }>)[0]!.role, 'system');
          assert.equal(typeof r.body.seed, 'number');
          assert.equal(r.body.model, 'gpt-4o-mini');
        },
      },
      deepseek: {
        path: '/chat/completions',
        check: (r) => {
          assert.equal(r.headers.authorization, 'Bearer test-key');
          assert.equal(r.body.model, 'deepseek-chat');
          assert.equal(r.body.max_tokens, 1024);
        },
      },
      ollama: {
        path: '/api/chat',
        check: (r) => {
          assert.equal(r.body.stream, false);
          assert.equal(r.headers.authorization, undefined);
          assert.equal(typeof (r.body.options as { seed: unknown }).seed, 'number');
          assert.equal(r.body.model, 'my-local-model');
        },
      },
      anthropic: {
        path: '/v1/messages',
        check: (r) => {
          assert.equal(r.headers['x-api-key'], 'test-key');
          assert.equal(r.headers['anthropic-version'], '2023-06-01');
          assert.equal(typeof r.body.system, 'string');
          assert.ok((r.body.messages as Array<{ role: string }>).every((m) => m.role !== 'system'));
          assert.equal(r.body.max_tokens, 1024);
        },
      },
    };
    for (const [backend, expected] of Object.entries(expectations) as Array<[Backend, (typeof expectations)[Backend]]>) {
      server.requests.length = 0;
      const output = join(dir, `${backend}.jsonl`);
      const result = await generateDataset({
        topic: 'arithmetic',
        backend,
        output,
        count: 3,
        model: backend === 'ollama' ? 'my-local-model' : undefined,
        env: { ...KEYS, [`${backend.toUpperCase()}_BASE_URL`]: server.url, OLLAMA_HOST: server.url.replace('http://', '') },
        retry: FAST,
      });
      assert.equal(result.held, 3, backend);
      assert.equal(server.requests.length, 3, backend);
      for (const request of server.requests) {
        assert.equal(request.path, expected.path, backend);
        expected.check(request);
      }
      const report = await validateJsonl(output);
      assert.deepEqual({ valid: report.valid, problems: report.problems.length, kinds: report.kinds }, { valid: 3, problems: 0, kinds: { messages: 3 } }, backend);
      assert.deepEqual(lines(output)[0]!.messages.map((m) => m.role), ['user', 'assistant']);
      assert.equal(existsSync(partialPathOf(output)), false);
    }
  } finally {
    await server.close();
  }
});

test('429 then success: the request is retried with backoff and counted', async () => {
  const server = await startMockChatServer({ failures: [429, 429, 503] });
  try {
    const output = join(mkdtempSync(join(tmpdir(), 'halo-generate-')), 'out.jsonl');
    const result = await generateDataset({ topic: 't', backend: 'openai', output, count: 2, concurrency: 1, env: { ...KEYS, OPENAI_BASE_URL: server.url }, retry: FAST });
    assert.equal(result.retries, 3);
    assert.equal(result.requests, 2);
    assert.equal(server.requests.length, 5);
    assert.equal(lines(output).length, 2);
  } finally {
    await server.close();
  }
});

test('identical samples are kept once; a model that only repeats itself ends with a bounded error', async () => {
  const server = await startMockChatServer({ sampleOf: (n) => Math.ceil(n / 2), malformed: new Set([3]) });
  try {
    const dir = mkdtempSync(join(tmpdir(), 'halo-generate-'));
    const output = join(dir, 'out.jsonl');
    const result = await generateDataset({ topic: 't', backend: 'deepseek', output, count: 4, concurrency: 2, env: { ...KEYS, DEEPSEEK_BASE_URL: server.url }, retry: FAST });
    const held = prompts(output);
    assert.equal(held.length, 4);
    assert.equal(new Set(held).size, 4);
    assert.ok(result.duplicates >= 2, `duplicates ${result.duplicates}`);
    assert.equal(result.malformed, 1);

    server.behaviour.sampleOf = () => 7;
    server.behaviour.malformed.clear();
    const stuck = join(dir, 'stuck.jsonl');
    await expectHaloError(
      generateDataset({ topic: 't', backend: 'deepseek', output: stuck, count: 3, maxRequests: 6, env: { ...KEYS, DEEPSEEK_BASE_URL: server.url }, retry: FAST }),
      'DATA_GENERATE_EXHAUSTED',
      /only 1\/3 distinct samples after 6 requests \(5 duplicates/,
    );
    assert.equal(existsSync(stuck), false);
    assert.equal(lines(partialPathOf(stuck)).length, 1);
  } finally {
    await server.close();
  }
});

test('clear errors: a missing key names its variable, a refused key says so, a dead server fails after bounded retries', async () => {
  const server = await startMockChatServer({ key: 'the-right-key' });
  try {
    const output = join(mkdtempSync(join(tmpdir(), 'halo-generate-')), 'out.jsonl');
    await expectHaloError(generateDataset({ topic: 't', backend: 'anthropic', output, count: 1, env: {} }), 'DATA_GENERATE_NO_KEY', /ANTHROPIC_API_KEY/);
    assert.equal(existsSync(partialPathOf(output)), false, 'a missing key touches no file');
    await expectHaloError(
      generateDataset({ topic: 't', backend: 'anthropic', output, count: 1, env: { ANTHROPIC_API_KEY: 'wrong', ANTHROPIC_BASE_URL: server.url }, retry: FAST }),
      'DATA_GENERATE_KEY_REFUSED',
      /refused the API key in ANTHROPIC_API_KEY \(HTTP 401/,
    );
    server.behaviour.failures = [500, 500, 500];
    const before = server.requests.length;
    await expectHaloError(
      generateDataset({ topic: 't', backend: 'openai', output, count: 1, env: { OPENAI_API_KEY: 'the-right-key', OPENAI_BASE_URL: server.url }, retry: { ...FAST, maxRetries: 2 } }),
      'DATA_GENERATE_UNAVAILABLE',
      /failed 3 times; last: HTTP 500/,
    );
    assert.equal(server.requests.length - before, 3);
    await expectHaloError(
      generateDataset({ topic: 't', backend: 'ollama', output, count: 1, env: { OLLAMA_HOST: '127.0.0.1:9' }, retry: { ...FAST, maxRetries: 1 } }),
      'DATA_GENERATE_UNAVAILABLE',
      /network error/,
    );
    assert.equal(existsSync(output), false);
  } finally {
    await server.close();
  }
});

function runCli(args: string[], env: NodeJS.ProcessEnv): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

test('CLI: killed mid-run, a rerun resumes from the partial file and ends with exactly --count distinct samples', async () => {
  const server = await startMockChatServer({ delayMs: 150 });
  const dir = mkdtempSync(join(tmpdir(), 'halo-generate-'));
  const output = join(dir, 'resume.jsonl');
  const partial = partialPathOf(output);
  const args = ['data', 'generate', '--topic', 'sums', '--backend', 'ollama', '--model', 'm', '--output', output, '--count', '10', '--concurrency', '2'];
  const env = { OLLAMA_HOST: server.url };
  try {
    const first = runCli(args, env);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (!existsSync(partial) || readFileSync(partial, 'utf8').split('\n').length <= 4)) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    await first.done;
    assert.equal(existsSync(output), false, 'no final file after a kill');
    const kept = prompts(partial);
    assert.ok(kept.length >= 4 && kept.length < 10, `kept ${kept.length}`);
    appendFileSync(partial, '{"messages":[{"role":"user","content":"cut of'); // a write cut short by the kill

    const requestsBefore = server.requests.length;
    const second = await runCli(args, env).done;
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`wrote 10 samples to .*resume\\.jsonl \\(${kept.length} already held\\)`));
    const all = prompts(output);
    assert.equal(all.length, 10);
    assert.equal(new Set(all).size, 10);
    assert.deepEqual(all.slice(0, kept.length), kept);
    assert.equal(existsSync(partial), false);
    assert.equal(server.requests.length - requestsBefore, 10 - kept.length, 'the rerun asks only for the missing samples');
    // request numbers continue past the ones already used, so the rerun does not ask the same questions again
    const requestsUsed = lines(output).map((r) => r.generation.request);
    assert.equal(new Set(requestsUsed).size, 10);

    const third = await runCli([...args.slice(0, -4), '--count', '10'], env).done;
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /wrote 10 samples .*\(10 already held\).* 0 requests/);
    const missingKey = await runCli(['data', 'generate', '--topic', 't', '--backend', 'deepseek', '--output', join(dir, 'k.jsonl'), '--count', '1'], { DEEPSEEK_API_KEY: '' }).done;
    assert.equal(missingKey.code, 1);
    assert.match(missingKey.stderr, /error \[DATA_GENERATE_NO_KEY\]: .*DEEPSEEK_API_KEY/);
  } finally {
    await server.close();
  }
});
