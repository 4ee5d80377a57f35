// Equivalence of two parsed answers. Structure first (tuple order, interval ends, set membership),
// then values: exact rationals, then mathjs evaluation at fixed points for anything symbolic.

import { parseAnswer, type AnswerNode } from './parse.js';
import {
  checkDeadline,
  VerifyTimeout,
  closeComplexLists,
  compileLatex,
  exactValue,
  isTerminating,
  parseDecimal,
  rational,
  rationalEquals,
  rationalToNumber,
  samplePoints,
  shapeOf,
  toComplexList,
  type CompiledExpression,
  type Rational,
} from './numeric.js';

export type MatchReason =
  | 'numeric'
  | 'symbolic'
  | 'string'
  | 'set'
  | 'tuple'
  | 'interval'
  | 'matrix'
  | 'relation'
  | 'choice'
  | 'text';

export interface Match {
  equal: boolean;
  reason: MatchReason | 'mismatch';
}

const YES = (reason: MatchReason): Match => ({ equal: true, reason });
const NO: Match = { equal: false, reason: 'mismatch' };

export function compareNodes(a: AnswerNode, b: AnswerNode, deadline: number): Match {
  checkDeadline(deadline);
  if (a.kind === 'choice' || b.kind === 'choice') return compareChoice(a, b);
  if (a.kind === 'relation' && a.ops[0] === '=label') return compareLabelled(a, b, deadline);
  if (b.kind === 'relation' && b.ops[0] === '=label') return compareLabelled(b, a, deadline);
  if (a.kind === 'relation' || b.kind === 'relation') return compareRelations(a, b, deadline);
  if (a.kind === 'union' || b.kind === 'union' || a.kind === 'interval' || b.kind === 'interval')
    return compareIntervals(a, b, deadline);
  if (a.kind === 'list' || b.kind === 'list') return compareLists(a, b, deadline);
  if (a.kind === 'matrix' || b.kind === 'matrix') return compareMatrices(a, b, deadline);
  if (a.kind === 'text' || b.kind === 'text') return compareText(a, b);
  return compareExpressions(a.latex, b.latex, deadline);
}

function letterOf(node: AnswerNode): string | null {
  if (node.kind === 'choice') return node.letter;
  if (node.kind === 'expr' && /^[A-Ea-e]$/.test(node.latex.trim())) return node.latex.trim().toUpperCase();
  if (node.kind === 'text' && /^[a-e]$/.test(node.text)) return node.text.toUpperCase();
  return null;
}

function compareChoice(a: AnswerNode, b: AnswerNode): Match {
  const la = letterOf(a);
  const lb = letterOf(b);
  return la !== null && la === lb ? YES('choice') : NO;
}

function compactLatex(latex: string): string {
  return latex.replace(/\s+/g, '').replace(/[{}]/g, '');
}

function compareText(a: AnswerNode, b: AnswerNode): Match {
  const ta = a.kind === 'text' ? a.text : a.kind === 'expr' ? a.latex.toLowerCase() : null;
  const tb = b.kind === 'text' ? b.text : b.kind === 'expr' ? b.latex.toLowerCase() : null;
  if (ta === null || tb === null) return NO;
  return ta.replace(/\s+/g, '') === tb.replace(/\s+/g, '') ? YES('text') : NO;
}

/** "x = 3" against anything: an equation on the other side is compared as an equation, else the value. */
function compareLabelled(
  a: Extract<AnswerNode, { kind: 'relation' }>,
  b: AnswerNode,
  deadline: number,
): Match {
  const value: AnswerNode = { kind: 'expr', latex: a.terms[1] };
  if (b.kind === 'relation' && b.ops[0] === '=label')
    return compareNodes(value, { kind: 'expr', latex: b.terms[1] }, deadline);
  if (b.kind === 'relation' && b.ops.every((op) => op === '=')) {
    return compareRelations({ kind: 'relation', terms: a.terms, ops: ['='] }, b, deadline);
  }
  return compareNodes(value, b, deadline);
}

// ---------- relations ----------

