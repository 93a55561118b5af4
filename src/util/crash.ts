/**
 * Crash injection for the crash-safety test: with HALO_FORGE_CRASH_AT=<point> the process SIGKILLs
 * itself when it reaches that point (e.g. "verify:2:3" = after cycle 2's fourth verified sample),
 * exactly as an external kill at that instant would. Unset, this is one string comparison.
 */
export function crashPoint(point: string): void {
  if (process.env.HALO_FORGE_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
