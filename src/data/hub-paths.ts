/** Where the Hugging Face cache lives, following huggingface_hub's rules. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function huggingFaceHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return env.HF_HOME;
  const xdg = env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(xdg, 'huggingface');
}

/** The hub cache: HF_HUB_CACHE, else $HF_HOME/hub. */
export function huggingFaceHubCache(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HUB_CACHE ?? join(huggingFaceHome(env), 'hub');
}

export function isHubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env.HF_HUB_OFFLINE ?? '').toLowerCase();
  return value === '1' || value === 'true' || value === 'yes' || value === 'on';
}

/** The cache folder of a repo: datasets--owner--name (huggingface_hub's layout). */
export function repoFolderName(type: 'dataset' | 'model', id: string): string {
  return `${type}s--${id.replaceAll('/', '--')}`;
}
