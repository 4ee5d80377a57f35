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

/**
 * One question reduced to what its curves need: its number of samples S_q, of correct ones, and the
 * multiplicity of each unique correct solution (any order). Built once per question (solutionIdentity runs
 * once per sample, never once per k), so a stage can stream samples and keep only tallies.
 */
export interface QuestionTally {
  level?: string;
  samples: number;
  correct: number;
  multiplicities: number[];
}

export function tallyQuestion(question: QuestionSamples): QuestionTally {
  const multiplicity = new Map<string, number>();
  let correct = 0;
  for (const sample of question.samples) {
    if (!sample.correct) continue;
    correct++;
    const id = solutionIdentity(sample.text);
    multiplicity.set(id, (multiplicity.get(id) ?? 0) + 1);
  }
  return {
    ...(question.level === undefined ? {} : { level: question.level }),
    samples: question.samples.length,
    correct,
    multiplicities: [...multiplicity.values()],
  };
}

/** Sums over one group of questions (all, or one level) for k = 1..maxK. */
class CurveSums {
  questions = 0;
  solved = 0;
  readonly coverage: Float64Array;
  readonly diversity: Float64Array;
  constructor(maxK: number) {
    this.coverage = new Float64Array(maxK);
    this.diversity = new Float64Array(maxK);
  }
}

/**
 * Adds 1 - C(S-m, k)/C(S, k) for k = 1..out.length, times `weight`, into `out`: the same product, in the
 * same order, as probabilityMissAll, carried from one k to the next instead of restarted (O(maxK)).
 */
function addHitCurve(out: Float64Array, total: number, marked: number, weight: number): void {
  let p = 1;
  for (let k = 1; k <= out.length; k++) {
    let miss: number;
    if (k > total - marked) miss = 0;
    else {
      p *= (total - marked - (k - 1)) / (total - (k - 1));
      miss = p;
    }
    out[k - 1] += weight * (1 - miss);
  }
}

/**
 * The curves of a source built one question at a time in one pass: memory O(levels x S), time O(S) per
 * question and distinct multiplicity of its solutions (at most sqrt(2 S) of them). `maxK` (the source's S,
 * the least S_q over its questions) must be known before the first question is added.
 */
export class MetricsAccumulator {
  private readonly all: CurveSums;
  private readonly levels = new Map<string, CurveSums>();
  private samples = 0;
  private correctSamples = 0;

  constructor(readonly maxK: number) {
    this.all = new CurveSums(maxK);
  }

  add(tally: QuestionTally): void {
    if (tally.samples < this.maxK)
      throw new RangeError(`a question has ${tally.samples} samples, fewer than S = ${this.maxK}`);
    this.samples += tally.samples;
    this.correctSamples += tally.correct;
    const groups = [this.all];
    if (tally.level !== undefined) {
      let level = this.levels.get(tally.level);
      if (!level) this.levels.set(tally.level, (level = new CurveSums(this.maxK)));
      groups.push(level);
    }
    const coverage = new Float64Array(this.maxK);
    const diversity = new Float64Array(this.maxK);
    if (tally.correct > 0) {
      addHitCurve(coverage, tally.samples, tally.correct, 1);
      const byMultiplicity = new Map<number, number>();
      for (const m of tally.multiplicities) byMultiplicity.set(m, (byMultiplicity.get(m) ?? 0) + 1);
      for (const [m, count] of byMultiplicity) addHitCurve(diversity, tally.samples, m, count);
    }
    for (const group of groups) {
      group.questions++;
      if (tally.correct > 0) group.solved++;
      for (let i = 0; i < this.maxK; i++) {
        group.coverage[i] += coverage[i];
        group.diversity[i] += diversity[i];
      }
    }
  }

  result(): SourceMetrics {
    const points = (sums: Float64Array, denominator: number): CurvePoint[] =>
      Array.from(sums, (sum, i) => ({ k: i + 1, value: denominator ? sum / denominator : 0 }));
    const byLevel: SourceMetrics['byLevel'] = {};
    for (const level of [...this.levels.keys()].sort()) {
      const sums = this.levels.get(level)!;
      byLevel[level] = {
        questions: sums.questions,
        solvedQuestions: sums.solved,
        coverage: points(sums.coverage, sums.questions),
        diversity: points(sums.diversity, sums.questions),
        diversitySolved: points(sums.diversity, sums.solved),
      };
    }
    return {
      questions: this.all.questions,
      samplesPerQuestion: this.maxK,
      samples: this.samples,
      correctSamples: this.correctSamples,
      solvedQuestions: this.all.solved,
      coverage: points(this.all.coverage, this.all.questions),
      diversity: points(this.all.diversity, this.all.questions),
      diversitySolved: points(this.all.diversity, this.all.solved),
      byLevel,
    };
  }
}

/** The least number of samples of any question (0 for none): the S the curves run to. No spread. */
export function leastSamples(questions: Iterable<{ samples: unknown[] | number }>): number {
  let least = Infinity;
  for (const q of questions) {
    const n = typeof q.samples === 'number' ? q.samples : q.samples.length;
    if (n < least) least = n;
  }
  return Number.isFinite(least) ? least : 0;
}

export function coverageCurve(questions: QuestionSamples[], maxK: number): CurvePoint[] {
  return curveByDefinition(questions, maxK, questionCoverageAtK);
}

export function diversityCurve(questions: QuestionSamples[], maxK: number): CurvePoint[] {
  return curveByDefinition(questions, maxK, questionDiversityAtK);
}

/** A question with at least one correct sample among all of its samples. */
export function isSolved(question: QuestionSamples): boolean {
  return question.samples.some((s) => s.correct);
}

/** diversity@k over solved questions: the sum over all questions divided by the number of solved ones. */
export function diversitySolvedCurve(questions: QuestionSamples[], maxK: number): CurvePoint[] {
  return curveByDefinition(questions.filter(isSolved), maxK, questionDiversityAtK);
}

/** The curve straight from the per-k definitions: for small inputs and tests, O(Q x maxK x S). */
function curveByDefinition(
  questions: QuestionSamples[],
  maxK: number,
  perQuestion: (q: QuestionSamples, k: number) => number,
): CurvePoint[] {
  const points: CurvePoint[] = [];
  for (let k = 1; k <= maxK; k++) {
    let sum = 0;
    for (const question of questions) sum += perQuestion(question, k);
    points.push({ k, value: questions.length ? sum / questions.length : 0 });
  }
  return points;
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

/**
 * Coverage and diversity curves for k = 1..S, overall and per difficulty level where there is one: one
 * pass over the questions (MetricsAccumulator).
 */
export function sourceMetrics(questions: QuestionSamples[]): SourceMetrics {
  const accumulator = new MetricsAccumulator(leastSamples(questions));
  for (const question of questions) accumulator.add(tallyQuestion(question));
  return accumulator.result();
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
