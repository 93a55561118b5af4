/**
 * Downloads one hub file into the Hugging Face cache layout with progress and resume:
 * bytes stream into `blobs/<etag>.incomplete`; a rerun (or a retry after a dropped connection)
 * asks for the rest with an HTTP Range request; the finished blob is checked (size, and sha256 for
 * LFS files), renamed to `blobs/<etag>` and linked from `snapshots/<commit>/<path>` — the layout
 * huggingface_hub and @huggingface/hub write, so their caches and ours are interchangeable.
 * (@huggingface/hub's own downloadFileToCacheDir restarts from zero and reports no progress.)
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, renameSync, rmSync, statSync, symlinkSync, writeSync, ftruncateSync, lstatSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { HaloError } from '../util/errors.js';
import { repoFolderName } from './hub-paths.js';

export interface ByteProgress {
  file: string;
  /** bytes on disk so far, resumed bytes included */
  bytes: number;
  /** the file's size, when the hub says */
  totalBytes: number | undefined;
  /** bytes that were already on disk from an earlier, interrupted download */
  resumedFrom: number;
}

export interface HubDownloadOptions {
  repo: { type: 'dataset' | 'model'; name: string };
  path: string;
  revision: string;
  cacheDir: string;
  accessToken?: string;
  hubUrl?: string;
  fetch?: typeof fetch;
  onProgress?: (progress: ByteProgress) => void;
  /** attempts per file; each resumes where the previous one stopped (default 5) */
  maxAttempts?: number;
  /** first wait between attempts in ms, doubled each time (default 1000) */
  retryDelayMs?: number;
}

interface PathInfo {
  oid?: string;
  size?: number;
  lfs?: { oid: string; size: number };
  lastCommit?: { id: string };
}

const COMMIT = /^[0-9a-f]{40}$/;

async function pathInfo(options: HubDownloadOptions, hubUrl: string, fetchImpl: typeof fetch): Promise<PathInfo> {
  const { repo, path, revision } = options;
  const url = `${hubUrl}/api/${repo.type}s/${repo.name}/paths-info/${encodeURIComponent(revision)}`;
  const response = await fetchImpl(url, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', ...(options.accessToken ? { authorization: `Bearer ${options.accessToken}` } : {}) },
    body: JSON.stringify({ paths: [path], expand: true }),
  });
  if (!response.ok) {
    throw new HaloError('DATA_HUB_UNREACHABLE', `${repo.name}@${revision}: paths-info for ${path} answered HTTP ${response.status}`, {
      fix: response.status === 401 || response.status === 403 ? 'set HF_TOKEN to a token with access to this repository' : 'check the dataset name, revision and the network',
    });
  }
  const infos = (await response.json()) as PathInfo[];
  if (!Array.isArray(infos) || infos.length !== 1) throw new HaloError('DATA_HUB_UNREACHABLE', `${repo.name}@${revision}: no file ${path} on the hub`, { fix: 'check the dataset name and split' });
  return infos[0]!;
}

function linkSnapshot(blob: string, pointer: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  if (existsSync(pointer) || isDanglingLink(pointer)) rmSync(pointer, { force: true });
  symlinkSync(relative(dirname(pointer), blob), pointer);
}

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One attempt: appends what the server sends to `incomplete`, starting at its current size. */
async function fetchInto(url: string, incomplete: string, options: HubDownloadOptions, fetchImpl: typeof fetch, totalBytes: number | undefined, resumedFrom: number): Promise<void> {
  let have = existsSync(incomplete) ? statSync(incomplete).size : 0;
  if (totalBytes !== undefined && have === totalBytes) return;
  const response = await fetchImpl(url, {
    headers: { ...(options.accessToken ? { authorization: `Bearer ${options.accessToken}` } : {}), ...(have > 0 ? { range: `bytes=${have}-` } : {}) },
  });
  if (response.status === 416 && totalBytes !== undefined && have >= totalBytes) return;
  if (!response.ok || response.body === null) {
    const error = new HaloError('DATA_HUB_DOWNLOAD', `${options.path}: the hub answered HTTP ${response.status}`, { fix: 'rerun to resume; check HF_TOKEN for gated datasets' });
    (error as { retryable?: boolean }).retryable = response.status === 429 || response.status >= 500;
    throw error;
  }
  const fd = openSync(incomplete, have > 0 ? 'r+' : 'w');
  try {
    if (response.status !== 206 && have > 0) {
      ftruncateSync(fd, 0); // the server ignored the range: start over
      have = 0;
    }
    let position = have;
    let lastReport = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      let offset = 0;
      while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset, position + offset);
      position += chunk.length;
      if (Date.now() - lastReport >= 200) {
        lastReport = Date.now();
        options.onProgress?.({ file: options.path, bytes: position, totalBytes, resumedFrom });
      }
    }
  } finally {
    closeSync(fd);
  }
}

