import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatTemplate, encodeChat, type ChatMessage } from '../../src/data/chat.js';
import type { HaloTokenizer } from '../../src/data/tokenizer.js';
import { bundledTokenizer } from './helpers.js';

const QWEN_DEFAULT = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';
const chat: ChatMessage[] = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'Thanks' },
  { role: 'assistant', content: 'Welcome!' },
];
const withSystem: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, ...chat];
const weatherTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

/** Decoded text of each run of masked tokens. */
function maskedRuns(tokenizer: HaloTokenizer, ids: number[], mask: number[]): string[] {
  const runs: string[] = [];
  let current: number[] = [];
  mask.forEach((m, i) => {
    if (m === 1) current.push(ids[i]!);
    else if (current.length > 0) {
      runs.push(tokenizer.decode(current));
      current = [];
    }
  });
  if (current.length > 0) runs.push(tokenizer.decode(current));
  return runs;
}

test('qwen2.5 (chatml) renders the documented format, with the default system prompt when none is given', () => {
  const template = ChatTemplate.resolve('qwen2.5');
  const turns = '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\nWelcome!<|im_end|>\n';
  assert.equal(template.render(chat), `<|im_start|>system\n${QWEN_DEFAULT}<|im_end|>\n${turns}`);
  assert.equal(template.render(withSystem), `<|im_start|>system\nBe brief.<|im_end|>\n${turns}`);
  assert.equal(template.render(chat.slice(0, 1), { addGenerationPrompt: true }), `<|im_start|>system\n${QWEN_DEFAULT}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n`);
  assert.equal(ChatTemplate.resolve('chatml').render(chat), turns);
});

test('qwen2.5 renders tools in the Hermes format (tool list, tool_call, tool_response)', () => {
  const template = ChatTemplate.resolve('qwen2.5');
  const messages: ChatMessage[] = [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
    { role: 'tool', content: '{"temp": 21}' },
  ];
  const expected =
    `<|im_start|>system\n${QWEN_DEFAULT}\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n` +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
    '{"type": "function", "function": {"name": "get_weather", "description": "Current weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n' +
    '</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
    '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n' +
    '<|im_start|>assistant\n';
  assert.equal(template.render(messages, { tools: [weatherTool], addGenerationPrompt: true }), expected);
  const withSys = template.render([{ role: 'system', content: 'Be brief.' }, messages[0]!], { tools: [weatherTool] });
  assert.ok(withSys.startsWith('<|im_start|>system\nBe brief.\n\n# Tools\n\n'), withSys.slice(0, 80));
});

test('llama3 and mistral render their documented formats', () => {
  const llama = ChatTemplate.resolve('llama3');
  const h = (role: string, text: string): string => `<|start_header_id|>${role}<|end_header_id|>\n\n${text}<|eot_id|>`;
  assert.equal(llama.render(chat), `<|begin_of_text|>${h('user', 'Hi')}${h('assistant', 'Hello!')}${h('user', 'Thanks')}${h('assistant', 'Welcome!')}`);
  assert.equal(llama.render(withSystem.slice(0, 2), { addGenerationPrompt: true }), `<|begin_of_text|>${h('system', 'Be brief.')}${h('user', 'Hi')}<|start_header_id|>assistant<|end_header_id|>\n\n`);
  const mistral = ChatTemplate.resolve('mistral');
  assert.equal(mistral.render(chat), '<s>[INST] Hi [/INST]Hello!</s>[INST] Thanks [/INST]Welcome!</s>');
  assert.equal(mistral.render(withSystem), '<s>[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] Thanks [/INST]Welcome!</s>');
  assert.throws(() => mistral.render([{ role: 'assistant', content: 'x' }]), { code: 'CHAT_TEMPLATE_RENDER' });
});

test('assistant-only masks cover exactly each assistant content and its end-of-turn token', () => {
  const qwen = bundledTokenizer('qwen3');
  for (const name of ['qwen2.5', 'chatml']) {
    for (const messages of [chat, withSystem]) {
      const encoded = encodeChat(qwen, ChatTemplate.resolve(name, qwen), messages);
      assert.deepEqual(maskedRuns(qwen, encoded.ids, encoded.mask), ['Hello!<|im_end|>', 'Welcome!<|im_end|>'], `${name}`);
      assert.equal(encoded.ids.length, encoded.mask.length);
    }
  }
  const llamaTokenizer = bundledTokenizer('llama3');
  const llama = encodeChat(llamaTokenizer, ChatTemplate.resolve('llama3', llamaTokenizer), withSystem);
  assert.deepEqual(maskedRuns(llamaTokenizer, llama.ids, llama.mask), ['Hello!<|eot_id|>', 'Welcome!<|eot_id|>']);
  const mistral = ChatTemplate.resolve('mistral').assistantSpans(withSystem);
  assert.deepEqual(mistral.spans.map((s) => mistral.text.slice(s.start, s.end)), ['Hello!</s>', 'Welcome!</s>']);
  // tool-call turns: the whole <tool_call> block plus <|im_end|>
  const tools = encodeChat(qwen, ChatTemplate.resolve('qwen2.5', qwen), [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
  ], { tools: [weatherTool] });
  assert.deepEqual(maskedRuns(qwen, tools.ids, tools.mask), ['<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>']);
});

test('masks stay exact under a template that injects a date line and default system prompt', () => {
  const llamaTokenizer = bundledTokenizer('llama3');
  const dir = mkdtempSync(join(tmpdir(), 'halo-chat-'));
  const file = join(dir, 'dated.jinja');
  writeFileSync(
    file,
    "{{- bos_token }}{{- '<|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\nToday Date: ' + strftime_now('%d %b %Y') + '\\n\\n' }}" +
      "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- set rest = messages[1:] %}{%- else %}{{- 'You are a helpful assistant.' }}{%- set rest = messages %}{%- endif %}{{- '<|eot_id|>' }}" +
      "{%- for m in rest %}{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{%- endfor %}" +
      "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
  );
  const template = ChatTemplate.resolve(file, llamaTokenizer);
  for (const messages of [chat, withSystem]) {
    const encoded = encodeChat(llamaTokenizer, template, messages);
    assert.match(encoded.text, /Today Date: \d\d \w\w\w \d{4}/);
    assert.deepEqual(maskedRuns(llamaTokenizer, encoded.ids, encoded.mask), ['Hello!<|eot_id|>', 'Welcome!<|eot_id|>']);
  }
});

test('special-token strings in message content are refused by default', () => {
  const qwen = bundledTokenizer('qwen3');
  assert.throws(() => encodeChat(qwen, ChatTemplate.resolve('chatml', qwen), [{ role: 'user', content: 'hi<|im_end|>' }, { role: 'assistant', content: 'x' }]), {
    code: 'CHAT_SPECIAL_TOKEN_IN_CONTENT',
  });
  assert.throws(() => ChatTemplate.resolve('no-such-template'), { code: 'CHAT_TEMPLATE_UNKNOWN' });
});
