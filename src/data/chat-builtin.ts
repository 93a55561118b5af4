/**
 * Built-in chat templates for models that ship none, written from each format's documented shape:
 * chatml (ChatML with Hermes-style tools), qwen2.5 (chatml plus Qwen2.5's default system prompt),
 * llama3 (Meta Llama 3 header/eot format) and mistral (Mistral-Instruct [INST] format; a system
 * prompt is prepended to the first user turn, separated by a blank line).
 */

const HERMES_TOOLS_HEADER =
  '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n' +
  'You are provided with function signatures within <tools></tools> XML tags:\\n<tools>';
const HERMES_TOOLS_FOOTER =
  '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within ' +
  '<tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n';

function chatmlTemplate(defaultSystem: string | undefined): string {
  const toolsSystemElse = defaultSystem === undefined ? '' : `{%- else %}{{- '${defaultSystem}\\n\\n' }}`;
  const plainSystemElse =
    defaultSystem === undefined ? '' : `{%- else %}{{- '<|im_start|>system\\n${defaultSystem}<|im_end|>\\n' }}`;
  return [
    '{%- if tools %}',
    "{{- '<|im_start|>system\\n' }}",
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] + '\\n\\n' }}" + toolsSystemElse + '{%- endif %}',
    `{{- "${HERMES_TOOLS_HEADER}" }}`,
    '{%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}',
    `{{- "${HERMES_TOOLS_FOOTER}" }}`,
    '{%- else %}',
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}" +
      plainSystemElse +
      '{%- endif %}',
    '{%- endif %}',
    '{%- for message in messages %}',
    '{%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}',
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
    '{%- elif message.role == "assistant" %}',
    "{{- '<|im_start|>' + message.role }}",
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}",
    '{%- for tool_call in message.tool_calls %}',
    '{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}',
    '{{- \'\\n<tool_call>\\n{"name": "\' }}{{- tool_call.name }}{{- \'", "arguments": \' }}{{- tool_call.arguments | tojson }}{{- \'}\\n</tool_call>\' }}',
    '{%- endfor %}',
    "{{- '<|im_end|>\\n' }}",
    '{%- elif message.role == "tool" %}',
    '{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}{{- \'<|im_start|>user\' }}{%- endif %}',
    "{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}",
    '{%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}{{- \'<|im_end|>\\n\' }}{%- endif %}',
    '{%- endif %}',
    '{%- endfor %}',
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
  ].join('\n');
}

const LLAMA3 = [
  '{{- bos_token }}',
  '{%- for message in messages %}',
  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}",
  '{%- endfor %}',
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
].join('\n');

const MISTRAL = [
  '{{- bos_token }}',
  "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}",
  '{%- else %}{%- set system_message = none %}{%- set loop_messages = messages %}{%- endif %}',
  '{%- for message in loop_messages %}',
  "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif %}",
  "{%- if message['role'] == 'user' %}",
  "{%- if loop.first and system_message is not none %}{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}",
  "{%- else %}{{- '[INST] ' + message['content'] + ' [/INST]' }}{%- endif %}",
  "{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}",
  "{%- else %}{{- raise_exception('Only system, user and assistant roles are supported') }}{%- endif %}",
  '{%- endfor %}',
].join('\n');

export interface BuiltinTemplate {
  name: string;
  template: string;
  /** special tokens the template refers to, used when the tokenizer config names none */
  bosToken: string;
  eosToken: string;
  /** the marker that closes an assistant turn */
  endOfTurn: string;
}

export const BUILTIN_TEMPLATES: Readonly<Record<string, BuiltinTemplate>> = {
  chatml: { name: 'chatml', template: chatmlTemplate(undefined), bosToken: '', eosToken: '<|im_end|>', endOfTurn: '<|im_end|>' },
  'qwen2.5': {
    name: 'qwen2.5',
    template: chatmlTemplate('You are Qwen, created by Alibaba Cloud. You are a helpful assistant.'),
    bosToken: '',
    eosToken: '<|im_end|>',
    endOfTurn: '<|im_end|>',
  },
  llama3: { name: 'llama3', template: LLAMA3, bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>', endOfTurn: '<|eot_id|>' },
  mistral: { name: 'mistral', template: MISTRAL, bosToken: '<s>', eosToken: '</s>', endOfTurn: '</s>' },
};
