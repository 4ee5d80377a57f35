// Structure of a normalised answer: sets, tuples, intervals, unions, matrices, relations, choice
// letters, text, or a single expression. Only the structure is decided here; values are compared in compare.ts.

export type AnswerNode =
  | { kind: 'expr'; latex: string }
  | { kind: 'text'; text: string }
  | { kind: 'choice'; letter: string }
  /** bare: "1, 2"; set: \{1, 2\}; tuple: (1, 2, 3); pair: (1, 2), a tuple or an open interval. */
  | { kind: 'list'; bracket: 'bare' | 'set' | 'tuple' | 'pair'; items: AnswerNode[]; raw: string }
  | { kind: 'interval'; lo: AnswerNode; hi: AnswerNode; loClosed: boolean; hiClosed: boolean }
  | { kind: 'union'; parts: AnswerNode[] }
  | { kind: 'matrix'; latex: string }
  /** a op b op c ..., ops among = < \le \ne (> and \ge are flipped into < and \le). */
  | { kind: 'relation'; terms: string[]; ops: string[] };

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);

/** Splits at separators found outside (), [], {} and \begin..\end. */
export function splitTopLevel(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let envDepth = 0;
  let start = 0;
  const sticky = new RegExp(separator.source, 'y' + (separator.flags.includes('i') ? 'i' : ''));
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (text.startsWith('\\begin', i)) envDepth++;
      else if (text.startsWith('\\end', i)) envDepth--;
      else if (text[i + 1] === '{' || text[i + 1] === '}') {
        depth += text[i + 1] === '{' ? 1 : -1;
        i++;
        continue;
      }
    }
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c)) depth--;
    else if (depth === 0 && envDepth === 0) {
      sticky.lastIndex = i;
      const m = sticky.exec(text);
      if (m && m[0].length > 0) {
        parts.push(text.slice(start, i));
        start = i + m[0].length;
        i = start - 1;
      }
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** Index of the bracket closing the one at 0 (any bracket kind closes, for half-open intervals). */
function outerGroupEnd(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && (text[i + 1] === '{' || text[i + 1] === '}')) {
      depth += text[i + 1] === '{' ? 1 : -1;
      i++;
      if (depth === 0) return i;
      continue;
    }
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c) && --depth === 0) return i;
  }
  return -1;
}

