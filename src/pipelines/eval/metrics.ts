/**
 * Scoring as lm-evaluation-harness does it: multiple-choice acc / acc_norm from continuation
 * log-likelihoods, gsm8k's regex filters and exact_match.
 */

/** acc: the highest log-likelihood is the gold choice; acc_norm: the same after dividing by the choice's length. */
export function multipleChoiceOutcome(logprobs: readonly number[], choices: readonly string[], gold: number): { acc: number; accNorm: number } {
  if (logprobs.length !== choices.length || logprobs.length === 0) throw new RangeError(`${logprobs.length} scores for ${choices.length} choices`);
  // lm-eval's completion_len is float(len(choice)) over the choice text without the target delimiter.
  const normalized = logprobs.map((lp, i) => lp / Math.max(1, choiceLength(choices[i])));
  return { acc: argmax(logprobs) === gold ? 1 : 0, accNorm: argmax(normalized) === gold ? 1 : 0 };
}

/** Python's len(str): code points. */
export function choiceLength(choice: string): number {
  return [...choice].length;
}

/** First index of the maximum (numpy.argmax tie-break). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export const INVALID_ANSWER = '[invalid]';

/** gsm8k strict-match: regex "#### (\-?[0-9\.\,]+)", first match, group 1. */
export function gsm8kStrict(response: string): string {
  const match = /#### (-?[0-9.,]+)/.exec(response);
  return match ? match[1].trim() : INVALID_ANSWER;
}

/** gsm8k flexible-extract: regex "(-?[$0-9.,]{2,})|(-?[0-9]+)", last match (group_select -1), the non-empty group. */
export function gsm8kFlexible(response: string): string {
  const matches = [...response.matchAll(/(-?[$0-9.,]{2,})|(-?[0-9]+)/g)];
  if (matches.length === 0) return INVALID_ANSWER;
  const last = matches[matches.length - 1];
  return (last[1] ?? last[2] ?? '').trim() || INVALID_ANSWER;
}

/** gsm8k's exact_match: ignore_case, regexes_to_ignore [",", "\$", "(?s).*#### ", "\.$"], then string equality. */
export function gsm8kExactMatch(prediction: string, reference: string): number {
  const clean = (text: string): string => text.replace(/,/g, '').replace(/\$/g, '').replace(/[\s\S]*#### /g, '').replace(/\.$/g, '').toLowerCase();
  return clean(prediction) === clean(reference) ? 1 : 0;
}

/** Cuts a generation at the first of lm-eval's `until` strings. */
export function cutAtStops(text: string, until: readonly string[]): string {
  let end = text.length;
  for (const stop of until) {
    const at = text.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  return text.slice(0, end);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
