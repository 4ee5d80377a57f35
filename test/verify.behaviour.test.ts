import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runGrade } from '../cli/grade.js';
import {
  answersEquivalent,
  extractGoldAnswer,
  gradeCompletion,
  VERIFIER_VERSION,
} from '../core/verify/index.js';

async function grade(lines: string[], format: 'math' | 'gsm8k', lastNumberFallback?: boolean) {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (chunk) => (text += chunk));
  input.end(lines.join('\n') + '\n');
  const summary = await runGrade({ format, lastNumberFallback }, input, output);
  return {
    summary,
    out: text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
  };
}

describe('verdict records', () => {
  it('has a version', () => expect(VERIFIER_VERSION).toMatch(/^wcse-verify-/));

  it('truncated output yields no answer, never a guess', () => {
    expect(gradeCompletion('so \\boxed{4}', '4', 'math', { finishReason: 'length' })).toEqual({
      extracted: null,
      normalized: null,
      correct: false,
      reason: 'truncated',
    });
  });

  it('records extracted, normalised, correct and reason', () => {
    expect(gradeCompletion('thus $\\boxed{\\dfrac{1}{2}}$', '0.5', 'math')).toEqual({
      extracted: '\\dfrac{1}{2}',
      normalized: '\\frac{1}{2}',
      correct: true,
      reason: 'numeric',
    });
    expect(gradeCompletion('no idea', '4', 'math').reason).toBe('no-answer');
    expect(gradeCompletion('\\boxed{x^2-1}', '(x-1)(x+1)', 'math').reason).toBe('symbolic');
    expect(gradeCompletion('\\boxed{\\{1,2\\}}', '\\{2,1\\}', 'math').reason).toBe('set');
    expect(gradeCompletion('\\boxed{(1,2)}', '(1,2,3)', 'math').reason).toBe('mismatch');
  });

  it('reads the gold answer from a worked solution', () => {
    expect(extractGoldAnswer('Natalia sold 24 clips.\n#### 72', 'gsm8k')).toBe('72');
    expect(extractGoldAnswer('So the sum is $\\boxed{\\frac{3}{4}}$.', 'math')).toBe('\\frac{3}{4}');
    expect(extractGoldAnswer('1,000', 'gsm8k')).toBe('1,000');
  });
});

describe('time limits', () => {
  it('answers pathological input within the limit, as not equal', () => {
    const tower = '2^{'.repeat(200) + '2' + '}'.repeat(200);
    const started = Date.now();
    const verdict = answersEquivalent(tower, '5');
    expect(verdict.equal).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answersEquivalent('x'.repeat(6000), 'x').reason).toBe('timeout');
    // A deadline already passed: the comparison stops at its first check.
    expect(answersEquivalent('x^2+1', 'x^2+1+0', -1).reason).toBe('timeout');
  });

  it('grades thousands of answers per second', () => {
    const started = performance.now();
    for (let k = 0; k < 2000; k++)
      gradeCompletion(`so the answer is $\\boxed{\\frac{${k}}{7}}$`, `${k}/7`, 'math');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('the whole completion is read', () => {
  // A model that answers and then keeps writing: the box is 30,000 characters from the end (the verifier
  // once read only the last 20,000 characters and found no answer here).
  const rambling = 'We double-check the computation once more, step by step, and it holds. '.repeat(440);

  it('finds a final answer far from the end of a long completion', () => {
    const completion = `So the total is $\\boxed{42}$.\n\n${rambling}`;
    expect(completion.length - completion.indexOf('\\boxed')).toBeGreaterThan(30_000);
    expect(gradeCompletion(completion, '42', 'math')).toMatchObject({ extracted: '42', correct: true });
    expect(gradeCompletion(completion, '43', 'math')).toMatchObject({ extracted: '42', correct: false });
  });

  it('stays linear on a megabyte of unclosed math openers', () => {
    for (const opener of ['\\(', '\\[', '$$', '$']) {
      // No marked answer: the answer is the last math span, so every span of the text is scanned.
      const completion = `${`${opener} x `.repeat(250_000)}\nso we get $7$`;
      const started = Date.now();
      const verdict = gradeCompletion(completion, '7', 'math');
      expect(Date.now() - started, opener).toBeLessThan(3_000);
      expect(verdict.correct, opener).toBe(true);
    }
  });
});

describe('last-number fallback', () => {
  const prose = 'We try 12 apples, then 17 apples, and stop there.';

  it('is off for MATH and on for GSM8K by default', () => {
    expect(gradeCompletion(prose, '17', 'math')).toMatchObject({ extracted: null, reason: 'no-answer' });
    expect(gradeCompletion(prose, '17', 'gsm8k')).toMatchObject({ extracted: '17', correct: true });
  });

  it('follows verifier.lastNumberFallback either way', () => {
    expect(gradeCompletion(prose, '17', 'math', { lastNumberFallback: true })).toMatchObject({
      extracted: '17',
      correct: true,
    });
    expect(gradeCompletion(prose, '17', 'gsm8k', { lastNumberFallback: false }).reason).toBe('no-answer');
    // A marked answer is found whatever the setting.
    expect(gradeCompletion('The answer is 5.', '5', 'math', { lastNumberFallback: false }).correct).toBe(
      true,
    );
    expect(gradeCompletion('#### 5', '5', 'gsm8k', { lastNumberFallback: false }).correct).toBe(true);
  });
});

describe('runGrade', () => {
  it('writes one line per input line in order, with error lines for malformed input', async () => {
    const { summary, out } = await grade(
      [
        JSON.stringify({ completion: 'so \\boxed{12}', answer: '12' }),
        '{not json',
        JSON.stringify({ completion: 'x', answer: 3 }),
        JSON.stringify({ completion: 'The answer is 2', answer: '12' }),
      ],
      'math',
    );
    expect(summary).toEqual({ lines: 4, errors: 2 });
    expect(out[0]).toMatchObject({ extracted: '12', correct: true, reason: 'string' });
    expect(out[1]).toMatchObject({ line: 2 });
    expect(out[1].error).toMatch(/^line 2: expected JSON object with string fields completion and answer: /);
    expect(out[2].error).toMatch(/^line 3: .*"answer"/);
    expect(out[3]).toMatchObject({ extracted: '2', correct: false, reason: 'mismatch' });
  });

  it('passes --[no-]last-number-fallback to the verifier', async () => {
    const line = JSON.stringify({ completion: 'so 17 apples', answer: '17' });
    expect((await grade([line], 'math')).out[0]).toMatchObject({ reason: 'no-answer' });
    expect((await grade([line], 'math', true)).out[0]).toMatchObject({ extracted: '17', correct: true });
    expect((await grade([line], 'gsm8k', false)).out[0]).toMatchObject({ reason: 'no-answer' });
  });

  it('grades GSM8K with a whole gold solution', async () => {
    const { out } = await grade(
      [JSON.stringify({ completion: 'She has 3+4=7.\n#### 7', answer: 'Add: 3+4=<<3+4=7>>7\n#### 7' })],
      'gsm8k',
    );
    expect(out[0]).toMatchObject({ extracted: '7', correct: true });
  });
});
