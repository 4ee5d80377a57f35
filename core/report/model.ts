// The report's data model (what report.json holds) and how it is assembled from a run's artifacts and
// results. Pure: the activity reads the artifacts and hands them in; this module only arranges them.
import { SOURCES, type DataSource, type Source } from '../config.js';
import type { CurvePoint, SourceMetrics } from '../metrics.js';
import { spentRatio, spentRatioWarning, type Plan, type SpendUnit } from '../plan.js';
import type { DatasetManifest, MetricsFile, SamplingResult } from '../records.js';
import { paradigmName, SETUPS, type Interval, type Setup, type SetupResult } from '../results.js';
import { SELECTION_DEFINITIONS, type SelectionResult } from '../selection.js';
import { TRAINING_DEFINITIONS, type TrainingSection } from '../training.js';
import { trainingNotes } from './training.js';
import {
  evaluationEntries,
  MAJORITY_DEFINITION,
  OUTPUTS_FPR_DEFINITION,
  type EvaluationEntry,
} from './evaluations.js';
import {
  compareHumanJudge,
  KAPPA_DEFINITION,
  type HumanJudgeComparison,
  type RatedPair,
} from '../agreement.js';
import { FPR_SAMPLE_DEFINITION } from '../fpr-sample.js';

export const REPORT_SCHEMA_VERSION = 1;

/** The paper's names of the three setups. */
export const SETUP_NAMES: Record<Setup, string> = { student: 'Student-LM', wc: 'WC-LM', se: 'SE-LM' };
export const SOURCE_NAMES: Record<Source, string> = { wc: 'WC', se: 'SE' };
/** Finetuning data sources by the paper's names: gold, the problems' human-written solutions, is GT. */
export const DATA_SOURCE_NAMES: Record<DataSource, string> = { ...SOURCE_NAMES, gold: 'GT' };

export interface ReportInputs {
  experimentId: string;
  generatedAt: string;
  plan: Plan | null;
  metrics: MetricsFile | null;
  datasets: Partial<Record<DataSource, DatasetManifest | null>>;
  sampling: Partial<Record<Source, SamplingResult>>;
  setups: SetupResult[];
  /** Human labels (`wcse label --import`) with the judge's verdicts on the same solutions, per source. */
  humanRatings?: Partial<Record<Source, RatedPair[]>> | null;
}

// report.json

export interface LedgerEntry {
  model: string | null;
  params: number | null;
  samplesPerQuestion: number;
  plannedSamplesPerQuestion: number | null;
  rounds: number;
  stopReason: string | null;
  requests: number;
  samples: number;
  promptTokens: number;
  completionTokens: number;
  flops: number;
  plannedFlops: number | null;
  usd: number;
  wallSeconds: number;
}

/** How equal the two sources' spends came out, in the unit the budget matches them in. */
export interface SpendEntry {
  unit: SpendUnit;
  wc: number;
  se: number;
  /** Spent WC / SE; null where SE spent nothing. */
  ratio: number | null;
  /** What the plan expected; null for plans recorded before it was planned. */
  plannedRatio: number | null;
  /** Set when the ratio is off 1 by more than 2% (also in the notes). */
  warning: string | null;
}

export interface FprEntry {
  rate: number | null;
  ci: Interval | null;
  /** Solutions the judge gave a VALID/INVALID verdict on (the sample size of the rate). */
  judged: number;
  invalid: number;
  unparsed: number;
  judgeModel: string;
  /** Correct-answer solutions the sample was drawn from; null in results from before it was recorded. */
  correctSamples: number | null;
  /** Whether the sample was stratified by level; null in results from before (a uniform sample). */
  stratifiedByLevel: boolean | null;
}

export interface DatasetEntry {
  trainExamples: number;
  trainQuestions: number;
  validationExamples: number;
  validationQuestions: number;
  correctSamples: number;
  /** Whether de-duplication was on (`datasets.dedupe`; false in manifests written before it was an option). */
  dedupe: boolean;
  /** Correct solutions repeating an earlier one of their question; null in manifests written before. */
  duplicates: number | null;
  duplicatesDropped: number;
  cappedDropped: number;
  maxPerQuestion: number | null;
  /** Training questions withheld for the validation split; null in manifests written before. */
  questionsWithheld: number | null;
  validationFraction: number | null;
}

