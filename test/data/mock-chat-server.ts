/**
 * A chat-API server on 127.0.0.1 for the `data generate` tests: it speaks the OpenAI-compatible
 * /chat/completions, ollama /api/chat and Anthropic /v1/messages shapes, records every request, and
 * can be told to fail (429 / 500 / 401), repeat itself, answer slowly or reply without JSON.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface MockBehaviour {
  /** status codes to answer with, one per request, before answering normally */
  failures: number[];
  /** maps the request number (#N in the prompt) to the sample number the reply uses; identity by default */
  sampleOf: (n: number) => number;
  delayMs: number;
  /** reply text without a JSON object for these request numbers */
  malformed: Set<number>;
  /** the key the server accepts (Bearer / x-api-key); ollama takes none */
  key: string;
}

export interface MockChatServer {
  url: string;
  requests: RecordedRequest[];
  behaviour: MockBehaviour;
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = body.messages as Array<{ role: string; content: string }>;
  return messages.filter((m) => m.role === 'user').pop()?.content ?? '';
}

export async function startMockChatServer(partial: Partial<MockBehaviour> = {}): Promise<MockChatServer> {
  const behaviour: MockBehaviour = { failures: [], sampleOf: (n) => n, delayMs: 0, malformed: new Set(), key: 'test-key', ...partial };
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((request, response) => {
    void (async () => {
      const text = await readBody(request);
      const body = JSON.parse(text) as Record<string, unknown>;
      const path = request.url ?? '';
      requests.push({ path, headers: request.headers, body });
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(payload));
      };
      if (behaviour.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
      const failure = behaviour.failures.shift();
      if (failure !== undefined) return send(failure, { error: { message: `injected ${failure}` } }, failure === 429 ? { 'retry-after': '0' } : {});
      const isAnthropic = path === '/v1/messages';
      const isOllama = path === '/api/chat';
      if (!isOllama) {
        const presented = isAnthropic ? request.headers['x-api-key'] : request.headers.authorization?.replace(/^Bearer /, '');
        if (presented !== behaviour.key) return send(401, { error: { message: 'invalid api key' } });
      }
      const n = Number(/#(\d+)/.exec(lastUserText(body))?.[1] ?? 0);
      const sample = behaviour.sampleOf(n);
      const reply = behaviour.malformed.has(n)
        ? 'Sorry, I cannot help with that.'
        : `Here you go:\n\`\`\`json\n${JSON.stringify({ prompt: `Question ${sample}: what is ${sample} + ${sample}?`, response: `${sample} + ${sample} = ${2 * sample}.` })}\n\`\`\``;
      if (isAnthropic) return send(200, { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: reply }], stop_reason: 'end_turn' });
      if (isOllama) return send(200, { model: body.model, message: { role: 'assistant', content: reply }, done: true });
      if (path === '/chat/completions' || path === '/v1/chat/completions') {
        return send(200, { id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }] });
      }
      return send(404, { error: { message: `no route ${path}` } });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    behaviour,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
