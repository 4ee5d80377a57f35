// The report's spent ratio: shown beside the planned one, and a warning when WC and SE differ by over 2%.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../core/config.js';
import { planComputeMatched } from '../../core/plan.js';
import { EMPTY_LEDGER, type SamplingResult } from '../../core/records.js';
import { ledgerMarkdown } from '../../core/report/markdown.js';
import { buildReportDocument } from '../../core/report/model.js';

const plan = planComputeMatched(
  validateConfig(
    {
      name: 'spend',
      problems: { path: 'x.jsonl', kind: 'gsm8k' },
      models: {
        wc: { model: 'w', baseURL: 'http://x/v1', params: 1e9, sampling: { maxTokens: 100 } },
        se: { model: 's', baseURL: 'http://x/v1', params: 3e9, sampling: { maxTokens: 100 } },
      },
      budget: { mode: 'flops', flopsPerSource: 1e15 },
    },
    'spend.yaml',
  ),
  {
    questions: 100,
    promptTokens: {
      wc: { expectedPerRequestSum: 1000, upperBoundPerRequestSum: 2000, upperBoundPerRequestMax: 20 },
      se: { expectedPerRequestSum: 1000, upperBoundPerRequestSum: 2000, upperBoundPerRequestMax: 20 },
    },
  },
);

const sampling = (source: 'wc' | 'se', flops: number): SamplingResult => ({
  source,
  ledger: { ...EMPTY_LEDGER, requests: 10, samples: 10, completionTokens: 100, flops },
  samplesPerQuestion: 1,
  rounds: 1,
  stopReason: 'FLOPs budget',
  wallSeconds: 1,
});

const report = (wcFlops: number, seFlops: number) =>
  buildReportDocument({
    experimentId: 'spend',
    generatedAt: '2026-01-01T00:00:00Z',
    plan,
    metrics: null,
    datasets: {},
    sampling: { wc: sampling('wc', wcFlops), se: sampling('se', seFlops) },
    setups: [],
  });

describe('spent ratio in the report', () => {
  it('shows the ratio and the planned one when within 2%', () => {
    const doc = report(0.995e15, 0.985e15);
    expect(doc.spend.unit).toBe('FLOPs');
    expect(doc.spend.ratio).toBeCloseTo(0.995 / 0.985, 12);
    expect(doc.spend.plannedRatio).toBe(plan.expectedSpentRatio);
    expect(doc.spend.warning).toBeNull();
    expect(doc.notes.join('\n')).not.toMatch(/Warning/);
    expect(ledgerMarkdown(doc)).toContain(
      `Matched in FLOPs: spent WC / SE = 1.0102 (planned ${Number(plan.expectedSpentRatio!.toFixed(4))}), within 2%.`,
    );
  });

  it('warns in the notes and the ledger when WC and SE differ by more than 2%', () => {
    const doc = report(0.916e15, 0.845e15);
    const warning =
      'Spent FLOPs WC / SE = 1.0840: WC over-spends SE by 8.4%, more than the 2% the comparison allows';
    expect(doc.spend.warning).toBe(warning);
    expect(doc.notes).toContain(`Warning: ${warning}.`);
    expect(ledgerMarkdown(doc)).toContain(`**Warning:** ${warning}.`);
    expect(report(0.8e15, 0.9e15).spend.warning).toMatch(/WC under-spends SE by 11\.1%/);
  });
});
