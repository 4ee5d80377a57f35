/**
 * Deterministic "math solver" scripts for the scripted OpenAI-compatible server.
 *
 * Each sample of a question gets a per-question index `k` (0, 1, 2, ... in the order the server generates the choices
 * of that question, across requests and choices). Correctness and text depend only on (question, k), so:
 *
 * - with `correctFraction: f`, exactly `floor(m * f)` of the first `m` samples of a question are correct (samples
 *   k with floor((k+1)f) > floor(kf): f = 0.5 -> k = 1, 3, 5, ...; f = 1/3 -> k = 2, 5, 8, ...), whatever the split
 *   of those samples into requests and choices and whatever the concurrency;
 * - the j-th correct sample of a question (j = 0, 1, ...) has the text of variant `j % variants`, so with `c` correct
 *   samples a question has exactly `min(c, variants)` unique correct solutions (default: all distinct);
 * - wrong samples carry a wrong final answer (gold + 1 + i for numeric golds), all with distinct texts.
 *
 * So after S samples per question: coverage@S = fraction of questions with floor(S f_q) >= 1, and
 * diversity@S = mean over questions of min(floor(S f_q), variants_q). For k < S the same holds for the first k samples
 * in generation order; if the sampler's order can differ from generation order (concurrent requests of the same
 * question), assert only at k = S, or pass `sampleIndex` to derive k from the request (e.g. from `seed`).
 *
 * @example
 * ```ts
 * const gold = goldTable({ 'What is 6*7?': '42', 'What is 2+2?': '4', 'Hard one?': '17' });
 * const wc = answerScript({
 *   gold,
 *   // 6*7: every 2nd sample correct; 2+2: all correct; hard: never.
 *   correctFraction: (q) => (q.includes('6*7') ? 0.5 : q.includes('2+2') ? 1 : 0),
 *   variants: (q) => (q.includes('2+2') ? 2 : Infinity), // 2+2 has at most 2 unique correct texts
 * });
 * // With 4 samples per question: coverage@4 = 2/3; diversity@4 = (2 + 2 + 0) / 3.
 * const server = await startScriptedServer({ models: { wc } });
 * ```
 */
import type { ModelScript, RespondContext, ScriptedChoice } from './scripted-server.js';

/** Appended to the reasoning of samples for which `flawed` returns true (for scripted LLM judges). */
export const FLAWED_REASONING_MARKER = '(a step above silently divides by zero)';

export interface SampleInfo {
  /** The question as the script sees it: the last user message. */
  question: string;
  gold: string;
  /** Index of this sample among the samples of this question (see the module comment). */
  k: number;
  ctx: RespondContext;
}

export interface AnswerScriptOptions {
  /** Gold answer for a last user message; `undefined`: unknown question (answered by `unknown`). */
  gold: (lastUserMessage: string) => string | undefined;
  /** Decides correctness of a sample; overrides `correctFraction`. */
  correct?: (s: SampleInfo) => boolean;
  /** Fraction of correct samples, per question if a function. Default 1. */
  correctFraction?: number | ((question: string, gold: string) => number);
  /** Number of distinct correct texts per question (j-th correct sample uses variant j % variants). Default Infinity. */
  variants?: number | ((question: string, gold: string) => number);
  /** Whether a correct sample has flawed reasoning (gets FLAWED_REASONING_MARKER). Default never. */
  flawed?: (s: SampleInfo & { variant: number }) => boolean;
  /** Wrong final answer of the `wrongIndex`-th wrong sample of a question. Default: see `defaultWrongAnswer`. */
  wrongAnswer?: (s: SampleInfo & { wrongIndex: number }) => string;
  /** Filler words of reasoning before the final sentence (controls completion tokens). Default 30. */
  reasoningWords?: number;
  /** Full text of a sample; default: reasoning + `The answer is \boxed{<answer>}.` */
  format?: (p: {
    answer: string;
    correct: boolean;
    variant: number;
    flawed: boolean;
    s: SampleInfo;
  }) => string;
  /** Index of a sample from its request, instead of the per-question generation counter `counter`. */
  sampleIndex?: (ctx: RespondContext, counter: number) => number;
  /** Answer to questions without gold. Default: a text with no final answer. */
  unknown?: (ctx: RespondContext) => ScriptedChoice;
  supportsN?: boolean;
  latencyMs?: number;
}

export interface AnswerScript extends ModelScript {
  /** Forget all per-question counters (the next sample of every question is k = 0 again). */
  reset(): void;
  /** Samples generated so far for a question (as seen by the script: last user message). */
  samplesOf(question: string): number;
  /** Correct samples generated so far for a question. */
  correctOf(question: string): number;
}

