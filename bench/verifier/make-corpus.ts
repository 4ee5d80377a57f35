// Builds the verifier benchmark corpora from MATH train and MATH500, by rewriting gold answers in realistic ways,
// some equivalent (label true) and some wrong (label false):
// - `buildCorpus`: short completions (a sentence or two around the answer);
// - `buildLongCorpus`: completions shaped like real model outputs: multi-paragraph LaTeX reasoning of 1-3k
//   characters (a problem's human-written solution, with worked steps of other solutions of the same subject
//   before it) ending in a boxed answer.
// Output: bench/out/verifier-corpus*.jsonl
import { mulberry32 } from '../../test/support/mulberry32.js';

export interface CorpusItem {
  id: number;
  completion: string;
  gold: string;
  /** The rewrite applied; its name says whether it keeps the answer equal. */
  variant: string;
  label: boolean;
  /** Long completions: how the answer is written at the end (see LONG_ENDINGS). */
  ending?: string;
}

type Rewrite = { name: string; label: boolean; apply: (answer: string) => string | null };

const frac = /^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$/;
const integer = /^-?\d+$/;

function decimalOfFraction(answer: string): string | null {
  const m = frac.exec(answer);
  if (!m) return null;
  const value = Number(m[2]) / Number(m[3]);
  const text = String(value);
  return text.length < 12 ? `${m[1]}${text}` : null;
}

const REWRITES: Rewrite[] = [
  { name: 'same', label: true, apply: (a) => a },
  {
    name: 'dfrac',
    label: true,
    apply: (a) => (a.includes('\\frac') ? a.replace(/\\frac/g, '\\dfrac') : null),
  },
  { name: 'frac-to-decimal', label: true, apply: decimalOfFraction },
  {
    name: 'frac-short',
    label: true,
    apply: (a) => (/\\frac\{\d\}\{\d\}/.test(a) ? a.replace(/\\frac\{(\d)\}\{(\d)\}/g, '\\frac$1$2') : null),
  },
  { name: 'assign-x', label: true, apply: (a) => (integer.test(a) || frac.test(a) ? `x = ${a}` : null) },
  { name: 'text-unit', label: true, apply: (a) => (integer.test(a) ? `${a}\\text{ units}` : null) },
  { name: 'trailing-zero', label: true, apply: (a) => (integer.test(a) ? `${a}.0` : null) },
  {
    name: 'thousands',
    label: true,
    apply: (a) => (/^\d{4,}$/.test(a) ? Number(a).toLocaleString('en-US') : null),
  },
  {
    name: 'left-right',
    label: true,
    apply: (a) => (/^\(.*\)$/.test(a) ? `\\left${a.slice(0, -1)}\\right)` : null),
  },
  { name: 'reorder-list', label: true, apply: (a) => reorderList(a) },
  {
    name: 'sqrt-unbraced',
    label: true,
    apply: (a) => (/\\sqrt\{\d\}/.test(a) ? a.replace(/\\sqrt\{(\d)\}/g, '\\sqrt$1') : null),
  },
  {
    name: 'spaces',
    label: true,
    apply: (a) => (a.length < 40 && /[+\-=,]/.test(a) ? a.replace(/([+=,])/g, ' $1 ') : null),
  },
  {
    name: 'sign-flip',
    label: false,
    apply: (a) =>
      integer.test(a) && a !== '0'
        ? a.startsWith('-')
          ? a.slice(1)
          : `-${a}`
        : frac.test(a)
          ? a.startsWith('-')
            ? a.slice(1)
            : `-${a}`
          : null,
  },
  { name: 'off-by-one', label: false, apply: (a) => (integer.test(a) ? String(BigInt(a) + 1n) : null) },
  { name: 'digit-substring', label: false, apply: (a) => (/^\d{2,}$/.test(a) ? a.slice(1) : null) },
  { name: 'times-ten', label: false, apply: (a) => (integer.test(a) && a !== '0' ? `${a}0` : null) },
  { name: 'swap-tuple', label: false, apply: (a) => swapTuple(a) },
  {
    name: 'invert-fraction',
    label: false,
    apply: (a) => {
      const m = frac.exec(a);
      return m && m[2] !== m[3] ? `${m[1]}\\frac{${m[3]}}{${m[2]}}` : null;
    },
  },
  {
    name: 'drop-sqrt',
    label: false,
    apply: (a) => (/\\sqrt\{?\d+\}?/.test(a) ? a.replace(/\\sqrt\{?(\d+)\}?/, '$1') : null),
  },
  {
    name: 'interval-bracket',
    label: false,
    apply: (a) => (/^[[(].*,.*[\])]$/.test(a) && /\\infty|\[|\]/.test(a) ? flipBracket(a) : null),
  },
  {
    name: 'wrong-decimal',
    label: false,
    apply: (a) => {
      const d = decimalOfFraction(a);
      return d && d.includes('.') ? d.slice(0, -1) : null;
    },
  },
];