/** A source's measured counts and curves (as in metrics.json), with the numbers the report reads off them. */
export interface DataEntry extends Omit<SourceMetrics, 'byLevel'> {
  model: string | null;
  params: number | null;
  /** The curves' values at k = S, i.e. at the compute-matched budget. */
  coverageAtS: number | null;
  /** diversity@S over all questions, and over solved questions (see the definitions). */
  diversityAtS: number | null;
  diversitySolvedAtS: number | null;
  byLevel: Record<
    string,
    {
      questions: number;
      solvedQuestions: number;
      coverageAtS: number | null;
      diversityAtS: number | null;
      diversitySolvedAtS: number | null;
    }
  >;
  /** Samples with no final answer to grade; null in metrics written before they were counted. */
  extractionFailures: { noAnswer: number; truncated: number } | null;
  fpr: FprEntry | null;
  /** Human FPR from imported labels, the judge's FPR on the same solutions, and their Cohen's kappa. */
  human: HumanJudgeComparison | null;
  dataset: DatasetEntry | null;
}

export interface FinetuneEntry {
  setup: Setup;
  setupName: string;
  data: DataSource;
  paradigm: string;
  baseModel: string;
  finetunedModel: string;
  accuracy: number;
  ci: Interval;
  n: number;
  correct: number;
  jobId: string;
  status: string;
  trainedTokens: number | null;
  /** Steps, examples seen, tokens and FLOPs of the job; null for results written before the training ledger. */
  training: TrainingSection | null;
  /** Model selection: the validation grid and the chosen learning rate and step; null without selection. */
  selection: SelectionResult | null;
}

export interface BaselineEntry {
  setup: Setup;
  setupName: string;
  model: string;
  accuracy: number;
  ci: Interval;
  n: number;
  correct: number;
}

export interface ComparisonEntry {
  setup: Setup;
  setupName: string;
  baseModel: string;
  base: BaselineEntry | null;
  se: FinetuneEntry | null;
  wc: FinetuneEntry | null;
  /** The GT baseline: finetuned on the problems' human-written solutions; null without datasets.gold. */
  gold: FinetuneEntry | null;
  /** (WC - SE) accuracy in percentage points. */
  differencePoints: number | null;
  /** 95% interval of the difference in points (Newcombe's hybrid score interval, unpaired). */
  differenceCi: Interval | null;
  /** (WC - SE) / SE, in percent; null when SE accuracy is 0. */
  relativeGainPercent: number | null;
}

export interface ReportDocument {
  schemaVersion: number;
  experimentId: string;
  generatedAt: string;
  plan: Plan | null;
  ledger: Record<Source, LedgerEntry>;
  spend: SpendEntry;
  data: Record<Source, DataEntry>;
  /** The GT baseline's finetuning data (datasets/gold); null without datasets.gold. */
  goldDataset: DatasetEntry | null;
  finetune: FinetuneEntry[];
  baselines: Partial<Record<Setup, BaselineEntry>>;
  comparisons: ComparisonEntry[];
  /** Every evaluated model on every test set: greedy pass@1 and the maj@k curve (./evaluations.ts). */
  evaluations: EvaluationEntry[];
  definitions: Record<string, string>;
  /** Artifact keys of the charts, relative to the run directory. */
  charts: string[];
  /** Plain-text summary (the finetuning table, or data quality when there was no finetuning). */
  headline: string;
  notes: string[];
}

/** Defined in the report only when the run has the GT baseline (datasets.gold). */
export const GROUND_TRUTH_DEFINITION =
  "GT (ground truth): the same model finetuned on the problem set's human-written solutions, one per training " +
  'question, with the same prompt format, steps, batch size, learning-rate grid, checkpoint selection and ' +
  'evaluation as the WC and SE data (datasets.gold); nothing is sampled for it.';

