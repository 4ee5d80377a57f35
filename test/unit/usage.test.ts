// What a response is charged (core/usage.ts): reported usage when credible, the worst case when it is
// missing, zero, or below what the text or the choices stopped for length must have cost.
import { describe, expect, it } from 'vitest';
import {
  chargedUsage,
  choiceTokensLowerBound,
  MAX_BYTES_PER_TOKEN,
  reportsUsageOfOneChoice,
  textTokensLowerBound,
} from '../../core/usage.js';

const text = 'The answer is 42 because six times seven is forty-two. '.repeat(4); // 224 bytes
const base = {
  choices: [{ text, finishReason: 'stop' }],
  requestedChoices: 1,
  maxTokens: 100,
  promptText: 'What is six times seven?',
  promptTokensUpperBound: 60,
};

describe('textTokensLowerBound', () => {
  it('is the UTF-8 bytes over MAX_BYTES_PER_TOKEN, with runs of one character counted once', () => {
    expect(textTokensLowerBound('')).toBe(0);
    expect(textTokensLowerBound(text)).toBe(Math.ceil(224 / MAX_BYTES_PER_TOKEN));
    // 4000 spaces can be a handful of tokens: they count as one byte.
    expect(textTokensLowerBound(' '.repeat(4000))).toBe(1);
    // Three-byte characters count three bytes each.
    expect(textTokensLowerBound('数学'.repeat(32))).toBe(Math.ceil((64 * 3) / MAX_BYTES_PER_TOKEN));
  });

  it('a choice stopped for length generated max_tokens; any choice at least one token', () => {
    expect(choiceTokensLowerBound({ text: 'a b', finishReason: 'length' }, 77)).toBe(77);
    expect(choiceTokensLowerBound({ text: '', finishReason: 'stop' }, 77)).toBe(1);
  });
});

describe('chargedUsage', () => {
  it('believes usage at or above what the response could have cost', () => {
    const charged = chargedUsage({ ...base, reported: { prompt_tokens: 9, completion_tokens: 50 } });
    expect(charged).toEqual({ promptTokens: 9, completionTokens: 50, distrusted: null });
  });

  it('charges the worst case for zero, missing or non-numeric usage', () => {
    for (const reported of [
      { prompt_tokens: 0, completion_tokens: 0 },
      undefined,
      null,
      { prompt_tokens: '9', completion_tokens: 50 },
      { prompt_tokens: 9, completion_tokens: Number.NaN },
    ]) {
      const charged = chargedUsage({ ...base, reported });
      expect(charged.distrusted).not.toBeNull();
      expect([charged.promptTokens, charged.completionTokens]).toEqual([60, 100]);
    }
  });

  it('charges the worst case for usage below the text bound, but never less than reported', () => {
    const low = chargedUsage({ ...base, reported: { prompt_tokens: 9, completion_tokens: 1 } });
    expect(low.distrusted).toMatch(/below/);
    expect(low.completionTokens).toBe(100);
    const lowPrompt = chargedUsage({
      ...base,
      promptText: 'abcdefghij'.repeat(64),
      promptTokensUpperBound: 700,
      reported: { prompt_tokens: 1, completion_tokens: 50 },
    });
    expect(lowPrompt.distrusted).toMatch(/prompt_tokens/);
    expect(lowPrompt.promptTokens).toBe(700);
    const over = chargedUsage({
      ...base,
      maxTokens: 10,
      reported: { prompt_tokens: 9, completion_tokens: 0 },
    });
    expect(over.completionTokens).toBe(10);
  });

  it('a single choice stopped for length may have hit the context: only its text bounds it', () => {
    const choices = [{ text, finishReason: 'length' }];
    const charged = chargedUsage({ ...base, choices, reported: { prompt_tokens: 9, completion_tokens: 60 } });
    expect(charged).toEqual({ promptTokens: 9, completionTokens: 60, distrusted: null });
  });

  it('a response without choices (a failure of its own) is charged what it reports', () => {
    const empty = chargedUsage({
      ...base,
      choices: [],
      reported: { prompt_tokens: 0, completion_tokens: 0 },
    });
    expect(empty).toEqual({ promptTokens: 0, completionTokens: 0, distrusted: null });
  });

  it('catches n > 1 usage counted for one choice: two choices stopped for length at 30 reported as 30', () => {
    const choices = [
      { text: 'x y z', finishReason: 'length' },
      { text: 'u v w', finishReason: 'length' },
    ];
    const charged = chargedUsage({
      ...base,
      choices,
      requestedChoices: 2,
      maxTokens: 30,
      reported: { prompt_tokens: 9, completion_tokens: 30 },
    });
    expect(charged.distrusted).toMatch(/below the 60/);
    expect(charged.completionTokens).toBe(60);
  });

  it("distrusts llama-server's usage of a multi-choice response, not of a single choice", () => {
    const llama = { choices: [], usage: {}, timings: { predicted_n: 43 } };
    expect(reportsUsageOfOneChoice(llama)).toBe(true);
    expect(reportsUsageOfOneChoice({ choices: [], usage: {} })).toBe(false);
    const two = [
      { text: 'short', finishReason: 'stop' },
      { text: 'short too', finishReason: 'stop' },
    ];
    const reported = { prompt_tokens: 9, completion_tokens: 43 };
    const multi = chargedUsage({
      ...base,
      choices: two,
      requestedChoices: 2,
      reported,
      reportsOneChoice: true,
    });
    expect(multi.distrusted).toMatch(/one of its 2 choices/);
    expect(multi.completionTokens).toBe(200);
    // Its prompt count is credible, and kept.
    expect(multi.promptTokens).toBe(9);
    const single = chargedUsage({ ...base, reported, reportsOneChoice: true });
    expect(single.distrusted).toBeNull();
    expect(single.completionTokens).toBe(43);
  });
});