function reorderList(a: string): string | null {
  if (/[()[\]]/.test(a) || !a.includes(',')) return null;
  const items = a.split(',').map((s) => s.trim());
  if (items.length < 2 || new Set(items).size !== items.length) return null;
  return [...items].reverse().join(', ');
}

function swapTuple(a: string): string | null {
  const m = /^\((-?[^,()]+),\s*(-?[^,()]+)\)$/.exec(a);
  if (!m || m[1].trim() === m[2].trim()) return null;
  return `(${m[2].trim()}, ${m[1].trim()})`;
}

function flipBracket(a: string): string {
  const first = a[0] === '[' ? '(' : '[';
  return first + a.slice(1);
}

const TEMPLATES = [
  (x: string) =>
    `Let us work through the problem step by step. After simplifying, we get the result.\nTherefore, the final answer is $\\boxed{${x}}$.`,
  (x: string) => `We compute carefully and check the constraints.\n\nThe answer is $\\boxed{${x}}$.`,
  (x: string) =>
    `Solving gives the value below.\nFinal Answer: The final answer is $${x}$. I hope it is correct.`,
  (x: string) => `So the required quantity equals \\[\\boxed{${x}}\\]`,
];

export function buildCorpus(rows: Array<{ answer: string }>, targetSize: number): CorpusItem[] {
  const items: CorpusItem[] = [];
  let id = 0;
  for (let round = 0; items.length < targetSize && round < 50; round++) {
    for (const [k, row] of rows.entries()) {
      const gold = row.answer?.trim();
      if (!gold) continue;
      const rewrite = REWRITES[(k * 7 + round * 3) % REWRITES.length];
      const variant = rewrite.apply(gold);
      if (variant === null || (rewrite.label === false && variant === gold)) continue;
      const template = TEMPLATES[(k + round) % TEMPLATES.length];
      items.push({
        id: id++,
        completion: template(variant),
        gold,
        variant: rewrite.name,
        label: rewrite.label,
      });
      if (items.length >= targetSize) break;
    }
  }
  return items;
}

/** A MATH row with its worked solution (math_train.jsonl, math500_test.jsonl). */
export interface SolutionRow {
  problem: string;
  solution: string;
  answer: string;
  /** The subject: `type` in MATH train, `subject` in MATH500. */
  type?: string;
  subject?: string;
}

const BOX = '\\boxed{';

/** Positions of every `\boxed{` and the end of its balanced group (exclusive), or null if one is unbalanced. */
function boxSpans(text: string): Array<{ start: number; end: number; content: string }> | null {
  const spans: Array<{ start: number; end: number; content: string }> = [];
  for (let at = text.indexOf(BOX); at >= 0; at = text.indexOf(BOX, at + 1)) {
    let depth = 0;
    let end = -1;
    for (let i = at + BOX.length - 1; i < text.length; i++) {
      const c = text[i];
      if (c === '\\') i++;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        end = i + 1;
        break;
      }
    }
    if (end < 0) return null;
    spans.push({ start: at, end, content: text.slice(at + BOX.length, end - 1) });
  }
  return spans;
}

/** The text with every box replaced by its content (worked steps of other problems carry no final answer). */
function unbox(text: string): string | null {
  const spans = boxSpans(text);
  if (spans === null) return null;
  let out = '';
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + span.content;
    at = span.end;
  }
  return out + text.slice(at);
}

/** Openings real chain-of-thought outputs start with. */
const OPENINGS = [
  (problem: string) => `We are asked the following.\n\n${problem}\n\nLet's work through it step by step.`,
  () => "Let's think step by step.",
  () => 'To solve this problem, we first collect what we know and then compute the quantity asked for.',
  (problem: string) => `Problem: ${problem}\n\nSolution:`,
];

/** Connectives before a paragraph of worked steps. */
const STEP_INTROS = [
  'First, a preliminary computation.',
  'Let me set up some notation and check a related case.',
  'Before the main argument, consider the following.',
  'We can also reason as follows.',
  'As a sanity check on the method:',
];

/**
 * How a long completion writes its final answer: the solution's own box kept where it is, a closing
 * sentence with the box, a displayed box, or the Minerva line after a boxed sentence.
 */
const LONG_ENDINGS: Record<string, (body: string, answer: string) => string> = {
  'in-place': (body) => body,
  'closing-sentence': (body, answer) => `${body}\n\nTherefore, the final answer is $\\boxed{${answer}}$.`,
  'display-box': (body, answer) => `${body}\n\nPutting everything together,\n\\[\n\\boxed{${answer}}\n\\]`,
  'boxed-then-minerva': (body, answer) =>
    `${body}\n\nSo the answer is $\\boxed{${answer}}$.\nFinal Answer: The final answer is $\\boxed{${answer}}$. I hope it is correct.`,
};

