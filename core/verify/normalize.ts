// String-level normalisation of an extracted answer: presentation-only LaTeX is removed so that
// structurally equal answers become equal strings. Meaning-bearing notation is kept for parse.ts.

import { braceGroupEnd } from './extract.js';

const UNIT_WORDS =
  'square|sq|cubic|cm|mm|km|m|meters?|metres?|inch(?:es)?|in|feet|foot|ft|yards?|yd|miles?|mi|mph|units?|' +
  'degrees?|deg|dollars?|cents?|hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|months?|years?|yuan|' +
  'kg|grams?|g|pounds?|lbs?|liters?|litres?|ml|l|people|students|points|ways|cookies|apples|marbles|percent|pct|percentage';
const TRAILING_UNITS = new RegExp(
  `(?<=[\\d}).\\s])\\s*(?:(?:${UNIT_WORDS})(?:\\^?\\{?[23]\\}?|²|³)?\\s*)+$`,
  'i',
);

/** Unwraps `\cmd{...}` (balanced) keeping the body, for text/formatting commands. */
function unwrapCommand(text: string, command: string, keep: (body: string) => string): string {
  const needle = `\\${command}`;
  let out = '';
  let i = 0;
  for (;;) {
    const at = text.indexOf(needle, i);
    if (at < 0) break;
    let open = at + needle.length;
    while (text[open] === ' ') open++;
    const nextChar = text[at + needle.length];
    if (text[open] !== '{' || (nextChar !== undefined && /[a-zA-Z]/.test(nextChar))) {
      out += text.slice(i, at + needle.length);
      i = at + needle.length;
      continue;
    }
    const close = braceGroupEnd(text, open);
    if (close < 0) break;
    out += text.slice(i, at) + keep(text.slice(open + 1, close));
    i = close + 1;
  }
  return out + text.slice(i);
}

const TEXT_COMMANDS = [
  'text',
  'textbf',
  'textit',
  'textrm',
  'textnormal',
  'mbox',
  'mathrm',
  'mathbf',
  'mathit',
  'mathsf',
  'operatorname',
  'textsf',
  'texttt',
  'mathtt',
  'emph',
  'boxed',
  'fbox',
  'hbox',
  'bold',
  'pmb',
];

/** `\frac12` -> `\frac{1}{2}`, `\sqrt3` -> `\sqrt{3}`, `\fracab` -> `\frac{a}{b}`, `\frac3{3}` -> `\frac{3}{3}`. */
function braceShortArguments(text: string): string {
  return text
    .replace(/\\(frac|binom)\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])/g, '\\$1{$2}{$3}')
    .replace(/\\(frac|binom)\s*([0-9a-zA-Z])\s*\{/g, '\\$1{$2}{')
    .replace(/\\(frac|binom)\s*(\{[^{}]*\})\s*([0-9a-zA-Z])/g, '\\$1$2{$3}')
    .replace(/\\sqrt\s*([0-9a-zA-Z])/g, '\\sqrt{$1}');
}

