// Data-quality metrics of a sampled set (Bansal et al. 2024, section 3).
//
// coverage@k: the expected fraction of questions with at least one correct solution among k samples drawn
//   without replacement from the S sampled (the unbiased pass@k estimator of Chen et al. 2021).
// diversity@k: the expected number of *unique* correct solutions per question among k samples drawn the
//   same way. Two solutions are the same when their texts are equal after `solutionIdentity` (trimmed,
//   whitespace runs collapsed): a different derivation is a different solution, reformatting is not.
//   Reported two ways, which differ only in the denominator:
//   - over all questions: the sum over questions of E[unique correct among k], divided by the number of
//     questions (unsolved questions count as 0);
//   - over solved questions: the same sum divided by the number of *solved* questions, those with at least
//     one correct sample among all S. At k = S this is the mean number of unique correct solutions of a
//     solved question, the figure behind the paper's "keeping one correct solution per question reduces
//     diversity from 11 to 1". (It is not E[unique | at least one correct among k], which is 1 at k = 1.)

export const UNIQUE_SOLUTION_DEFINITION =
  'Two correct solutions are the same solution when their texts are equal after trimming and collapsing ' +
  'every run of whitespace to one space; any other difference (a different step, number or word) makes ' +
  'them different solutions.';

export function solutionIdentity(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

/** One question's samples: whether each is correct and, if so, its identity for uniqueness. */
export interface QuestionSamples {
  questionId: string;
  level?: string;
  samples: Array<{ correct: boolean; text: string }>;
}

/** Probability that a random k-subset of S items misses all m marked items: C(S-m, k) / C(S, k). */
function probabilityMissAll(total: number, marked: number, k: number): number {
  if (marked === 0) return 1;
  if (k > total - marked) return 0;
  let p = 1;
  for (let i = 0; i < k; i++) p *= (total - marked - i) / (total - i);
  return p;
}

export function questionCoverageAtK(question: QuestionSamples, k: number): number {
  const total = question.samples.length;
  const correct = question.samples.filter((s) => s.correct).length;
  return 1 - probabilityMissAll(total, correct, Math.min(k, total));
}

export function questionDiversityAtK(question: QuestionSamples, k: number): number {
  const total = question.samples.length;
  const multiplicity = new Map<string, number>();
  for (const sample of question.samples) {
    if (!sample.correct) continue;
    const id = solutionIdentity(sample.text);
    multiplicity.set(id, (multiplicity.get(id) ?? 0) + 1);
  }
  let expected = 0;
  for (const m of multiplicity.values()) expected += 1 - probabilityMissAll(total, m, Math.min(k, total));
  return expected;
}

export interface CurvePoint {
  k: number;
  value: number;
}

function curve(
  questions: QuestionSamples[],
  maxK: number,
  perQuestion: (q: QuestionSamples, k: number) => number,
) {
  const points: CurvePoint[] = [];
  for (let k = 1; k <= maxK; k++) {
    let sum = 0;
    for (const question of questions) sum += perQuestion(question, k);
    points.push({ k, value: questions.length ? sum / questions.length : 0 });
  }
  return points;
}

export function coverageCurve(questions: QuestionSamples[], maxK: number): CurvePoint[] {
  return curve(questions, maxK, questionCoverageAtK);
}

export function diversityCurve(questions: QuestionSamples[], maxK: number): CurvePoint[] {
  return curve(questions, maxK, questionDiversityAtK);
}

/** A question with at least one correct sample among all of its samples. */
export function isSolved(question: QuestionSamples): boolean {
  return question.samples.some((s) => s.correct);
}

/** diversity@k over solved questions: the sum over all questions divided by the number of solved ones. */
export function diversitySolvedCurve(questions: QuestionSamples[], maxK: number): CurvePoint[] {
  return curve(questions.filter(isSolved), maxK, questionDiversityAtK);
}

export interface SourceMetrics {
  questions: number;
  /** S: the samples per question the curves run to (k = 1..S). */
  samplesPerQuestion: number;
  samples: number;
  correctSamples: number;
  /** Questions with at least one correct sample among all S: the denominator of `diversitySolved`. */
  solvedQuestions: number;
  coverage: CurvePoint[];
  /** diversity@k averaged over all questions. */
  diversity: CurvePoint[];
  /** diversity@k averaged over solved questions (all points 0 when none is solved). */
  diversitySolved: CurvePoint[];
  byLevel: Record<
    string,
    {
      questions: number;
      solvedQuestions: number;
      coverage: CurvePoint[];
      diversity: CurvePoint[];
      diversitySolved: CurvePoint[];
    }
  >;
}

/** Coverage and diversity curves for k = 1..S, overall and per difficulty level where there is one. */
export function sourceMetrics(questions: QuestionSamples[]): SourceMetrics {
  const samplesPerQuestion = Math.min(...questions.map((q) => q.samples.length));
  const maxK = Number.isFinite(samplesPerQuestion) ? samplesPerQuestion : 0;
  const byLevel: SourceMetrics['byLevel'] = {};
  const levels = [
    ...new Set(questions.map((q) => q.level).filter((l): l is string => l !== undefined)),
  ].sort();
  for (const level of levels) {
    const subset = questions.filter((q) => q.level === level);
    byLevel[level] = {
      questions: subset.length,
      solvedQuestions: subset.filter(isSolved).length,
      coverage: coverageCurve(subset, maxK),
      diversity: diversityCurve(subset, maxK),
      diversitySolved: diversitySolvedCurve(subset, maxK),
    };
  }
  return {
    questions: questions.length,
    samplesPerQuestion: maxK,
    samples: questions.reduce((sum, q) => sum + q.samples.length, 0),
    correctSamples: questions.reduce((sum, q) => sum + q.samples.filter((s) => s.correct).length, 0),
    solvedQuestions: questions.filter(isSolved).length,
    coverage: coverageCurve(questions, maxK),
    diversity: diversityCurve(questions, maxK),
    diversitySolved: diversitySolvedCurve(questions, maxK),
    byLevel,
  };
}

/** Wilson score interval for a binomial proportion (95% by default). */
export function wilsonInterval(
  successes: number,
  trials: number,
  z = 1.959964,
): { low: number; high: number } {
  if (trials === 0) return { low: 0, high: 1 };
  const p = successes / trials;
  const denominator = 1 + (z * z) / trials;
  const centre = (p + (z * z) / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials))) / denominator;
  // At 0 or `trials` successes the bound is exactly 0 or 1; rounding would leave it a hair inside.
  return {
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === trials ? 1 : Math.min(1, centre + half),
  };
}