/** A wrong answer drawn from other rows: skipped when it could equal the gold one (same text, or same number). */
function otherAnswer(rows: SolutionRow[], random: () => number): Rewrite {
  const plain = (text: string) => text.replace(/\s+/g, '');
  return {
    name: 'other-answer',
    label: false,
    apply: (gold) => {
      const other = rows.length ? rows[Math.floor(random() * rows.length)].answer.trim() : '';
      const number = (text: string) => (/^-?\d+(?:\.\d+)?$/.test(text) ? Number(text) : NaN);
      if (other === '' || plain(other) === plain(gold) || number(other) === number(gold)) return null;
      return other;
    },
  };
}

/**
 * Completions shaped like real model outputs: an opening, paragraphs of worked steps taken from other
 * solutions of the same subject (their boxes unwrapped, no "answer" wording), then the problem's own
 * solution with its final answer rewritten (REWRITES, or another problem's answer for one item in five) and written as one of LONG_ENDINGS; 1,000-3,000
 * characters in all (each item's length drawn uniformly). Only solutions with exactly one box whose
 * content is the gold answer are used, so the label is unambiguous. Seeded: the same rows give the same corpus.
 */
export function buildLongCorpus(rows: SolutionRow[], targetSize: number, seed = 20261125): CorpusItem[] {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const subjectOf = (row: SolutionRow) => row.type ?? row.subject ?? 'any';
  // Paragraphs of worked steps per subject: boxes unwrapped, nothing that names an answer.
  const steps = new Map<string, string[]>();
  for (const row of rows) {
    if (!row.solution || row.solution.includes('[asy]')) continue;
    for (const paragraph of row.solution.split(/\n\s*\n|\n(?=[A-Z])/)) {
      const text = unbox(paragraph.trim());
      if (text === null || text.length < 120 || text.length > 900) continue;
      // Whole sentences only, and nothing that reads as a final answer.
      if (!/[.$]$/.test(text) || /answer/i.test(text)) continue;
      const list = steps.get(subjectOf(row)) ?? [];
      list.push(text);
      steps.set(subjectOf(row), list);
    }
  }
  const usable = rows.filter((row) => {
    const spans = row.solution ? boxSpans(row.solution) : null;
    return (
      spans !== null &&
      spans.length === 1 &&
      row.answer?.trim() !== '' &&
      spans[0].content.trim() === row.answer.trim() &&
      row.solution.length <= 2_400 &&
      !row.solution.includes('[asy]') &&
      !/answer is|final answer/i.test(row.solution)
    );
  });
  const endings = Object.keys(LONG_ENDINGS);
  const items: CorpusItem[] = [];
  for (let round = 0; items.length < targetSize && round < 50; round++) {
    for (const [k, row] of usable.entries()) {
      if (items.length >= targetSize) break;
      const gold = row.answer.trim();
      // Every fifth item is wrong the way real outputs mostly are: another answer altogether (that of
      // another problem of the subject), not a near miss of this one.
      const rewrite =
        (k + round) % 5 === 4
          ? otherAnswer(
              usable.filter((other) => subjectOf(other) === subjectOf(row)),
              random,
            )
          : REWRITES[(k * 7 + round * 3) % REWRITES.length];
      const variant = rewrite.apply(gold);
      if (variant === null || (rewrite.label === false && variant === gold)) continue;
      const ending = endings[(k + round) % endings.length];
      const [box] = boxSpans(row.solution)!;
      // The solution reaches the (rewritten) answer: boxed where it stood, or written plainly there when
      // the ending boxes it.
      const reached = ending === 'in-place' ? `${BOX}${variant}}` : variant;
      const solution = row.solution.slice(0, box.start) + reached + row.solution.slice(box.end);
      const target = 1_000 + Math.floor(random() * 2_000);
      const parts = [pick(OPENINGS)(row.problem)];
      const pool = steps.get(subjectOf(row)) ?? [];
      const ended = LONG_ENDINGS[ending](solution, variant);
      let length = parts[0].length + ended.length;
      const used = new Set<string>();
      for (let tries = 0; length < target && tries < 20 && pool.length > 0; tries++) {
        const step = pick(pool);
        const paragraph = `${pick(STEP_INTROS)} ${step}`;
        if (used.has(step) || length + paragraph.length + 2 > 3_000) continue;
        used.add(step);
        parts.push(paragraph);
        length += paragraph.length + 2;
      }
      const completion = [...parts, ended].join('\n\n');
      if (completion.length < 1_000 || completion.length > 3_000) continue;
      items.push({ id: items.length, completion, gold, variant: rewrite.name, label: rewrite.label, ending });
    }
  }
  return items;
}
