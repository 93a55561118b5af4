import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDatasetFiles } from '../../src/data/hub.js';
import { findDataset } from '../../src/data/registry.js';
import { downloadProgressView } from '../../src/cli/download-progress.js';

const COMMIT = 'c'.repeat(40);
const SHARD = 'main/train/0000.parquet';

/** A hub on 127.0.0.1: tree listing, paths-info and resolve (with Range), able to cut a response short. */
async function startMockHub(bytes: Buffer, options: { cutFirstAt?: number } = {}) {
  const oid = createHash('sha256').update(bytes).digest('hex');
  const resolves: Array<string | undefined> = [];
  let cut = options.cutFirstAt;
  const server = createServer((request: IncomingMessage, response) => {
    const url = decodeURIComponent(request.url ?? '');
    if (url.startsWith('/api/datasets/openai/gsm8k/tree/refs/convert/parquet')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify([{ type: 'file', path: SHARD, oid, size: bytes.length, lfs: { oid, size: bytes.length } }, { type: 'file', path: 'other/test/0000.parquet', oid: 'x', size: 1 }]));
      return;
    }
    if (url.startsWith('/api/datasets/openai/gsm8k/paths-info/refs/convert/parquet') && request.method === 'POST') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify([{ type: 'file', path: SHARD, oid, size: bytes.length, lfs: { oid, size: bytes.length }, lastCommit: { id: COMMIT, title: 't', date: new Date().toISOString() } }]));
      return;
    }
    if (url === `/datasets/openai/gsm8k/resolve/refs/convert/parquet/${SHARD}`) {
      const range = request.headers.range;
      resolves.push(range);
      const start = range ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0;
      const body = bytes.subarray(start);
      response.writeHead(range ? 206 : 200, { 'content-length': String(body.length), ...(range ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}) });
      if (cut !== undefined) {
        const keep = cut - start;
        cut = undefined;
        response.write(body.subarray(0, keep), () => response.destroy()); // the connection drops mid-file
        return;
      }
      response.end(body);
      return;
    }
    response.writeHead(404);
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    oid,
    resolves,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

test('hub shards download into the cache layout; a dropped connection resumes with a Range request', async () => {
  const bytes = randomBytes(3_000_000);
  const hub = await startMockHub(bytes, { cutFirstAt: 1_200_000 });
  const cache = mkdtempSync(join(tmpdir(), 'halo-hub-dl-'));
  try {
    const events: Array<{ bytes?: number; totalBytes?: number }> = [];
    const resolved = await resolveDatasetFiles(findDataset('gsm8k'), 'train', {
      env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache },
      onDownload: (event) => events.push({ bytes: event.bytes, totalBytes: event.totalBytes }),
    });
    assert.equal(resolved.source, 'hub');
    assert.equal(resolved.files.length, 1);
    const pointer = join(cache, 'datasets--openai--gsm8k', 'snapshots', COMMIT, SHARD);
    assert.equal(resolved.files[0], pointer);
    assert.ok(lstatSync(pointer).isSymbolicLink());
    assert.ok(readFileSync(pointer).equals(bytes));
    assert.ok(existsSync(join(cache, 'datasets--openai--gsm8k', 'blobs', hub.oid)));
    assert.equal(existsSync(join(cache, 'datasets--openai--gsm8k', 'blobs', `${hub.oid}.incomplete`)), false);
    // first request cut at 1.2 MB, the retry asked for the rest
    assert.deepEqual(hub.resolves, [undefined, 'bytes=1200000-']);
    assert.deepEqual(events[0], { bytes: undefined, totalBytes: undefined });
    assert.deepEqual(events.at(-1), { bytes: bytes.length, totalBytes: bytes.length });

    // cached now: offline resolution needs no network
    const offline = await resolveDatasetFiles(findDataset('gsm8k'), 'train', { env: { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: cache } });
    assert.deepEqual(offline, { source: 'cache', files: [pointer] });
  } finally {
    await hub.close();
  }
});

test('a download killed in an earlier run resumes from its .incomplete file; the CLI view prints progress', async () => {
  const bytes = randomBytes(2_000_000);
  const hub = await startMockHub(bytes);
  const cache = mkdtempSync(join(tmpdir(), 'halo-hub-dl-'));
  try {
    const blobs = join(cache, 'datasets--openai--gsm8k', 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${hub.oid}.incomplete`), bytes.subarray(0, 750_000));
    const lines: string[] = [];
    const view = downloadProgressView({ isTTY: false, write: (text: string) => lines.push(text) } as unknown as NodeJS.WriteStream);
    const resolved = await resolveDatasetFiles(findDataset('gsm8k'), 'train', { env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache }, onDownload: view.onDownload });
    view.close();
    assert.deepEqual(hub.resolves, ['bytes=750000-']);
    assert.ok(readFileSync(resolved.files[0]!).equals(bytes));
    assert.equal(lines[0], `downloading ${SHARD} (1/1)\n`);
    assert.equal(lines.at(-1), `  ${SHARD} (1/1): 2.0/2.0 MB, resumed at 0.8 MB\n`);
  } finally {
    await hub.close();
  }
});