/** What a trailing qualifier must be about to be dropped: a quantifier or an integer/natural/real range. */
const QUALIFIER_SUBJECT =
  /\b(?:all|any|every|each|some|arbitrary|integers?|natural|real|whole)\b|\\in\s*\\?(?:mathbb\s*\{?)?[ZNR]\b/i;

/**
 * Drops a trailing qualifier that says over what the answer ranges, not what it is: `\text{ for all } x`,
 * `\text{ for } k \in \mathbb{Z}`, `, where k is an integer`, `(k \in Z)`, "for k in the integers". Only
 * quantifiers and integer/natural/real ranges are dropped; a condition such as `\text{ for } x > 2` stays.
 */
function stripQualifier(s: string): string {
  const patterns = [
    /,?\s*\\text\{\s*,?\s*(?:for|where|when|with)\b[^{}]*\}(?:[^{}]|\{[^{}]*\})*$/i,
    /(?<=\S)\s*,?\s*(?:\\quad\s*)?\(\s*[a-zA-Z](?:\s*,\s*[a-zA-Z])*\s*\\in\s*\\?(?:mathbb\s*\{?)?[ZN]\}?\s*\)\s*$/,
    /(?<=\S)\s*,\s*[a-zA-Z](?:\s*,\s*[a-zA-Z])*\s*\\in\s*\\?(?:mathbb\s*\{?)?[ZN]\}?\s*$/,
    /(?<=\S)\s*,?\s+(?:for|where|when)\s+(?:all|any|every|each|some|[a-zA-Z]\s+(?:in|is|an?|\\in))\b[^{}$]*$/i,
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(s);
    if (match && QUALIFIER_SUBJECT.test(match[0]) && match.index > 0) return s.slice(0, match.index).trim();
  }
  return s;
}

export function normalizeAnswer(raw: string): string {
  let s = raw.trim();
  // Outer math delimiters and trailing sentence punctuation.
  s = s
    .replace(/^\$+|\$+$/g, '')
    .replace(/^\\[([]|\\[)\]]$/g, '')
    .trim();
  s = s.replace(/^\\displaystyle/, '');
  for (const command of TEXT_COMMANDS)
    s = unwrapCommand(s, command, (body) =>
      command === 'boxed' || command === 'fbox' ? body : `\\text{${body}}`,
    );
  s = s
    .replace(/\\[dtc]frac/g, '\\frac')
    .replace(/\\[dt]binom/g, '\\binom')
    .replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*/g, '')
    .replace(/\\middle/g, '')
    .replace(/\\(?:displaystyle|textstyle|scriptstyle)/g, '')
    .replace(/,\s*\\!\s*/g, ',')
    .replace(/(?<!\\)\\!/g, '')
    .replace(/(?<!\\)\\(?:,|;|:|quad|qquad|enspace|thinspace|medspace|thickspace)(?![a-zA-Z])/g, ' ')
    .replace(/(?<!\\)\\ /g, ' ')
    .replace(/~/g, ' ')
    .replace(/\s*\{\s*,\s*\}\s*/g, ',')
    .replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree/g, '')
    .replace(/\\%|%/g, '')
    .replace(/\\\$|\$|€|£|¥/g, '')
    .replace(/\\lt(?![a-zA-Z])/g, '<')
    .replace(/\\gt(?![a-zA-Z])/g, '>')
    .replace(/\\(?:leq|le|leqslant)(?![a-zA-Z])|<=|≤/g, ' \\le ')
    .replace(/\\(?:geq|ge|geqslant)(?![a-zA-Z])|>=|≥/g, ' \\ge ')
    .replace(/\\(?:neq|ne)(?![a-zA-Z])|!=|≠/g, ' \\ne ')
    .replace(/\\dots|\\ldots|\\cdots/g, '\\dots')
    .replace(/\\(?:mathbb|mathcal)\s*\{(\w)\}/g, '$1')
    .replace(/\\lvert|\\rvert|\\vert|\\mid/g, '|')
    .replace(/\\lbrace|\\\{/g, '\\{')
    .replace(/\\rbrace|\\\}/g, '\\}');
  s = braceShortArguments(s);
  s = stripQualifier(s);
  s = s.replace(/[.,;:\s]+$/, '');
  // \text{} holding a unit, or text after the answer ("15 cm^2", "64 square feet", "17\text{ any text}").
  s = s.replace(/(?<=\S)\s*\\text\{\s+[^{}]*\}(?:\^\{?[23]\}?)?\s*$/, '');
  s = s.replace(/(?<=[\d}])\s*\\text\{\s*(?:[a-zA-Z ]+)\}(?:\^\{?[23]\}?)?\s*$/, (m) =>
    /\\text\{\s*(?:and|or)\s*\}/.test(m) ? m : '',
  );
  s = s.replace(TRAILING_UNITS, '');
  s = s.replace(/\\text\{\s*(and|or)\s*\}/g, ' $1 ');
  // Thousands separators: 1,000,000 and 1 000 000 (a comma list would have spaces after the commas).
  s = s.replace(/(?<![\d.,([])([1-9]\d{0,2}(?:,\d{3})+)(?![\d,)\]])/g, (m) => m.replace(/,/g, ''));
  s = s.replace(/(?<![\d.])\d{1,3}(?: \d{3})+(?![\d.])/g, (m) => m.replace(/ /g, ''));
  s = s.replace(/\s+/g, ' ').trim();
  s = s
    .replace(/[.,;:\s]+$/, '')
    .replace(/\\$/, '')
    .trim();
  // Mixed number 918\frac{1}{2} (a product would be written with \cdot).
  s = s.replace(
    /^(-?)(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$/,
    (m, sign: string, whole: string, n: string, d: string) =>
      Number(n) < Number(d) ? `${sign}(${whole}+\\frac{${n}}{${d}})` : m,
  );
  return s;
}