function compareRelations(a: AnswerNode, b: AnswerNode, deadline: number): Match {
  if (a.kind === 'relation' && b.kind === 'relation') {
    if (a.ops.join() === b.ops.join() && a.terms.length === b.terms.length) {
      let allLinks = true;
      for (let k = 0; k < a.ops.length && allLinks; k++) {
        allLinks = sameRelationLink(
          a.terms[k],
          a.terms[k + 1],
          b.terms[k],
          b.terms[k + 1],
          a.ops[k],
          deadline,
        );
      }
      if (allLinks) return YES('relation');
    }
    const ia = relationToIntervals(a);
    const ib = relationToIntervals(b);
    if (ia !== null && ib !== null) return compareIntervals(ia, ib, deadline);
    return NO;
  }
  const relation = (a.kind === 'relation' ? a : b) as Extract<AnswerNode, { kind: 'relation' }>;
  const other = a.kind === 'relation' ? b : a;
  // "|r-s| = 16", "a+b = 7", "m+n = 7": the value of the quantity asked for, written as an equation.
  const value = quantityValue(relation);
  if (value !== null && (other.kind === 'expr' || other.kind === 'text')) {
    return compareNodes({ kind: 'expr', latex: value }, other, deadline);
  }
  const asInterval = relationToIntervals(relation);
  if (
    asInterval !== null &&
    (other.kind === 'interval' ||
      other.kind === 'union' ||
      (other.kind === 'list' && other.bracket === 'pair'))
  ) {
    return compareIntervals(asInterval, other, deadline);
  }
  return NO;
}

/** l1 op r1 and l2 op r2 say the same: (l1 - r1) = c (l2 - r2) for a constant c (c > 0 for < and \le). */
function sameRelationLink(
  l1: string,
  r1: string,
  l2: string,
  r2: string,
  op: string,
  deadline: number,
): boolean {
  if (compactLatex(l1) === compactLatex(l2) && compactLatex(r1) === compactLatex(r2)) return true;
  try {
    const d1 = compileLatex(`(${l1})-(${r1})`);
    const d2 = compileLatex(`(${l2})-(${r2})`);
    const symbols = [...new Set([...d1.symbols, ...d2.symbols])];
    let ratio: number | null = null;
    for (const point of samplePoints(symbols, 5)) {
      checkDeadline(deadline);
      const v1 = toComplexList(d1.evaluate(point));
      const v2 = toComplexList(d2.evaluate(point));
      if (v1 === null || v2 === null || v1.length !== 1 || v2.length !== 1) return false;
      const [x1, y1] = v1[0];
      const [x2, y2] = v2[0];
      if (Math.abs(y1) > 1e-12 || Math.abs(y2) > 1e-12) return false;
      if (Math.abs(x2) < 1e-12 || Math.abs(x1) < 1e-12) {
        if (Math.abs(x2) < 1e-12 && Math.abs(x1) < 1e-12) continue;
        return false;
      }
      const r = x1 / x2;
      if (ratio === null) ratio = r;
      else if (Math.abs(r - ratio) > 1e-9 * Math.max(1, Math.abs(ratio))) return false;
    }
    if (ratio === null) return false;
    return op === '<' || op === '\\le' ? ratio > 0 : true;
  } catch (error) {
    if (error instanceof VerifyTimeout) throw error;
    return false;
  }
}

/**
 * The right side of `quantity = constant` when the left side names a quantity rather than an equation to
 * solve: an absolute value (`|r-s| = 16`) or plain letters joined by + or - or written side by side
 * (`a+b = 7`, `m+n = 7`, `xy = 6`), and the right side a non-zero constant. With a coefficient, a power or
 * one letter (`2x+z = 1`, `a^2+b = 0`, `2x = 6`) it is an equation, and null.
 */
function quantityValue(r: Extract<AnswerNode, { kind: 'relation' }>): string | null {
  if (r.terms.length !== 2 || r.ops[0] !== '=') return null;
  const [lhs, rhs] = r.terms.map((t) => t.trim());
  // Letters outside LaTeX command names (\sqrt, \pi, \frac are not variables).
  if (rhs === '' || /[a-zA-Z]/.test(rhs.replace(/\\[a-zA-Z]+/g, ' ')) || /^[-+]?0*(?:\.0*)?$/.test(rhs))
    return null;
  const absolute = /^\|[^|]+\|$/.test(lhs);
  const letters = /^[a-zA-Z](?:\s*[-+]?\s*[a-zA-Z])+$/.test(lhs);
  return absolute || letters ? rhs : null;
}

