/**
 * Runs model-written code (compilers included) inside bubblewrap: no network, a read-only view of
 * only the system folders a toolchain needs, a private writable work dir, new pid / ipc / uts /
 * net / mount namespaces, die-with-parent, no $HOME or project. Inside, `prlimit` applies rlimits
 * (CPU seconds, address space, processes, file size, open files). A wall timeout SIGKILLs the
 * whole process group; the pid namespace then takes every descendant with it (daemons included).
 * As root RLIMIT_NPROC is not enforced by the kernel, so a pids cgroup caps processes there.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, rmdirSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HaloError } from '../util/errors.js';
import { BUBBLEWRAP_FIX, probeBubblewrap } from './bwrap-probe.js';

export type SandboxMode = 'bwrap' | 'none';

export interface ResourceLimits {
  cpuSeconds: number;
  addressSpaceBytes: number;
  maxProcesses: number;
  maxFileBytes: number;
  maxOpenFiles: number;
}

export const DEFAULT_LIMITS: ResourceLimits = {
  cpuSeconds: 10,
  addressSpaceBytes: 2 * 1024 ** 3,
  maxProcesses: 128,
  maxFileBytes: 16 * 1024 ** 2,
  maxOpenFiles: 256,
};
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_OUTPUT_LIMIT = 64 * 1024;
/** Where the work dir appears inside the sandbox. */
export const SANDBOX_WORK_DIR = '/box';

export interface SandboxOptions {
  mode?: SandboxMode;
  timeoutMs?: number;
  limits?: Partial<ResourceLimits>;
  outputLimitBytes?: number;
  /** Called with the opt-out warning each time a `none` sandbox is created. */
  onWarning?: (message: string) => void;
}

export interface RunRequest {
  argv: string[];
  /** Host folder mounted read-write as the working directory. */
  workDir: string;
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  limits?: Partial<ResourceLimits>;
  /** Extra host folders (toolchains outside /usr) bound read-only at the same path. */
  readOnlyPaths?: readonly string[];
}

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  wallMs: number;
  mode: SandboxMode;
}

export const NO_SANDBOX_WARNING = 'warning: --sandbox none runs model-written code with no isolation (network, files and processes of this user are reachable)';

const SYSTEM_DIRS = ['/usr', '/lib', '/lib32', '/lib64', '/libx32', '/bin', '/sbin'];
/** The minimal /etc a compiler or interpreter needs: the loader cache and the alternatives links. */
const ETC_ENTRIES = ['/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/alternatives', '/etc/localtime', '/etc/passwd', '/etc/group'];
const BASE_ENV: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };

function systemBindArgs(): string[] {
  const args: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    const stat = lstatSync(dir);
    if (stat.isSymbolicLink()) {
      args.push('--symlink', readlinkSync(dir), dir);
    } else {
      args.push('--ro-bind', dir, dir);
    }
  }
  for (const entry of ETC_ENTRIES) if (existsSync(entry)) args.push('--ro-bind', entry, entry);
  return args;
}

let cgroupCounter = 0;
const PIDS_CGROUP_ROOT = '/sys/fs/cgroup/pids';

function pidsCgroupAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    accessSync(PIDS_CGROUP_ROOT, constants.W_OK);
    return existsSync(join(PIDS_CGROUP_ROOT, 'cgroup.procs'));
  } catch {
    return false;
  }
}

export class Sandbox {
  readonly mode: SandboxMode;
  readonly timeoutMs: number;
  readonly limits: ResourceLimits;
  readonly outputLimitBytes: number;
  /** How the process cap is enforced: a pids cgroup (root) or RLIMIT_NPROC. */
  readonly processCap: 'cgroup' | 'rlimit';
  private readonly binds: string[];

  private constructor(mode: SandboxMode, options: SandboxOptions) {
    this.mode = mode;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.outputLimitBytes = options.outputLimitBytes ?? DEFAULT_OUTPUT_LIMIT;
    this.processCap = pidsCgroupAvailable() ? 'cgroup' : 'rlimit';
    this.binds = mode === 'bwrap' ? systemBindArgs() : [];
  }

  /** A bubblewrap sandbox (refusing to run when bwrap is missing or broken) or the explicit `none` opt-out. */
  static create(options: SandboxOptions = {}): Sandbox {
    const mode = options.mode ?? 'bwrap';
    if (mode !== 'bwrap' && mode !== 'none') {
      throw new HaloError('SANDBOX_MODE', `--sandbox ${String(mode)} is not a sandbox mode`, { fix: 'use --sandbox bwrap (default) or --sandbox none' });
    }
    if (mode === 'bwrap') {
      const probe = probeBubblewrap();
      if (!probe.works) {
        throw new HaloError('SANDBOX_UNAVAILABLE', `bubblewrap cannot sandbox untrusted code here (${probe.detail}); refusing to run model-written code`, {
          fix: `${BUBBLEWRAP_FIX}; or pass --sandbox none to run it unisolated at your own risk`,
        });
      }
    } else {
      (options.onWarning ?? ((message: string) => process.emitWarning(message)))(NO_SANDBOX_WARNING);
    }
    return new Sandbox(mode, options);
  }

