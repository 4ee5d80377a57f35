// The report: report.json, report.md and the charts from a synthetic but realistic run directory.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeReport, type ReportSummary } from '../activities/report.js';
import { openStore, writeJson } from '../activities/store.js';
import type { Source } from '../core/config.js';
import { wilsonInterval, type CurvePoint } from '../core/metrics.js';
import type { Plan, SourcePlan } from '../core/plan.js';
import { EMPTY_LEDGER, type Ledger } from '../core/records.js';
import { differenceInterval, relativeGainPercent, type ReportDocument } from '../core/report/model.js';
import { markdownTable, textTable } from '../core/report/markdown.js';
import { niceTicks } from '../core/report/svg.js';
import type { EvalResult, FinetuneResult, Setup, SetupResult } from '../core/results.js';
import type { DatasetManifest, MetricsFile, SamplingResult } from '../core/records.js';
import { reportCommand } from '../cli/report.js';
import { experimentWorkflow } from '../workflows/experiment.js';
import {
  model,
  problemsBlock,
  runExperiment,
  testConfig,
  uniqueId,
  useStudyFixture,
} from './support/harness.js';

const QUESTIONS = 200;
const TEST_N = 500;
const S = { wc: 30, se: 10 };
const PARAMS = { wc: 9e9, se: 27e9 };
const MODELS = { wc: 'gemma-2-9b-it', se: 'gemma-2-27b-it' };

function sourcePlan(source: Source): SourcePlan {
  const tokens = QUESTIONS * S[source] * 512;
  return {
    source,
    model: MODELS[source],
    params: PARAMS[source],
    samplesPerQuestion: S[source],
    guaranteedSamplesPerQuestion: S[source],
    samplesPerRound: S[source],
    maxRounds: 1,
    expectedTokens: tokens,
    expectedPromptTokens: 0,
    expectedFlops: 2 * PARAMS[source] * tokens,
    expectedCostUsd: null,
    budgetFlops: null,
    budgetUsd: null,
  };
}

const plan: Plan = {
  mode: 'ratio',
  questions: QUESTIONS,
  costRatio: 3,
  countPromptTokens: false,
  wc: sourcePlan('wc'),
  se: sourcePlan('se'),
  notes: ['Expected tokens assume every sample uses max_tokens (set budget.expectedTokensPerSample).'],
};

/** Questions with a correct sample among all S, per source (of QUESTIONS = 200). */
const SOLVED: Record<Source, number> = { wc: 180, se: 150 };
const EXTRACTION_FAILURES: Record<Source, { noAnswer: number; truncated: number }> = {
  wc: { noAnswer: 15, truncated: 4 },
  se: { noAnswer: 3, truncated: 1 },
};

/** A saturating coverage curve c(k) = top - (top - first) * rate^(k-1). */
function coverage(samples: number, first: number, top: number, rate: number): CurvePoint[] {
  return Array.from({ length: samples }, (_, i) => ({ k: i + 1, value: top - (top - first) * rate ** i }));
}

function diversity(samples: number, first: number, power: number): CurvePoint[] {
  return Array.from({ length: samples }, (_, i) => ({ k: i + 1, value: first * (i + 1) ** power }));
}

