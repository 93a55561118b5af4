/** Hostile code is contained: each case scores 0 or its documented partial, returns within timeout + 2 s, and leaves nothing behind. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { Sandbox } from '../../src/verifiers/sandbox.js';
import { MbppVerifier } from '../../src/verifiers/code/python-tests.js';
import { CompiledVerifier } from '../../src/verifiers/code/compiled.js';
import { probeBubblewrap } from '../../src/verifiers/bwrap-probe.js';
import type { VerifyResult } from '../../src/verifiers/types.js';

const TIMEOUT_MS = 3000;
const bwrap = probeBubblewrap().works;
const marker = `halo${randomBytes(4).toString('hex')}`;
let sandbox: Sandbox;
let server: Server;
let port = 0;
let connections = 0;
const secretPath = join(homedir(), `.halo-forge-hostile-secret-${marker}`);
const hostDir = join(tmpdir(), `halo-forge-hostile-${marker}`);

before(async () => {
  if (!bwrap) return;
  sandbox = Sandbox.create({ timeoutMs: TIMEOUT_MS });
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  writeFileSync(secretPath, `secret-${marker}`);
  mkdirSync(hostDir, { recursive: true });
});

after(() => {
  server?.close();
  rmSync(secretPath, { force: true });
  rmSync(hostDir, { recursive: true, force: true });
});

function workDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(`halo-forge-verify-${process.pid}-`));
}

function processesWithMarker(text: string): number {
  let count = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) count++;
    } catch {
      // exited meanwhile
    }
  }
  return count;
}

function cgroupsLeft(): number {
  try {
    return readdirSync('/sys/fs/cgroup/pids').filter((name) => name.startsWith(`halo-forge-${process.pid}-`)).length;
  } catch {
    return 0;
  }
}

/** Runs one hostile case and checks the common containment guarantees. */
async function contained(run: () => Promise<VerifyResult>, allowed: number[], extraMs = 0): Promise<VerifyResult> {
  const dirsBefore = new Set(workDirs());
  const started = performance.now();
  const verdict = await run();
  const elapsed = performance.now() - started;
  const compileMs = typeof verdict.metadata.compileMs === 'number' ? verdict.metadata.compileMs : 0;
  assert.equal(verdict.success, false, `hostile code must not succeed: ${verdict.details}`);
  assert.ok(allowed.includes(verdict.reward), `reward ${verdict.reward} not in ${allowed.join('/')}: ${verdict.details}`);
  assert.ok(elapsed <= TIMEOUT_MS + 2000 + compileMs + extraMs, `took ${Math.round(elapsed)} ms`);
  assert.deepEqual(workDirs().filter((name) => !dirsBefore.has(name)), [], 'work dir left behind');
  assert.equal(cgroupsLeft(), 0, 'cgroup left behind');
  return verdict;
}

const mbpp = () => new MbppVerifier({ sandbox, timeoutMs: TIMEOUT_MS });
const tests = 'def test_solution():\n    assert f() == 42\n';

test('fork bomb is capped and killed (C: compiles clean 0.5, no case passes)', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const verifier = new CompiledVerifier({ sandbox, language: 'c', mode: 'run', timeoutMs: TIMEOUT_MS });
  const code = '```c\n#include <unistd.h>\nint main(void){ for(;;) fork(); return 0; }\n```';
  await contained(() => verifier.verify({ completion: code, tests: [{ input: '', output: '42' }] }), [0.5, 0.3]);
});

test('infinite loop times out with reward 0', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  await contained(() => mbpp().verify({ completion: 'while True:\n    pass\n', tests }), [0]);
});

test('8 GB allocation fails under the address-space limit', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  await contained(() => mbpp().verify({ completion: 'block = bytearray(8 * 1024 ** 3)\ndef f():\n    return 42\n', tests }), [0]);
});

test('sleep past the timeout is killed', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  await contained(() => mbpp().verify({ completion: 'import time\ntime.sleep(100)\ndef f():\n    return 42\n', tests }), [0]);
});

test('TCP connection to a server on 127.0.0.1 fails', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const code = `import socket\ndef f():\n    s = socket.create_connection(("127.0.0.1", ${port}), timeout=1)\n    s.sendall(b"leak")\n    return 42\n`;
  const verdict = await contained(() => mbpp().verify({ completion: code, tests }), [0.5]);
  assert.equal(connections, 0, 'the server saw a connection');
  assert.match(verdict.details, /0\/1/);
});

test('a secret planted in $HOME cannot be read', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const code = `def f():\n    return 42 if open(${JSON.stringify(secretPath)}).read() == "secret-${marker}" else 0\n`;
  await contained(() => mbpp().verify({ completion: code, tests }), [0.5]);
});

test('writing outside the work dir fails and leaves no file', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const target = join(hostDir, 'escaped.txt');
  const code = `def f():\n    open(${JSON.stringify(target)}, "w").write("x")\n    open("/usr/escaped-${marker}", "w").write("x")\n    return 42\n`;
  await contained(() => mbpp().verify({ completion: code, tests }), [0.5]);
  assert.equal(existsSync(target), false);
  assert.equal(existsSync(`/usr/escaped-${marker}`), false);
});

test('a daemon that tries to outlive the run is killed', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const seconds = 900000 + randomInt(99999);
  const code = `import subprocess\nsubprocess.Popen(["sh", "-c", "sleep ${seconds}"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\ndef f():\n    return 0\n`;
  await contained(() => mbpp().verify({ completion: code, tests }), [0.5]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(processesWithMarker(`sleep ${seconds}`), 0, 'daemon survived the run');
});

test('100 MB of stdout is capped at 64 KB', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const dir = sandbox.makeWorkDir();
  try {
    const started = performance.now();
    const run = await sandbox.run({ argv: ['python3', '-c', 'import sys\nfor _ in range(100):\n    sys.stdout.write("x" * (1024 * 1024))'], workDir: dir });
    assert.equal(run.stdout.length, 64 * 1024);
    assert.equal(run.stdoutTruncated, true);
    assert.ok(performance.now() - started < TIMEOUT_MS + 2000);
  } finally {
    sandbox.removeWorkDir(dir);
  }
  await contained(() => mbpp().verify({ completion: 'import sys\nsys.stdout.write("y" * (100 * 1024 * 1024))\ndef f():\n    return 0\n', tests }), [0.5, 0]);
});

test('exit(0) before the tests scores 0', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  await contained(() => mbpp().verify({ completion: 'import os\nos._exit(0)\n', tests }), [0]);
  await contained(() => mbpp().verify({ completion: 'import sys\nsys.exit(0)\n', tests }), [0]);
});

test('a fake success line and a forged evidence file score 0', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const code = 'import json, os\nprint("all 1 test cases passed")\nprint("OK")\njson.dump({"nonce": "0" * 32, "passed": 1, "total": 1, "failures": []}, open("halo_evidence.json", "w"))\nos._exit(0)\n';
  const verdict = await contained(() => mbpp().verify({ completion: code, tests }), [0]);
  assert.match(verdict.details, /wrong nonce|no harness evidence/);
});

test('deleting the test and harness files does not make it succeed', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const code = 'import os\nfor name in os.listdir("."):\n    os.remove(name)\ndef f():\n    return 0\n';
  await contained(() => mbpp().verify({ completion: code, tests }), [0.5]);
});

test('patching AssertionError does not silence the asserts', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const code = 'import builtins\nbuiltins.AssertionError = type("Quiet", (Exception,), {})\ndef f():\n    return 0\n';
  await contained(() => mbpp().verify({ completion: code, tests }), [0.5]);
});
