/** Compiled / run verifiers on each installed toolchain: the reward ladder, cases, match modes, absent toolchains. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/verifiers/sandbox.js';
import { probeBubblewrap } from '../../src/verifiers/bwrap-probe.js';
import { toolchainVersion } from '../../src/verifiers/toolchains.js';
import { createVerifier } from '../../src/verifiers/registry.js';
import { HaloError } from '../../src/util/errors.js';

const bwrap = probeBubblewrap().works;
let sandbox: Sandbox | null = null;
const box = () => (sandbox ??= Sandbox.create({}));
const cases = [{ input: '3\n', output: '6\n' }, { input: '5', output: '10' }];

const programs: Record<string, { tool: 'gcc' | 'g++' | 'clang' | 'rustc' | 'go' | 'python3' | 'x86_64-w64-mingw32-g++'; code: string }> = {
  gcc: { tool: 'gcc', code: '```c\n#include <stdio.h>\nint main(void){int n; if (scanf("%d",&n)!=1) return 1; printf("%d\\n", n*2); return 0;}\n```' },
  'g++': { tool: 'g++', code: '```cpp\n#include <bits/stdc++.h>\nint main(){long long n; std::cin>>n; std::cout<<n*2<<"\\n";}\n```' },
  clang: { tool: 'clang', code: '```cpp\n#include <iostream>\nint main(){int n; std::cin>>n; std::cout<<n*2<<std::endl;}\n```' },
  rust: { tool: 'rustc', code: '```rust\nuse std::io::Read;\nfn main(){ let mut s=String::new(); std::io::stdin().read_to_string(&mut s).unwrap(); let n:i64=s.trim().parse().unwrap(); println!("{}", n*2); }\n```' },
  go: { tool: 'go', code: '```go\npackage main\nimport "fmt"\nfunc main(){ var n int; fmt.Scan(&n); fmt.Println(n*2) }\n```' },
  execution: { tool: 'python3', code: '```python\nprint(int(input())*2)\n```' },
};

for (const [name, { tool, code }] of Object.entries(programs)) {
  const missing = !bwrap ? 'bubblewrap unavailable' : toolchainVersion(tool) === null ? `${tool} not installed` : false;
  test(`${name}: all cases pass -> 1.0; half -> 0.75; compile error -> 0`, { skip: missing }, async () => {
    const verifier = await createVerifier(name, { sandbox: box(), mode: 'run' });
    const good = await verifier.verify({ completion: code, tests: cases });
    assert.equal(good.reward, 1, good.details);
    assert.equal(good.success, true);
    const half = await verifier.verify({ completion: code, tests: [cases[0], { input: '5', output: '11' }] });
    assert.equal(half.reward, 0.75, half.details);
    assert.equal(half.success, false);
    const broken = await verifier.verify({ completion: code.replace(/\n```$/, '\n}}}((\n```'), tests: cases });
    assert.equal(broken.reward, 0, broken.details);
  });
}

test('ladder: warnings 0.3, clean 0.5, runs 0.7, correct output 1.0 (gcc)', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const compileOnly = await createVerifier('gcc', { sandbox: box() });
  const warned = await compileOnly.verify({ completion: '```c\nint main(void){ int a = 0; if (a = 3) return 0; return 1; }\n```' });
  assert.equal(warned.reward, 0.3, warned.details);
  const clean = await compileOnly.verify({ completion: '```c\nint main(void){ return 0; }\n```' });
  assert.equal(clean.reward, 0.5);
  const run = await createVerifier('gcc', { sandbox: box(), mode: 'run', match: 'numeric' });
  const hello = '```c\n#include <stdio.h>\nint main(void){ printf("3.0000001\\n"); return 0; }\n```';
  assert.equal((await run.verify({ completion: hello })).reward, 0.7);
  assert.equal((await run.verify({ completion: hello, expected_output: '3' })).reward, 1.0);
  assert.equal((await run.verify({ completion: hello, expected_output: '4' })).reward, 0.7);
});

test('mingw cross-compiles only: success means it compiles', { skip: (!bwrap && 'bubblewrap unavailable') || (toolchainVersion('x86_64-w64-mingw32-g++') === null && 'mingw not installed') }, async () => {
  const verifier = await createVerifier('mingw', { sandbox: box(), mode: 'run' });
  const verdict = await verifier.verify({ completion: '```cpp\n#include <windows.h>\nint main(){ return GetCurrentProcessId() > 0 ? 0 : 1; }\n```' });
  assert.equal(verdict.reward, 0.5, verdict.details);
  assert.equal(verdict.success, true);
});

for (const [name, tool] of [['dotnet', 'dotnet'], ['pwsh', 'pwsh']] as const) {
  const present = toolchainVersion(tool) !== null;
  test(`${name}: refuses with TOOLCHAIN_MISSING when ${tool} is absent`, { skip: present && `${tool} is installed here; its absence path cannot be exercised` }, async () => {
    await assert.rejects(createVerifier(name, { sandbox: bwrap ? box() : undefined, sandboxMode: bwrap ? 'bwrap' : 'none', onWarning: () => {} }), (error: unknown) => error instanceof HaloError && error.code === 'TOOLCHAIN_MISSING' && /install/.test(error.fix ?? ''));
  });
  if (!present) test(`${name}: running programs`, { skip: `${tool} not installed here (verifier exists; install ${tool} to exercise it)` }, () => {});
}

test('python verifier: pytest-style functions and unittest methods are cases', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const verifier = await createVerifier('python', { sandbox: box() });
  const tests = 'import unittest\ndef test_one():\n    assert add(1, 2) == 3\ndef test_two():\n    assert add(-1, 1) == 0\nclass T(unittest.TestCase):\n    def test_three(self):\n        self.assertEqual(add(2, 2), 4)\n';
  const good = await verifier.verify({ completion: '```python\ndef add(a, b):\n    return a + b\n```', tests });
  assert.equal(good.reward, 1, good.details);
  assert.deepEqual([good.metadata.passed, good.metadata.total], [3, 3]);
  const bad = await verifier.verify({ completion: '```python\ndef add(a, b):\n    return a - b + 2 * b if a > 0 else 7\n```', tests });
  assert.equal(bad.success, false);
});

test('command verifier: sandboxed checker with success regex', { skip: !bwrap && 'bubblewrap unavailable' }, async () => {
  const verifier = await createVerifier('command', { sandbox: box(), command: 'python3 {file} | grep -q 42 && echo PASS', successRegex: '^PASS$', language: 'python' });
  assert.equal((await verifier.verify({ completion: '```python\nprint(6*7)\n```' })).reward, 1);
  assert.equal((await verifier.verify({ completion: '```python\nprint(6*8)\n```' })).reward, 0);
});

test('sandbox none warns on creation', () => {
  const warnings: string[] = [];
  Sandbox.create({ mode: 'none', onWarning: (message) => warnings.push(message) });
  assert.match(warnings[0] ?? '', /no isolation/);
});
