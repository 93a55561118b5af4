import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { prepareDataset } from '../../src/data/prepare.js';
import { validateJsonl } from '../../src/data/validate.js';
import { repoRoot, sharedDatasets } from './helpers.js';
import { writeZstdParquet, zstdAvailable } from './parquet-fixture.js';

const cli = join(repoRoot, 'bin/halo-forge.js');
const RLVR = ['gsm8k', 'humaneval', 'mbpp', 'codeforces_cpp', 'bfcl'];

test('data prepare → data validate passes for gsm8k, humaneval, mbpp, codeforces_cpp, bfcl (HALO_FORGE_DATA_DIR)', async (t) => {
  const data = sharedDatasets();
  if (!data) return t.skip('no ../shared/datasets folder (set HALO_FORGE_DATA_DIR)');
  const dir = mkdtempSync(join(tmpdir(), 'halo-prepare-'));
  const env = { ...process.env, HALO_FORGE_DATA_DIR: data };
  for (const name of RLVR) {
    const output = join(dir, `${name}.jsonl`);
    const run = spawnSync(process.execPath, [cli, 'data', 'prepare', '--dataset', name, '--output', output], { env, encoding: 'utf8' });
    assert.equal(run.status, 0, `${name}: ${run.stderr}`);
    const check = spawnSync(process.execPath, [cli, 'data', 'validate', output], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${name}: ${check.stdout}`);
    const report = await validateJsonl(output);
    assert.ok(report.valid > 100 && report.problems.length === 0, `${name}: ${report.valid} valid`);
    assert.equal(report.kinds[`prompt:${name}`], report.valid);
  }
  const first = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, `${name}.jsonl`), 'utf8').split('\n')[0]!) as Record<string, unknown>;
  assert.equal(first('gsm8k').final_answer, '72');
  assert.equal(first('humaneval').entry_point, 'has_close_elements');
  assert.ok(Array.isArray(first('mbpp').test_list) && typeof first('mbpp').tests === 'string');
  assert.deepEqual(first('bfcl').ground_truth, [{ calculate_triangle_area: { base: [10], height: [5], unit: ['units', ''] } }]);
});

test('a corrupted copy fails validation naming line 17 (bad JSON) and line 30 (missing field)', async (t) => {
  const data = sharedDatasets();
  if (!data) return t.skip('no ../shared/datasets folder (set HALO_FORGE_DATA_DIR)');
  const dir = mkdtempSync(join(tmpdir(), 'halo-corrupt-'));
  const good = join(dir, 'humaneval.jsonl');
  await prepareDataset({ dataset: 'humaneval', output: good, env: { ...process.env, HALO_FORGE_DATA_DIR: data } });
  const lines = readFileSync(good, 'utf8').split('\n');
  lines[16] = lines[16]!.slice(0, 40);
  const record = JSON.parse(lines[29]!) as Record<string, unknown>;
  delete record.entry_point;
  lines[29] = JSON.stringify(record);
  const bad = join(dir, 'corrupt.jsonl');
  writeFileSync(bad, lines.join('\n'));
  const report = await validateJsonl(bad);
  assert.deepEqual(report.problems.map((p) => p.line), [17, 30]);
  assert.equal(report.problems[1]!.field, 'entry_point');
  const run = spawnSync(process.execPath, [cli, 'data', 'validate', bad], { encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.match(run.stdout, /corrupt\.jsonl:17: not valid JSON/);
  assert.match(run.stdout, /corrupt\.jsonl:30: field entry_point: missing field "entry_point"/);
});

test('offline with an empty cache: data prepare fails within 2 s, saying how to get the data, and writes nothing', () => {
  const home = mkdtempSync(join(tmpdir(), 'halo-hf-empty-'));
  const output = join(home, 'out', 'gsm8k.jsonl');
  const env: NodeJS.ProcessEnv = { ...process.env, HF_HUB_OFFLINE: '1', HF_HOME: home, HALO_FORGE_DATA_DIR: '' };
  delete env.HF_HUB_CACHE;
  const started = performance.now();
  const run = spawnSync(process.execPath, [cli, 'data', 'prepare', '--dataset', 'gsm8k', '--output', output], { env, encoding: 'utf8', timeout: 10_000 });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(run.status, 1);
  assert.ok(seconds < 2, `took ${seconds.toFixed(2)} s`);
  assert.match(run.stderr, /DATA_OFFLINE_MISSING/);
  assert.match(run.stderr, /huggingface-cli download --repo-type dataset openai\/gsm8k/);
  assert.match(run.stderr, /HALO_FORGE_DATA_DIR/);
  assert.equal(existsSync(output), false);
});

test('a cache laid out by @huggingface/hub (injected fetch) loads offline with no network', async (t) => {
  if (!zstdAvailable()) return t.skip('the zstd command is not installed (needed to write the parquet fixture)');
  const dir = mkdtempSync(join(tmpdir(), 'halo-hf-cache-'));
  const parquet = join(dir, 'src.parquet');
  const texts = ['What is 2+3?', 'What is 10-4?'];
  writeZstdParquet(parquet, [{ ids: [0n, 1n], texts }]);
  const bytes = readFileSync(parquet);
  const commit = 'a'.repeat(40);
  const oid = createHash('sha256').update(bytes).digest('hex');
  const path = 'main/train/0000.parquet';
  const requests: string[] = [];
  const fakeFetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    requests.push(`${init?.method ?? 'GET'} ${url}`);
    if (url.includes('/paths-info/')) {
      return Response.json([{ path, type: 'file', oid, size: bytes.length, lfs: { oid, size: bytes.length }, lastCommit: { id: commit, date: new Date().toISOString(), title: 'x' } }]);
    }
    if (url.includes(`/resolve/`)) {
      const range = new Headers(init?.headers).get('Range');
      const [start, end] = range ? range.replace('bytes=', '').split('-').map(Number) : [0, bytes.length - 1];
      const slice = bytes.subarray(start!, (end ?? bytes.length - 1) + 1);
      return new Response(slice, { status: range ? 206 : 200, headers: { 'Content-Range': `bytes ${start}-${start! + slice.length - 1}/${bytes.length}`, 'Content-Length': String(slice.length), ETag: `"${oid}"`, 'X-Repo-Commit': commit } });
    }
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
  const hub = await import('@huggingface/hub');
  const cacheDir = join(dir, 'hf', 'hub');
  const debug = console.debug;
  console.debug = () => {};
  try {
    await hub.downloadFileToCacheDir({ repo: { type: 'dataset', name: 'openai/gsm8k' }, path, revision: 'refs%2Fconvert%2Fparquet', cacheDir, fetch: fakeFetch });
  } finally {
    console.debug = debug;
  }
  assert.ok(requests.length > 0);
  assert.ok(existsSync(join(cacheDir, 'datasets--openai--gsm8k', 'snapshots', commit, path)), readdirSync(join(cacheDir, 'datasets--openai--gsm8k')).join(','));
  const { resolveDatasetFiles } = await import('../../src/data/hub.js');
  const { findDataset } = await import('../../src/data/registry.js');
  const realFetch = globalThis.fetch;
  globalThis.fetch = (() => {
    throw new Error('network used while offline');
  }) as typeof fetch;
  try {
    const resolved = await resolveDatasetFiles(findDataset('gsm8k'), 'train', { env: { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: cacheDir } });
    assert.equal(resolved.source, 'cache');
    assert.equal(resolved.files.length, 1);
    const { readParquet } = await import('../../src/data/loaders/parquet.js');
    const rows: unknown[] = [];
    for await (const { record } of readParquet(resolved.files[0]!)) rows.push(record);
    assert.deepEqual(rows.map((r) => (r as { text: string }).text), texts);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('record formats are auto-detected; unknown keys name the keys found and the formats accepted', async () => {
  const { toCanonical } = await import('../../src/data/formats.js');
  assert.deepEqual(toCanonical({ instruction: 'Add', input: '1 2', output: '3' }), { kind: 'messages', messages: [{ role: 'user', content: 'Add\n\n1 2' }, { role: 'assistant', content: '3' }] });
  assert.deepEqual(toCanonical({ conversations: [{ from: 'human', value: 'a' }, { from: 'gpt', value: 'b' }] }), { kind: 'messages', messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] });
  assert.equal(toCanonical({ prompt: 'p', completion: 'c' }).kind, 'messages');
  assert.equal(toCanonical({ prompt: 'p', response: 'r' }).kind, 'messages');
  assert.deepEqual(toCanonical({ text: 't' }), { kind: 'text', text: 't' });
  assert.throws(() => toCanonical({ question: 'q', foo: 1 }, { file: 'f.jsonl', line: 3 }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'DATA_UNKNOWN_FORMAT');
    assert.match(error.message, /f\.jsonl:3: .*\[question, foo\]/);
    assert.match((error as unknown as { fix: string }).fix, /sharegpt.*alpaca/);
    return true;
  });
});

test('local CSV and JSONL files prepare to SFT conversations; a failure leaves no output file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'halo-local-'));
  const csv = join(dir, 'pairs.csv');
  writeFileSync(csv, 'prompt,response\n"Say ""hi""","hi, there"\n"multi\nline",ok\n');
  const out = join(dir, 'out.jsonl');
  const result = await prepareDataset({ dataset: csv, output: out, systemPrompt: 'S' });
  assert.equal(result.written, 2);
  const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { messages: Array<{ content: string }> });
  assert.deepEqual(rows[0]!.messages.map((m) => m.content), ['S', 'Say "hi"', 'hi, there']);
  assert.equal(rows[1]!.messages[1]!.content, 'multi\nline');
  const broken = join(dir, 'broken.jsonl');
  writeFileSync(broken, '{"prompt":"a","response":"b"}\n{"nope":1}\n');
  const failed = join(dir, 'failed.jsonl');
  await assert.rejects(prepareDataset({ dataset: broken, output: failed }), /broken\.jsonl:2: no known record format/);
  assert.equal(existsSync(failed), false);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), []);
});