/**
 * Gold lookup from a table `question -> answer`. A last user message matches a question if it is equal to it or
 * contains it (prompt templates wrap the question); the longest contained question wins. Results are cached.
 */
export function goldTable(
  table: Record<string, string> | Map<string, string>,
): (lastUserMessage: string) => string | undefined {
  const map = table instanceof Map ? table : new Map(Object.entries(table));
  const keys = [...map.keys()].sort((a, b) => b.length - a.length);
  const cache = new Map<string, string | undefined>();
  return (message) => {
    const exact = map.get(message);
    if (exact !== undefined) return exact;
    if (cache.has(message)) return cache.get(message);
    let found: string | undefined;
    for (const key of keys) {
      if (message.includes(key)) {
        found = map.get(key);
        break;
      }
    }
    cache.set(message, found);
    return found;
  };
}

const NUMERIC = /^-?\d+(\.\d+)?$/;

/** Numeric gold g: g + 1 + wrongIndex; otherwise -(104729 + wrongIndex). Never equal to the gold. */
export function defaultWrongAnswer(gold: string, wrongIndex: number): string {
  const g = gold.replace(/[,$\s]/g, '');
  if (NUMERIC.test(g)) {
    const value = Number(g) + 1 + wrongIndex;
    return Number.isInteger(Number(g)) ? String(value) : String(Number(value.toFixed(6)));
  }
  return String(-(104729 + wrongIndex));
}

const FILLER = ['we', 'rewrite', 'the', 'expression', 'and', 'simplify', 'each', 'term', 'carefully', 'then'];

function reasoning(words: number, tag: string): string {
  const out: string[] = [`Solution ${tag}:`];
  for (let i = 0; i < words; i++) out.push(FILLER[i % FILLER.length]);
  return out.join(' ') + '.';
}

function perQuestion<T>(v: T | ((question: string, gold: string) => T), q: string, gold: string): T {
  return typeof v === 'function' ? (v as (question: string, gold: string) => T)(q, gold) : v;
}

/** A ModelScript answering math questions deterministically; see the module comment. */
export function answerScript(options: AnswerScriptOptions): AnswerScript {
  const counters = new Map<string, { samples: number; correct: number; wrong: number }>();
  const words = options.reasoningWords ?? 30;
  const format =
    options.format ??
    ((p: { answer: string; correct: boolean; variant: number; flawed: boolean }) =>
      `${reasoning(words, p.correct ? `approach ${p.variant + 1}` : `attempt ${p.variant + 1}`)}` +
      `${p.flawed ? ` ${FLAWED_REASONING_MARKER}` : ''} The answer is \\boxed{${p.answer}}.`);

  return {
    supportsN: options.supportsN,
    latencyMs: options.latencyMs,
    reset() {
      counters.clear();
    },
    samplesOf: (q) => counters.get(q)?.samples ?? 0,
    correctOf: (q) => counters.get(q)?.correct ?? 0,
    respond(ctx) {
      const question = ctx.lastUserMessage;
      const gold = options.gold(question);
      if (gold === undefined) {
        return options.unknown
          ? options.unknown(ctx)
          : { content: 'I could not find a solution to this problem.' };
      }
      let c = counters.get(question);
      if (!c) {
        c = { samples: 0, correct: 0, wrong: 0 };
        counters.set(question, c);
      }
      const counter = c.samples++;
      const k = options.sampleIndex ? options.sampleIndex(ctx, counter) : counter;
      const s: SampleInfo = { question, gold, k, ctx };
      let correct: boolean;
      if (options.correct) correct = options.correct(s);
      else {
        const f = perQuestion(options.correctFraction ?? 1, question, gold);
        correct = Math.floor((k + 1) * f + 1e-9) > Math.floor(k * f + 1e-9);
      }
      let content: string;
      if (correct) {
        const v = perQuestion(options.variants ?? Infinity, question, gold);
        const j = c.correct++;
        const variant = Number.isFinite(v) && v > 0 ? j % v : j;
        const flawed = options.flawed?.({ ...s, variant }) ?? false;
        content = format({ answer: gold, correct: true, variant, flawed, s });
      } else {
        const wrongIndex = c.wrong++;
        const answer = options.wrongAnswer?.({ ...s, wrongIndex }) ?? defaultWrongAnswer(gold, wrongIndex);
        content = format({ answer, correct: false, variant: wrongIndex, flawed: false, s });
      }
      if (ctx.maxTokens !== undefined && ctx.maxTokens > 0) {
        const parts = content.split(/\s+/).filter(Boolean);
        if (parts.length > ctx.maxTokens) {
          return {
            content: parts.slice(0, ctx.maxTokens).join(' '),
            finishReason: 'length',
            completionTokens: ctx.maxTokens,
          };
        }
      }
      return { content };
    },
  };
}
