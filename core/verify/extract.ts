// Final-answer extraction from model completions and gold fields. Pure string work, no CAS.
// Every pattern here is linear-time (no nested quantifiers) because completions can be long.

export type AnswerFormat = 'gsm8k' | 'math';

/** The places a final answer can be written; tried in the order given, first hit wins. */
export type ExtractionStyle =
  | 'gsm8k-hashes' // "#### 42"
  | 'boxed' // last \boxed{...} / \fbox{...} (adjacent boxes joined)
  | 'minerva' // "Final Answer: The final answer is X. I hope it is correct."
  | 'answer-is' // "The answer is X"
  | 'answer-label' // "**Answer:** X", "Answer: X", "A: X"
  | 'bare' // the whole text when it is itself a short answer
  | 'last-math' // the last $...$, \(...\), \[...\] span
  | 'last-number'; // the last number in the text

export const DEFAULT_EXTRACTION: Record<AnswerFormat, readonly ExtractionStyle[]> = {
  gsm8k: ['gsm8k-hashes', 'boxed', 'minerva', 'answer-is', 'answer-label', 'last-number'],
  math: ['boxed', 'minerva', 'answer-is', 'answer-label', 'gsm8k-hashes', 'bare', 'last-math', 'last-number'],
};

/** Hard cap: extraction only looks at the tail of very long completions (final answers live at the end). */
const MAX_SCAN_CHARS = 20_000;

export function extractAnswer(
  text: string,
  format: AnswerFormat,
  styles: readonly ExtractionStyle[] = DEFAULT_EXTRACTION[format],
): string | null {
  const source = repairEscapes(text.length > MAX_SCAN_CHARS ? text.slice(-MAX_SCAN_CHARS) : text);
  if (source.trim() === '') return null;
  for (const style of styles) {
    let found = EXTRACTORS[style](source);
    // A Minerva "The final answer is" line written after the last box is the model's final word.
    if (style === 'boxed' && found !== null && styles.includes('minerva')) {
      const lastBox = Math.max(source.lastIndexOf('\\boxed'), source.lastIndexOf('\\fbox'));
      if (source.lastIndexOf('The final answer is') > lastBox) found = extractMinerva(source) ?? found;
    }
    if (found !== null && found.trim() !== '') return found.trim();
  }
  return null;
}

const EXTRACTORS: Record<ExtractionStyle, (text: string) => string | null> = {
  'gsm8k-hashes': extractHashes,
  boxed: extractBoxed,
  minerva: extractMinerva,
  'answer-is': extractAnswerIs,
  'answer-label': extractAnswerLabel,
  bare: extractBare,
  'last-math': lastMathOrNumber,
  'last-number': lastNumber,
};

/**
 * Some data sets carry doubly escaped LaTeX (`\\frac`, literal `\n`). Undo that only where it cannot be a
 * LaTeX row break: `\\` directly followed by a command name, and `\n` followed by something that starts no command.
 */