/** "a < x \le b", "x \ge 5", "1 \le |z| \le 3/2" as intervals (null when not a one-variable range). */
function relationToIntervals(r: Extract<AnswerNode, { kind: 'relation' }>): AnswerNode | null {
  if (!r.ops.every((op) => op === '<' || op === '\\le')) return null;
  const infinity = (sign: string): AnswerNode => ({ kind: 'expr', latex: `${sign}\\infty` });
  const expr = (latex: string): AnswerNode => ({ kind: 'expr', latex });
  let lo: AnswerNode, hi: AnswerNode, loClosed: boolean, hiClosed: boolean, variable: string;
  if (r.terms.length === 3 && isVariable(r.terms[1])) {
    [lo, variable, hi] = [expr(r.terms[0]), r.terms[1], expr(r.terms[2])];
    [loClosed, hiClosed] = [r.ops[0] === '\\le', r.ops[1] === '\\le'];
  } else if (r.terms.length === 2 && isVariable(r.terms[0])) {
    [lo, variable, hi, loClosed, hiClosed] = [
      infinity('-'),
      r.terms[0],
      expr(r.terms[1]),
      false,
      r.ops[0] === '\\le',
    ];
  } else if (r.terms.length === 2 && isVariable(r.terms[1])) {
    [lo, variable, hi, loClosed, hiClosed] = [
      expr(r.terms[0]),
      r.terms[1],
      infinity(''),
      r.ops[0] === '\\le',
      false,
    ];
  } else return null;
  const interval: AnswerNode = { kind: 'interval', lo, hi, loClosed, hiClosed };
  if (/^\|.*\|$/.test(variable.trim()) && lo.kind === 'expr' && hi.kind === 'expr') {
    // a \le |z| \le b  <=>  z in [-b, -a] U [a, b]
    const mirrored: AnswerNode = {
      kind: 'interval',
      lo: expr(`-(${hi.latex})`),
      hi: expr(`-(${lo.latex})`),
      loClosed: hiClosed,
      hiClosed: loClosed,
    };
    return { kind: 'union', parts: [mirrored, interval] };
  }
  return interval;
}

function isVariable(term: string): boolean {
  const t = term.trim();
  return /^[a-zA-Z](?:_\{?\w+\}?)?$/.test(t) || /^[a-zA-Z]\([a-zA-Z]\)$/.test(t) || /^\|[a-zA-Z]\|$/.test(t);
}

// ---------- intervals ----------

function asIntervalParts(node: AnswerNode): AnswerNode[] | null {
  if (node.kind === 'interval') return [node];
  if (node.kind === 'union') {
    const parts = node.parts.map(asIntervalParts);
    return parts.some((p) => p === null) ? null : (parts.flat() as AnswerNode[]);
  }
  if (node.kind === 'list' && node.bracket === 'pair') {
    return [{ kind: 'interval', lo: node.items[0], hi: node.items[1], loClosed: false, hiClosed: false }];
  }
  if (node.kind === 'list' && node.bracket === 'set') return [node]; // {-1} \cup [0, 7)
  if (node.kind === 'relation') {
    const intervals = relationToIntervals(node);
    return intervals === null ? null : asIntervalParts(intervals);
  }
  return null;
}

function compareIntervals(a: AnswerNode, b: AnswerNode, deadline: number): Match {
  const pa = asIntervalParts(a);
  const pb = asIntervalParts(b);
  if (pa === null || pb === null || pa.length !== pb.length) return NO;
  const used = new Set<number>();
  for (const x of pa) {
    const k = pb.findIndex((y, j) => !used.has(j) && sameIntervalPart(x, y, deadline));
    if (k < 0) return NO;
    used.add(k);
  }
  return YES('interval');
}

function sameIntervalPart(x: AnswerNode, y: AnswerNode, deadline: number): boolean {
  if (x.kind === 'interval' && y.kind === 'interval') {
    return (
      x.loClosed === y.loClosed &&
      x.hiClosed === y.hiClosed &&
      compareNodes(x.lo, y.lo, deadline).equal &&
      compareNodes(x.hi, y.hi, deadline).equal
    );
  }
  if (x.kind === 'list' && y.kind === 'list') return compareLists(x, y, deadline).equal;
  return false;
}

// ---------- lists ----------

