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
  | 'last-math' // the last $...$, \(...\), \[...\] span, or a number in the prose after it
  | 'last-math-span' // the last $...$, \(...\), \[...\] span only
  | 'last-number'; // the last number in the text

/**
 * Where each format looks by default. MATH is graded by its final answer (a box, "The final answer is",
 * "The answer is", "Answer:"), and otherwise only by a last math span: no guess from the last number in
 * the prose (the paper's final-answer match). GSM8K keeps the last-number fallback ("... = 42 apples").
 */
export const DEFAULT_EXTRACTION: Record<AnswerFormat, readonly ExtractionStyle[]> = {
  gsm8k: ['gsm8k-hashes', 'boxed', 'minerva', 'answer-is', 'answer-label', 'last-number'],
  math: ['boxed', 'minerva', 'answer-is', 'answer-label', 'gsm8k-hashes', 'bare', 'last-math-span'],
};

/** The default styles of a format, with the last-number fallback switched on or off (`verifier.lastNumberFallback`). */
export function extractionStyles(
  format: AnswerFormat,
  lastNumberFallback?: boolean,
): readonly ExtractionStyle[] {
  const styles = DEFAULT_EXTRACTION[format];
  if (lastNumberFallback === undefined) return styles;
  const unmarked = new Set<ExtractionStyle>(['last-math', 'last-math-span', 'last-number']);
  const marked = styles.filter((style) => !unmarked.has(style));
  if (lastNumberFallback) return [...marked, 'last-math', 'last-number'];
  return format === 'math' ? [...marked, 'last-math-span'] : marked;
}

export function extractAnswer(
  text: string,
  format: AnswerFormat,
  styles: readonly ExtractionStyle[] = DEFAULT_EXTRACTION[format],
): string | null {
  // The whole completion is read: every pattern here is linear-time, so length costs only linear work.
  const source = repairEscapes(text);
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
  'last-math-span': lastMathSpan,
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
  // The same answer boxed twice side by side ("$\boxed{7}$ $\boxed{7}$") is that answer, not a list.
  const distinct = new Set(parts.map((part) => part.replace(/\s+/g, '')));
  return distinct.size === 1 ? parts[parts.length - 1] : parts.join(', ');
}

/**
 * Text between two boxes that makes them one list answer: short, and nothing, a comma or semicolon, or an
 * "and"/"or" (`\boxed{(3,3)} \text{ for part (a) and } \boxed{(1,1)}`). A sentence ending in between
 * ("\boxed{3}. Hence ... the total is \boxed{7}") means the boxes are separate answers.
 */
function isListSeparator(between: string): boolean {
  if (between.length > 60) return false;
  const plain = between
    .replace(/\\(?:text|textbf|mbox|mathrm)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\(?:quad|qquad|[,;:! ])|\\[()[\]]|\$/g, ' ')
    .trim();
  if (/^[,;]?$/.test(plain)) return true;
  if (/[.!?]\s+[A-Z]/.test(plain)) return false;
  return /(?:^|[\s,;])(?:and|or)(?:[\s,;]|$)/i.test(plain);
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
    const outside = outsideMath(sentence);
    // "The final answer is $12$ and $13$" joins the spans; prose around one span is dropped.
    return /\b(?:and|or)\b/.test(outside) && math.length > 1 ? math.join(', ') : math[math.length - 1];
  }
  const stripped = sentence.replace(/\.\s*$/, '').replace(/^["'\\]+|["'\\]+$/g, '');
  if (looksBare(stripped)) return stripped;
  return lastMathOrNumber(stripped);
}

interface MathSpan {
  start: number;
  /** Exclusive. */
  end: number;
  body: string;
}

/**
 * Every math span, left to right, as the regex
 * `\$\$([\s\S]*?)\$\$|\\\[([\s\S]*?)\\\]|\\\(([^\n]*?)\\\)|(?<!\\)\$((?:[^$\n\\]|\\[\s\S])*?)\$` would find
 * them: `$$..$$` and `\[..\]` may span lines, inline `$..$` and `\(..\)` may not (an unmatched `$` would
 * swallow the text). A scanner rather than that regex, because the regex is quadratic on unclosed openers
 * (`\(` repeated: minutes on a megabyte) and completions are read whole. Each closer search starts past
 * the last one found, and a failed inline span skips to the end of its line, so the work is linear.
 */
function mathSpanMatches(text: string): MathSpan[] {
  const spans: MathSpan[] = [];
  const found = new Map<string, number>();
  // The first `needle` at or after `from` (-1 when none): searches resume past the previous hit.
  const next = (needle: string, from: number): number => {
    const cached = found.get(needle);
    if (cached !== undefined && (cached === -1 || cached >= from)) return cached;
    const at = text.indexOf(needle, from);
    found.set(needle, at);
    return at;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const d = text[i + 1];
    if (c === '$' && d === '$') {
      const close = next('$$', i + 2);
      if (close >= 0) {
        spans.push({ start: i, end: close + 2, body: text.slice(i + 2, close) });
        i = close + 2;
        continue;
      }
    } else if (c === '\\' && (d === '[' || d === '(')) {
      const close = next(d === '[' ? '\\]' : '\\)', i + 2);
      const lineEnd = d === '(' ? next('\n', i + 2) : -1;
      if (close >= 0 && (lineEnd < 0 || close < lineEnd)) {
        spans.push({ start: i, end: close + 2, body: text.slice(i + 2, close) });
        i = close + 2;
        continue;
      }
    }
    if (c === '$' && text[i - 1] !== '\\') {
      // Inline $..$: escapes (`\$`) do not close it, a newline ends it unmatched.
      let j = i + 1;
      let firstBackslash = -1;
      while (j < text.length && text[j] !== '$' && text[j] !== '\n') {
        if (text[j] === '\\' && firstBackslash < 0) firstBackslash = j;
        j += text[j] === '\\' ? 2 : 1;
      }
      if (j < text.length && text[j] === '$') {
        spans.push({ start: i, end: j + 1, body: text.slice(i + 1, j) });
        i = j + 1;
        continue;
      }
      // Unmatched. Every `$` passed was escaped, so no `$` opener lies before the newline; a `\[` or `\(`
      // opener may, and it starts at a backslash: resume at the first one (else at the newline).
      i = firstBackslash >= 0 ? firstBackslash : Math.max(i + 1, Math.min(j, text.length));
      continue;
    }
    i++;
  }
  return spans;
}

function mathSpans(text: string): string[] {
  return mathSpanMatches(text)
    .map((span) => span.body.trim())
    .filter((body) => body !== '');
}

/** The text with every math span replaced by a space. */
function outsideMath(text: string): string {
  let out = '';
  let at = 0;
  for (const span of mathSpanMatches(text)) {
    out += text.slice(at, span.start) + ' ';
    at = span.end;
  }
  return out + text.slice(at);
}

/** The last number written after the last math span (prose such as "the largest $n$ is 34"). */
function lastNumberOutsideMath(text: string): string | null {
  const spans = mathSpanMatches(text);
  return lastNumber(text.slice(spans.length ? spans[spans.length - 1].end : 0));
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