  /** A fresh private work dir on the host; remove it with removeWorkDir. */
  makeWorkDir(): string {
    return mkdtempSync(join(tmpdir(), `halo-forge-verify-${process.pid}-`));
  }

  removeWorkDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
  }

  /** Runs argv with the work dir as cwd (commands name work-dir files by relative path). */
  run(request: RunRequest): Promise<RunResult> {
    const limits = { ...this.limits, ...request.limits };
    const timeoutMs = request.timeoutMs ?? this.timeoutMs;
    const limited = [
      'prlimit',
      `--cpu=${limits.cpuSeconds}`,
      `--as=${limits.addressSpaceBytes}`,
      `--nproc=${limits.maxProcesses}`,
      `--fsize=${limits.maxFileBytes}`,
      `--nofile=${limits.maxOpenFiles}`,
      '--core=0',
      '--',
      ...request.argv,
    ];
    const env = { ...BASE_ENV, HOME: this.mode === 'bwrap' ? SANDBOX_WORK_DIR : request.workDir, TMPDIR: this.mode === 'bwrap' ? '/tmp' : request.workDir, ...request.env };
    let command: string;
    let args: string[];
    if (this.mode === 'bwrap') {
      const extra = (request.readOnlyPaths ?? []).flatMap((path) => ['--ro-bind', path, path]);
      args = [
        '--unshare-all', '--die-with-parent', '--new-session', '--hostname', 'sandbox',
        ...this.binds, ...extra,
        '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
        '--bind', request.workDir, SANDBOX_WORK_DIR, '--chdir', SANDBOX_WORK_DIR,
        '--', ...limited,
      ];
      command = 'bwrap';
    } else {
      command = limited[0];
      args = limited.slice(1);
    }
    let cgroup: string | null = null;
    if (this.processCap === 'cgroup') {
      cgroup = join(PIDS_CGROUP_ROOT, `halo-forge-${process.pid}-${cgroupCounter++}-${randomBytes(3).toString('hex')}`);
      try {
        mkdirSync(cgroup);
        writeFileSync(join(cgroup, 'pids.max'), String(limits.maxProcesses));
        // The shell joins the cgroup, then execs the sandbox, so every descendant is counted.
        args = ['-c', `echo $$ > '${cgroup}/cgroup.procs' && exec "$@"`, 'sandbox', command, ...args];
        command = '/bin/sh';
      } catch {
        cgroup = null;
      }
    }
    return this.spawnCapped(command, args, env, request, timeoutMs, cgroup);
  }

  private spawnCapped(command: string, args: string[], env: Record<string, string>, request: RunRequest, timeoutMs: number, cgroup: string | null): Promise<RunResult> {
    const started = performance.now();
    const cap = this.outputLimitBytes;
    return new Promise((resolve) => {
      const child = spawn(command, args, { cwd: request.workDir, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const out = { chunks: [] as Buffer[], bytes: 0, truncated: false };
      const err = { chunks: [] as Buffer[], bytes: 0, truncated: false };
      const collect = (sink: typeof out) => (chunk: Buffer) => {
        if (sink.bytes >= cap) {
          sink.truncated = true;
          return;
        }
        const room = cap - sink.bytes;
        if (chunk.length > room) sink.truncated = true;
        const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
        sink.chunks.push(kept);
        sink.bytes += kept.length;
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.stdin.on('error', () => {});
      let timedOut = false;
      const killGroup = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs);
      let spawnError: Error | null = null;
      child.on('error', (error) => {
        spawnError = error;
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        killGroup();
        const finished: RunResult = {
          exitCode: code,
          signal: signal ?? null,
          stdout: Buffer.concat(out.chunks).toString('utf8'),
          stderr: Buffer.concat(err.chunks).toString('utf8') + (spawnError ? `\n${(spawnError as Error).message}` : ''),
          stdoutTruncated: out.truncated,
          stderrTruncated: err.truncated,
          timedOut,
          wallMs: performance.now() - started,
          mode: this.mode,
        };
        if (cgroup) void removeCgroup(cgroup).then(() => resolve(finished));
        else resolve(finished);
      });
      child.stdin.end(request.stdin ?? '');
    });
  }
}

/** A cgroup can only be removed once its last task has exited; a dying pid namespace empties within milliseconds. */
async function removeCgroup(path: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      rmdirSync(path);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