function compareLists(a: AnswerNode, b: AnswerNode, deadline: number): Match {
  if (a.kind !== 'list' || b.kind !== 'list') {
    const list = (a.kind === 'list' ? a : b) as Extract<AnswerNode, { kind: 'list' }>;
    const other = a.kind === 'list' ? b : a;
    if (list.items.length === 1) return compareNodes(list.items[0], other, deadline);
    const decimal = decimalCommaReading(list);
    if (decimal !== null && other.kind === 'expr') return compareExpressions(decimal, other.latex, deadline);
    if (other.kind === 'matrix') return compareMatrices(a, b, deadline);
    return NO;
  }
  const ordered = (x: typeof a) => x.bracket === 'tuple' || x.bracket === 'pair';
  if (ordered(a) || ordered(b)) {
    // A set is not a tuple; a bare list ("1, 3") may stand for the tuple it lists in order.
    if (a.bracket === 'set' || b.bracket === 'set' || a.items.length !== b.items.length) return NO;
    return a.items.every((item, k) => compareNodes(item, b.items[k], deadline).equal) ? YES('tuple') : NO;
  }
  // Sets: every element of each side is on the other side (a repeated element does not make a new one).
  const covers = (xs: AnswerNode[], ys: AnswerNode[]) =>
    xs.every((x) => ys.some((y) => compareNodes(x, y, deadline).equal));
  return covers(a.items, b.items) && covers(b.items, a.items) ? YES('set') : NO;
}

/** "1,22" written with a decimal comma (European style): only when it cannot be a thousands group. */
function decimalCommaReading(list: Extract<AnswerNode, { kind: 'list' }>): string | null {
  const m = /^(\d+),(\d+)$/.exec(list.raw.trim());
  if (!m || (m[2].length === 3 && m[1] !== '0')) return null;
  return `${m[1]}.${m[2]}`;
}

// ---------- matrices ----------

function compareMatrices(a: AnswerNode, b: AnswerNode, deadline: number): Match {
  const va = matrixValues(a, deadline);
  const vb = matrixValues(b, deadline);
  if (va === null || vb === null) {
    if (a.kind === 'matrix' && b.kind === 'matrix')
      return compactLatex(a.latex) === compactLatex(b.latex) ? YES('string') : NO;
    return NO;
  }
  if (va.length !== vb.length) return NO;
  for (let k = 0; k < va.length; k++) if (!closeComplexLists(va[k], vb[k])) return NO;
  return YES('matrix');
}

/** A matrix (or a tuple standing for a vector) evaluated at the sample points, flattened. */
function matrixValues(node: AnswerNode, deadline: number): Array<Array<[number, number]>> | null {
  let latex: string;
  if (node.kind === 'matrix' || node.kind === 'expr') latex = node.latex;
  else if (
    node.kind === 'list' &&
    (node.bracket === 'tuple' || node.bracket === 'pair') &&
    node.items.every((i) => i.kind === 'expr')
  ) {
    latex = `\\begin{pmatrix}${node.items.map((i) => (i as { latex: string }).latex).join('\\\\')}\\end{pmatrix}`;
  } else return null;
  try {
    const compiled = compileLatex(latex);
    const out: Array<Array<[number, number]>> = [];
    for (const point of samplePoints(compiled.symbols, 3)) {
      checkDeadline(deadline);
      const value = compiled.evaluate(point);
      if (shapeOf(value) === 'scalar') return null;
      const flat = toComplexList(value);
      if (flat === null) return null;
      out.push(flat);
    }
    return out;
  } catch (error) {
    if (error instanceof VerifyTimeout) throw error;
    return null;
  }
}

// ---------- expressions ----------

/** A plain number literal: integer, decimal, a/b, \frac{a}{b}, scientific notation, mixed number. */
export function numberLiteral(latex: string): Rational | null {
  const t = latex.replace(/\s+/g, '');
  const plain = parseDecimal(t.replace(/\\times10\^\{?([+-]?\d+)\}?$/, 'e$1'));
  if (plain !== null) return plain;
  const fraction = /^(-?)(?:\\frac\{(-?\d+)\}\{(-?\d+)\}|(\d+)\/(\d+))$/.exec(t);
  if (fraction) {
    const n = BigInt(fraction[2] ?? fraction[4]);
    const d = BigInt(fraction[3] ?? fraction[5]);
    if (d === 0n) return null;
    return rational(fraction[1] === '-' ? -n : n, d);
  }
  return null;
}

