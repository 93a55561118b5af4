/** Unit checks: extraction, match modes, math answers, tool-call semantics, pool ordering, composition, registry errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractCode } from '../../src/verifiers/code/extract.js';
import { outputMatches } from '../../src/verifiers/code/match.js';
import { answersEquivalent, MathVerifier } from '../../src/verifiers/math/math.js';
import { extractAnswer } from '../../src/verifiers/math/answer.js';
import { parseExpression } from '../../src/verifiers/math/restricted.js';
import { ToolCallVerifier } from '../../src/verifiers/tools/tools.js';
import { mapOrdered } from '../../src/verifiers/pool.js';
import { createVerifier } from '../../src/verifiers/registry.js';
import { HaloError } from '../../src/util/errors.js';

test('code extraction records the rule that fired', () => {
  assert.deepEqual(extractCode('text\n```python\nprint(1)\n```\n```js\nx\n```', 'python'), { code: 'print(1)\n', rule: 'fence-language' });
  assert.equal(extractCode('```\nint main(){}\n```', 'cpp').rule, 'fence-any');
  assert.equal(extractCode('Here it is:\n```cpp\nint main(){}', 'cpp').rule, 'fence-unclosed');
  assert.deepEqual(extractCode('Sure, here is the code\ndef f():\n    return 1\n', 'python'), { code: 'def f():\n    return 1\n', rule: 'heuristic-code-start' });
  assert.equal(extractCode('x = 1\ndef f():\n    return x\n', 'python').rule, 'whole-completion');
});

test('match modes: exact, contains, regex, numeric', () => {
  assert.ok(outputMatches('1 2  \n3\n\n', '1 2\n3', 'exact'));
  assert.ok(!outputMatches('1 2', '1 3', 'exact'));
  assert.ok(outputMatches('answer: 42 ok', '42', 'contains'));
  assert.ok(outputMatches('result=17', '^result=\\d+$', 'regex'));
  assert.ok(outputMatches('0.3333333', '0.33333333', 'numeric'));
  assert.ok(!outputMatches('0.34', '0.33', 'numeric'));
});

test('math: extraction rules, normalisation and symbolic equivalence', () => {
  assert.equal(extractAnswer('so \\boxed{\\frac{1}{\\sqrt{2}}} done')?.answer, '\\frac{1}{\\sqrt{2}}');
  assert.equal(extractAnswer('work\n#### 1,234')?.rule, 'hashes');
  assert.equal(extractAnswer('The answer is 7.')?.answer, '7');
  assert.equal(extractAnswer('Final answer: 12')?.rule, 'final-answer');
  assert.equal(extractAnswer('we get 3 then 5')?.answer, '5');
  for (const [a, b] of [['x^2-1', '(x-1)(x+1)'], ['\\frac{3}{4}', '0.75'], ['1,000', '1000'], ['50%', '0.5'], ['2 1/2', '5/2'], ['\\text{18 dollars}', '18'], ['\\pi', '3.14159265358979']]) {
    assert.ok(answersEquivalent(a, b), `${a} vs ${b}`);
  }
  assert.ok(!answersEquivalent('x^2', 'x^3'));
  assert.ok(!answersEquivalent('1000001', '1000000'));
  assert.equal(parseExpression('f(x) = x^2'), null, 'function definitions are refused');
  assert.equal(parseExpression('import({a: 1})'), null);
  assert.equal(parseExpression('1+'.repeat(400) + '1'), null, 'expression size is bounded');
});

test('math rewards follow the table', async () => {
  const verifier = new MathVerifier();
  const reward = async (completion: string) => (await verifier.verify({ answer: '42', completion })).reward;
  assert.equal(await reward('6 * 7 = 42, so the answer is 42.'), 1.0);
  assert.equal(await reward('First 6 * 7 = 41 by my count, so #### 41'), 0.2);
  assert.equal(await reward('I multiplied six by seven and then I got lost in the computation.'), 0.2);
  assert.equal(await reward('no idea'), 0.1);
  assert.equal(await reward('41'), 0.0);
});

test('tool calls: parallel order-free, coercion, unexpected call', async () => {
  const verifier = new ToolCallVerifier();
  const tools = [{ name: 'add', parameters: { type: 'dict', properties: { a: { type: 'float' }, b: { type: 'float' } }, required: ['a', 'b'] } }];
  const expected = [{ name: 'add', arguments: { a: [1.0], b: [2.0] } }, { name: 'add', arguments: { a: [3.0], b: [4.0] } }];
  const call = (a: number, b: number) => `<tool_call>{"name": "add", "arguments": {"a": ${a}, "b": ${b}}}</tool_call>`;
  assert.equal((await verifier.verify({ tools, expected_calls: expected, completion: call(3, 4) + call(1, 2) })).reward, 1.0);
  assert.equal((await verifier.verify({ tools, expected_calls: expected, completion: call(3, 4) + call(1, 5) })).reward, 0.5);
  assert.equal((await verifier.verify({ tools, expected_calls: [], completion: call(1, 2) })).reward, -0.25);
  assert.equal((await verifier.verify({ tools, expected_calls: expected, completion: 'no call' })).reward, 0.0);
  assert.equal((await verifier.verify({ tools, expected_calls: [], completion: 'no call' })).reward, 1.0);
});

test('the pool streams results in input order with bounded concurrency', async () => {
  let inFlight = 0;
  let peak = 0;
  const out: number[] = [];
  for await (const value of mapOrdered([50, 5, 30, 1, 20, 2], async (ms, index) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setTimeout(resolve, ms));
    inFlight--;
    return index;
  }, 3)) out.push(value);
  assert.deepEqual(out, [0, 1, 2, 3, 4, 5]);
  assert.ok(peak <= 3 && peak >= 2);
});

test('composition and JS module verifiers; unknown names are HaloErrors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'halo-forge-module-'));
  try {
    const modulePath = join(dir, 'verify.mjs');
    writeFileSync(modulePath, 'export function verify(sample) { return { success: sample.completion.length > 3, reward: sample.completion.length > 3 ? 1 : 0, details: "len" }; }\n');
    const weighted = await createVerifier(`weighted:math=3,module=1`, { modulePath });
    const mixed = await weighted.verify({ answer: '42', completion: 'it is 41' });
    assert.equal(mixed.reward, 0.25);
    assert.equal(mixed.success, false);
    const chain = await createVerifier('chain:module,math', { modulePath });
    assert.match((await chain.verify({ answer: '42', completion: 'ab' })).details, /^module:/);
    await assert.rejects(createVerifier('nope'), (error: unknown) => error instanceof HaloError && error.code === 'VERIFY_UNKNOWN');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