function metrics(judged: boolean): MetricsFile {
  const source = (
    s: Source,
    cov: CurvePoint[],
    div: CurvePoint[],
    fpr: { invalid: number; judged: number } | null,
  ) => ({
    questions: QUESTIONS,
    samplesPerQuestion: S[s],
    samples: QUESTIONS * S[s],
    correctSamples: Math.round(QUESTIONS * S[s] * cov[0].value),
    solvedQuestions: SOLVED[s],
    coverage: cov,
    diversity: div,
    diversitySolved: div.map((p) => ({ ...p, value: (p.value * QUESTIONS) / SOLVED[s] })),
    byLevel: {
      'Level 1': {
        questions: 120,
        solvedQuestions: 110,
        coverage: cov.map((p) => ({ ...p, value: Math.min(1, p.value + 0.08) })),
        diversity: div,
        diversitySolved: div.map((p) => ({ ...p, value: (p.value * 120) / 110 })),
      },
      'Level 5': {
        questions: 80,
        solvedQuestions: 40,
        coverage: cov.map((p) => ({ ...p, value: p.value - 0.12 })),
        diversity: div,
        diversitySolved: div.map((p) => ({ ...p, value: (p.value * 80) / 40 })),
      },
    },
    extractionFailures: EXTRACTION_FAILURES[s],
    fpr: fpr
      ? {
          source: s,
          judged: fpr.judged,
          invalid: fpr.invalid,
          unparsed: 1,
          fpr: fpr.invalid / fpr.judged,
          ci: wilsonInterval(fpr.invalid, fpr.judged),
          judgeModel: 'gemini-1.5-pro',
        }
      : null,
  });
  return {
    definitions: {
      coverageAtK:
        'Expected fraction of questions with at least one correct solution among k of the S samples.',
      diversityAtK: 'Expected number of unique correct solutions per question among k of the S samples.',
      diversityAtKSolved: 'The same, summed over questions and divided by the solved questions.',
      extractionFailure: 'No final answer found, or the output was cut off.',
      uniqueSolution: 'Equal after trimming and collapsing whitespace.',
      fpr: 'Among judged correct-answer solutions, the fraction the judge called INVALID.',
    },
    sources: {
      wc: source(
        'wc',
        coverage(S.wc, 0.42, 0.88, 0.9),
        diversity(S.wc, 0.42, 0.85),
        judged ? { invalid: 12, judged: 50 } : null,
      ),
      se: source(
        'se',
        coverage(S.se, 0.55, 0.8, 0.8),
        diversity(S.se, 0.55, 0.8),
        judged ? { invalid: 5, judged: 50 } : null,
      ),
    },
  };
}

function manifest(source: Source, train: number, validation: number, duplicates: number): DatasetManifest {
  return {
    source,
    train: { key: `datasets/${source}/train.jsonl`, examples: train, questions: 150, sha256: 'a'.repeat(64) },
    validation: {
      key: `datasets/${source}/validation.jsonl`,
      examples: validation,
      questions: 17,
      sha256: 'b'.repeat(64),
    },
    correctSamples: train + validation + duplicates,
    dedupe: true,
    duplicates,
    duplicatesDropped: duplicates,
    cappedDropped: 0,
    maxPerQuestion: null,
    questionsWithheld: 17,
    validationFraction: 0.1,
  };
}

function ledger(source: Source): Ledger {
  const completionTokens = QUESTIONS * S[source] * 300;
  return {
    requests: QUESTIONS,
    samples: QUESTIONS * S[source],
    promptTokens: QUESTIONS * 420,
    completionTokens,
    flops: 2 * PARAMS[source] * completionTokens,
    usd: source === 'wc' ? 0.36 : 0.48,
  };
}

const sampling: Record<Source, SamplingResult> = {
  wc: {
    source: 'wc',
    ledger: ledger('wc'),
    samplesPerQuestion: 30,
    rounds: 1,
    stopReason: 'planned samples drawn',
    wallSeconds: 754.2,
  },
  se: {
    source: 'se',
    ledger: ledger('se'),
    samplesPerQuestion: 10,
    rounds: 1,
    stopReason: 'planned samples drawn',
    wallSeconds: 402.9,
  },
};

function evaluation(setup: Setup, data: Source | null, model: string, correct: number): EvalResult {
  return {
    evalId: data ? `${setup}-on-${data}` : `base-${setup}`,
    model,
    baseURL: 'http://127.0.0.1:8000/v1',
    kind: data ? 'finetuned' : 'base',
    setup,
    data,
    n: TEST_N,
    correct,
    accuracy: correct / TEST_N,
    ci: wilsonInterval(correct, TEST_N),
    k: 1,
    passAtK: null,
    majAtK: null,
    byLevel: {},
    ledger: EMPTY_LEDGER,
    verifierVersion: 'v1',
  };
}

function finetune(setup: Setup, data: Source, baseModel: string): FinetuneResult {
  return {
    setup,
    data,
    baseModel,
    jobId: `ftjob-${setup}-${data}`,
    fineTunedModel: `ft:${baseModel}:${setup}-${data}`,
    status: 'succeeded',
    trainedTokens: 123456,
    hyperparameters: { n_epochs: 3 },
    trainingFileId: `file-${setup}-${data}`,
    validationFileId: null,
    eventsKey: `finetune/${setup}-${data}/events.json`,
    wallSeconds: 3600,
  };
}

/** Correct answers out of 500: base, on SE data, on WC data. */
const ACCURACY: Record<Setup, { model: string; base: number; se: number; wc: number }> = {
  student: { model: 'gemma-7b', base: 60, se: 131, wc: 148 },
  wc: { model: MODELS.wc, base: 180, se: 202, wc: 220 },
  se: { model: MODELS.se, base: 230, se: 245, wc: 260 },
};

