/** How a program's stdout is compared with a case's expected output. */
export type MatchMode = 'exact' | 'contains' | 'regex' | 'numeric';
export const MATCH_MODES: readonly MatchMode[] = ['exact', 'contains', 'regex', 'numeric'];

/** Trailing spaces per line and trailing blank lines never matter (judges ignore them too). */
function normalizeLines(text: string): string {
  return text.replace(/\r\n/g, '\n').split('\n').map((line) => line.trimEnd()).join('\n').trimEnd();
}

export function outputMatches(actual: string, expected: string, mode: MatchMode, tolerance = 1e-6): boolean {
  switch (mode) {
    case 'exact':
      return normalizeLines(actual) === normalizeLines(expected);
    case 'contains':
      return normalizeLines(actual).includes(normalizeLines(expected));
    case 'regex':
      return new RegExp(expected, 'm').test(actual);
    case 'numeric': {
      const tokens = (text: string) => text.trim().split(/\s+/).filter(Boolean);
      const got = tokens(actual);
      const want = tokens(expected);
      if (got.length !== want.length) return false;
      return want.every((token, index) => {
        const a = Number(got[index]);
        const b = Number(token);
        if (Number.isNaN(a) || Number.isNaN(b)) return got[index] === token;
        return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));
      });
    }
  }
}
