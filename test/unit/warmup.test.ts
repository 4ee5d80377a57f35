// The warm-up stage's pure parts: the config section, the text of a warm-up example (a GSM8K-style reference
// solution in the prompts' "The answer is N." format) and the model config of a warmed-up model.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../core/config.js';
import { warmedUpModel, warmupPlanNote, warmupSolutionText } from '../../core/warmup.js';

const base = {
  name: 'x',
  problems: { path: 'train.jsonl', kind: 'gsm8k' },
  models: {
    wc: { model: 'w', baseURL: 'http://a/v1', params: '1B', apiKeyEnv: 'KEY_A' },
    se: {
      model: 's',
      baseURL: 'http://a/v1',
      params: '2B',
      fineTuning: { baseURL: 'http://tune/v1', servingBaseURL: 'http://serve/v1', servingApiKeyEnv: 'KEY_S' },
    },
  },
  budget: { mode: 'ratio', samplesPerQuestion: 1 },
};

describe('warm-up', () => {
  it('turns a GSM8K-style solution into one line ending "The answer is N."', () => {
    expect(warmupSolutionText('Mia starts with 12 apples.\nNow she has 12 + 7 = 19 apples.\n#### 19')).toBe(
      'Mia starts with 12 apples. Now she has 12 + 7 = 19 apples. The answer is 19.',
    );
    expect(warmupSolutionText('Half of 48 is 48/2=<<48/2=24>>24.\n#### 24')).toBe(
      'Half of 48 is 48/2=24. The answer is 24.',
    );
    expect(warmupSolutionText('#### 7')).toBe('The answer is 7.');
    expect(warmupSolutionText('  no marker  ')).toBe('no marker');
  });

  it('validates the config section with defaults, and refuses unknown fields', () => {
    const config = validateConfig(
      { ...base, warmup: { problems: { path: 'w.jsonl', kind: 'gsm8k', limit: 64 }, steps: 20 } },
      'c.yaml',
    );
    expect(config.warmup).toMatchObject({
      steps: 20,
      batchSize: 8,
      pollIntervalSeconds: 15,
      hyperparameters: {},
    });
    expect(warmupPlanNote(config)).toContain(
      'for 20 steps of 8 on the reference solutions of w.jsonl (64 problems)',
    );
    expect(warmupPlanNote(validateConfig(base, 'c.yaml'))).toBeNull();
    expect(() =>
      validateConfig(
        { ...base, warmup: { problems: { path: 'w.jsonl', kind: 'gsm8k' }, step: 3 } },
        'c.yaml',
      ),
    ).toThrow(/warmup/);
  });

  it('a warmed-up model is sampled where fine-tunes are served and finetuned further from itself', () => {
    const config = validateConfig(base, 'c.yaml');
    const wc = warmedUpModel(config.models.wc, 'ft:w:warmup:1');
    expect(wc).toMatchObject({
      model: 'ft:w:warmup:1',
      baseURL: 'http://a/v1',
      apiKeyEnv: 'KEY_A',
      params: 1e9,
    });
    expect(wc.fineTuning).toMatchObject({
      model: 'ft:w:warmup:1',
      baseURL: 'http://a/v1',
      apiKeyEnv: 'KEY_A',
    });
    const se = warmedUpModel(config.models.se, 'ft:s:warmup:2');
    expect(se).toMatchObject({ model: 'ft:s:warmup:2', baseURL: 'http://serve/v1', apiKeyEnv: 'KEY_S' });
    expect(se.fineTuning).toMatchObject({
      model: 'ft:s:warmup:2',
      baseURL: 'http://tune/v1',
      servingBaseURL: 'http://serve/v1',
      supportsSteps: true,
    });
    expect(se.prompt).toEqual(config.models.se.prompt);
  });
});
