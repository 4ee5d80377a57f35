// Prompt presets: the shipped few-shot exemplars resolve from a config, fields beside `preset` override
// them, and the verifier reads each exemplar's final answer the way it will read completions in that style.
import { describe, expect, it } from 'vitest';
import { EvaluationSchema, ModelSchema } from '../../core/config.js';
import { PROMPT_PRESETS } from '../../core/prompts/presets.js';
import { buildMessages } from '../../core/prompt.js';
import { gradeCompletion } from '../../core/verify/index.js';

const model = { model: 'm', baseURL: 'http://localhost:1/v1', params: '9B' };

describe('prompt presets', () => {
  it('a preset fills system, user and few-shot; explicit fields win', () => {
    const minerva = ModelSchema.parse({ ...model, prompt: { preset: 'math-4shot-minerva' } }).prompt;
    expect(minerva.fewShot).toHaveLength(4);
    expect(minerva.user).toBe('Problem:\n{question}\n\nSolution:');
    const messages = buildMessages(minerva, 'What is 1+1?');
    expect(messages).toHaveLength(9);
    expect(messages[8]).toEqual({ role: 'user', content: 'Problem:\nWhat is 1+1?\n\nSolution:' });

    const gsm8k = ModelSchema.parse({
      ...model,
      prompt: { preset: 'gsm8k-8shot-cot', system: 'Solve it.', user: 'Question: {question}\nAnswer:' },
    }).prompt;
    expect(gsm8k.fewShot).toHaveLength(8);
    expect(gsm8k.system).toBe('Solve it.');
    expect(buildMessages(gsm8k, 'Q?')[1].content).toMatch(/^Question: There are 15 trees/);

    // No preset: the old defaults, with the same keys (sampling fingerprints hash this object).
    expect(ModelSchema.parse(model).prompt).toEqual({ user: '{question}', fewShot: [] });
    expect(() => ModelSchema.parse({ ...model, prompt: { preset: 'math-99shot' } })).toThrow();
  });

  it("the evaluation prompt takes a preset's template but never its exemplars", () => {
    const evaluation = EvaluationSchema.parse({
      problems: { path: 'test.jsonl', kind: 'math' },
      prompt: { preset: 'math-4shot-minerva' },
    });
    expect(evaluation.prompt).toEqual({ user: 'Problem:\n{question}\n\nSolution:' });
  });

  const answers: Record<string, { format: 'math' | 'gsm8k'; golds: string[] }> = {
    'math-4shot-minerva': { format: 'math', golds: ['[2,5)', '24', '16', '-\\frac{2}{3}'] },
    'gsm8k-8shot-cot': { format: 'gsm8k', golds: ['6', '5', '39', '8', '9', '29', '33', '8'] },
  };
  for (const [name, { format, golds }] of Object.entries(answers)) {
    it(`${name}: every exemplar's final answer is extracted and graded correct (and a wrong gold is not)`, () => {
      const preset = PROMPT_PRESETS[name as keyof typeof PROMPT_PRESETS];
      expect(
        preset.fewShot.map((shot) => gradeCompletion(shot.answer, golds.shift()!, format).correct),
      ).toEqual(preset.fewShot.map(() => true));
      for (const shot of preset.fewShot)
        expect(gradeCompletion(shot.answer, '12345', format).correct).toBe(false);
    });
  }

  it('reads "The final answer is $X$" and "The answer is N." in completions without a box', () => {
    const minerva =
      'The sum is $3 + 4 = 7$, and doubling gives 14 steps later.\n' +
      'Final Answer: The final answer is $\\frac{7}{2}$. I hope it is correct.';
    expect(gradeCompletion(minerva, '\\frac{7}{2}', 'math')).toMatchObject({ correct: true });
    expect(gradeCompletion(minerva, '14', 'math')).toMatchObject({ correct: false });
    const cot = 'Olivia had 23 dollars. 5 x 3 = 15. 23 - 15 is 8. The answer is 8.';
    expect(gradeCompletion(cot, '8', 'gsm8k')).toMatchObject({ correct: true });
  });
});
