// The report's evaluation detail: every evaluated model on every test set, greedy pass@1 beside the maj@k
// curve (core/majority.ts), as report.json rows, a markdown table and a chart. Greedy pass@1 stays the
// headline number (core/report/model.ts); this is the supporting detail.
import type { DataSource } from '../config.js';
import { MAJORITY_DEFINITION, type MajorityPoint } from '../majority.js';
import { SETUPS, type EvalResult, type Interval, type Setup, type SetupResult } from '../results.js';
import { percent, percentInterval } from './format.js';

export { MAJORITY_DEFINITION };

/** One model on one test set. */
export interface EvaluationEntry {
  setup: Setup;
  /** The training data of a finetuned model (gold: the GT baseline); null for the base model. */
  data: DataSource | null;
  /** "Student-LM on WC data", "WC-LM base", ... */
  label: string;
  model: string;
  testSet: string;
  /** The greedy pass's fingerprint (`greedy-<hash>`): what was evaluated; null for older results. */
  fingerprint: string | null;
  /** Greedy pass@1 (the headline). */
  accuracy: number;
  ci: Interval;
  n: number;
  correct: number;
  /** maj@k at `majorityTemperature`; empty when evaluation.majority was off. */
  majority: MajorityPoint[];
  majorityTemperature: number | null;
  majoritySamples: number | null;
  /** The judged FPR of its correct greedy outputs (evaluation.judgeOutputs); null when not judged. */
  outputsFpr: OutputsFprEntry | null;
}

/** An evaluation's output FPR as report.json shows it (definitions.outputsFpr). */
export interface OutputsFprEntry {
  rate: number | null;
  ci: Interval | null;
  /** Outputs with a VALID/INVALID verdict: the rate's n. */
  judged: number;
  invalid: number;
  unparsed: number;
  judgeModel: string;
  /** Correct greedy outputs the sample was drawn from. */
  correctOutputs: number;
  sampleSize: number;
  stratifiedByLevel: boolean;
}

/** Defined in the report when some evaluation's outputs were judged. */
export const OUTPUTS_FPR_DEFINITION =
  "Output FPR: among an evaluated model's judged correct test outputs (greedy pass; a seeded sample of " +
  '`evaluation.judgeOutputs.sampleSize` of them drawn by the rule of definitions.fprSample, all when fewer), ' +
  'the fraction the judge calls INVALID; the same judge model, prompt and endpoint path as the training ' +
  "data's FPR; replies with no verdict are left out; 95% Wilson interval; n = judged outputs.";

const SETUP_LABELS: Record<Setup, string> = { student: 'Student-LM', wc: 'WC-LM', se: 'SE-LM' };
const DATA_LABELS: Record<DataSource, string> = { wc: 'WC', se: 'SE', gold: 'GT' };

function entriesOf(setup: Setup, data: DataSource | null, result: EvalResult): EvaluationEntry[] {
  const label = data ? `${SETUP_LABELS[setup]} on ${DATA_LABELS[data]} data` : `${SETUP_LABELS[setup]} base`;
  const perSet: Array<Omit<EvalResult, 'testSets'>> = result.testSets
    ? Object.values(result.testSets)
    : [result];
  return perSet.map((r) => ({
    setup,
    data,
    label,
    model: r.model,
    testSet: r.testSet ?? 'test',
    fingerprint: r.fingerprint ?? null,
    accuracy: r.accuracy,
    ci: r.ci,
    n: r.n,
    correct: r.correct,
    majority: r.majority?.curve ?? [],
    majorityTemperature: r.majority?.temperature ?? null,
    majoritySamples: r.majority?.samples ?? null,
    outputsFpr: r.outputsFpr
      ? {
          rate: r.outputsFpr.fpr,
          ci: r.outputsFpr.ci,
          judged: r.outputsFpr.judged,
          invalid: r.outputsFpr.invalid,
          unparsed: r.outputsFpr.unparsed,
          judgeModel: r.outputsFpr.judgeModel,
          correctOutputs: r.outputsFpr.correctOutputs,
          sampleSize: r.outputsFpr.sampleSize,
          stratifiedByLevel: r.outputsFpr.stratifiedByLevel,
        }
      : null,
  }));
}

