// The one-pass metrics (MetricsAccumulator behind sourceMetrics) against the implementation they replaced,
// kept here only as an oracle: per k it re-derived every question's unique solutions (O(Q x S^2)). On random
// sources of many shapes the two agree: coverage exactly (the same products in the same order), diversity
// to 1e-12 relative (the sum over solutions is grouped by multiplicity).
import { describe, expect, it } from 'vitest';
import { solutionIdentity, sourceMetrics, type QuestionSamples } from '../../core/metrics.js';
import { seededRandom } from './random.js';

function probabilityMissAll(total: number, marked: number, k: number): number {
  if (marked === 0) return 1;
  if (k > total - marked) return 0;
  let p = 1;
  for (let i = 0; i < k; i++) p *= (total - marked - i) / (total - i);
  return p;
}
function oldCoverageAtK(question: QuestionSamples, k: number): number {
  const total = question.samples.length;
  const correct = question.samples.filter((s) => s.correct).length;
  return 1 - probabilityMissAll(total, correct, Math.min(k, total));
}
function oldDiversityAtK(question: QuestionSamples, k: number): number {
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
function oldCurve(qs: QuestionSamples[], maxK: number, f: (q: QuestionSamples, k: number) => number) {
  const points = [];
  for (let k = 1; k <= maxK; k++) {
    let sum = 0;
    for (const q of qs) sum += f(q, k);
    points.push({ k, value: qs.length ? sum / qs.length : 0 });
  }
  return points;
}
const solved = (q: QuestionSamples) => q.samples.some((s) => s.correct);
function oldSourceMetrics(questions: QuestionSamples[]) {
  const least = Math.min(...questions.map((q) => q.samples.length));
  const maxK = Number.isFinite(least) ? least : 0;
  const curves = (qs: QuestionSamples[]) => ({
    solvedQuestions: qs.filter(solved).length,
    coverage: oldCurve(qs, maxK, oldCoverageAtK),
    diversity: oldCurve(qs, maxK, oldDiversityAtK),
    diversitySolved: oldCurve(qs.filter(solved), maxK, oldDiversityAtK),
  });
  const levels = [...new Set(questions.map((q) => q.level).filter((l) => l !== undefined))].sort();
  return {
    questions: questions.length,
    samplesPerQuestion: maxK,
    samples: questions.reduce((sum, q) => sum + q.samples.length, 0),
    correctSamples: questions.reduce((sum, q) => sum + q.samples.filter((s) => s.correct).length, 0),
    ...curves(questions),
    byLevel: Object.fromEntries(
      levels.map((level) => {
        const subset = questions.filter((q) => q.level === level);
        return [level, { questions: subset.length, ...curves(subset) }];
      }),
    ),
  };
}

/** Asserts equal structure and numbers equal to 1e-12 relative (counts thus exactly), naming the first difference. */
function expectAgree(now: unknown, before: unknown, where: string): void {
  if (typeof before === 'number') {
    expect(typeof now, where).toBe('number');
    const tolerance = 1e-12 * Math.max(1, Math.abs(before));
    expect(Math.abs((now as number) - before), `${where}: ${now as number} vs ${before}`).toBeLessThanOrEqual(
      tolerance,
    );
  } else if (before && typeof before === 'object') {
    expect(Object.keys(now as object).sort(), where).toEqual(Object.keys(before).sort());
    for (const [key, value] of Object.entries(before))
      expectAgree((now as Record<string, unknown>)[key], value, `${where}.${key}`);
  } else expect(now, where).toEqual(before);
}

describe('one-pass metrics agree with the per-k implementation they replaced', () => {
  it('on 300 random sources (S up to 40, duplicate-heavy and duplicate-free, with and without levels)', () => {
    const random = seededRandom(912);
    let compared = 0;
    for (let c = 0; c < 300; c++) {
      const questions: QuestionSamples[] = [];
      const count = random.int(0, 12);
      const size = random.int(1, 40);
      const poolSize = random.pick([1, 2, 3, 10, 1000]);
      for (let q = 0; q < count; q++) {
        const rate = random.pick([0, 0.05, 0.3, 0.7, 1]);
        const samples = Array.from({ length: size + (random.next() < 0.3 ? random.int(0, 5) : 0) }, () => ({
          correct: random.next() < rate,
          text: `  answer ${random.int(0, poolSize)}\n is  ${random.int(0, 1)} `,
        }));
        const level = random.pick(['Level 1', 'Level 3', undefined]);
        questions.push({ questionId: `q${q}`, ...(level ? { level } : {}), samples });
      }
      const now = sourceMetrics(questions);
      const before = oldSourceMetrics(questions);
      // Coverage: bit for bit.
      expect(now.coverage).toEqual(before.coverage);
      for (const level of Object.keys(before.byLevel))
        expect(now.byLevel[level].coverage).toEqual(before.byLevel[level].coverage);
      expectAgree(now, before, `source ${c}`);
      compared += now.samples;
    }
    expect(compared).toBeGreaterThan(10_000);
  });

  it('handles 200k questions (the old Math.min(...spread) threw past ~125k)', () => {
    const questions: QuestionSamples[] = Array.from({ length: 200_000 }, (_, q) => ({
      questionId: `q${q}`,
      samples: [
        { correct: q % 2 === 0, text: 'a' },
        { correct: true, text: 'b' },
      ],
    }));
    const metrics = sourceMetrics(questions);
    expect(metrics.samplesPerQuestion).toBe(2);
    expect(metrics.coverage[0].value).toBeCloseTo(0.75, 12);
    expect(metrics.diversity[1].value).toBeCloseTo(1.5, 12);
    expect(() => oldSourceMetrics(questions)).toThrow(RangeError);
  });
});