function setups(): SetupResult[] {
  // Deliberately out of order: the report orders them Student-LM, WC-LM, SE-LM.
  return (['se', 'student', 'wc'] as Setup[]).map((setup) => {
    const a = ACCURACY[setup];
    return {
      setup,
      trainedRole: setup,
      baseModel: a.model,
      base: evaluation(setup, null, a.model, a.base),
      runs: {
        wc: {
          finetune: finetune(setup, 'wc', a.model),
          evaluation: evaluation(setup, 'wc', `ft:${a.model}:${setup}-wc`, a.wc),
        },
        se: {
          finetune: finetune(setup, 'se', a.model),
          evaluation: evaluation(setup, 'se', `ft:${a.model}:${setup}-se`, a.se),
        },
      },
      skipped: {},
    };
  });
}

async function makeRunDir(judged: boolean): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wcse-report-'));
  const store = openStore(dir);
  await writeJson(store, 'plan.json', plan);
  await writeJson(store, 'metrics.json', metrics(judged));
  await writeJson(store, 'datasets/wc/manifest.json', manifest('wc', 3400, 380, 210));
  await writeJson(store, 'datasets/se/manifest.json', manifest('se', 1250, 140, 95));
  return dir;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('the report with three finetuning setups', () => {
  let dir: string;
  let summary: ReportSummary;
  let doc: ReportDocument;
  let md: string;

  beforeAll(async () => {
    dir = await makeRunDir(true);
    summary = await writeReport({
      runDir: dir,
      experimentId: 'gemma-math-1234abcd',
      sampling,
      setups: setups(),
    });
    doc = JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as ReportDocument;
    md = await readFile(path.join(dir, 'report.md'), 'utf8');
    if (process.env.WCSE_KEEP_REPORT) console.log(`report kept in ${dir}`);
  });

  afterAll(async () => {
    if (dir && !process.env.WCSE_KEEP_REPORT) await rm(dir, { recursive: true, force: true });
  });

  it('returns the artifact keys and a headline', () => {
    expect(summary.reportJson).toBe('report.json');
    expect(summary.reportMd).toBe('report.md');
    expect(summary.charts).toEqual([
      'charts/coverage.svg',
      'charts/coverage.png',
      'charts/diversity.svg',
      'charts/diversity.png',
      'charts/finetune.svg',
      'charts/finetune.png',
    ]);
    expect(summary.headline).toBe(doc.headline);
    expect(summary.headline).toContain('Student-LM');
    expect(summary.headline).toContain('29.6% [25.8, 33.7] n=500'); // student on WC data: 148/500
    expect(summary.headline).toContain('+3.4 pp');
  });

  it('writes the plan, the ledger and the definitions into report.json', () => {
    expect(doc.experimentId).toBe('gemma-math-1234abcd');
    expect(Date.parse(doc.generatedAt)).not.toBeNaN();
    expect(doc.plan).toEqual(plan);
    expect(doc.ledger.wc).toMatchObject({
      model: MODELS.wc,
      samplesPerQuestion: 30,
      promptTokens: QUESTIONS * 420,
      completionTokens: QUESTIONS * 30 * 300,
      flops: 2 * 9e9 * QUESTIONS * 30 * 300,
      usd: 0.36,
      wallSeconds: 754.2,
      requests: QUESTIONS,
    });
    expect(doc.ledger.se.samplesPerQuestion).toBe(10);
    expect(doc.definitions.coverageAtK).toBe(metrics(true).definitions.coverageAtK);
    expect(doc.definitions.uniqueSolution).toBe(metrics(true).definitions.uniqueSolution);
    expect(doc.definitions.relativeGain).toContain('(acc_WC - acc_SE) / acc_SE');
  });

  it('carries the curves, FPR with its CI and sample size, and dataset sizes per source', () => {
    const m = metrics(true);
    expect(doc.data.wc.coverage).toEqual(m.sources.wc.coverage);
    expect(doc.data.se.diversity).toEqual(m.sources.se.diversity);
    expect(doc.data.wc.coverageAtS).toBeCloseTo(m.sources.wc.coverage[29].value, 12);
    expect(doc.data.se.coverageAtS).toBeCloseTo(m.sources.se.coverage[9].value, 12);
    expect(doc.data.wc.fpr).toEqual({
      rate: 12 / 50,
      ci: wilsonInterval(12, 50),
      judged: 50,
      invalid: 12,
      unparsed: 1,
      judgeModel: 'gemini-1.5-pro',
      // A judge result from before these were recorded.
      correctSamples: null,
      stratifiedByLevel: null,
    });
    expect(doc.data.wc.dataset).toMatchObject({
      trainExamples: 3400,
      validationExamples: 380,
      duplicatesDropped: 210,
    });
    expect(doc.data.se.dataset).toMatchObject({
      trainExamples: 1250,
      validationExamples: 140,
      duplicatesDropped: 95,
    });
    expect(Object.keys(doc.data.wc.byLevel)).toEqual(['Level 1', 'Level 5']);
  });

  it('gives diversity over all and over solved questions, and the extraction failures', () => {
    const m = metrics(true);
    expect(doc.data.wc.diversitySolved).toEqual(m.sources.wc.diversitySolved);
    expect(doc.data.wc.solvedQuestions).toBe(SOLVED.wc);
    expect(doc.data.wc.diversityAtS).toBeCloseTo(m.sources.wc.diversity[29].value, 12);
    expect(doc.data.wc.diversitySolvedAtS).toBeCloseTo((m.sources.wc.diversity[29].value * 200) / 180, 12);
    expect(doc.data.se.diversitySolvedAtS).toBeCloseTo((m.sources.se.diversity[9].value * 200) / 150, 12);
    expect(doc.data.wc.byLevel['Level 5']).toMatchObject({ questions: 80, solvedQuestions: 40 });
    expect(doc.data.wc.byLevel['Level 5'].diversitySolvedAtS).toBeCloseTo(
      2 * m.sources.wc.diversity[29].value,
      12,
    );
    expect(doc.data.wc.extractionFailures).toEqual(EXTRACTION_FAILURES.wc);
    expect(doc.definitions.diversityAtKSolved).toBe(m.definitions.diversityAtKSolved);
    expect(doc.data.wc.dataset).toMatchObject({ dedupe: true, duplicates: 210, questionsWithheld: 17 });
    const wcRow = md.split('\n').find((line) => line.startsWith('| **WC** | gemma-2-9b-it | 9B | 30 |'))!;
    const fixed2 = (v: number) => v.toFixed(2);
    expect(wcRow).toContain(
      `${fixed2(doc.data.wc.diversityAtS!)} / ${fixed2(doc.data.wc.diversitySolvedAtS!)}`,
    );
    expect(wcRow).toContain('| 19 (4) |'); // 15 no answer + 4 truncated
    expect(wcRow).toContain('210 duplicates, no cap, 17 questions withheld');
    expect(md).toContain('| Diversity@S (all / solved questions) |');
    expect(md).toContain('SFT data differ from the paper');
    expect(md).toContain('- **diversity@k (solved questions)**:');
  });

  it('lists every finetuned model with its paradigm, accuracy, CI, n and job', () => {
    expect(doc.finetune).toHaveLength(6);
    const cell = (setup: Setup, data: Source) =>
      doc.finetune.find((f) => f.setup === setup && f.data === data)!;
    expect(cell('student', 'wc')).toEqual({
      setup: 'student',
      setupName: 'Student-LM',
      data: 'wc',
      paradigm: 'knowledge distillation',
      baseModel: 'gemma-7b',
      finetunedModel: 'ft:gemma-7b:student-wc',
      accuracy: 148 / 500,
      ci: wilsonInterval(148, 500),
      n: 500,
      correct: 148,
      jobId: 'ftjob-student-wc',
      status: 'succeeded',
      trainedTokens: 123456,
      // Results recorded without a training ledger or model selection.
      training: null,
      selection: null,
    });
    expect(cell('wc', 'wc').paradigm).toBe('self-improvement');
    expect(cell('wc', 'se').paradigm).toBe('knowledge distillation');
    expect(cell('se', 'wc').paradigm).toBe('weak-to-strong improvement');
    expect(cell('se', 'se').paradigm).toBe('self-improvement');
    expect(doc.baselines.student).toMatchObject({
      model: 'gemma-7b',
      accuracy: 60 / 500,
      n: 500,
      ci: wilsonInterval(60, 500),
    });
    expect(doc.baselines.se?.accuracy).toBe(230 / 500);
  });

  it('computes the WC - SE difference and the relative gain per setup, in paper order', () => {
    expect(doc.comparisons.map((c) => c.setupName)).toEqual(['Student-LM', 'WC-LM', 'SE-LM']);
    const student = doc.comparisons[0];
    expect(student.differencePoints).toBeCloseTo(((148 - 131) / 500) * 100, 10);
    expect(student.relativeGainPercent).toBeCloseTo(((148 - 131) / 131) * 100, 10); // 12.98%
    const se = doc.comparisons[2];
    expect(se.relativeGainPercent).toBeCloseTo(((260 - 245) / 245) * 100, 10);
    expect(student.differenceCi!.low).toBeLessThan(student.differencePoints!);
    expect(student.differenceCi!.high).toBeGreaterThan(student.differencePoints!);
  });

  it('renders the paper-shaped tables in report.md', () => {
    expect(md).toContain('# Compute-matched sampling report: gemma-math-1234abcd');
    // Finetuning table: header, and the Student-LM row with base / SE / WC cells, difference and gain.
    expect(md).toContain(
      '| Setup | Finetuned model | Base model (no finetuning) | Finetuned on SE data | Finetuned on WC data |',
    );
    const studentRow = md.split('\n').find((line) => line.startsWith('| **Student-LM**'))!;
    expect(studentRow).toContain('**12.0%** [9.4, 15.1], n=500');
    expect(studentRow).toContain('**26.2%** [22.5, 30.2], n=500<br>*knowledge distillation*');
    expect(studentRow).toContain('**29.6%** [25.8, 33.7], n=500<br>*knowledge distillation*');
    expect(studentRow).toContain('+3.4 pp');
    expect(studentRow).toContain('+13.0%');
    const seRow = md.split('\n').find((line) => line.startsWith('| **SE-LM**'))!;
    expect(seRow).toContain('*weak-to-strong improvement*');
    expect(seRow).toContain('+6.1%'); // (260 - 245) / 245
    // Data quality at the compute-matched budget.
    const wcRow = md.split('\n').find((line) => line.startsWith('| **WC** | gemma-2-9b-it | 9B | 30 |'))!;
    expect(wcRow).toBeDefined();
    expect(wcRow).toContain(`${(metrics(true).sources.wc.coverage[29].value * 100).toFixed(1)}%`);
    expect(wcRow).toContain('24.0% [14.3, 37.4] (12/50 judged');
    expect(wcRow).toContain('3,400 / 380');
    expect(md).toContain('| Level 5 |');
    // Compute ledger.
    expect(md).toContain('## 3. Compute ledger');
    expect(md).toContain('3.24e16 (planned 5.53e16)'); // 2 * 9e9 * 200 * 30 * 300 FLOPs
    expect(md).toContain('12 min 34 s');
    expect(md).toContain('Spent FLOPs WC / SE = 1');
    // Definitions and charts.
    expect(md).toContain('- **coverage@k**:');
    expect(md).toContain('- **unique solution**:');
    expect(md).toContain('![Coverage@k, WC vs SE](charts/coverage.png)');
    expect(md).toContain('[SVG](charts/finetune.svg)');
    expect(md).toContain('WC data beat SE data in 3 of 3 setup(s)');
  });

  it('draws both series in the SVG charts and rasterises them to PNG', async () => {
    for (const name of ['coverage', 'diversity', 'finetune']) {
      const svg = await readFile(path.join(dir, 'charts', `${name}.svg`), 'utf8');
      expect(svg.startsWith('<?xml')).toBe(true);
      expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).toContain('#d95f02'); // WC colour
      expect(svg).toContain('#1f5fa8'); // SE colour
      const png = await readFile(path.join(dir, 'charts', `${name}.png`));
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      expect(png.length).toBeGreaterThan(10_000);
    }
    // Diversity both ways: solid curves over all questions, dashed over solved questions, in the legend too.
    const diversitySvg = await readFile(path.join(dir, 'charts', 'diversity.svg'), 'utf8');
    expect(diversitySvg.match(/<path [^>]*stroke-dasharray="7 5"/g)).toHaveLength(2);
    expect(diversitySvg).toContain(`WC solved: over the ${SOLVED.wc} of ${QUESTIONS} questions solved`);
    const coverageDashed = await readFile(path.join(dir, 'charts', 'coverage.svg'), 'utf8');
    expect(coverageDashed).not.toContain('stroke-dasharray="7 5"');
    const coverageSvg = await readFile(path.join(dir, 'charts', 'coverage.svg'), 'utf8');
    expect(coverageSvg).toContain('WC at S=30');
    expect(coverageSvg).toContain('SE at S=10');
    const finetuneSvg = await readFile(path.join(dir, 'charts', 'finetune.svg'), 'utf8');
    expect(finetuneSvg).toContain('Student-LM');
    expect(finetuneSvg).toContain('finetuned on WC data');
  });

  it('is idempotent: a re-run overwrites the same files', async () => {
    const again = await writeReport({
      runDir: dir,
      experimentId: 'gemma-math-1234abcd',
      sampling,
      setups: setups(),
    });
    expect(again.charts).toEqual(summary.charts);
    expect(again.headline).toBe(summary.headline);
    expect((await stat(path.join(dir, 'report.md'))).isFile()).toBe(true);
  });
});

