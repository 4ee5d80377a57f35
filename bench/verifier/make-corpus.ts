// Builds the verifier benchmark corpus: MATH-style completions made by rewriting gold answers from MATH train and
// MATH500 in realistic ways, some equivalent (label true) and some wrong (label false). Output: bench/out/verifier-corpus.jsonl

export interface CorpusItem {
  id: number;
  completion: string;
  gold: string;
  /** The rewrite applied; its name says whether it keeps the answer equal. */
  variant: string;
  label: boolean;
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
