// Numeric side of equivalence, on top of mathjs: exact rational evaluation (BigInt) for constant
// expressions, and evaluation at fixed pseudo-random points for expressions with variables.

import { parse, type MathNode } from 'mathjs';
import { latexToMathjs } from './latex-to-mathjs.js';

export class VerifyTimeout extends Error {
  override name = 'VerifyTimeout';
}

export function checkDeadline(deadline: number): void {
  if (Date.now() > deadline) throw new VerifyTimeout('comparison deadline passed');
}

export interface Rational {
  n: bigint;
  d: bigint; // > 0
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function rational(n: bigint, d: bigint): Rational {
  if (d === 0n) throw new RangeError('division by zero');
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

/** "12", "-0.125", "1e-3", ".5" -> exact rational; null when not a plain decimal literal. */
export function parseDecimal(text: string): Rational | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d{1,4}))?$/i.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const digits = (m[2] || '0') + (m[3] ?? '');
  let n = BigInt(digits);
  let d = 10n ** BigInt((m[3] ?? '').length);
  const exponent = Number(m[4] ?? 0);
  if (exponent > 0) n *= 10n ** BigInt(exponent);
  if (exponent < 0) d *= 10n ** BigInt(-exponent);
  return rational(m[1] === '-' ? -n : n, d);
}

export function rationalEquals(a: Rational, b: Rational): boolean {
  return a.n === b.n && a.d === b.d;
}

export function rationalToNumber(r: Rational): number {
  const value = Number(r.n) / Number(r.d);
  if (Number.isFinite(value)) return value;
  // Huge numerator and denominator: scale both down to a common size first.
  const shift = BigInt(Math.max(r.n.toString(2).length, r.d.toString(2).length) - 1000);
  return Number(r.n >> shift) / Number(r.d >> shift);
}

/** True when the decimal expansion of r terminates (denominator has only factors 2 and 5). */
export function isTerminating(r: Rational): boolean {
  let d = r.d;
  while (d % 2n === 0n) d /= 2n;
  while (d % 5n === 0n) d /= 5n;
  return d === 1n;
}

const MAX_BITS = 40_000;

function bits(x: bigint): number {
  return (x < 0n ? -x : x).toString(16).length * 4;
}

function powRational(base: Rational, exponent: Rational): Rational | null {
  if (exponent.d !== 1n) {
    // Exact only for perfect powers, e.g. 8^(1/3), 4^(3/2).
    const root = Number(exponent.d);
    if (root > 12 || base.n < 0n) return null;
    const rn = integerRoot(base.n, root);
    const rd = integerRoot(base.d, root);
    if (rn === null || rd === null) return null;
    return powRational(rational(rn, rd), rational(exponent.n, 1n));
  }
  const e = exponent.n;
  if ((e < 0n ? -e : e) > 100_000n) return null;
  const size = Math.max(bits(base.n), bits(base.d)) * Number(e < 0n ? -e : e);
  if (size > MAX_BITS) return null;
  if (e >= 0n) return rational(base.n ** e, base.d ** e);
  if (base.n === 0n) return null;
  return rational(base.d ** -e, base.n ** -e);
}

function integerRoot(x: bigint, k: number): bigint | null {
  if (x < 0n) return null;
  if (x < 2n) return x;
  const guess = BigInt(Math.round(Math.pow(Number(x), 1 / k)));
  for (const candidate of [guess - 1n, guess, guess + 1n])
    if (candidate >= 0n && candidate ** BigInt(k) === x) return candidate;
  return null;
}

function factorial(r: Rational): Rational | null {
  if (r.d !== 1n || r.n < 0n || r.n > 3000n) return null;
  let acc = 1n;
  for (let i = 2n; i <= r.n; i++) acc *= i;
  return rational(acc, 1n);
}

