// The report's evaluation rows: one per model and test set, results written before named test sets and
// maj@k still read as the set "test" without a curve, and the maj@k chart only when there is a curve.
import { describe, expect, it } from 'vitest';
import { evaluationEntries, evaluationsMarkdown } from '../../core/report/evaluations.js';
import { majorityChartSvg } from '../../core/report/majority-chart.js';
import type { EvalResult, SetupResult } from '../../core/results.js';
import { evalResult } from '../support/eval-result.js';

function result(model: string, accuracy: number, extra: Partial<EvalResult> = {}): EvalResult {
  return evalResult({
    evalId: model,
    model,
    kind: 'finetuned',
    data: 'wc',
    correct: accuracy * 4,
    accuracy,
    ...extra,
  });
}

const curve = (a: number) => ({
  temperature: 0.7,
  samples: 4,
  fingerprint: 'majority-x',
  curve: [
    { k: 1, accuracy: a },
    { k: 4, accuracy: a + 0.25 },
  ],
});

function setup(base: EvalResult, wc: EvalResult): SetupResult {
  const finetune = {
    setup: 'student' as const,
    data: 'wc' as const,
    baseModel: 'b',
    jobId: 'j',
    fineTunedModel: wc.model,
    status: 'succeeded',
    trainedTokens: null,
    hyperparameters: {},
    trainingFileId: 'f',
    validationFileId: null,
    eventsKey: 'e',
    wallSeconds: 1,
  };
  return {
    setup: 'student',
    trainedRole: 'student',
    baseModel: 'b',
    base,
    runs: { wc: { finetune, evaluation: wc } },
    skipped: {},
  };
}

describe('report evaluations', () => {
  it('reads older results as the set "test" with no maj@k, and draws no chart', () => {
    const entries = evaluationEntries([
      setup(result('b', 0.25, { kind: 'base', data: null }), result('ft', 0.5)),
    ]);
    expect(entries.map((e) => [e.label, e.testSet, e.accuracy, e.majority])).toEqual([
      ['Student-LM base', 'test', 0.25, []],
      ['Student-LM on WC data', 'test', 0.5, []],
    ]);
    const md = evaluationsMarkdown(entries);
    expect(md).toContain('**Test set `test`**');
    expect(md).toContain('maj@k was not measured');
    expect(majorityChartSvg(entries)).toBeNull();
  });

  it('gives a row per test set with its maj@k, and charts the headline set', () => {
    const perSet = (model: string, a: number, b: number) => {
      const main = result(model, a, { testSet: 'math500', majority: curve(a) });
      const other = result(model, b, { testSet: 'gsm8k', majority: curve(b) });
      return { ...main, testSets: { math500: main, gsm8k: other } };
    };
    const entries = evaluationEntries([
      setup({ ...perSet('b', 0.25, 0.5), kind: 'base', data: null }, perSet('ft', 0.5, 0.75)),
    ]);
    expect(entries.map((e) => [e.label, e.testSet, e.accuracy])).toEqual([
      ['Student-LM base', 'math500', 0.25],
      ['Student-LM base', 'gsm8k', 0.5],
      ['Student-LM on WC data', 'math500', 0.5],
      ['Student-LM on WC data', 'gsm8k', 0.75],
    ]);
    const md = evaluationsMarkdown(entries);
    expect(md.indexOf('**Test set `math500`**')).toBeLessThan(md.indexOf('**Test set `gsm8k`**'));
    expect(md).toContain('| maj@1 | maj@4 |');
    expect(md).toMatch(/Student-LM on WC data .*\| 75\.0% \| 100\.0% \|/);
    const svg = majorityChartSvg(entries)!;
    expect(svg).toContain('maj@k on test set &quot;math500&quot;');
    expect(svg).toContain('Student-LM on WC data: 75.0%');
    expect(svg).not.toContain('Student-LM base');
  });
});
