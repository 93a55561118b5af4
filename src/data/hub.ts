/**
 * Finding a dataset's files: HALO_FORGE_DATA_DIR (local copies), then the Hugging Face cache
 * (resolved by hand: @huggingface/hub ignores HF_HUB_OFFLINE), then — only when online — the hub.
 *
 * Cache layout (shared with huggingface_hub): <cache>/datasets--owner--name/{refs/<rev>,
 * snapshots/<commit>/<path>, blobs/<etag>}. Caches built by @huggingface/hub have no refs file
 * and may spread files over several snapshot folders, so without a ref every snapshot is searched.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HaloError } from '../util/errors.js';
import { huggingFaceHubCache, isHubOffline, repoFolderName } from './hub-paths.js';
import { downloadToCache, type ByteProgress } from './hub-download.js';
import { hubPatternsOf, hubRevisionOf, type DatasetSpec } from './registry.js';

export interface ResolvedFiles {
  source: 'local' | 'cache' | 'hub';
  files: string[];
}

/** Per file: once when it starts (bytes undefined), then as bytes arrive (resumedFrom > 0 after an interrupted download). */
export type DownloadProgress = (event: { file: string; index: number; total: number } & Partial<Omit<ByteProgress, 'file'>>) => void;

export { repoFolderName } from './hub-paths.js';

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*');
  return new RegExp(`^${escaped}$`);
}

function walkFiles(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.isFile() || entry.isSymbolicLink()) out.push(path);
    }
  };
  if (existsSync(root)) visit(root);
  return out;
}

/** Files matching `patterns` in the cached snapshots of a repo; [] when nothing is cached. */
export function findCachedFiles(type: 'dataset' | 'model', id: string, revision: string, patterns: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const storage = join(huggingFaceHubCache(env), repoFolderName(type, id));
  const snapshotsDir = join(storage, 'snapshots');
  if (!existsSync(snapshotsDir)) return [];
  const refPath = join(storage, 'refs', revision);
  let snapshots: string[];
  if (existsSync(refPath)) snapshots = [readFileSync(refPath, 'utf8').trim()];
  else if (/^[0-9a-f]{40}$/.test(revision)) snapshots = [revision];
  else snapshots = readdirSync(snapshotsDir).sort((a, b) => statSync(join(snapshotsDir, b)).mtimeMs - statSync(join(snapshotsDir, a)).mtimeMs);
  const matchers = patterns.map(globToRegExp);
  const byPath = new Map<string, string>();
  for (const snapshot of snapshots) {
    const root = join(snapshotsDir, snapshot);
    for (const file of walkFiles(root)) {
      const rel = relative(root, file).split('\\').join('/');
      if (!byPath.has(rel) && matchers.some((m) => m.test(rel)) && existsSync(file)) byPath.set(rel, file);
    }
  }
  // every pattern must be served, or the split is incomplete
  if (!matchers.every((m) => [...byPath.keys()].some((rel) => m.test(rel)))) return [];
  return [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, file]) => file);
}

function localFiles(dataset: DatasetSpec, split: string, dataDir: string): string[] | undefined {
  const listed = dataset.local?.[split];
  if (listed) {
    const files = listed.map((file) => join(dataDir, file));
    return files.every((file) => existsSync(file)) ? files : undefined;
  }
  for (const extension of ['jsonl', 'parquet', 'json', 'csv']) {
    const file = join(dataDir, dataset.name, `${split}.${extension}`);
    if (existsSync(file)) return [file];
  }
  return undefined;
}

function howToGet(dataset: DatasetSpec, split: string): string {
  const revision = hubRevisionOf(dataset);
  const local = dataset.local?.[split]?.join(' + ') ?? `${dataset.name}/${split}.jsonl`;
  return (
    `run once with network access (unset HF_HUB_OFFLINE) so the files land in the Hugging Face cache, ` +
    `or fetch them with \`huggingface-cli download --repo-type dataset ${dataset.hubId} --revision ${revision}\`, ` +
    `or set HALO_FORGE_DATA_DIR to a folder holding ${local}`
  );
}

export async function resolveDatasetFiles(
  dataset: DatasetSpec,
  split: string,
  options: { env?: NodeJS.ProcessEnv; fetch?: typeof fetch; onDownload?: DownloadProgress } = {},
): Promise<ResolvedFiles> {
  const env = options.env ?? process.env;
  if (!dataset.splits.includes(split)) {
    throw new HaloError('DATASET_BAD_SPLIT', `--split ${split}: ${dataset.name} has splits ${dataset.splits.join(', ')}`, { fix: `pass --split ${dataset.defaultSplit}` });
  }
  if (env.HALO_FORGE_DATA_DIR) {
    const files = localFiles(dataset, split, env.HALO_FORGE_DATA_DIR);
    if (files) return { source: 'local', files };
  }
  const revision = hubRevisionOf(dataset);
  const patterns = hubPatternsOf(dataset, split);
  const cached = findCachedFiles('dataset', dataset.hubId, revision, patterns, env);
  if (cached.length > 0) return { source: 'cache', files: cached };
  if (isHubOffline(env)) {
    throw new HaloError('DATA_OFFLINE_MISSING', `${dataset.name} (${dataset.hubId}, split ${split}) is not in the Hugging Face cache at ${huggingFaceHubCache(env)} and HF_HUB_OFFLINE is set`, {
      fix: howToGet(dataset, split),
    });
  }
  return { source: 'hub', files: await downloadFromHub(dataset, revision, patterns, env, options) };
}

async function downloadFromHub(
  dataset: DatasetSpec,
  revision: string,
  patterns: string[],
  env: NodeJS.ProcessEnv,
  options: { fetch?: typeof fetch; onDownload?: DownloadProgress },
): Promise<string[]> {
  const hub = await import('@huggingface/hub');
  const repo = { type: 'dataset' as const, name: dataset.hubId };
  const accessToken = env.HF_TOKEN;
  const hubUrl = env.HF_ENDPOINT ?? 'https://huggingface.co'; // huggingface_hub's variable for a mirror or a local hub
  const matchers = patterns.map(globToRegExp);
  const wanted: string[] = [];
  try {
    for await (const entry of hub.listFiles({ repo, revision: encodeURIComponent(revision), recursive: true, accessToken, hubUrl, ...(options.fetch ? { fetch: options.fetch } : {}) })) {
      if (entry.type === 'file' && matchers.some((m) => m.test(entry.path))) wanted.push(entry.path);
    }
  } catch (error) {
    throw new HaloError('DATA_HUB_UNREACHABLE', `cannot list ${dataset.hubId}@${revision} on the hub: ${(error as Error).message}`, {
      fix: `check the network (or HF_TOKEN for gated datasets); ${howToGet(dataset, dataset.defaultSplit)}`,
    });
  }
  if (wanted.length === 0) {
    throw new HaloError('DATA_HUB_EMPTY', `${dataset.hubId}@${revision} has no files matching ${patterns.join(', ')}`, { fix: 'check the dataset name and split' });
  }
  const files: string[] = [];
  wanted.sort();
  for (const [index, path] of wanted.entries()) {
    options.onDownload?.({ file: path, index, total: wanted.length });
    files.push(
      await downloadToCache({
        repo,
        path,
        revision,
        cacheDir: huggingFaceHubCache(env),
        accessToken,
        hubUrl,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        onProgress: (progress) => options.onDownload?.({ ...progress, index, total: wanted.length }),
      }),
    );
  }
  return files;
}