export const EXTRA_DEFINITIONS: Record<string, string> = {
  accuracy:
    'Test accuracy is pass@1: the fraction of held-out test questions whose first (greedy by default) answer ' +
    'is correct; 95% Wilson score interval; n = test questions.',
  relativeGain: 'Relative gain of WC over SE data: (acc_WC - acc_SE) / acc_SE, in percent.',
  differenceCi:
    "Interval of acc_WC - acc_SE: Newcombe's hybrid score interval from the two Wilson intervals; it treats " +
    'the two evaluations as independent, so it is conservative when both used the same test questions.',
  computeMatched:
    'Compute-matched: both sources get the same sampling FLOPs, 2 x params per generated token, so S_WC = ' +
    "S_SE x P_SE / P_WC in ratio mode; coverage@S and diversity@S are read at each source's own S.",
  equalSpend:
    "In the flops and price modes, full rounds over all questions run while a round's worst case fits the " +
    "budget, then a top-up gives questions in a seeded order one more sample while one sample's worst case " +
    'fits: both sources end within that of their budget, and the report warns when spent WC / SE is off 1 by ' +
    'more than 2%. S is the samples every question got; a question with a top-up sample has S + 1, and its ' +
    'coverage and diversity estimates use all of them.',
};

/** (WC - SE) / SE in percent, or null when SE is 0 (no relative gain is defined). */
export function relativeGainPercent(wc: number, se: number): number | null {
  if (!(se > 0)) return null;
  return ((wc - se) / se) * 100;
}

/**
 * Newcombe's hybrid score interval for p1 - p2 from each proportion's own interval (method 10 of
 * Newcombe 1998), in the proportions' units.
 */
export function differenceInterval(p1: number, ci1: Interval, p2: number, ci2: Interval): Interval {
  const d = p1 - p2;
  return {
    low: d - Math.sqrt((p1 - ci1.low) ** 2 + (ci2.high - p2) ** 2),
    high: d + Math.sqrt((ci1.high - p1) ** 2 + (p2 - ci2.low) ** 2),
  };
}

function lastValue(curve: CurvePoint[] | undefined): number | null {
  return curve && curve.length ? curve[curve.length - 1].value : null;
}

function spendEntry(plan: Plan | null, ledger: Record<Source, LedgerEntry>): SpendEntry {
  const unit: SpendUnit = plan?.spendUnit ?? (plan?.mode === 'price' ? 'USD' : 'FLOPs');
  const of = (source: Source) => (unit === 'USD' ? ledger[source].usd : ledger[source].flops);
  const ratio = spentRatio(of('wc'), of('se'));
  return {
    unit,
    wc: of('wc'),
    se: of('se'),
    ratio,
    plannedRatio: plan?.expectedSpentRatio ?? null,
    warning: spentRatioWarning(ratio, unit, 'Spent'),
  };
}

