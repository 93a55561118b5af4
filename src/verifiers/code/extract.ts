/**
 * Pulls the program out of a completion: a fenced block tagged with the wanted language first, then
 * any fenced block, then heuristics (an unterminated fence, text from the first code-looking line),
 * then the completion as is. The rule that fired is recorded so reward audits can see it.
 */
export type ExtractionRule = 'fence-language' | 'fence-any' | 'fence-unclosed' | 'heuristic-code-start' | 'whole-completion';

export interface ExtractedCode {
  code: string;
  rule: ExtractionRule;
}

const FENCE = /```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n([\s\S]*?)```/g;

/** Fence tags that count as each language. */
export const LANGUAGE_TAGS: Record<string, readonly string[]> = {
  python: ['python', 'py', 'python3'],
  c: ['c', 'h'],
  cpp: ['cpp', 'c++', 'cc', 'cxx', 'hpp'],
  rust: ['rust', 'rs'],
  go: ['go', 'golang'],
  csharp: ['csharp', 'cs', 'c#'],
  powershell: ['powershell', 'ps1', 'pwsh'],
  javascript: ['javascript', 'js'],
};

const CODE_START: Record<string, RegExp> = {
  python: /^(?:def |class |import |from |@|async def |if __name__)/m,
  c: /^(?:#include|int main|#define)/m,
  cpp: /^(?:#include|using namespace|int main|template\s*<)/m,
  rust: /^(?:use |fn |pub fn |struct |impl |mod )/m,
  go: /^package /m,
  csharp: /^(?:using |namespace |class |public )/m,
  powershell: /^(?:function |param|\$)/m,
  javascript: /^(?:function |const |let |import |export )/m,
};

export function extractCode(completion: string, language: string): ExtractedCode {
  const tags = LANGUAGE_TAGS[language] ?? [language];
  const blocks = [...completion.matchAll(FENCE)].map((match) => ({ tag: match[1].toLowerCase(), body: match[2] }));
  const tagged = blocks.filter((block) => tags.includes(block.tag));
  if (tagged.length > 0) return { code: longest(tagged.map((block) => block.body)), rule: 'fence-language' };
  if (blocks.length > 0) return { code: longest(blocks.map((block) => block.body)), rule: 'fence-any' };
  const open = /```[^\n]*\n([\s\S]*)$/.exec(completion);
  if (open) return { code: open[1], rule: 'fence-unclosed' };
  const start = CODE_START[language]?.exec(completion);
  if (start && start.index > 0 && isProse(completion.slice(0, start.index))) return { code: completion.slice(start.index), rule: 'heuristic-code-start' };
  return { code: completion, rule: 'whole-completion' };
}

/** Text before the first code-looking line is only dropped when it reads as prose, not as code. */
function isProse(prefix: string): boolean {
  return prefix.split('\n').every((line) => !/[=()[\]{};]/.test(line));
}

/** Several blocks of the wanted language: the longest one is the program; the rest are usually usage snippets. */
function longest(bodies: string[]): string {
  return bodies.reduce((best, body) => (body.length > best.length ? body : best), '');
}
