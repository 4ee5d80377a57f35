// The verifier: final-answer extraction, normalisation and equivalence with the gold answer.
// Pure and synchronous (no Node built-ins, no I/O), so activities and workflows can both call it.

import { compareAnswers, type MatchReason } from './compare.js';
import {
  extractAnswer,
  extractionStyles,
  repairEscapes,
  type AnswerFormat,
  type ExtractionStyle,
} from './extract.js';
import { normalizeAnswer } from './normalize.js';
import { VerifyTimeout } from './numeric.js';

export type { AnswerFormat, ExtractionStyle } from './extract.js';
export { DEFAULT_EXTRACTION, extractAnswer, extractionStyles } from './extract.js';
export { normalizeAnswer } from './normalize.js';

export type VerdictReason = 'no-answer' | 'truncated' | 'timeout' | 'mismatch' | MatchReason;

export interface Verdict {
  extracted: string | null;
  normalized: string | null;
  correct: boolean;
  reason: VerdictReason | string;
}

export const VERIFIER_VERSION = 'wcse-verify-1.1.0';

export interface GradeOptions {
  /** 'length' means the output was cut off: it yields no answer, never a guess. */
  finishReason?: string | null;
  /** Where to look for the final answer, in order; defaults to DEFAULT_EXTRACTION[format]. */
  extraction?: readonly ExtractionStyle[];
  /**
   * Without a marked final answer, take the last number of the text (`verifier.lastNumberFallback`);
   * undefined: the format's default (on for gsm8k, off for math). Ignored when `extraction` is given.
   */
  lastNumberFallback?: boolean;
  /** Time limit for one comparison (default 200 ms); past it the verdict is 'timeout', not equal. */
  timeoutMs?: number;
}

/** Answers longer than this are not compared at all (a bound on work per sample). */
const MAX_ANSWER_CHARS = 5_000;
const DEFAULT_TIMEOUT_MS = 200;

export function gradeCompletion(
  completion: string,
  gold: string,
  format: AnswerFormat,
  options: GradeOptions = {},
): Verdict {
  if (options.finishReason === 'length')
    return { extracted: null, normalized: null, correct: false, reason: 'truncated' };
  const styles = options.extraction ?? extractionStyles(format, options.lastNumberFallback);
  const extracted = extractAnswer(completion, format, styles);
  if (extracted === null) return { extracted: null, normalized: null, correct: false, reason: 'no-answer' };
  const normalized = normalizeAnswer(extracted);
  if (normalized === '') return { extracted, normalized, correct: false, reason: 'no-answer' };
  // The extracted text, not its normalised form: a percent sign matters to the comparison.
  const match = answersEquivalent(extracted, extractGoldAnswer(gold, format), options.timeoutMs);
  return { extracted, normalized, correct: match.equal, reason: match.reason };
}

/** The gold answer inside a gold field: a bare answer, or a worked solution ending `#### N` or with `\boxed{}`. */
export function extractGoldAnswer(gold: string, format: AnswerFormat): string {
  if (format === 'gsm8k')
    return extractAnswer(gold, format, ['gsm8k-hashes', 'boxed', 'bare', 'last-number']) ?? gold.trim();
  const marked = extractAnswer(gold, format, ['boxed', 'minerva', 'answer-is']);
  if (marked !== null) return marked;
  // A short gold field is the answer itself ("2xy + 10x", "\\text{October 30}"); a worked solution ends in math.
  const isSolution = gold.length > 120 || gold.includes('\n') || /[.!?]\s+[A-Z]/.test(gold);
  return (isSolution ? extractAnswer(gold, format, ['last-math']) : null) ?? repairEscapes(gold).trim();
}

/** An answer written as a percentage: `50\\%`, `50%`, `50 percent`. */
function isPercent(answer: string): boolean {
  return /%|\bpercent(?:age)?\b|\bpct\b/i.test(answer);
}

/** Whether two extracted answers are equivalent, with the reason; never throws, never runs past the time limit. */
export function answersEquivalent(
  a: string,
  b: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): { equal: boolean; reason: VerdictReason } {
  if (a.length > MAX_ANSWER_CHARS || b.length > MAX_ANSWER_CHARS) return { equal: false, reason: 'timeout' };
  const deadline = Date.now() + timeoutMs;
  try {
    const na = normalizeAnswer(a);
    const nb = normalizeAnswer(b);
    const match = compareAnswers(na, nb, deadline);
    if (match.equal || isPercent(a) === isPercent(b)) return match;
    // One side is a percentage: also its value as a fraction of 1 (50\% = 0.5), beside the MATH convention
    // of dropping the sign (50\% = 50) that normalisation already applies.
    const [percent, other] = isPercent(a) ? [na, nb] : [nb, na];
    if (!/^-?\d+(?:\.\d+)?$/.test(percent)) return match;
    const fraction = compareAnswers(`\\frac{${percent}}{100}`, other, deadline);
    return fraction.equal ? { equal: true, reason: 'numeric' } : match;
  } catch (error) {
    if (error instanceof VerifyTimeout) return { equal: false, reason: 'timeout' };
    // A bug or an unforeseen input must not take a whole grading batch down: not equal, visibly.
    return { equal: false, reason: 'mismatch' };
  }
}
