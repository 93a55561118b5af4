import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundledTokenizer, llamaCppVocabVectors } from './helpers.js';

test('Qwen2 tokenizer.json passes llama.cpp ggml-vocab-qwen2 test vectors', (t) => {
  const vectors = llamaCppVocabVectors('ggml-vocab-qwen2.gguf');
  if (typeof vectors === 'string') return t.skip(vectors);
  assert.equal(vectors.inputs.length, vectors.outputs.length, 'input and output files hold the same number of tests');
  assert.ok(vectors.inputs.length >= 40, `expected the full vector file, got ${vectors.inputs.length}`);
  // llama.cpp keys the vectors by input (a std::map), so every input counts once
  assert.equal(new Set(vectors.inputs).size, vectors.inputs.length, 'no input appears twice');
  // the empty string is one of the vectors (its expected line is blank: no tokens), and it is checked like the rest
  const empty = vectors.inputs.indexOf('');
  assert.ok(empty >= 0, 'the empty-string vector is read');
  assert.deepEqual(vectors.outputs[empty], []);
  const tokenizer = bundledTokenizer('qwen3');
  const failures = vectors.inputs.filter((input, i) => JSON.stringify(tokenizer.encode(input)) !== JSON.stringify(vectors.outputs[i]));
  t.diagnostic(`qwen2 vectors: ${vectors.inputs.length - failures.length}/${vectors.inputs.length}`);
  assert.deepEqual(failures, []);
});

test('special tokens: parsed in templates, literal on request; ids from tokenizer_config', () => {
  const tokenizer = bundledTokenizer('qwen3');
  assert.equal(tokenizer.eosToken, '<|im_end|>');
  assert.equal(tokenizer.eosId, 151645);
  assert.equal(tokenizer.padId, 151643);
  assert.deepEqual(tokenizer.encode('<|im_end|>'), [151645]);
  const literal = tokenizer.encode('<|im_end|>', { specialTokens: 'literal' });
  assert.ok(literal.length > 1 && !literal.includes(151645));
  assert.equal(tokenizer.decode(literal), '<|im_end|>');
  const llama = bundledTokenizer('llama3');
  assert.equal(llama.bosId, 128000);
  assert.deepEqual(llama.encodeBatch(['a b', 'c']), [llama.encode('a b'), llama.encode('c')]);
});

test('byte offsets add up to the text and the incremental decoder reproduces decode()', () => {
  const tokenizer = bundledTokenizer('qwen3');
  const text = 'naïve café 🍕 — 你好世界\n\tdone';
  const ids = tokenizer.encode(text);
  assert.equal(tokenizer.byteOffsets(ids)[ids.length], Buffer.byteLength(text));
  const decoder = tokenizer.incrementalDecoder();
  let streamed = '';
  for (const id of ids) {
    const piece = decoder.push(id);
    assert.ok(!piece.includes('\uFFFD'), 'no partial UTF-8 characters are released');
    streamed += piece;
  }
  streamed += decoder.finish();
  assert.equal(streamed, tokenizer.decode(ids));
  assert.equal(streamed, text);
});

test('incremental decoder holds back a possible stop-string prefix and stops at the match', () => {
  const tokenizer = bundledTokenizer('qwen3');
  const ids = tokenizer.encode('answer: 42\nUser: next question');
  const decoder = tokenizer.incrementalDecoder(['\nUser:']);
  let out = '';
  for (const id of ids) {
    out += decoder.push(id);
    assert.ok(!out.includes('\nUser'), `stop text was released: ${JSON.stringify(out)}`);
  }
  out += decoder.finish();
  assert.equal(out, 'answer: 42');
  assert.equal(decoder.stopped, '\nUser:');
});