/** Every evaluation of the run: per setup, the base model, then SE, WC and GT data; each on every test set. */
export function evaluationEntries(setups: SetupResult[]): EvaluationEntry[] {
  const ordered = [...setups].sort((a, b) => SETUPS.indexOf(a.setup) - SETUPS.indexOf(b.setup));
  const entries: EvaluationEntry[] = [];
  for (const result of ordered) {
    if (result.base) entries.push(...entriesOf(result.setup, null, result.base));
    for (const source of ['se', 'wc', 'gold'] as const) {
      const run = result.runs?.[source];
      if (run) entries.push(...entriesOf(result.setup, source, run.evaluation));
    }
  }
  return entries;
}

/** The test sets in the order they were configured (the first is the headline set). */
export function testSetNames(entries: EvaluationEntry[]): string[] {
  return [...new Set(entries.map((e) => e.testSet))];
}

function majorityKs(entries: EvaluationEntry[]): number[] {
  return [...new Set(entries.flatMap((e) => e.majority.map((p) => p.k)))].sort((a, b) => a - b);
}

/** Markdown: per test set, greedy pass@1 and maj@k of every evaluated model. */
export function evaluationsMarkdown(entries: EvaluationEntry[]): string {
  if (!entries.length) return 'No model was evaluated.';
  const ks = majorityKs(entries);
  const judged = entries.some((e) => e.outputsFpr);
  const sections: string[] = [];
  for (const testSet of testSetNames(entries)) {
    const rows = entries.filter((e) => e.testSet === testSet);
    const header = [
      'Model',
      'Served id',
      'Greedy pass@1 [95% CI]',
      ...ks.map((k) => `maj@${k}`),
      ...(judged ? ['Output FPR [95% CI] (invalid / judged)'] : []),
    ];
    const body = rows.map((e) => [
      e.label,
      `\`${e.model}\``,
      `**${percent(e.accuracy)}** ${percentInterval(e.ci)}, n=${e.n}`,
      ...ks.map((k) => {
        const point = e.majority.find((p) => p.k === k);
        return point && point.accuracy !== null ? percent(point.accuracy) : 'n/a';
      }),
      ...(judged ? [outputsFprCell(e.outputsFpr)] : []),
    ]);
    const lines = [
      `| ${header.join(' | ')} |`,
      `| ${header.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
      ...body.map((row) => `| ${row.join(' | ')} |`),
    ];
    sections.push(`**Test set \`${testSet}\`** (${rows[0]?.n ?? 0} questions)\n\n${lines.join('\n')}`);
  }
  const sampled = entries.find((e) => e.majorityTemperature !== null);
  const note = sampled
    ? `maj@k: ${sampled.majoritySamples} samples per question at temperature ${sampled.majorityTemperature}, ` +
      'averaged exactly over every k-subset of them (see Definitions).'
    : 'maj@k was not measured (set `evaluation.majority` to add it).';
  const judge = entries.find((e) => e.outputsFpr)?.outputsFpr;
  const judgedNote = judge
    ? `\n\nOutput FPR (definitions.outputsFpr): judge \`${judge.judgeModel}\`, up to ${judge.sampleSize} ` +
      `correct greedy outputs per evaluation${judge.stratifiedByLevel ? ', stratified by level' : ''}.`
    : '';
  return `${sections.join('\n\n')}\n\n${note}${judgedNote}`;
}

function outputsFprCell(fpr: OutputsFprEntry | null): string {
  if (!fpr) return 'not judged';
  if (fpr.rate === null || !fpr.ci) return `n/a (0 judged of ${fpr.correctOutputs} correct)`;
  return `${percent(fpr.rate)} ${percentInterval(fpr.ci)} (${fpr.invalid}/${fpr.judged})`;
}
