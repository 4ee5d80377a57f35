// The evaluation section of the config: one test split or named test sets (one way at a time), maj@k settings,
// and the test sets as the workflow sees them (a single split is the set named "test").
import { describe, expect, it } from 'vitest';
import { testSetsOf, validateConfig } from '../../core/config.js';

const base = {
  name: 'x',
  problems: { path: 'train.jsonl', kind: 'gsm8k' },
  models: {
    wc: { model: 'w', baseURL: 'http://a/v1', params: '1B' },
    se: { model: 's', baseURL: 'http://a/v1', params: '2B' },
  },
  budget: { mode: 'ratio', samplesPerQuestion: 1 },
};
const split = (path: string) => ({ path, kind: 'gsm8k' });

describe('evaluation config', () => {
  it('a single split is the test set "test"; named sets keep their order', () => {
    const single = validateConfig({ ...base, evaluation: { problems: split('t.jsonl') } }, 'c.yaml');
    expect(testSetsOf(single.evaluation!).map((s) => [s.name, s.problems.path])).toEqual([
      ['test', 't.jsonl'],
    ]);
    expect(single.evaluation!.majority).toBeUndefined();
    const named = validateConfig(
      {
        ...base,
        evaluation: { testSets: { math500: split('m.jsonl'), gsm8k: split('g.jsonl') }, majority: {} },
      },
      'c.yaml',
    );
    expect(testSetsOf(named.evaluation!).map((s) => s.name)).toEqual(['math500', 'gsm8k']);
    expect(named.evaluation!.majority).toEqual({ k: [1, 4, 8, 16], temperature: 0.7 });
  });

  it('names the field of each mistake', () => {
    const problems = (evaluation: unknown) => {
      try {
        validateConfig({ ...base, evaluation }, 'c.yaml');
        return [];
      } catch (error) {
        return (error as { problems: string[] }).problems;
      }
    };
    expect(problems({})).toEqual([expect.stringMatching(/^evaluation: give the test split/)]);
    expect(problems({ problems: split('t.jsonl'), testSets: { a: split('a.jsonl') } })).toEqual([
      expect.stringMatching(/^evaluation\.testSets: give `problems`.* or `testSets`, not both/),
    ]);
    expect(problems({ testSets: { 'bad name': split('a.jsonl') } })[0]).toMatch(
      /^evaluation\.testSets\.bad name/,
    );
    expect(problems({ problems: split('t.jsonl'), majority: { k: [1, 8], samples: 4 } })).toEqual([
      expect.stringMatching(/^evaluation\.majority\.samples: 4 samples per question cannot give maj@8/),
    ]);
  });
});