export async function downloadToCache(options: HubDownloadOptions): Promise<string> {
  const fetchImpl = options.fetch ?? fetch;
  const hubUrl = (options.hubUrl ?? 'https://huggingface.co').replace(/\/+$/, '');
  const storage = join(options.cacheDir, repoFolderName(options.repo.type, options.repo.name));
  if (COMMIT.test(options.revision)) {
    const pointer = join(storage, 'snapshots', options.revision, options.path);
    if (existsSync(pointer)) return pointer;
  }
  const info = await pathInfo(options, hubUrl, fetchImpl);
  const etag = info.lfs?.oid ?? info.oid;
  if (!etag) throw new HaloError('DATA_HUB_UNREACHABLE', `${options.repo.name}: the hub gave no etag for ${options.path}`, { fix: 'retry later' });
  const totalBytes = info.lfs?.size ?? info.size;
  const snapshot = COMMIT.test(options.revision) ? options.revision : (info.lastCommit?.id ?? etag);
  const pointer = join(storage, 'snapshots', snapshot, options.path);
  const blob = join(storage, 'blobs', etag);
  if (existsSync(pointer)) return pointer;
  if (existsSync(blob)) {
    linkSnapshot(blob, pointer);
    return pointer;
  }
  mkdirSync(dirname(blob), { recursive: true });
  const incomplete = `${blob}.incomplete`;
  const resumedFrom = existsSync(incomplete) ? statSync(incomplete).size : 0;
  const prefix = options.repo.type === 'dataset' ? 'datasets/' : '';
  const url = `${hubUrl}/${prefix}${options.repo.name}/resolve/${encodeURIComponent(options.revision)}/${options.path.split('/').map(encodeURIComponent).join('/')}`;
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchInto(url, incomplete, options, fetchImpl, totalBytes, resumedFrom);
      break;
    } catch (error) {
      const retryable = error instanceof HaloError ? (error as { retryable?: boolean }).retryable === true : true; // network errors: retry
      if (!retryable || attempt >= maxAttempts) {
        if (error instanceof HaloError) throw error;
        throw new HaloError('DATA_HUB_DOWNLOAD', `${options.path}: download interrupted (${(error as Error).message}); ${existsSync(incomplete) ? statSync(incomplete).size : 0} bytes kept in ${incomplete}`, {
          fix: 'rerun the same command: it resumes from the bytes already downloaded',
        });
      }
      await sleep((options.retryDelayMs ?? 1000) * 2 ** (attempt - 1));
    }
  }
  const size = statSync(incomplete).size;
  options.onProgress?.({ file: options.path, bytes: size, totalBytes, resumedFrom });
  if (totalBytes !== undefined && size !== totalBytes) {
    rmSync(incomplete, { force: true });
    throw new HaloError('DATA_HUB_DOWNLOAD', `${options.path}: downloaded ${size} bytes, the hub said ${totalBytes}`, { fix: 'rerun the same command to download it again' });
  }
  if (info.lfs && (await sha256Of(incomplete)) !== info.lfs.oid) {
    rmSync(incomplete, { force: true });
    throw new HaloError('DATA_HUB_DOWNLOAD', `${options.path}: the downloaded bytes do not match the hub's sha256 ${info.lfs.oid}`, { fix: 'rerun the same command to download it again' });
  }
  renameSync(incomplete, blob);
  linkSnapshot(blob, pointer);
  return pointer;
}
