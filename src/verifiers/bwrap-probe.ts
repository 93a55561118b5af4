/** Is bubblewrap installed, and can it really create the namespaces the sandbox uses? */
import { spawnSync } from 'node:child_process';

export interface BubblewrapProbe {
  /** bwrap's version, or null when it is not installed. */
  version: string | null;
  /** A probe run (new user/pid/net/ipc/uts namespaces, read-only root) succeeded. */
  works: boolean;
  detail: string;
}

export const BUBBLEWRAP_FIX = 'sudo apt-get install bubblewrap (on Ubuntu 24.04+ also allow unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=0)';

export function probeBubblewrap(): BubblewrapProbe {
  const version = spawnSync('bwrap', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (version.error || version.status !== 0) return { version: null, works: false, detail: 'bwrap not found on PATH' };
  const versionText = /(\d+\.\d+(?:\.\d+)?)/.exec(version.stdout)?.[1] ?? version.stdout.trim();
  const probe = spawnSync(
    'bwrap',
    ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--unshare-all', '--die-with-parent', '--new-session', '/bin/sh', '-c', 'echo sandbox-ok'],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (probe.status === 0 && probe.stdout.trim() === 'sandbox-ok') return { version: versionText, works: true, detail: 'probe run succeeded' };
  return { version: versionText, works: false, detail: `probe run failed: ${(probe.stderr || probe.error?.message || '').trim()}` };
}
