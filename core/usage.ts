// What a response is charged: the endpoint's reported `usage` when it is credible, else the worst case.
// A budget is enforced from these charges, so an endpoint that reports no usage, zero usage, or usage for
// only one of `n` choices (llama-server) can never make a run spend past its budget. Pure: importable by
// workflows.
import { utf8Length } from './prompt.js';

/**
 * The most UTF-8 bytes one token stands for, once runs of a repeated character are collapsed: every
 * tokenizer in use has some long tokens, but (measured on SmolLM2's 49k vocabulary) they are runs of one
 * character (spaces, dashes, box lines) or words of at most 25 bytes ("ManagementPlaneProtection"). 32
 * leaves a margin, so an honest count is never below `textTokensLowerBound`.
 */
export const MAX_BYTES_PER_TOKEN = 32;

/**
 * A lower bound on the tokens any tokenizer needs for `text`: its UTF-8 bytes, with each run of 4 or more
 * of the same character counted once, divided by `MAX_BYTES_PER_TOKEN`.
 */
export function textTokensLowerBound(text: string): number {
  const collapsed = text.replace(/([\s\S])\1{3,}/g, '$1');
  return Math.ceil(utf8Length(collapsed) / MAX_BYTES_PER_TOKEN);
}

export interface ChoiceSeen {
  text: string;
  finishReason: string | null;
}

/**
 * The fewest completion tokens a choice can have cost: `max_tokens` when it stopped for length (it
 * generated that many, unless the server's context ended it first: see `chargedUsage`), else its text's
 * lower bound, and at least 1 (deciding to stop is a generated token too).
 */
export function choiceTokensLowerBound(choice: ChoiceSeen, maxTokens: number): number {
  if (choice.finishReason === 'length') return maxTokens;
  return Math.max(1, textTokensLowerBound(choice.text));
}

/**
 * Whether a response comes from llama.cpp's `llama-server` (it alone adds a `timings` object), which
 * reports `usage` (and `timings.predicted_n`) of choice 0 only when `n` > 1 (measured on the build of
 * llama-cpp-python 0.3.36: 43 completion tokens for choices of 43 and 31 tokens).
 */
export function reportsUsageOfOneChoice(response: unknown): boolean {
  return (
    typeof response === 'object' &&
    response !== null &&
    typeof (response as { timings?: unknown }).timings === 'object'
  );
}

export interface ReportedUsage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
}

export interface ChargedUsage {
  promptTokens: number;
  completionTokens: number;
  /** Why the reported usage was not believed (then the charge is the worst case), or null. */
  distrusted: string | null;
}

/**
 * The usage a response is charged. The reported usage, unless it is missing, not a count, or below what
 * the response could have cost (the sum of `choiceTokensLowerBound` over its choices, or the prompt's
 * `textTokensLowerBound`): then the worst case, `max_tokens` for every choice requested or returned, and
 * `promptTokensUpperBound` unless the reported prompt count is credible; never less than what was reported.
 */
export function chargedUsage(args: {
  reported: ReportedUsage | null | undefined;
  choices: readonly ChoiceSeen[];
  /** `n` of the request. */
  requestedChoices: number;
  maxTokens: number;
  promptText: string;
  promptTokensUpperBound: number;
  /** The endpoint is known to report one choice's usage for a multi-choice response (`reportsUsageOfOneChoice`). */
  reportsOneChoice?: boolean;
}): ChargedUsage {
  const { reported, choices, maxTokens } = args;
  const prompt = countOf(reported?.prompt_tokens);
  const completion = countOf(reported?.completion_tokens);
  // No choices: nothing to check against, and the request fails (EmptyChoices, retried a bounded number
  // of times), so it is charged what it reports.
  if (choices.length === 0) {
    return { promptTokens: prompt ?? 0, completionTokens: completion ?? 0, distrusted: null };
  }
  // A single choice stopped for length may have hit the server's context instead of max_tokens (honestly
  // fewer tokens): only its text bounds it. In a multi-choice response the `length` rule is what exposes
  // usage counted for one choice.
  const completionFloor = choices.reduce(
    (sum, choice) =>
      sum +
      (choices.length > 1
        ? choiceTokensLowerBound(choice, maxTokens)
        : choiceTokensLowerBound({ ...choice, finishReason: null }, maxTokens)),
    0,
  );
  const promptFloor = textTokensLowerBound(args.promptText);
  let distrusted: string | null = null;
  if (prompt === null || completion === null) distrusted = 'no usage reported';
  else if (args.reportsOneChoice && choices.length > 1) {
    distrusted = `llama-server reports the usage of one of its ${choices.length} choices`;
  } else if (completion < completionFloor) {
    distrusted =
      `completion_tokens ${completion} is below the ${completionFloor} its ${choices.length} choice(s) ` +
      'must have cost';
  } else if (prompt < promptFloor) {
    distrusted = `prompt_tokens ${prompt} is below the ${promptFloor} the prompt must have cost`;
  }
  if (distrusted === null) return { promptTokens: prompt!, completionTokens: completion!, distrusted };
  const worstChoices = Math.max(args.requestedChoices, choices.length);
  // A credible prompt count stays (llama-server counts the prompt right, only the choices wrong).
  const promptCredible = prompt !== null && completion !== null && prompt >= promptFloor;
  return {
    promptTokens: promptCredible ? prompt : Math.max(prompt ?? 0, args.promptTokensUpperBound),
    completionTokens: Math.max(completion ?? 0, worstChoices * maxTokens),
    distrusted,
  };
}

/** A finite, non-negative token count, else null. */
function countOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}
