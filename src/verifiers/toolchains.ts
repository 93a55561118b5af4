/** Which compilers and runtimes the code verifiers can use here, with their versions. */
import { spawnSync } from 'node:child_process';

export const TOOLCHAINS = ['gcc', 'g++', 'clang', 'x86_64-w64-mingw32-g++', 'rustc', 'cargo', 'go', 'python3', 'pytest', 'dotnet', 'pwsh'] as const;
export type ToolchainName = (typeof TOOLCHAINS)[number];

const VERSION_ARGS: Partial<Record<ToolchainName, string[]>> = { go: ['version'], pytest: ['--version'], dotnet: ['--version'] };

/** First line of `tool --version` with the version number pulled out, or null when the tool is absent. */
export function toolchainVersion(name: ToolchainName): string | null {
  const args = VERSION_ARGS[name] ?? ['--version'];
  const result = spawnSync(name, args, { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error || result.status !== 0) return null;
  const text = `${result.stdout}\n${result.stderr}`.trim();
  const version = /(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
  return version ?? text.split('\n')[0] ?? null;
}

export function detectToolchains(): Record<ToolchainName, string | null> {
  const found = {} as Record<ToolchainName, string | null>;
  for (const name of TOOLCHAINS) found[name] = toolchainVersion(name);
  return found;
}