/** Everything of report.json but the charts and the headline, which are added once they are made. */
export function buildReportDocument(inputs: ReportInputs): ReportDocument {
  const { plan, metrics } = inputs;
  const notes: string[] = [...(plan?.notes ?? [])];
  if (!plan) notes.push('plan.json is missing: the planned samples and FLOPs are not shown.');
  if (!metrics)
    notes.push('metrics.json is missing: the analysis stage did not run, so there are no curves.');

  const ledger = {} as Record<Source, LedgerEntry>;
  const data = {} as Record<Source, DataEntry>;
  for (const source of SOURCES) {
    const planned = plan?.[source] ?? null;
    const sampling = inputs.sampling[source];
    const spent = sampling?.ledger;
    ledger[source] = {
      model: planned?.model ?? null,
      params: planned?.params ?? null,
      samplesPerQuestion: sampling?.samplesPerQuestion ?? 0,
      plannedSamplesPerQuestion: planned?.samplesPerQuestion ?? null,
      rounds: sampling?.rounds ?? 0,
      stopReason: sampling?.stopReason ?? null,
      requests: spent?.requests ?? 0,
      samples: spent?.samples ?? 0,
      promptTokens: spent?.promptTokens ?? 0,
      completionTokens: spent?.completionTokens ?? 0,
      flops: spent?.flops ?? 0,
      plannedFlops: planned?.expectedFlops ?? null,
      usd: spent?.usd ?? 0,
      wallSeconds: sampling?.wallSeconds ?? 0,
    };
    if (!sampling) notes.push(`No sampling result for ${SOURCE_NAMES[source]}: its ledger shows zeros.`);
    if (spent?.usageDistrusted) {
      notes.push(
        `${SOURCE_NAMES[source]}: ${spent.usageDistrusted} response(s) reported no usage, or less than their ` +
          'text (or their n choices) must have cost, and were charged at their worst case (max_tokens per ' +
          'choice): its tokens, FLOPs and $ are upper bounds.',
      );
    }

    const measured = metrics?.sources[source];
    const manifest = inputs.datasets[source] ?? null;
    if (!manifest)
      notes.push(`datasets/${source}/manifest.json is missing: no ${SOURCE_NAMES[source]} dataset sizes.`);
    const byLevel: DataEntry['byLevel'] = {};
    for (const [level, curves] of Object.entries(measured?.byLevel ?? {})) {
      byLevel[level] = {
        questions: curves.questions,
        // Metrics written before diversity over solved questions have neither field.
        solvedQuestions: (curves.solvedQuestions as number | undefined) ?? 0,
        coverageAtS: lastValue(curves.coverage),
        diversityAtS: lastValue(curves.diversity),
        diversitySolvedAtS: lastValue(curves.diversitySolved as CurvePoint[] | undefined),
      };
    }
    const fpr = measured?.fpr ?? null;
    data[source] = {
      model: planned?.model ?? null,
      params: planned?.params ?? null,
      questions: measured?.questions ?? plan?.questions ?? 0,
      samplesPerQuestion: measured?.samplesPerQuestion ?? sampling?.samplesPerQuestion ?? 0,
      samples: measured?.samples ?? 0,
      correctSamples: measured?.correctSamples ?? 0,
      solvedQuestions: (measured?.solvedQuestions as number | undefined) ?? 0,
      coverage: measured?.coverage ?? [],
      diversity: measured?.diversity ?? [],
      diversitySolved: (measured?.diversitySolved as CurvePoint[] | undefined) ?? [],
      coverageAtS: lastValue(measured?.coverage),
      diversityAtS: lastValue(measured?.diversity),
      diversitySolvedAtS: lastValue(measured?.diversitySolved as CurvePoint[] | undefined),
      byLevel,
      extractionFailures: measured?.extractionFailures ?? null,
      fpr: fpr
        ? {
            rate: fpr.fpr,
            ci: fpr.ci,
            judged: fpr.judged,
            invalid: fpr.invalid,
            unparsed: fpr.unparsed,
            judgeModel: fpr.judgeModel,
            correctSamples: fpr.correctSamples ?? null,
            stratifiedByLevel: fpr.stratifiedByLevel ?? null,
          }
        : null,
      human: inputs.humanRatings?.[source]?.length ? compareHumanJudge(inputs.humanRatings[source]) : null,
      dataset: manifest ? datasetEntry(manifest) : null,
    };
  }
  const goldManifest = inputs.datasets.gold ?? null;

  const spend = spendEntry(plan, ledger);
  if (spend.warning) notes.push(`Warning: ${spend.warning}.`);

  const finetune: FinetuneEntry[] = [];
  const baselines: Partial<Record<Setup, BaselineEntry>> = {};
  const comparisons: ComparisonEntry[] = [];
  const ordered = [...inputs.setups].sort((a, b) => SETUPS.indexOf(a.setup) - SETUPS.indexOf(b.setup));
  for (const result of ordered) {
    const setupName = SETUP_NAMES[result.setup];
    const base: BaselineEntry | null = result.base
      ? {
          setup: result.setup,
          setupName,
          model: result.base.model,
          accuracy: result.base.accuracy,
          ci: result.base.ci,
          n: result.base.n,
          correct: result.base.correct,
        }
      : null;
    if (base) baselines[result.setup] = base;
    const cells: Partial<Record<DataSource, FinetuneEntry>> = {};
    // SE first, then WC: the order of the paper's comparison (WC against the SE default); GT last.
    for (const source of ['se', 'wc', 'gold'] as const) {
      const run = result.runs?.[source];
      if (!run) continue;
      const entry: FinetuneEntry = {
        setup: result.setup,
        setupName,
        data: source,
        paradigm: paradigmName(result.setup, source),
        baseModel: run.finetune.baseModel || result.baseModel,
        finetunedModel: run.finetune.fineTunedModel || run.evaluation.model,
        accuracy: run.evaluation.accuracy,
        ci: run.evaluation.ci,
        n: run.evaluation.n,
        correct: run.evaluation.correct,
        jobId: run.finetune.jobId,
        status: run.finetune.status,
        trainedTokens: run.finetune.trainedTokens,
        training: run.finetune.training ?? null,
        selection: run.finetune.selection ?? null,
      };
      cells[source] = entry;
      finetune.push(entry);
    }
    for (const [source, reason] of Object.entries(result.skipped ?? {})) {
      notes.push(
        `${setupName} was not finetuned on ${DATA_SOURCE_NAMES[source as DataSource]} data: ${reason}.`,
      );
    }
    const wc = cells.wc ?? null;
    const se = cells.se ?? null;
    comparisons.push({
      setup: result.setup,
      setupName,
      baseModel: result.baseModel,
      base,
      se,
      wc,
      gold: cells.gold ?? null,
      differencePoints: wc && se ? (wc.accuracy - se.accuracy) * 100 : null,
      differenceCi:
        wc && se ? scaleInterval(differenceInterval(wc.accuracy, wc.ci, se.accuracy, se.ci), 100) : null,
      relativeGainPercent: wc && se ? relativeGainPercent(wc.accuracy, se.accuracy) : null,
    });
  }
  if (!inputs.setups.length)
    notes.push('Finetuning was not run: the report covers sampling and data quality only.');
  notes.push(
    ...trainingNotes(
      finetune.map((e) => ({
        setupName: e.setupName,
        dataName: DATA_SOURCE_NAMES[e.data],
        training: e.training,
      })),
    ),
  );

  const evaluations = evaluationEntries(inputs.setups);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    experimentId: inputs.experimentId,
    generatedAt: inputs.generatedAt,
    plan,
    ledger,
    spend,
    data,
    goldDataset: goldManifest ? datasetEntry(goldManifest) : null,
    finetune,
    baselines,
    comparisons,
    evaluations,
    definitions: {
      ...(metrics?.definitions ?? {}),
      ...EXTRA_DEFINITIONS,
      ...TRAINING_DEFINITIONS,
      ...SELECTION_DEFINITIONS,
      majorityAtK: MAJORITY_DEFINITION,
      ...(goldManifest || finetune.some((e) => e.data === 'gold')
        ? { groundTruth: GROUND_TRUTH_DEFINITION }
        : {}),
      fprSample: FPR_SAMPLE_DEFINITION,
      humanFpr:
        'Among human-labelled solutions (`wcse label`), the fraction labelled INVALID; 95% Wilson interval. ' +
        "Beside it, the judge's FPR on the same solutions, so the two rates describe the same items.",
      cohensKappa: KAPPA_DEFINITION,
      ...(evaluations.some((e) => e.outputsFpr) ? { outputsFpr: OUTPUTS_FPR_DEFINITION } : {}),
    },
    charts: [],
    headline: '',
    notes,
  };
}

/** A dataset manifest as report.json shows it. */
function datasetEntry(manifest: DatasetManifest): DatasetEntry {
  return {
    trainExamples: manifest.train.examples,
    trainQuestions: manifest.train.questions,
    validationExamples: manifest.validation.examples,
    validationQuestions: manifest.validation.questions,
    correctSamples: manifest.correctSamples,
    // Manifests written before de-duplication became an option always de-duplicated.
    dedupe: (manifest.dedupe as boolean | undefined) ?? true,
    duplicates: (manifest.duplicates as number | undefined) ?? null,
    duplicatesDropped: manifest.duplicatesDropped,
    cappedDropped: manifest.cappedDropped,
    maxPerQuestion: manifest.maxPerQuestion,
    questionsWithheld: (manifest.questionsWithheld as number | undefined) ?? null,
    validationFraction: (manifest.validationFraction as number | undefined) ?? null,
  };
}

function scaleInterval(interval: Interval, factor: number): Interval {
  return { low: interval.low * factor, high: interval.high * factor };
}