describe('the report without finetuning or a judge', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await makeRunDir(false);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('says finetuning was not run, FPR was not judged, and leads with data quality', async () => {
    const summary = await writeReport({ runDir: dir, experimentId: 'no-ft', sampling, setups: [] });
    expect(summary.charts).toEqual([
      'charts/coverage.svg',
      'charts/coverage.png',
      'charts/diversity.svg',
      'charts/diversity.png',
    ]);
    expect(summary.headline).toContain('finetuning was not run');
    expect(summary.headline).toContain('not judged');
    expect(summary.headline).toContain('gemma-2-9b-it');
    const doc = JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as ReportDocument;
    expect(doc.finetune).toEqual([]);
    expect(doc.baselines).toEqual({});
    expect(doc.comparisons).toEqual([]);
    expect(doc.data.wc.fpr).toBeNull();
    const md = await readFile(path.join(dir, 'report.md'), 'utf8');
    expect(md).toContain('Finetuning was not run for this experiment');
    expect(md).toContain('not judged');
    expect(md).toContain('## 2. Data quality at the compute-matched budget');
    expect(md).not.toContain('finetune.png');
    await expect(stat(path.join(dir, 'charts', 'finetune.svg'))).rejects.toThrow();
  });

  it('still reports when the analysis artifacts are missing', async () => {
    const bare = await mkdtemp(path.join(os.tmpdir(), 'wcse-report-bare-'));
    try {
      const summary = await writeReport({ runDir: bare, experimentId: 'bare', sampling, setups: [] });
      const md = await readFile(path.join(bare, 'report.md'), 'utf8');
      expect(md).toContain('metrics.json is missing');
      expect(summary.charts).toContain('charts/coverage.svg');
      expect(await readFile(path.join(bare, 'charts', 'coverage.svg'), 'utf8')).toContain('No data');
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});

describe('report helpers', () => {
  it('relative gain is (WC - SE) / SE and undefined at SE = 0', () => {
    expect(relativeGainPercent(0.3, 0.25)).toBeCloseTo(20, 12);
    expect(relativeGainPercent(0.2, 0.25)).toBeCloseTo(-20, 12);
    expect(relativeGainPercent(0.1, 0)).toBeNull();
  });

  it("Newcombe's interval contains the difference and is wider than either arm's", () => {
    const a = wilsonInterval(148, 500);
    const b = wilsonInterval(131, 500);
    const d = differenceInterval(148 / 500, a, 131 / 500, b);
    expect(d.low).toBeLessThan(17 / 500);
    expect(d.high).toBeGreaterThan(17 / 500);
    expect(d.high - d.low).toBeGreaterThan(a.high - a.low);
  });

  it('tables and ticks', () => {
    expect(markdownTable(['a', 'b'], [['1', 'x|y']], 'lr')).toBe('| a | b |\n| --- | ---: |\n| 1 | x\\|y |');
    expect(textTable(['h', 'v'], [['long', '1']], '')).toBe('h     v\nlong  1');
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 30, 8, true)).toEqual([5, 10, 15, 20, 25, 30]);
  });
});