/** A name rather than a value: x, f(x), a_{37}, |AB|, V_1:V_2, (p, q), \frac{NO}{BO}. */
export function isLabel(text: string): boolean {
  const t = text
    .replace(/_\{[^{}]*\}|_[a-zA-Z0-9]/g, '')
    .replace(/(?<=[a-zA-Z])\([^()]*\)/g, '')
    .trim();
  if (t === '' || !/[a-zA-Z]/.test(t)) return false;
  if (/^\\(?:pi|infty)$/.test(t)) return false;
  return /^[\\a-zA-Z{}()|:,'\s]+$/.test(t);
}

const RELATION = /\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\ne(?![a-zA-Z])|<|>|=/;

export function parseAnswer(normalized: string): AnswerNode {
  let s = normalized.trim();
  s = s.replace(/^[a-zA-Z]\s*\\in\s*/, '');
  const semicolonParts = splitTopLevel(s, /;/);
  if (semicolonParts.length > 1 && semicolonParts.every((p) => p !== '')) {
    return bareList(
      semicolonParts.map((part) => parseGroup(part)),
      s,
    );
  }
  return parseGroup(s);
}

/** One answer that may be a comma/and/or list: "1, 2", "x = 1 or x = 2", "p=5,q=2" (inside ;-lists a tuple). */
function parseGroup(text: string): AnswerNode {
  const parts = splitTopLevel(
    text,
    /\s*,\s*|\s+(?:and|or)\s+|(?<=[^a-zA-Z\\])(?:and|or)(?=[^a-zA-Z])/i,
  ).filter((p) => p !== '');
  if (parts.length <= 1) return parseItem(parts[0] ?? text);
  // "n=1, 2, 3": a label in front of the first item labels the whole list.
  const items = parts.map((part) => parseItem(part));
  return bareList(
    items.flatMap((item) =>
      item.kind === 'list' && item.bracket === 'set' && item.raw.includes('\\pm') ? item.items : [item],
    ),
    text,
  );
}

/** The values of a \pm item (a set made from `a \pm b`), else the item itself. */
function plusMinusValues(item: AnswerNode): AnswerNode[] {
  return item.kind === 'list' && item.bracket === 'set' && /\\(?:pm|mp)/.test(item.raw) ? item.items : [item];
}

function bareList(items: AnswerNode[], raw: string): AnswerNode {
  return items.length === 1 ? items[0] : { kind: 'list', bracket: 'bare', items, raw };
}

export function parseItem(raw: string): AnswerNode {
  let s = raw.trim();
  const choice = /^\(([A-Ea-e])\)$|^([A-E])[.):](?:\s|$)/.exec(s.replace(/\\text\{([^{}]*)\}/g, '$1').trim());
  if (choice) return { kind: 'choice', letter: (choice[1] ?? choice[2]).toUpperCase() };
  s = resolveApprox(s);
  const relation = parseRelation(s);
  if (relation !== null) return relation;

  const pm = splitTopLevel(s, /\\pm|\\mp/);
  if (pm.length === 2) {
    const [a, b] = pm;
    const plus: AnswerNode = { kind: 'expr', latex: a === '' ? b : `${a}+(${b})` };
    const minus: AnswerNode = { kind: 'expr', latex: a === '' ? `-(${b})` : `${a}-(${b})` };
    return { kind: 'list', bracket: 'set', items: [plus, minus], raw: s };
  }
  const union = splitTopLevel(s, /\\cup/);
  if (union.length > 1) return { kind: 'union', parts: union.map(parseItem) };

  if (s.startsWith('\\{') && s.endsWith('\\}') && outerGroupEnd(s) === s.length - 1) {
    const inner = s.slice(2, -2);
    const items = inner.trim() === '' ? [] : splitTopLevel(inner, /[,;]/).map(parseItem);
    // `\{1 \pm \sqrt2\}` is the set of both values, not a set holding a pair.
    return { kind: 'list', bracket: 'set', items: items.flatMap(plusMinusValues), raw: s };
  }
  if (s.startsWith('{') && s.endsWith('}') && outerGroupEnd(s) === s.length - 1)
    return parseGroup(s.slice(1, -1));
  if (
    (s.startsWith('(') || s.startsWith('[')) &&
    (s.endsWith(')') || s.endsWith(']')) &&
    outerGroupEnd(s) === s.length - 1
  ) {
    const inner = s.slice(1, -1);
    const items = splitTopLevel(inner, /[,;]/);
    if (items.length === 1)
      return s.startsWith('(') && s.endsWith(')') ? parseItem(inner) : { kind: 'expr', latex: s };
    if (items.length === 2 && !(s.startsWith('(') && s.endsWith(')'))) {
      return {
        kind: 'interval',
        lo: parseItem(items[0]),
        hi: parseItem(items[1]),
        loClosed: s.startsWith('['),
        hiClosed: s.endsWith(']'),
      };
    }
    return {
      kind: 'list',
      bracket: items.length === 2 ? 'pair' : 'tuple',
      items: items.map(parseItem),
      raw: s,
    };
  }
  if (/^\\begin\{(?:[pbvBV]?matrix|array)\}/.test(s)) return { kind: 'matrix', latex: s };
  // A \pm inside a term (`\frac{1 \pm \sqrt5}{2}`): both values; every \pm takes the same sign, \mp the other.
  if (/\\(?:pm|mp)(?![a-zA-Z])/.test(s)) {
    const withSign = (sign: '+' | '-') =>
      s.replace(/\\(?:pm|mp)(?![a-zA-Z])/g, (op) => ((op === '\\pm') === (sign === '+') ? '+' : '-'));
    return {
      kind: 'list',
      bracket: 'set',
      items: [parseItem(withSign('+')), parseItem(withSign('-'))],
      raw: s,
    };
  }
  const text = asText(s);
  if (text !== null) return { kind: 'text', text };
  return { kind: 'expr', latex: s };
}

