/** Hermes-style tool calls: one or several `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks. */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface ParsedCalls {
  calls: ToolCall[];
  /** Blocks that were present but not valid JSON calls. */
  invalid: number;
}

export function parseToolCalls(text: string): ParsedCalls {
  const calls: ToolCall[] = [];
  let invalid = 0;
  const blocks = [...text.matchAll(/<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g)];
  for (const block of blocks) {
    const body = block[1].trim();
    if (!body) continue;
    try {
      const parsed: unknown = JSON.parse(body);
      const call = asCall(parsed);
      if (call) calls.push(call);
      else invalid++;
    } catch {
      invalid++;
    }
  }
  return { calls, invalid };
}

function asCall(value: unknown): ToolCall | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const record = value as { name?: unknown; arguments?: unknown; parameters?: unknown };
  if (typeof record.name !== 'string') return null;
  let args: unknown = record.arguments ?? record.parameters ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args) as unknown;
    } catch {
      return null;
    }
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return null;
  return { name: record.name, arguments: args as Record<string, unknown> };
}

export function formatHermesCall(call: ToolCall): string {
  return `<tool_call>\n${JSON.stringify({ name: call.name, arguments: call.arguments })}\n</tool_call>`;
}
