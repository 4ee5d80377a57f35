// The interval estimators the report prints: Wilson's score interval for one proportion and Newcombe's
// hybrid score interval for a difference, against published values and their defining equation.
import { describe, expect, it } from 'vitest';
import { wilsonInterval } from '../../core/metrics.js';
import { differenceInterval, relativeGainPercent } from '../../core/report/model.js';
import type { Interval } from '../../core/results.js';
import { seededRandom } from './random.js';

const Z95 = 1.959964;

/** An interval as the papers print it: both ends to 4 decimals. */
const printed = (ci: Interval) => [Number(ci.low.toFixed(4)), Number(ci.high.toFixed(4))];

describe('wilsonInterval', () => {
  it('matches the published Wilson intervals (Newcombe 1998, Statistics in Medicine 17:857, method 3)', () => {
    const published: Array<[number, number, number, number]> = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [successes, trials, low, high] of published) {
      expect(printed(wilsonInterval(successes, trials))).toEqual([low, high]);
    }
  });

  it('its bounds solve the score equation (p - q)^2 = z^2 q (1 - q) / n and contain p', () => {
    const random = seededRandom(95);
    for (let c = 0; c < 500; c++) {
      const trials = random.int(1, 400);
      const successes = random.int(0, trials);
      const z = random.pick([1, 1.644854, Z95, 2.575829]);
      const p = successes / trials;
      const ci = wilsonInterval(successes, trials, z);
      expect(ci.low).toBeLessThanOrEqual(p);
      expect(ci.high).toBeGreaterThanOrEqual(p);
      for (const q of [ci.low, ci.high]) {
        expect((p - q) ** 2).toBeCloseTo((z * z * q * (1 - q)) / trials, 12);
      }
      // Mirror symmetry: the interval of the failures is the interval of the successes reflected.
      const mirror = wilsonInterval(trials - successes, trials, z);
      expect(mirror.low).toBeCloseTo(1 - ci.high, 12);
      expect(mirror.high).toBeCloseTo(1 - ci.low, 12);
    }
  });

  it('narrows with more trials and with a smaller z; all-or-nothing ends at 0 or 1', () => {
    const width = (ci: { low: number; high: number }) => ci.high - ci.low;
    expect(width(wilsonInterval(50, 100))).toBeLessThan(width(wilsonInterval(5, 10)));
    expect(width(wilsonInterval(5, 10, 1.644854))).toBeLessThan(width(wilsonInterval(5, 10)));
    expect(wilsonInterval(0, 12).low).toBe(0);
    expect(wilsonInterval(12, 12).high).toBeCloseTo(1, 15);
    expect(wilsonInterval(12, 12).low).toBeGreaterThan(0.7);
  });

  it('no trials: the whole unit interval', () => {
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
  });
});

describe('differenceInterval', () => {
  const interval = (a: number, m: number, b: number, n: number) =>
    differenceInterval(a / m, wilsonInterval(a, m), b / n, wilsonInterval(b, n));

  it('matches the published hybrid score intervals (Newcombe 1998, Statistics in Medicine 17:873, method 10)', () => {
    const published: Array<[number, number, number, number, number, number]> = [
      [56, 70, 48, 80, 0.0524, 0.3339],
      [9, 10, 3, 10, 0.1705, 0.809],
      [5, 56, 0, 29, -0.0381, 0.1926],
      [0, 10, 0, 20, -0.1611, 0.2775],
    ];
    for (const [a, m, b, n, low, high] of published)
      expect(printed(interval(a, m, b, n))).toEqual([low, high]);
  });

  it('contains the difference, and swapping the arms negates the interval', () => {
    const random = seededRandom(1998);
    for (let c = 0; c < 300; c++) {
      const m = random.int(1, 200);
      const n = random.int(1, 200);
      const a = random.int(0, m);
      const b = random.int(0, n);
      const ci = interval(a, m, b, n);
      expect(ci.low).toBeLessThanOrEqual(a / m - b / n + 1e-12);
      expect(ci.high).toBeGreaterThanOrEqual(a / m - b / n - 1e-12);
      const swapped = interval(b, n, a, m);
      expect(swapped.low).toBeCloseTo(-ci.high, 12);
      expect(swapped.high).toBeCloseTo(-ci.low, 12);
    }
  });
});

describe('relativeGainPercent', () => {
  it('is (WC - SE) / SE in percent, undefined without an SE value', () => {
    expect(relativeGainPercent(0.3, 0.25)).toBeCloseTo(20, 12);
    expect(relativeGainPercent(0.2, 0.25)).toBeCloseTo(-20, 12);
    expect(relativeGainPercent(0.2, 0)).toBeNull();
  });
});