/** `decimal` is a rounded (or truncated) decimal of the exact rational `exact`, which no decimal writes exactly. */
function roundedDecimalOf(decimal: string, exact: Rational): boolean {
  const places = decimalPlaces(decimal);
  if (places === null || isTerminating(exact)) return false;
  return isRoundingOf(rationalToNumber(parseDecimal(decimal.trim())!), rationalToNumber(exact), places);
}

/** `decimal` is `value` correctly rounded to `places` decimal places (half a unit in the last place). */
function isRoundingOf(decimal: number, value: number, places: number): boolean {
  return Math.abs(decimal - value) <= 0.5 * 10 ** -places * (1 + 1e-9);
}

function decimalPlaces(latex: string): number | null {
  const m = /^-?\d*\.(\d+)$/.exec(latex.trim());
  if (!m) return null;
  const significant = latex.replace(/[-.]/g, '').replace(/^0+/, '').length;
  // Four significant digits: 0.3333 stands for 1/3, but 3.14 does not stand for pi.
  return significant >= 4 ? m[1].length : null;
}

export function compareExpressions(a: string, b: string, deadline: number): Match {
  if (compactLatex(a) === compactLatex(b)) return YES('string');
  const infinity = (x: string) =>
    /^\+?\\infty$/.test(compactLatex(x)) ? 1 : /^-\\infty$/.test(compactLatex(x)) ? -1 : 0;
  if (infinity(a) !== 0 || infinity(b) !== 0) return infinity(a) === infinity(b) ? YES('string') : NO;
  const ra = numberLiteral(a);
  const rb = numberLiteral(b);
  if (ra !== null && rb !== null) {
    if (rationalEquals(ra, rb)) return YES('numeric');
    return roundedDecimalOf(a, rb) || roundedDecimalOf(b, ra) ? YES('numeric') : NO;
  }
  let ca: CompiledExpression, cb: CompiledExpression;
  try {
    ca = compileLatex(a);
    cb = compileLatex(b);
  } catch (error) {
    if (error instanceof VerifyTimeout) throw error;
    return NO; // not understood: only the string comparison above could say equal
  }
  const symbols = [...new Set([...ca.symbols, ...cb.symbols])];
  if (symbols.length === 0) return compareConstants(a, b, ca, cb, deadline);
  for (const point of samplePoints(symbols, 4)) {
    checkDeadline(deadline);
    const va = safeValue(ca, point);
    const vb = safeValue(cb, point);
    if (va === null || vb === null || !closeComplexLists(va, vb)) return NO;
  }
  return YES('symbolic');
}

function safeValue(c: CompiledExpression, point: Record<string, number>): Array<[number, number]> | null {
  try {
    return toComplexList(c.evaluate(point));
  } catch {
    return null;
  }
}

function compareConstants(
  a: string,
  b: string,
  ca: CompiledExpression,
  cb: CompiledExpression,
  deadline: number,
): Match {
  const ea = exactValue(ca.node, deadline);
  const eb = exactValue(cb.node, deadline);
  if (ea !== null && eb !== null) return rationalEquals(ea, eb) ? YES('numeric') : NO;
  const va = safeValue(ca, {});
  const vb = safeValue(cb, {});
  if (va === null || vb === null) return NO;
  if (closeComplexLists(va, vb)) {
    // Floats agree; an exact side that is a terminating decimal must match a decimal side exactly.
    const exact = ea ?? eb;
    const other = ea === null ? a : b;
    if (exact !== null && numberLiteral(other) !== null && !rationalEquals(exact, numberLiteral(other)!))
      return NO;
    return YES('numeric');
  }
  // A rounded decimal (>= 3 significant digits) of a value that no decimal can write exactly.
  if (va.length === 1 && vb.length === 1 && va[0][1] === 0 && vb[0][1] === 0) {
    for (const [dec, exact, value] of [
      [a, eb, vb[0][0]],
      [b, ea, va[0][0]],
    ] as const) {
      const places = decimalPlaces(dec);
      if (places === null || (exact !== null && isTerminating(exact))) continue;
      const decimalValue = rationalToNumber(parseDecimal(dec.trim())!);
      if (isRoundingOf(decimalValue, value, places)) return YES('numeric');
    }
  }
  return NO;
}

export function compareAnswers(normalizedA: string, normalizedB: string, deadline: number): Match {
  return compareNodes(parseAnswer(normalizedA), parseAnswer(normalizedB), deadline);
}
