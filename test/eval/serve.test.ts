/** `halo-forge serve`: the OpenAI-compatible endpoints through a real HTTP client on 127.0.0.1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { ChatTemplate } from '../../src/data/chat.js';
import { HaloTokenizer } from '../../src/data/tokenizer.js';
import { Model } from '../../src/engine/model.js';
import { OpenAIServer } from '../../src/pipelines/serve/openai-server.js';
import { encodePair } from '../../src/pipelines/eval/native-runner.js';

const scratch = mkdtempSync(join(tmpdir(), 'halo-serve-'));
const modelDir = join(scratch, 'tiny');
writeTinyModel(modelDir, { ...defaultTinyOptions('qwen2'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, seed: 9 });
const tokenizer = HaloTokenizer.fromFolder(modelDir);
const model = await Model.load(modelDir, { dtype: 'fp32' });
const server = new OpenAIServer({ model, tokenizer, template: ChatTemplate.resolve(undefined, tokenizer), modelId: 'tiny-qwen', eosTokenIds: model.generation.eosTokenIds, port: 0 });
const { url } = await server.listen();
process.on('exit', () => {
  model.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

interface Choice {
  index: number;
  text: string;
  finish_reason: string;
  logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[] };
}

test('GET /v1/models lists the model', async () => {
  const response = await fetch(`${url}/v1/models`);
  const json = (await response.json()) as { object: string; data: { id: string; object: string }[] };
  assert.equal(json.object, 'list');
  assert.deepEqual(json.data.map((m) => [m.id, m.object]), [['tiny-qwen', 'model']]);
});

test('/v1/completions, lm-eval local-completions loglikelihood request: echo + logprobs match scoreContinuations', async () => {
  const pair = encodePair(tokenizer, 'The capital of France is', ' Paris');
  const ids = [...pair.context, ...pair.continuation];
  const { status, json } = await post('/v1/completions', { model: 'tiny-qwen', prompt: [ids], temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true });
  assert.equal(status, 200, JSON.stringify(json));
  const choice = (json.choices as Choice[])[0];
  const lp = choice.logprobs;
  assert.equal(lp.token_logprobs.length, ids.length + 1); // the prompt plus one generated token
  assert.equal(lp.token_logprobs[0], null);
  // what lm-eval's parse_logprobs computes: sum(token_logprobs[ctxlen:-1]) and greedy from top_logprobs
  const continuation = lp.token_logprobs.slice(pair.context.length, -1) as number[];
  const tops = lp.top_logprobs.slice(pair.context.length, -1) as Record<string, number>[];
  const sum = continuation.reduce((a, b) => a + b, 0);
  const [score] = await model.scoreContinuations([pair]);
  assert.ok(Math.abs(sum - score.logprob) < 1e-4, `${sum} vs ${score.logprob}`);
  const greedy = continuation.every((value, i) => value === Math.max(...Object.values(tops[i])));
  assert.equal(greedy, score.greedy);
  assert.ok(choice.text.startsWith(tokenizer.decode(ids)));
  assert.equal(lp.tokens.length, lp.text_offset.length);
});

test('/v1/completions generation: text, stop strings, usage; greedy is deterministic', async () => {
  const body = { prompt: 'def add(a, b):', max_tokens: 8, temperature: 0 };
  const a = await post('/v1/completions', body);
  const b = await post('/v1/completions', body);
  assert.equal(a.status, 200);
  const text = (a.json.choices as Choice[])[0].text;
  assert.equal(text, (b.json.choices as Choice[])[0].text);
  const usage = a.json.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.ok(text.length > 1, `tiny model produced ${JSON.stringify(text)}`);
  const stop = text.slice(1, 2);
  const cut = await post('/v1/completions', { ...body, stop: [stop] });
  const choice = (cut.json.choices as Choice[])[0];
  assert.equal(choice.text, text.slice(0, text.indexOf(stop)));
  assert.equal(choice.finish_reason, 'stop');
});

test('/v1/chat/completions answers with an assistant message', async () => {
  const { status, json } = await post('/v1/chat/completions', { model: 'tiny-qwen', messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 6, temperature: 0 });
  assert.equal(status, 200, JSON.stringify(json));
  const choice = (json.choices as { message: { role: string; content: string }; finish_reason: string }[])[0];
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assert.equal(json.object, 'chat.completion');
});

test('concurrent requests are queued onto the model and all answered', async () => {
  const prompts = ['one', 'two three', 'four five six', 'seven', 'eight nine'];
  const alone = await Promise.all(prompts.map(async (prompt) => ((await post('/v1/completions', { prompt, max_tokens: 5, temperature: 0 })).json.choices as Choice[])[0].text));
  const together = await Promise.all(prompts.map((prompt) => post('/v1/completions', { prompt, max_tokens: 5, temperature: 0, logprobs: 2 })));
  assert.ok(together.every((r) => r.status === 200));
  assert.deepEqual(together.map((r) => (r.json.choices as Choice[])[0].text), alone);
  assert.ok(together.every((r) => Object.keys((r.json.choices as Choice[])[0].logprobs.top_logprobs[0] ?? {}).length >= 1));
});

test('malformed bodies get 400 with a message', async () => {
  const cases: [unknown, RegExp][] = [
    ['{"prompt": ', /not valid JSON/],
    [[1, 2], /JSON object/],
    [{ max_tokens: 3 }, /"prompt" must be/],
    [{ prompt: 'x', max_tokens: -1 }, /"max_tokens" must be an integer/],
    [{ prompt: 'x', temperature: 'hot' }, /"temperature" must be a number/],
  ];
  for (const [body, message] of cases) {
    const { status, json } = await post('/v1/completions', body);
    assert.equal(status, 400, JSON.stringify(body));
    assert.match((json.error as { message: string }).message, message);
  }
  const chat = await post('/v1/chat/completions', { messages: 'hi' });
  assert.equal(chat.status, 400);
  assert.match((chat.json.error as { message: string }).message, /"messages" must be/);
});

test('closes', async () => {
  await server.close();
});
