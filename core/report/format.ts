// Number formatting for the report: one place decides how a percentage, an interval, a FLOPs count or a
// duration is written, so the markdown, the headline and the charts agree. Pure (no I/O).
import type { Interval } from '../results.js';

/** A proportion in [0, 1] as a percentage: 0.4231 -> "42.3%". */
export function percent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return `${(value * 100).toFixed(digits)}%`;
}

/** A proportion's interval in percent without the sign: {0.38, 0.46} -> "[38.0, 46.0]". */
export function percentInterval(ci: Interval | null | undefined, digits = 1): string {
  if (!ci) return '';
  return `[${(ci.low * 100).toFixed(digits)}, ${(ci.high * 100).toFixed(digits)}]`;
}

/** A signed difference in percentage points: 0.032 -> "+3.2 pp". */
export function points(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const text = value.toFixed(digits);
  return `${value > 0 ? '+' : value === 0 || text === (0).toFixed(digits) ? '±' : ''}${text} pp`;
}

/** A signed relative change in percent: 12.5 -> "+12.5%". */
export function signedPercent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const text = value.toFixed(digits);
  return `${value > 0 ? '+' : value === 0 || text === (0).toFixed(digits) ? '±' : ''}${text}%`;
}

/** An integer with thousands separators: 1234567 -> "1,234,567". */
export function integer(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const rounded = Math.round(value);
  const sign = rounded < 0 ? '-' : '';
  return sign + String(Math.abs(rounded)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A large count in scientific notation: 1.62e15 -> "1.62e15". */
export function scientific(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  return value.toExponential(digits).replace('e+', 'e');
}

/** Dollars: small amounts keep four decimals, larger ones two. */
export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  if (value === 0) return '$0';
  return Math.abs(value) < 1 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

/** Model size in the usual shorthand: 9e9 -> "9B", 2.7e10 -> "27B", 1.5e8 -> "150M". */
export function params(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, unit] of units) {
    if (value >= scale) return `${trim(value / scale)}${unit}`;
  }
  return String(value);
}

/** Seconds as "42.0 s", "3 min 5 s", "2 h 4 min". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return 'n/a';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const totalSeconds = Math.round(seconds);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const rest = totalSeconds % 60;
  if (hours > 0) return `${hours} h ${minutes} min`;
  return `${minutes} min ${rest} s`;
}

/** A plain decimal with up to `digits` decimals and no trailing zeros: 2.50 -> "2.5". */
export function trim(value: number, digits = 2): string {
  return String(Number(value.toFixed(digits)));
}

/** A decimal with fixed digits, or "n/a". */
export function fixed(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toFixed(digits);
}