/** "x \approx 11" -> 11 ; "\frac{\sqrt3}{3} \approx 0.577" -> the exact left side. */
function resolveApprox(s: string): string {
  const parts = splitTopLevel(s, /\\approx/);
  if (parts.length < 2) return s;
  const left = parts[0].split('=').pop()!.trim();
  return isLabel(left) || left === '' ? parts[parts.length - 1] : parts.slice(0, -1).join('\\approx').trim();
}

function parseRelation(s: string): AnswerNode | null {
  const terms = splitTopLevel(s, RELATION);
  if (terms.length < 2) return null;
  const topOps = topLevelOps(s);
  if (topOps.length !== terms.length - 1 || terms.some((t) => t === '')) return { kind: 'expr', latex: s };
  if (topOps.every((op) => op === '=')) {
    // Chains "x = 5+5+1 = 7 = 11" keep their last value; "x = 3" its right side; "2x+4y = 3" stays an equation.
    // "\frac12 = \frac{10}{9}" (no letters at all) is a computation whose result is the last term.
    if (terms.length >= 3 || isLabel(terms[0]) || !/[a-zA-Z]/.test(s.replace(/\\[a-zA-Z]+/g, ''))) {
      const value = parseItem(terms[terms.length - 1]);
      return terms.length === 2 ? labelled(terms[0], value) : value;
    }
  }
  return normalizeRelation(terms, topOps);
}

/** Keeps the label beside the value so that an equation on the other side can still be compared. */
function labelled(label: string, value: AnswerNode): AnswerNode {
  if (value.kind !== 'expr') return value;
  return { kind: 'relation', terms: [label, value.latex], ops: ['=label'] };
}

function topLevelOps(s: string): string[] {
  const ops: string[] = [];
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && (s[i + 1] === '{' || s[i + 1] === '}')) {
      depth += s[i + 1] === '{' ? 1 : -1;
      i++;
      continue;
    }
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c)) depth--;
    else if (depth === 0) {
      const m = /^(?:\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\ne(?![a-zA-Z])|<|>|=)/.exec(s.slice(i, i + 4));
      if (m) {
        ops.push(m[0]);
        i += m[0].length - 1;
      }
    }
  }
  return ops;
}

function normalizeRelation(terms: string[], ops: string[]): AnswerNode {
  // Flip chains written with > / \ge so every op is among = < \le \ne.
  if (ops.some((op) => op === '>' || op === '\\ge')) {
    if (ops.some((op) => op === '<' || op === '\\le')) return { kind: 'relation', terms, ops };
    const flipped = ops.map((op) => (op === '>' ? '<' : op === '\\ge' ? '\\le' : op)).reverse();
    return { kind: 'relation', terms: [...terms].reverse(), ops: flipped };
  }
  return { kind: 'relation', terms, ops };
}

const WORDLIKE = /^[a-zA-Z][a-zA-Z\s'-]*$/;

/** Text answers: \text{...} words, or a plain word of 3+ letters (odd, Even, Evelyn); null for math. */
function asText(s: string): string | null {
  const unwrapped = s.replace(/\\text\{([^{}]*)\}/g, '$1').trim();
  if (unwrapped === '') return null;
  if (s.includes('\\text{') && WORDLIKE.test(unwrapped)) return unwrapped.toLowerCase().replace(/\s+/g, ' ');
  if (
    WORDLIKE.test(unwrapped) &&
    /[a-zA-Z]{3,}/.test(unwrapped) &&
    !/^(?:sin|cos|tan|log|ln|exp|sqrt|pi)/.test(unwrapped)
  ) {
    return unwrapped.toLowerCase().replace(/\s+/g, ' ');
  }
  if (/^\d+_\{?\d+\}?$/.test(unwrapped)) return unwrapped.replace(/[{}]/g, '');
  if (/^\d{1,2}:\d{2}$/.test(unwrapped)) return unwrapped;
  return null;
}