/** Exact value of a constant mathjs tree built from numbers and + - * / ^ ! sqrt, or null. */
export function exactValue(node: MathNode, deadline: number): Rational | null {
  checkDeadline(deadline);
  const n = node as MathNode & {
    type: string;
    value?: unknown;
    op?: string;
    fn?: unknown;
    args?: MathNode[];
    content?: MathNode;
    name?: string;
  };
  switch (n.type) {
    case 'ConstantNode':
      return typeof n.value === 'number' && Number.isFinite(n.value) ? parseDecimal(String(n.value)) : null;
    case 'ParenthesisNode':
      return exactValue(n.content!, deadline);
    case 'OperatorNode': {
      const args = (n.args ?? []).map((arg) => exactValue(arg, deadline));
      if (args.some((a) => a === null)) return null;
      const [a, b] = args as Rational[];
      switch (n.fn as unknown as string) {
        case 'unaryMinus':
          return rational(-a.n, a.d);
        case 'unaryPlus':
          return a;
        case 'add':
          return rational(a.n * b.d + b.n * a.d, a.d * b.d);
        case 'subtract':
          return rational(a.n * b.d - b.n * a.d, a.d * b.d);
        case 'multiply':
          return rational(a.n * b.n, a.d * b.d);
        case 'divide':
          return b.n === 0n ? null : rational(a.n * b.d, a.d * b.n);
        case 'pow':
          return powRational(a, b);
        case 'factorial':
          return factorial(a);
        default:
          return null;
      }
    }
    case 'FunctionNode': {
      const name = (n.fn as unknown as { name?: string }).name;
      if (name !== 'sqrt' || n.args?.length !== 1) return null;
      const arg = exactValue(n.args[0], deadline);
      return arg === null ? null : powRational(arg, rational(1n, 2n));
    }
    default:
      return null;
  }
}

const KNOWN_NAMES = new Set(['pi', 'e', 'i', 'Infinity']);

export interface CompiledExpression {
  mathjs: string;
  node: MathNode;
  symbols: string[];
  evaluate: (scope: Record<string, number>) => unknown;
}

const MAX_MATHJS_CHARS = 600;

/** LaTeX -> compiled mathjs expression; throws UnsupportedLatex (or a mathjs SyntaxError) when it cannot. */
export function compileLatex(latex: string): CompiledExpression {
  const mathjs = latexToMathjs(latex);
  if (mathjs.length > MAX_MATHJS_CHARS) throw new VerifyTimeout('expression too large');
  const node = parse(mathjs);
  const symbols = new Set<string>();
  node.traverse((child, path) => {
    const c = child as MathNode & { type: string; name?: string };
    if (c.type === 'SymbolNode' && path !== 'fn' && !KNOWN_NAMES.has(c.name!)) symbols.add(c.name!);
  });
  const code = node.compile();
  return { mathjs, node, symbols: [...symbols].sort(), evaluate: (scope) => code.evaluate({ ...scope }) };
}

/** Deterministic sample points (seeded LCG): reproducible verdicts, and allowed in Temporal workflow code. */
export function samplePoints(symbols: string[], count: number): Record<string, number>[] {
  let state = 0x2545f491;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const points: Record<string, number>[] = [];
  for (let k = 0; k < count; k++) {
    const point: Record<string, number> = {};
    // Positive non-integers away from 0 and 1 keep logs, roots and poles well behaved.
    for (const s of symbols) point[s] = 0.35 + 1.9 * next();
    points.push(point);
  }
  return points;
}

/** Flattens a mathjs result to complex pairs, or null when it is not numeric. */
export function toComplexList(value: unknown): Array<[number, number]> | null {
  if (typeof value === 'number') return [[value, 0]];
  if (typeof value === 'boolean') return null;
  if (value && typeof value === 'object') {
    const v = value as {
      re?: number;
      im?: number;
      toArray?: () => unknown[];
      isBigNumber?: boolean;
      size?: () => number[];
    };
    if (typeof v.re === 'number' && typeof v.im === 'number') return [[v.re, v.im]];
    if (typeof v.toArray === 'function') return toComplexList(v.toArray());
    if (Array.isArray(value)) {
      const out: Array<[number, number]> = [];
      for (const item of value) {
        const inner = toComplexList(item);
        if (inner === null) return null;
        out.push(...inner);
      }
      return out;
    }
  }
  return null;
}

export function shapeOf(value: unknown): string {
  const v = value as { size?: () => number[] };
  if (value && typeof value === 'object' && typeof v.size === 'function') return v.size().join('x');
  return 'scalar';
}

export function closeNumbers(a: number, b: number, relTol = 1e-9): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= relTol * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) < 1e-12;
}

export function closeComplexLists(a: Array<[number, number]>, b: Array<[number, number]>): boolean {
  if (a.length !== b.length) return false;
  return a.every(([re, im], k) => {
    const [re2, im2] = b[k];
    const scale = Math.max(Math.hypot(re, im), Math.hypot(re2, im2));
    const tol = Math.max(1e-12, 1e-9 * scale);
    // Overflow (2^100000 vs 2^100001 both give Infinity) says nothing about equality.
    if (![re, im, re2, im2].every(Number.isFinite)) return false;
    return Math.abs(re - re2) <= tol && Math.abs(im - im2) <= tol;
  });
}

export { latexToMathjs };
