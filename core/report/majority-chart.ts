// The maj@k chart: maj@k against k on the headline test set, one curve per finetuned model
// (core/report/evaluations.ts holds the rows; this module only draws them).
import type { DataSource } from '../config.js';
import type { Setup } from '../results.js';
import { testSetNames, type EvaluationEntry } from './evaluations.js';
import { percent } from './format.js';
import { COLORS, curveChartSvg, type CurveSeries } from './svg.js';

function setupShades(): Record<Setup, Record<DataSource, string>> {
  return {
    student: { wc: COLORS.wc, se: COLORS.se, gold: COLORS.gold },
    wc: { wc: '#f4a259', se: '#6fa8dc', gold: '#66c2a5' },
    se: { wc: '#8c3a00', se: '#0b3563', gold: '#0b5e45' },
  };
}

/** maj@k against k on the headline test set, one curve per finetuned model; null without maj@k data. */
export function majorityChartSvg(entries: EvaluationEntry[]): string | null {
  const headline = testSetNames(entries)[0];
  const shades = setupShades();
  const series: CurveSeries[] = entries
    .filter((e) => e.data !== null && e.testSet === headline && e.majority.some((p) => p.accuracy !== null))
    .map((e) => ({
      name: e.label,
      color: shades[e.setup][e.data!],
      points: e.majority.flatMap((p) => (p.accuracy === null ? [] : [{ k: p.k, value: p.accuracy }])),
    }));
  if (!series.length) return null;
  const sampled = entries.find((e) => e.majorityTemperature !== null);
  return curveChartSvg({
    title: `maj@k on test set "${headline}"`,
    subtitle:
      `Majority vote over k samples at temperature ${sampled?.majorityTemperature ?? '?'} ` +
      `(${sampled?.majoritySamples ?? '?'} drawn per question)`,
    yLabel: 'maj@k',
    yFormat: (v) => percent(v, 0),
    endFormat: (v) => percent(v, 1),
    yCap: 1,
    endLegend: 'maj@k at the largest k',
    plainEndLabels: true,
    series,
  });
}