describe('wcse report <id>', () => {
  const fixture = useStudyFixture({ name: 'report-cli', questions: 4 });
  const savedAddress = process.env.TEMPORAL_ADDRESS;

  beforeAll(() => {
    process.env.WCSE_TEST_API_KEY = 'sk-test-report';
    process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  });

  afterAll(async () => {
    if (savedAddress === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = savedAddress;
    if (fixture.dir) await rm(fixture.dir, { recursive: true, force: true });
  });

  /** Runs the command, returning its exit code and what it printed to stdout and stderr. */
  async function capture(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const log = vi
      .spyOn(console, 'log')
      .mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
    const error = vi
      .spyOn(console, 'error')
      .mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
    try {
      return { code: await run(), out: out.join('\n'), err: err.join('\n') };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }

  it('writes and prints the report of a completed experiment from its real artifacts', async () => {
    const { server, worker, client, dir, problemsFile } = fixture;
    const runDir = path.join(dir, 'run');
    const experimentId = uniqueId('exp-report');
    const config = testConfig({
      problems: problemsBlock(problemsFile),
      models: { wc: model(server.baseURL, 'weak', 9e9), se: model(server.baseURL, 'strong', 27e9) },
      budget: { mode: 'ratio', samplesPerQuestion: 2 },
      datasets: { validationFraction: 0 },
    });
    const result = await runExperiment(client, worker.taskQueue, { runDir, config, experimentId });
    expect(result.report?.reportMd).toBe('report.md');
    // As for a run that finished before it had a report stage: the command makes the report.
    await rm(path.join(runDir, 'report.json'));

    const first = await capture(() => reportCommand(experimentId, {}));
    expect(first.code).toBe(0);
    expect(first.err).toContain('has no report yet: writing it');
    expect(first.out).toContain(`Report: ${path.join(runDir, 'report.md')}`);
    expect(first.out).toContain(experimentId);
    const doc = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8')) as ReportDocument;
    // Real metrics: WC has 6 samples per question (3 correct, distinct), SE 2 (both correct, 1 unique).
    expect(doc.data.wc.samplesPerQuestion).toBe(6);
    expect(doc.data.wc.coverageAtS).toBe(1);
    expect(doc.data.wc.diversityAtS).toBeCloseTo(3);
    expect(doc.data.se.diversityAtS).toBeCloseTo(1);
    // The paper's datasets by default: every correct solution kept, SE's repeats counted but not dropped.
    expect(doc.data.se.dataset).toMatchObject({ dedupe: false, duplicates: 4, duplicatesDropped: 0 });
    expect(doc.data.se.dataset?.trainExamples).toBe(doc.data.se.correctSamples);
    expect(doc.data.wc.solvedQuestions).toBe(doc.data.wc.questions);
    expect(doc.data.wc.diversitySolvedAtS).toBeCloseTo(3);
    expect(doc.ledger.wc.samplesPerQuestion).toBe(6);
    expect(doc.ledger.wc.completionTokens).toBeGreaterThan(0);
    expect((await stat(path.join(runDir, 'charts', 'coverage.png'))).size).toBeGreaterThan(10_000);

    const again = await capture(() => reportCommand(experimentId, {}));
    expect(again.code).toBe(0);
    expect(again.err).not.toContain('writing it');
    const json = await capture(() => reportCommand(experimentId, { json: true }));
    expect(JSON.parse(json.out).experimentId).toBe(experimentId);
  });

  it('says what to do when the experiment is still running or unknown', async () => {
    const { server, client, dir, problemsFile } = fixture;
    const experimentId = uniqueId('exp-running');
    // No worker polls this task queue: the workflow stays RUNNING.
    const handle = await client.workflow.start(experimentWorkflow, {
      taskQueue: uniqueId('tq-idle'),
      workflowId: experimentId,
      args: [
        {
          experimentId,
          runDir: path.join(dir, 'idle'),
          config: testConfig({
            problems: { path: problemsFile, kind: 'gsm8k' },
            models: { wc: model(server.baseURL, 'weak', 9e9), se: model(server.baseURL, 'strong', 27e9) },
            budget: { mode: 'ratio', samplesPerQuestion: 1 },
          }),
        },
      ],
    });
    try {
      const running = await capture(() => reportCommand(experimentId, {}));
      expect(running.code).toBe(1);
      expect(running.err).toContain(`Experiment ${experimentId} is running`);
      expect(running.err).toContain(`wcse watch ${experimentId}`);
    } finally {
      await handle.terminate('test done');
    }
    const terminated = await capture(() => reportCommand(experimentId, {}));
    expect(terminated.code).toBe(1);
    expect(terminated.err).toContain('is terminated');
    expect(terminated.err).toContain(`wcse resume ${experimentId}`);
    const unknown = await capture(() => reportCommand(uniqueId('no-such'), {}));
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('No experiment with id');
  });
});
