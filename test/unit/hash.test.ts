// Seeded subsets (problem limits, the judge's sample) and the hash under them must be uniform over the
// id shapes real files have: raw FNV-1a ranked `line-N` ids by their length and last digit.
import { describe, expect, it } from 'vitest';
import { seededSubset, unitHash } from '../../core/hash.js';

const gsm8kIds = Array.from({ length: 7473 }, (_, i) => `line-${i + 1}`);

describe('seededSubset', () => {
  it('draws a 500-id subset of GSM8K-shaped ids that looks random in length and last digit', () => {
    for (const seed of [0, 1, 7, 42]) {
      const chosen = seededSubset(gsm8kIds, 500, seed, (id) => id);
      expect(chosen).toHaveLength(500);
      // 6,474 of 7,473 ids have four digits (86.6%); a random 500 holds 433 +/- 8 of them.
      const fourDigits = chosen.filter((id) => id.length === 'line-1000'.length).length;
      expect(fourDigits).toBeGreaterThan(400);
      expect(fourDigits).toBeLessThan(470);
      // Raw FNV-1a gave exactly 50 of each last digit; a random draw almost never does.
      const lastDigits = new Map<string, number>();
      for (const id of chosen) lastDigits.set(id.slice(-1), (lastDigits.get(id.slice(-1)) ?? 0) + 1);
      expect([...lastDigits.values()].every((count) => count === 50)).toBe(false);
    }
  });

  it('keeps file order, is stable, grows by adding and changes with the seed', () => {
    const small = seededSubset(gsm8kIds, 100, 3, (id) => id);
    const large = seededSubset(gsm8kIds, 300, 3, (id) => id);
    expect(small).toEqual(seededSubset([...gsm8kIds].reverse(), 100, 3, (id) => id).reverse());
    expect(small.every((id) => large.includes(id))).toBe(true);
    const order = small.map((id) => gsm8kIds.indexOf(id));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(seededSubset(gsm8kIds, 100, 4, (id) => id)).not.toEqual(small);
    expect(seededSubset(gsm8kIds, 10_000, 3, (id) => id)).toBe(gsm8kIds);
  });
});

describe('unitHash', () => {
  it('spreads sequential ids evenly over [0, 1)', () => {
    const buckets = new Array<number>(10).fill(0);
    for (const id of gsm8kIds) {
      const u = unitHash(`1\u0000${id}`);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      buckets[Math.floor(u * 10)]++;
    }
    // 747 expected per bucket; a uniform draw stays within +/- 90 (over 3 standard deviations).
    for (const count of buckets) expect(Math.abs(count - 747.3)).toBeLessThan(90);
  });
});
