// Agreement between two raters of the same solutions (human and LLM judge): Cohen's kappa. Pure.
import { wilsonInterval } from './metrics.js';
import type { Interval } from './results.js';

export const KAPPA_DEFINITION =
  "Cohen's kappa between the human and the judge on the solutions both rated VALID or INVALID: " +
  '(p_o - p_e) / (1 - p_e), where p_o is the fraction they agree on and p_e the agreement expected by ' +
  "chance from each rater's own INVALID rate. 1 is perfect agreement, 0 no better than chance. 95% " +
  'interval: kappa ± 1.96 × sqrt(p_o (1 - p_o) / (n (1 - p_e)²)) (Cohen 1960), clipped to [-1, 1] (zero width when they agree on every solution). ' +
  'Undefined (shown as n/a) when both raters gave one and the same verdict to every solution.';

export type Label = 'valid' | 'invalid';

export interface Agreement {
  /** Solutions both raters labelled. */
  n: number;
  /** Counts by (first rater, second rater). */
  bothInvalid: number;
  bothValid: number;
  firstInvalidOnly: number;
  secondInvalidOnly: number;
  /** Observed agreement p_o; null when n = 0. */
  observed: number | null;
  /** Chance agreement p_e; null when n = 0. */
  expected: number | null;
  /** null when n = 0 or p_e = 1 (kappa undefined). */
  kappa: number | null;
  ci: Interval | null;
}

/** Cohen's kappa of two raters' labels of the same items (pairs in any order). */
export function cohensKappa(pairs: ReadonlyArray<readonly [Label, Label]>, z = 1.959964): Agreement {
  let bothInvalid = 0;
  let bothValid = 0;
  let firstInvalidOnly = 0;
  let secondInvalidOnly = 0;
  for (const [first, second] of pairs) {
    if (first === 'invalid' && second === 'invalid') bothInvalid++;
    else if (first === 'valid' && second === 'valid') bothValid++;
    else if (first === 'invalid') firstInvalidOnly++;
    else secondInvalidOnly++;
  }
  const n = pairs.length;
  const base = { n, bothInvalid, bothValid, firstInvalidOnly, secondInvalidOnly };
  if (n === 0) return { ...base, observed: null, expected: null, kappa: null, ci: null };
  const observed = (bothInvalid + bothValid) / n;
  const firstInvalid = (bothInvalid + firstInvalidOnly) / n;
  const secondInvalid = (bothInvalid + secondInvalidOnly) / n;
  const expected = firstInvalid * secondInvalid + (1 - firstInvalid) * (1 - secondInvalid);
  if (expected >= 1) return { ...base, observed, expected, kappa: null, ci: null };
  const kappa = (observed - expected) / (1 - expected);
  const se = Math.sqrt((observed * (1 - observed)) / (n * (1 - expected) ** 2));
  const ci = { low: Math.max(-1, kappa - z * se), high: Math.min(1, kappa + z * se) };
  return { ...base, observed, expected, kappa, ci };
}

/** A human-labelled solution and the judge's verdict on it (null: not judged; unparsed: no verdict). */
export interface RatedPair {
  human: Label;
  judge: Label | 'unparsed' | null;
}

export interface RateEntry {
  /** Solutions rated VALID or INVALID. */
  n: number;
  invalid: number;
  rate: number | null;
  ci: Interval | null;
}

/** Human FPR, the judge's FPR on the same solutions, and their agreement (one source). */
export interface HumanJudgeComparison {
  human: RateEntry;
  /** The judge on the human-labelled solutions it gave a verdict on (the kappa's items). */
  judgeOnSame: RateEntry;
  /** Human-labelled solutions the judge did not rate, or rated without a verdict. */
  notJudged: number;
  agreement: Agreement;
}

function rate(labels: Label[]): RateEntry {
  const invalid = labels.filter((label) => label === 'invalid').length;
  const n = labels.length;
  return { n, invalid, rate: n ? invalid / n : null, ci: n ? wilsonInterval(invalid, n) : null };
}

export function compareHumanJudge(pairs: readonly RatedPair[]): HumanJudgeComparison {
  const both = pairs.filter(
    (pair): pair is { human: Label; judge: Label } => pair.judge === 'valid' || pair.judge === 'invalid',
  );
  return {
    human: rate(pairs.map((pair) => pair.human)),
    judgeOnSame: rate(both.map((pair) => pair.judge)),
    notJudged: pairs.length - both.length,
    agreement: cohensKappa(both.map((pair) => [pair.human, pair.judge] as const)),
  };
}
