// Cohen's kappa on a hand-computed table, its undefined case, and the stratified FPR sample the human sheet
// and the judge share.
import { describe, expect, it } from 'vitest';
import { cohensKappa, type Label } from '../../core/agreement.js';
import { countByLevel, stratifiedSample } from '../../core/fpr-sample.js';

function pairs(counts: Array<[Label, Label, number]>): Array<[Label, Label]> {
  return counts.flatMap(([a, b, n]) => Array.from({ length: n }, () => [a, b] as [Label, Label]));
}

describe('cohensKappa', () => {
  it('matches a hand-computed 2x2 table', () => {
    // n = 10: both invalid 3, both valid 4, human-only invalid 1, judge-only invalid 2.
    // p_o = 7/10; human INVALID 4/10, judge INVALID 5/10; p_e = .4*.5 + .6*.5 = .5; kappa = .2/.5 = .4.
    // SE = sqrt(.7*.3 / (10 * .25)) = sqrt(.084) = .289828; 95% CI .4 -/+ 1.959964*.289828 = [-.16805, .96805].
    const result = cohensKappa(
      pairs([
        ['invalid', 'invalid', 3],
        ['valid', 'valid', 4],
        ['invalid', 'valid', 1],
        ['valid', 'invalid', 2],
      ]),
    );
    expect(result.n).toBe(10);
    expect(result.observed).toBeCloseTo(0.7, 12);
    expect(result.expected).toBeCloseTo(0.5, 12);
    expect(result.kappa).toBeCloseTo(0.4, 12);
    expect(result.ci!.low).toBeCloseTo(-0.16805, 4);
    expect(result.ci!.high).toBeCloseTo(0.96805, 4);
    expect(result.firstInvalidOnly).toBe(1);
    expect(result.secondInvalidOnly).toBe(2);
  });

  it('is 1 on perfect agreement and below 0 on systematic disagreement', () => {
    const perfect = cohensKappa(
      pairs([
        ['invalid', 'invalid', 2],
        ['valid', 'valid', 8],
      ]),
    );
    expect(perfect.kappa).toBe(1);
    const opposite = cohensKappa(
      pairs([
        ['invalid', 'valid', 5],
        ['valid', 'invalid', 5],
      ]),
    );
    expect(opposite.kappa).toBe(-1);
    expect(opposite.ci!.low).toBe(-1);
  });

  it('is undefined (null) when both raters give one verdict to everything, and on no items', () => {
    expect(cohensKappa(pairs([['valid', 'valid', 6]])).kappa).toBeNull();
    expect(cohensKappa([]).kappa).toBeNull();
    expect(cohensKappa([]).observed).toBeNull();
  });
});

interface Item {
  id: string;
  level?: string;
}

const levels: Item[] = [
  ...Array.from({ length: 600 }, (_, i) => ({ id: `a${i}`, level: 'Level 1' })),
  ...Array.from({ length: 300 }, (_, i) => ({ id: `b${i}`, level: 'Level 2' })),
  ...Array.from({ length: 100 }, (_, i) => ({ id: `c${i}`, level: 'Level 5' })),
];
const options = (count: number, seed = 0) => ({
  count,
  seed,
  keyOf: (item: Item) => item.id,
  levelOf: (item: Item) => item.level,
});

describe('stratifiedSample', () => {
  it('allocates in proportion to the levels', () => {
    const chosen = stratifiedSample(levels, options(50));
    expect(chosen).toHaveLength(50);
    expect(countByLevel(chosen, (item) => item.level)).toEqual({
      'Level 1': 30,
      'Level 2': 15,
      'Level 5': 5,
    });
    const odd = stratifiedSample(levels, options(7, 3));
    // 7 * (.6, .3, .1) = 4.2, 2.1, .7: Sainte-Laguë gives 4, 2, 1.
    expect(countByLevel(odd, (item) => item.level)).toEqual({ 'Level 1': 4, 'Level 2': 2, 'Level 5': 1 });
  });

  it('is nested: the human sample of 50 lies inside the judge sample of 500', () => {
    for (const seed of [0, 1, 9]) {
      const small = new Set(stratifiedSample(levels, options(50, seed)).map((item) => item.id));
      const large = new Set(stratifiedSample(levels, options(500, seed)).map((item) => item.id));
      expect([...small].every((id) => large.has(id))).toBe(true);
    }
  });

  it('depends on the seed, keeps the original order, and is uniform without levels', () => {
    const a = stratifiedSample(levels, options(50, 0)).map((item) => item.id);
    const b = stratifiedSample(levels, options(50, 1)).map((item) => item.id);
    expect(a).not.toEqual(b);
    const indices = a.map((id) => levels.findIndex((item) => item.id === id));
    expect(indices).toEqual([...indices].sort((x, y) => x - y));
    const flat: Item[] = levels.map(({ id }) => ({ id }));
    const uniform = stratifiedSample(flat, options(100));
    expect(uniform).toHaveLength(100);
    expect(countByLevel(uniform, (item) => item.level)).toEqual({});
    // A uniform 100 of this list holds about 60 of the first 600 (binomial sd ~4.9), not exactly 60.
    const early = uniform.filter((item) => item.id.startsWith('a')).length;
    expect(early).toBeGreaterThan(40);
    expect(early).toBeLessThan(80);
    expect(stratifiedSample(levels, options(5000))).toHaveLength(1000);
  });
});
