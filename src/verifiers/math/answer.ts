/** Finding the final answer in a completion, and normalising LaTeX / prose answers into mathjs syntax. */
export type AnswerRule = 'boxed' | 'hashes' | 'the-answer-is' | 'final-answer' | 'last-number';

export interface ExtractedAnswer {
  answer: string;
  rule: AnswerRule;
  /** Where the answer starts in the completion (used to judge whether work was shown before it). */
  index: number;
}

/** Contents of the last \boxed{...} (or \fbox{...}), honouring nested braces. */
function lastBoxed(text: string): { body: string; index: number } | null {
  let found: { body: string; index: number } | null = null;
  const pattern = /\\(?:boxed|fbox)\s*\{/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    let depth = 1;
    let end = match.index + match[0].length;
    while (end < text.length && depth > 0) {
      if (text[end] === '{') depth++;
      else if (text[end] === '}') depth--;
      end++;
    }
    if (depth === 0) found = { body: text.slice(match.index + match[0].length, end - 1), index: match.index };
  }
  return found;
}

const NUMBER = /-?\$?\d[\d,]*(?:\.\d+)?(?:\s*\/\s*\d+)?%?|-?\.\d+/g;

export function extractAnswer(text: string): ExtractedAnswer | null {
  const boxed = lastBoxed(text);
  if (boxed) return { answer: boxed.body.trim(), rule: 'boxed', index: boxed.index };
  const hashes = [...text.matchAll(/####\s*([^\n]+)/g)].pop();
  if (hashes?.index !== undefined) return { answer: hashes[1].trim(), rule: 'hashes', index: hashes.index };
  const says = [...text.matchAll(/the (?:final )?answer is[:\s]*\$?([^\n]+?)(?:\.\s|\.?$|\n)/gim)].pop();
  if (says?.index !== undefined) return { answer: says[1].trim(), rule: 'the-answer-is', index: says.index };
  const final = [...text.matchAll(/final answer[:\s]*\$?([^\n]+)/gi)].pop();
  if (final?.index !== undefined) return { answer: final[1].trim().replace(/\.$/, ''), rule: 'final-answer', index: final.index };
  const numbers = [...text.matchAll(NUMBER)];
  const last = numbers.pop();
  if (last?.index !== undefined) return { answer: last[0].trim(), rule: 'last-number', index: last.index };
  return null;
}

/** Turns an answer into mathjs syntax: LaTeX, thousands separators, units, percentages, mixed numbers. */
export function normalizeAnswer(raw: string): string {
  let text = raw.trim();
  text = text.replace(/^\$+|\$+$/g, '').replace(/\\\(|\\\)|\\\[|\\\]/g, '');
  text = text.replace(/\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}/g, '$1');
  text = text.replace(/\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, '($1)/($2)');
  text = text.replace(/\\[dt]?frac\s*(\d)\s*(\d)/g, '($1)/($2)');
  text = text.replace(/\\sqrt\s*\[([^\]]*)\]\s*\{([^{}]*)\}/g, 'nthRoot($2, $1)');
  text = text.replace(/\\sqrt\s*\{([^{}]*)\}/g, 'sqrt($1)').replace(/\\sqrt\s*(\d+)/g, 'sqrt($1)');
  text = text.replace(/\\pi\b/g, 'pi').replace(/\\(?:cdot|times)/g, '*').replace(/\\div/g, '/');
  text = text.replace(/\\left|\\right|\\!|\\,|\\;|\\ /g, '').replace(/\\%/g, '%').replace(/\\\$/g, '');
  text = text.replace(/\^\{([^{}]*)\}/g, '^($1)').replace(/[{}]/g, '');
  text = text.replace(/\$/g, '').replace(/(\d),(?=\d{3}\b)/g, '$1');
  // Mixed numbers: "2 1/2" is 2 + 1/2.
  text = text.replace(/^(-?)(\d+)\s+(\d+)\s*\/\s*(\d+)$/, '$1($2 + $3/$4)');
  // Units and trailing words: "18 dollars", "5 cm^2", "12 apples per day".
  const leading = /^(-?[\d.]+(?:\s*\/\s*[\d.]+)?%?)\s+[A-Za-z][A-Za-z\s.^\d/]*$/.exec(text);
  if (leading) text = leading[1];
  text = text.replace(/^([A-Za-z]\s*=\s*)/, '').replace(/\.$/, '').trim();
  return text;
}
