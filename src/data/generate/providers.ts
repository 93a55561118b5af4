/**
 * The four chat APIs `data generate` can call, as plain request builders and response readers:
 * OpenAI-compatible chat completions (openai, deepseek), ollama's /api/chat and Anthropic's
 * /v1/messages. Keys come from the environment; base URLs from a flag, then the provider's usual
 * environment variable, then the public endpoint.
 */
import { HaloError } from '../../util/errors.js';

export const BACKENDS = ['deepseek', 'openai', 'ollama', 'anthropic'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  model: string;
  system: string;
  messages: ChatTurn[];
  temperature: number;
  maxTokens: number;
  seed: number;
}

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface Provider {
  backend: Backend;
  defaultModel: string;
  /** environment variable holding the API key; undefined for ollama (local, no key) */
  keyVariable: string | undefined;
  baseUrl: string;
  build(request: ChatRequest): HttpRequest;
  /** the assistant text of a successful response, or undefined when the body has none */
  read(body: unknown): string | undefined;
}

interface ProviderSpec {
  defaultModel: string;
  keyVariable: string | undefined;
  baseVariable: string;
  defaultBase: string;
  path: string;
  headers(key: string | undefined): Record<string, string>;
  body(request: ChatRequest): unknown;
  read(body: unknown): string | undefined;
}

const field = (value: unknown, key: string): unknown => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined);
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function openAiBody(request: ChatRequest, withSeed: boolean): unknown {
  return {
    model: request.model,
    messages: [{ role: 'system', content: request.system }, ...request.messages],
    temperature: request.temperature,
    max_tokens: request.maxTokens,
    ...(withSeed ? { seed: request.seed } : {}),
  };
}

const readOpenAi = (body: unknown): string | undefined => {
  const choices = field(body, 'choices');
  return Array.isArray(choices) ? asString(field(field(choices[0], 'message'), 'content')) : undefined;
};

const SPECS: Record<Backend, ProviderSpec> = {
  openai: {
    defaultModel: 'gpt-4o-mini',
    keyVariable: 'OPENAI_API_KEY',
    baseVariable: 'OPENAI_BASE_URL',
    defaultBase: 'https://api.openai.com/v1',
    path: '/chat/completions',
    headers: (key) => ({ authorization: `Bearer ${key ?? ''}` }),
    body: (request) => openAiBody(request, true),
    read: readOpenAi,
  },
  deepseek: {
    defaultModel: 'deepseek-chat',
    keyVariable: 'DEEPSEEK_API_KEY',
    baseVariable: 'DEEPSEEK_BASE_URL',
    defaultBase: 'https://api.deepseek.com',
    path: '/chat/completions',
    headers: (key) => ({ authorization: `Bearer ${key ?? ''}` }),
    body: (request) => openAiBody(request, false),
    read: readOpenAi,
  },
  ollama: {
    defaultModel: 'llama3.2',
    keyVariable: undefined,
    baseVariable: 'OLLAMA_HOST',
    defaultBase: 'http://127.0.0.1:11434',
    path: '/api/chat',
    headers: () => ({}),
    body: (request) => ({
      model: request.model,
      messages: [{ role: 'system', content: request.system }, ...request.messages],
      stream: false,
      options: { temperature: request.temperature, seed: request.seed, num_predict: request.maxTokens },
    }),
    read: (body) => asString(field(field(body, 'message'), 'content')),
  },
  anthropic: {
    defaultModel: 'claude-haiku-4-5',
    keyVariable: 'ANTHROPIC_API_KEY',
    baseVariable: 'ANTHROPIC_BASE_URL',
    defaultBase: 'https://api.anthropic.com',
    path: '/v1/messages',
    headers: (key) => ({ 'x-api-key': key ?? '', 'anthropic-version': '2023-06-01' }),
    body: (request) => ({
      model: request.model,
      system: request.system,
      messages: request.messages,
      temperature: request.temperature,
      max_tokens: request.maxTokens,
    }),
    read: (body) => {
      const content = field(body, 'content');
      if (!Array.isArray(content)) return undefined;
      const texts = content.filter((block) => field(block, 'type') === 'text').map((block) => asString(field(block, 'text')) ?? '');
      return texts.length > 0 ? texts.join('') : undefined;
    },
  },
};

/** OLLAMA_HOST may be "host:port" or a URL; the others are URLs. */
function normalizeBase(base: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(base) ? base : `http://${base}`;
  return withScheme.replace(/\/+$/, '');
}

export function isBackend(name: string): name is Backend {
  return (BACKENDS as readonly string[]).includes(name);
}

export function createProvider(backend: Backend, options: { baseUrl?: string; env?: NodeJS.ProcessEnv } = {}): Provider {
  const env = options.env ?? process.env;
  const spec = SPECS[backend];
  let key: string | undefined;
  if (spec.keyVariable !== undefined) {
    key = env[spec.keyVariable];
    if (!key) {
      throw new HaloError('DATA_GENERATE_NO_KEY', `--backend ${backend} needs an API key in the environment variable ${spec.keyVariable}, which is not set`, {
        fix: `export ${spec.keyVariable}=<your key> (or pick another --backend, e.g. ollama for a local model)`,
      });
    }
  }
  const baseUrl = normalizeBase(options.baseUrl ?? env[spec.baseVariable] ?? spec.defaultBase);
  return {
    backend,
    defaultModel: spec.defaultModel,
    keyVariable: spec.keyVariable,
    baseUrl,
    build: (request) => ({
      url: `${baseUrl}${spec.path}`,
      headers: { 'content-type': 'application/json', ...spec.headers(key) },
      body: JSON.stringify(spec.body(request)),
    }),
    read: spec.read,
  };
}

/** Which environment variable overrides a backend's base URL (for docs and help text). */
export function baseUrlVariable(backend: Backend): string {
  return SPECS[backend].baseVariable;
}