export function repairEscapes(text: string): string {
  if (!text.includes('\\\\') && !text.includes('\\n')) return text;
  return text
    .replace(/\\n(?=[\\\s*A-Z[#]|$)/g, '\n')
    .replace(
      /\\\\(?=(?:[dtc]?frac|boxed|left|right|sqrt|le|ge|leq|geq|text|in|cup|infty|pi|cdot|times|pm)(?![a-zA-Z]))/g,
      '\\',
    );
}

function extractHashes(text: string): string | null {
  const at = text.lastIndexOf('####');
  if (at < 0) return null;
  const line = text.slice(at + 4).split('\n')[0];
  return line.trim() === '' ? null : line.trim();
}

/** Content of the balanced `{...}` group opening at `open` (text[open] === '{'), or null when unbalanced. */
export function braceGroupEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++; // skip escaped char such as \{ or \}
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

interface BoxedSpan {
  start: number;
  end: number; // exclusive
  content: string;
}

function findBoxes(text: string): BoxedSpan[] {
  const boxes: BoxedSpan[] = [];
  const pattern = /\\(?:boxed|fbox)\s*/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) {
    const open = match.index + match[0].length;
    if (text[open] === '{') {
      const close = braceGroupEnd(text, open);
      // An unclosed box (cut-off text) runs to the end.
      const end = close < 0 ? text.length : close + 1;
      boxes.push({ start: match.index, end, content: text.slice(open + 1, close < 0 ? text.length : close) });
      pattern.lastIndex = end;
    } else {
      // `\boxed 5`: the box holds the next token.
      const token = /^[^\s$.,;]+/.exec(text.slice(open));
      if (token) boxes.push({ start: match.index, end: open + token[0].length, content: token[0] });
    }
  }
  return boxes;
}

/**
 * The last box; boxes written side by side as one answer (`\boxed{1}, \boxed{2}`, `\boxed{6} and \boxed{8}`)
 * are joined with commas. A long stretch of other text between boxes means they are separate answers.
 */
function extractBoxed(text: string): string | null {
  const boxes = findBoxes(text);
  if (boxes.length === 0) return null;
  const parts = [boxes[boxes.length - 1].content];
  for (let i = boxes.length - 2; i >= 0; i--) {
    const between = text.slice(boxes[i].end, boxes[i + 1].start);
    if (!isListSeparator(between)) break;
    parts.unshift(boxes[i].content);
  }
  return parts.join(', ');
}

function isListSeparator(between: string): boolean {
  if (between.length > 60) return false;
  const plain = between
    .replace(/\\(?:text|textbf|mbox|mathrm)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\(?:quad|qquad|[,;:! ])|\\[()[\]]|\$/g, ' ')
    .trim();
  return /^[,;]?$/.test(plain) || /(?:^|[\s,;])(?:and|or)(?:[\s,;]|$)/i.test(plain);
}

function extractMinerva(text: string): string | null {
  const at = text.lastIndexOf('The final answer is');
  if (at < 0) return null;
  let rest = text.slice(at + 'The final answer is'.length);
  const hope = rest.indexOf('I hope it is correct');
  if (hope >= 0) rest = rest.slice(0, hope);
  else rest = rest.split('\n')[0];
  return cleanSentenceAnswer(rest);
}

function extractAnswerIs(text: string): string | null {
  const pattern = /answer is\b:?/gi;
  let last = -1;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) last = match.index + match[0].length;
  if (last < 0) return null;
  return cleanSentenceAnswer(untilSentenceEnd(text.slice(last)));
}

function extractAnswerLabel(text: string): string | null {
  const pattern = /(?:^|\n|(?<=[.!?)]\s+))[ \t#*]*(?:final answer|answer|a)[ \t*]*[:：][ \t*]*/gi;
  let last = -1;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) last = match.index + match[0].length;
  if (last < 0) return null;
  let rest = text.slice(last);
  if (rest.trim() === '') return null;
  const hope = rest.indexOf('I hope it is correct');
  if (hope >= 0) rest = rest.slice(0, hope);
  // "**Final Answer**\n\boxed{..}" style labels put the answer on the next line.
  const line = rest.trim().split('\n')[0];
  if (mathSpans(line).length > 0) return lastMathOrNumber(line);
  if (looksBare(line.replace(/\*+/g, '').replace(/\.\s*$/, '')))
    return line.replace(/\*+/g, '').replace(/\.\s*$/, '');
  return lastMathOrNumber(line);
}

/** The text up to the end of its sentence: a period followed by space/end (not a decimal point), or a newline. */
function untilSentenceEnd(text: string): string {
  const end = /\.(?=\s|$)|\n/.exec(text);
  return end ? text.slice(0, end.index) : text;
}

/** A sentence-style answer ("$x=3$.", "12,000,023.", "Jane ... 3 hours ago"): prefer its math, then itself. */
function cleanSentenceAnswer(raw: string): string | null {
  const sentence = raw.trim().replace(/^[:\s]+/, '');
  if (sentence === '') return null;
  const math = mathSpans(sentence);
  if (math.length > 0 && lastNumberOutsideMath(sentence) === null) {
    const outside = sentence.replace(/\$\$[^$]*\$\$|\$[^$]*\$|\\\([\s\S]*?\\\)|\\\[[\s\S]*?\\\]/g, ' ');
    // "The final answer is $12$ and $13$" joins the spans; prose around one span is dropped.
    return /\b(?:and|or)\b/.test(outside) && math.length > 1 ? math.join(', ') : math[math.length - 1];
  }
  const stripped = sentence.replace(/\.\s*$/, '').replace(/^["'\\]+|["'\\]+$/g, '');
  if (looksBare(stripped)) return stripped;
  return lastMathOrNumber(stripped);
}

function mathSpans(text: string): string[] {
  const spans: string[] = [];
  // $$..$$, \[..\] may span lines; inline $..$ and \(..\) may not (an unmatched $ would swallow the text).
  const pattern =
    /\$\$([\s\S]*?)\$\$|\\\[([\s\S]*?)\\\]|\\\(([^\n]*?)\\\)|(?<!\\)\$((?:[^$\n\\]|\\[\s\S])*?)\$/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) {
    const body = (match[1] ?? match[2] ?? match[3] ?? match[4] ?? '').trim();
    if (body !== '') spans.push(body);
  }
  return spans;
}

const MATH_SPAN = /\$\$[\s\S]*?\$\$|\\\[[\s\S]*?\\\]|\\\([^\n]*?\\\)|(?<!\\)\$(?:[^$\n\\]|\\[\s\S])*?\$/g;

/** The last number written after the last math span (prose such as "the largest $n$ is 34"). */
function lastNumberOutsideMath(text: string): string | null {
  let end = 0;
  for (const m of text.matchAll(MATH_SPAN)) end = (m.index ?? 0) + m[0].length;
  return lastNumber(text.slice(end));
}

/** Whichever comes last: the last math span, or a number in the prose after it. */
function lastMathOrNumber(text: string): string | null {
  return lastNumberOutsideMath(text) ?? lastMathSpan(text);
}

function lastMathSpan(text: string): string | null {
  const spans = mathSpans(text);
  return spans.length > 0 ? spans[spans.length - 1] : null;
}

const UNIT_OR_FILLER_WORDS = new Set([
  'and',
  'or',
  'percent',
  'pct',
  'percentage',
  'degrees',
  'degree',
  'cm',
  'mm',
  'km',
  'meters',
  'meter',
  'inches',
  'inch',
  'feet',
  'foot',
  'ft',
  'square',
  'cubic',
  'units',
  'unit',
  'dollars',
  'dollar',
  'cents',
  'cent',
  'hours',
  'hour',
  'minutes',
  'minute',
  'seconds',
  'second',
  'miles',
  'mile',
  'mph',
  'yuan',
  'days',
  'day',
  'years',
  'year',
  'sq',
  'kg',
  'grams',
  'pounds',
  'liters',
  'mi',
  'in',
  'yd',
  'yards',
]);

/** A short answer with no prose: at most one free word, and if it has digits only unit words besides. */
function looksBare(text: string): boolean {
  const t = text.trim();
  if (t === '' || t.length > 120 || t.includes('\n')) return false;
  const withoutCommands = t.replace(/\\(?:begin|end)\{[a-zA-Z*]+\}/g, ' ').replace(/\\[a-zA-Z]+/g, ' ');
  const words = withoutCommands.match(/[a-zA-Z]{2,}/g) ?? [];
  const freeWords = words.filter((w) => !UNIT_OR_FILLER_WORDS.has(w.toLowerCase()));
  if (/\d/.test(t)) return freeWords.length === 0;
  return freeWords.length <= 1 || /^\\text/.test(t);
}

function extractBare(text: string): string | null {
  const t = text.trim();
  return looksBare(t) ? t : null;
}

/** The last number: not glued to letters in front (AZYUK2A has none), thousands separators and decimal commas allowed. */
export function lastNumber(text: string): string | null {
  const pattern =
    /(?<![A-Za-z\d.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?(?:\/\d+)?|(?<![A-Za-z\d])-?\.\d+/g;
  let last: string | null = null;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) last = match[0];
  return last;
}
