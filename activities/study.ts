// The study workflow's activities (workflows/study.ts): its plan (which pool draws how many samples, each
// arm's views, jobs and their content ids), each view's dataset built from the pool's first S samples per
// question (no sample is drawn here), a job's directory staged from its dataset, arm results and the study
// report. Keys: core/layout.ts (the study section).
import { testSetsOf, type Source } from '../core/config.js';
import { failure, FailureType } from '../core/failures.js';
import {
  datasetKey,
  datasetManifestKey,
  evalProblemsKey,
  PROBLEMS_KEY,
  REPORT_JSON_KEY,
  REPORT_MD_KEY,
  STUDY_VIEW_KEY,
  studyArmResultKey,
  studyDatasetDir,
  studyJobDir,
  studyPoolDir,
  studySubdir,
} from '../core/layout.js';
import { solutionIdentity, wilsonInterval } from '../core/metrics.js';
import type { DatasetManifest, Problem } from '../core/records.js';
import type { CorrectSolution } from '../core/dataset.js';
import { markdownTable } from '../core/report/markdown.js';
import { percent, percentInterval } from '../core/report/format.js';
import { SETUP_NAMES } from '../core/report/model.js';
import type { EvalResult, Setup } from '../core/results.js';
import { armSetups, armTestSets, type DataFilter, type Keep, type StudyConfig } from '../core/study.js';
import { armQuestions, planStudy } from '../core/study-plan.js';
import { writeDataset } from './datasets.js';
import { readJsonl, openStore, readJson, writeJson } from './store.js';
import { studyPlanInputs } from './study-planning.js';
import { verifiedSamples, type VerifiedSample } from './verify.js';

/** One dataset of an arm: a source's first `samples` samples per question of the arm's questions, filtered. */
export interface StudyViewPlan {
  name: string;
  source: Source;
  datasetId: string;
  samples: number;
  filter: DataFilter;
  keep: Keep;
  /** One job per setup the arm finetunes (content ids: a job two arms share has one id). */
  jobs: Array<{ setup: Setup; jobId: string }>;
}

export interface StudyArmPlan {
  name: string;
  pool: string;
  /** Changes whenever anything the arm computes changes: a finished arm with the same one is reused. */
  fingerprint: string;
  subset: { size: number; seed: number } | null;
  views: StudyViewPlan[];
  setups: Setup[];
  testSets: string[];
}

export interface StudyRunPlan {
  /** Samples per question each pool draws from each source (0: no arm reads that source). */
  pools: Record<string, Record<Source, number>>;
  arms: StudyArmPlan[];
}

/**
 * The study's plan as the workflow runs it (core/study-plan.ts's content ids), or a non-retryable
 * InvalidConfig naming the field of what the study workflow does not run yet.
 */
export async function planStudyRun(input: { study: StudyConfig }): Promise<StudyRunPlan> {
  const { study } = input;
  const unsupported = unsupportedIssues(study);
  if (unsupported.length) {
    throw failure(FailureType.InvalidConfig, `study ${study.name}: ${unsupported.join('; ')}`);
  }
  let plan;
  try {
    plan = planStudy(study, await studyPlanInputs(study));
  } catch (error) {
    throw failure(FailureType.PlanError, (error as Error).message);
  }
  const pools: StudyRunPlan['pools'] = {};
  for (const [name, pool] of Object.entries(study.pools)) {
    pools[name] = { wc: pool.samplesPerQuestion?.wc ?? 0, se: pool.samplesPerQuestion?.se ?? 0 };
  }
  const datasets = new Map(plan.datasets.map((item) => [item.id, item]));
  const arms = study.arms.map((arm, index): StudyArmPlan => {
    const armPlan = plan.arms[index];
    const views = armPlan.views.map((view): StudyViewPlan => {
      const dataset = datasets.get(view.dataset)!;
      const source = view.source as Source;
      const samples = dataset.samplesPerQuestion!;
      pools[armPlan.pool][source] = Math.max(pools[armPlan.pool][source], samples);
      const jobs = plan.jobs
        .filter((job) => job.dataset === view.dataset && armPlan.jobs.includes(job.id))
        .map((job) => ({ setup: job.setup, jobId: job.id }));
      return {
        name: view.name,
        source,
        datasetId: view.dataset,
        samples,
        filter: dataset.filter,
        keep: dataset.keep,
        jobs,
      };
    });
    const content = {
      views,
      subset: arm.subset ?? null,
      setups: armSetups(study, arm),
      testSets: armTestSets(study, arm),
      evaluations: armPlan.evaluations,
    };
    return {
      name: arm.name,
      pool: armPlan.pool,
      fingerprint: contentFingerprint(content),
      subset: arm.subset ? { size: arm.subset.size, seed: arm.subset.seed } : null,
      views,
      setups: content.setups,
      testSets: content.testSets,
    };
  });
  return { pools, arms };
}

function contentFingerprint(content: unknown): string {
  // The plan's ids are content hashes already; this hashes the arm's list of them.
  let hash = 0x811c9dc5;
  for (const char of JSON.stringify(content)) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** What the study workflow does not run yet, each naming its field. */
function unsupportedIssues(study: StudyConfig): string[] {
  const issues: string[] = [];
  study.arms.forEach((arm, index) => {
    const at = `arms.${index}`;
    if (arm.budget && arm.budget.mode !== 'ratio') {
      issues.push(
        `${at}.budget.mode: ${arm.budget.mode} budgets are planned (wcse plan) but not run by the study workflow yet; use mode: ratio or samples`,
      );
    }
    if (arm.gold || arm.views?.some((view) => view.source === 'gold')) {
      issues.push(`${at}.gold: the gold (GT) data source is not run by the study workflow yet`);
    }
    const filters = [arm.filter, ...(arm.views ?? []).map((view) => view.filter)];
    if (filters.includes('judge')) {
      issues.push(
        `${at}.filter: the judge filter is not run by the study workflow yet (gold, majority or none)`,
      );
    }
  });
  const finetune = study.finetune;
  if (finetune && ((finetune.learningRates?.length ?? 1) > 1 || (finetune.checkpoints ?? 1) > 1)) {
    issues.push(
      'finetune.learningRates / finetune.checkpoints: model selection is not run by the study workflow yet (one learning rate, one checkpoint)',
    );
  }
  return issues;
}

export interface StudyDatasetRules {
  dedupe?: boolean;
  maxPerQuestion?: number;
  validationFraction: number;
  seed: number;
  prompt: { system?: string; user: string };
}

/** A built view: its dataset manifest and what its kept samples are worth. */
export interface StudyViewResult {
  name: string;
  source: Source;
  datasetId: string;
  samples: number;
  filter: DataFilter;
  keep: Keep;
  /** Questions of the view (the arm's subset, or the pool's). */
  questions: number;
  /** Samples the filter (and keep) kept: the training candidates before dedupe, cap and validation split. */
  kept: number;
  /** Of those, correct by the gold answer. */
  keptCorrect: number;
  /** Questions with at least one correct kept sample. */
  covered: number;
  /** covered / questions, with its 95% Wilson interval. */
  coverage: number;
  coverageCi: { low: number; high: number };
  /** Unique correct kept solutions per question (all questions). */
  diversity: number;
  manifest: DatasetManifest;
}

export const STUDY_METRIC_DEFINITIONS = {
  coverage:
    "coverage: the fraction of the view's questions with at least one correct solution (by the gold answer) among the samples the view keeps (the first S per question, filtered, one per question with keep: one); 95% Wilson interval",
  diversity:
    "diversity: unique correct kept solutions per question, over all the view's questions (texts equal after trimming and collapsing whitespace are one solution)",
  filters:
    "filters: gold keeps samples whose final answer matches the problem's answer; majority keeps, per question, the samples whose normalised final answer is the strict plurality among the question's first S samples with an answer (a tie keeps none of the question); none keeps every sample",
} as const;

/**
 * A view's dataset from the pool's first `samples` samples per question (by sample index) of the arm's
 * questions: filtered, one per question with keep: one, then the experiment's dataset rules (writeDataset).
 * Written once: a view.json present is returned as it is.
 */
export async function buildStudyView(input: {
  studyDir: string;
  pool: string;
  view: Omit<StudyViewPlan, 'jobs'>;
  subset: { size: number; seed: number } | null;
  rules: StudyDatasetRules;
}): Promise<StudyViewResult> {
  const { view } = input;
  const datasetStore = openStore(studySubdir(input.studyDir, studyDatasetDir(view.datasetId)));
  const done = await readJson<StudyViewResult>(datasetStore, STUDY_VIEW_KEY);
  if (done) return { ...done, name: view.name };
  const poolStore = openStore(studySubdir(input.studyDir, studyPoolDir(input.pool)));
  const problems = await readJsonl<Problem>(poolStore, PROBLEMS_KEY);
  if (!problems) {
    throw failure(FailureType.MissingArtifact, `${poolStore.location}: ${PROBLEMS_KEY} is missing`);
  }
  const questionIds = new Set(armQuestions({ subset: input.subset ?? undefined }, problems).map((p) => p.id));
  const byId = new Map(problems.map((problem) => [problem.id, problem]));
  const inView = (sample: VerifiedSample) =>
    sample.sampleIndex < view.samples && questionIds.has(sample.questionId);
  // The majority filter's pass: each question's votes over its first S samples with an answer.
  const majority = new Map<string, string | null>();
  if (view.filter === 'majority') {
    const votes = new Map<string, Map<string, number>>();
    for await (const sample of verifiedSamples(poolStore, view.source)) {
      if (!inView(sample) || sample.normalized === null) continue;
      const tally = votes.get(sample.questionId) ?? new Map<string, number>();
      tally.set(sample.normalized, (tally.get(sample.normalized) ?? 0) + 1);
      votes.set(sample.questionId, tally);
    }
    for (const [questionId, tally] of votes) majority.set(questionId, plurality(tally));
  }
  const keeps = (sample: VerifiedSample): boolean => {
    if (view.filter === 'gold') return sample.correct;
    if (view.filter === 'majority') {
      const winner = majority.get(sample.questionId);
      return winner !== undefined && winner !== null && sample.normalized === winner;
    }
    return true;
  };
  // Kept samples, by question (keep: one keeps the lowest sample index).
  const kept = new Map<string, VerifiedSample[]>();
  let seen = 0;
  for await (const sample of verifiedSamples(poolStore, view.source)) {
    if (!inView(sample)) continue;
    seen++;
    if (!keeps(sample)) continue;
    const list = kept.get(sample.questionId) ?? [];
    if (view.keep === 'one') {
      if (!list.length || sample.sampleIndex < list[0].sampleIndex) kept.set(sample.questionId, [sample]);
    } else {
      list.push(sample);
      kept.set(sample.questionId, list);
    }
  }
  const expected = questionIds.size * view.samples;
  if (seen !== expected) {
    throw failure(
      FailureType.BadRunData,
      `${poolStore.location}: ${view.source} has ${seen} samples with index < ${view.samples} on the view's ${questionIds.size} questions, expected ${expected}; the pool is not drawn (or verified) to ${view.samples} samples per question`,
    );
  }
  let keptCount = 0;
  let keptCorrect = 0;
  let covered = 0;
  let unique = 0;
  for (const list of kept.values()) {
    keptCount += list.length;
    const correct = list.filter((sample) => sample.correct);
    keptCorrect += correct.length;
    if (correct.length) covered++;
    unique += new Set(correct.map((sample) => solutionIdentity(sample.text))).size;
  }
  async function* solutions(): AsyncIterable<CorrectSolution> {
    for (const list of kept.values()) {
      for (const sample of [...list].sort((a, b) => a.sampleIndex - b.sampleIndex)) {
        yield {
          questionId: sample.questionId,
          question: byId.get(sample.questionId)!.question,
          sampleIndex: sample.sampleIndex,
          text: sample.text,
        };
      }
    }
  }
  await datasetStore.write(PROBLEMS_KEY, (await poolStore.read(PROBLEMS_KEY))!);
  const manifest = await writeDataset(datasetStore, view.source, solutions(), keptCount, input.rules);
  const questions = questionIds.size;
  const result: StudyViewResult = {
    name: view.name,
    source: view.source,
    datasetId: view.datasetId,
    samples: view.samples,
    filter: view.filter,
    keep: view.keep,
    questions,
    kept: keptCount,
    keptCorrect,
    covered,
    coverage: questions ? covered / questions : 0,
    coverageCi: wilsonInterval(covered, questions),
    diversity: questions ? unique / questions : 0,
    manifest,
  };
  await writeJson(datasetStore, STUDY_VIEW_KEY, result);
  return result;
}

/** The answer with strictly the most votes, or null on a tie. */
export function plurality(tally: Map<string, number>): string | null {
  let best: string | null = null;
  let bestVotes = 0;
  let tied = false;
  for (const [answer, votes] of tally) {
    if (votes > bestVotes) {
      best = answer;
      bestVotes = votes;
      tied = false;
    } else if (votes === bestVotes) tied = true;
  }
  return tied ? null : best;
}

/**
 * A job's directory: its dataset's train and validation files and the pool's test sets copied in (each
 * only when absent), so the experiment's fine-tuning and evaluation activities run there unchanged.
 */
export async function stageStudyJob(input: {
  studyDir: string;
  pool: string;
  datasetId: string;
  source: Source;
  jobId: string;
  testSets: string[];
}): Promise<{ runDir: string; trainKey: string; validationKey: string | null }> {
  const runDir = studySubdir(input.studyDir, studyJobDir(input.jobId));
  const jobStore = openStore(runDir);
  const datasetStore = openStore(studySubdir(input.studyDir, studyDatasetDir(input.datasetId)));
  const poolStore = openStore(studySubdir(input.studyDir, studyPoolDir(input.pool)));
  const copy = async (from: typeof jobStore, key: string) => {
    if (await jobStore.exists(key)) return;
    const data = await from.read(key);
    if (!data) throw failure(FailureType.MissingArtifact, `${from.location}: ${key} is missing`);
    await jobStore.write(key, data);
  };
  const manifest = await readJson<DatasetManifest>(datasetStore, datasetManifestKey(input.source));
  if (!manifest) {
    throw failure(
      FailureType.MissingArtifact,
      `${datasetStore.location}: ${datasetManifestKey(input.source)} is missing`,
    );
  }
  await copy(datasetStore, datasetKey(input.source, 'train'));
  const validation = manifest.validation.examples > 0;
  if (validation) await copy(datasetStore, datasetKey(input.source, 'validation'));
  for (const testSet of input.testSets) await copy(poolStore, evalProblemsKey(testSet));
  return {
    runDir,
    trainKey: datasetKey(input.source, 'train'),
    validationKey: validation ? datasetKey(input.source, 'validation') : null,
  };
}

/** One finetuned model of an arm: its job and its evaluation per test set. */
export interface StudyJobResult {
  view: string;
  setup: Setup;
  jobId: string;
  fineTunedModel: string | null;
  /** Why the job did not run (its dataset is empty), or null. */
  skipped: string | null;
  evaluations: EvalResult[];
}

export interface StudyArmResult {
  name: string;
  pool: string;
  fingerprint: string;
  views: StudyViewResult[];
  base: EvalResult[];
  jobs: StudyJobResult[];
}

export async function readStudyArmResult(input: {
  studyDir: string;
  arm: string;
  fingerprint: string;
}): Promise<StudyArmResult | null> {
  const result = await readJson<StudyArmResult>(openStore(input.studyDir), studyArmResultKey(input.arm));
  return result && result.fingerprint === input.fingerprint ? result : null;
}

export async function writeStudyArmResult(input: {
  studyDir: string;
  result: StudyArmResult;
}): Promise<string> {
  const key = studyArmResultKey(input.result.name);
  await writeJson(openStore(input.studyDir), key, input.result);
  return key;
}

export interface StudyReportSummary {
  reportMd: string;
  reportJson: string;
}

/** report.md and report.json: every arm's views and finetuned accuracies side by side, with n and intervals. */
export async function writeStudyReport(input: {
  studyDir: string;
  studyId: string;
  study: StudyConfig;
  pools: StudyRunPlan['pools'];
  arms: StudyArmResult[];
}): Promise<StudyReportSummary> {
  const store = openStore(input.studyDir);
  await writeJson(store, REPORT_JSON_KEY, {
    study: input.study.name,
    studyId: input.studyId,
    definitions: STUDY_METRIC_DEFINITIONS,
    pools: input.pools,
    arms: input.arms,
  });
  await store.write(REPORT_MD_KEY, studyReportMarkdown(input));
  return { reportMd: REPORT_MD_KEY, reportJson: REPORT_JSON_KEY };
}

export function studyReportMarkdown(input: {
  study: StudyConfig;
  pools: StudyRunPlan['pools'];
  arms: StudyArmResult[];
}): string {
  const poolLines = Object.entries(input.pools).map(
    ([name, counts]) =>
      `- pool **${name}**: ${counts.wc} WC and ${counts.se} SE samples per question, drawn once; every arm reads a prefix (the first S by sample index)`,
  );
  const dataRows = input.arms.flatMap((arm) =>
    arm.views.map((view) => [
      arm.name,
      view.name,
      view.source.toUpperCase(),
      String(view.samples),
      `${view.filter}${view.keep === 'one' ? ', keep one' : ''}`,
      String(view.questions),
      `${percent(view.coverage)} ${percentInterval(view.coverageCi)}`,
      view.diversity.toFixed(2),
      `${view.kept} (${view.keptCorrect} correct)`,
      String(view.manifest.train.examples),
    ]),
  );
  const accuracy = (result: EvalResult | undefined) =>
    result ? `${percent(result.accuracy)} ${percentInterval(result.ci)} (n=${result.n})` : '-';
  const testSets = input.study.evaluation ? testSetsOf(input.study.evaluation).map((set) => set.name) : [];
  const finetuneRows = input.arms.flatMap((arm) => [
    ...arm.base.map((result) => [
      arm.name,
      `${SETUP_NAMES[result.setup]} base (${result.model})`,
      '-',
      result.testSet ?? 'test',
      accuracy(result),
    ]),
    ...arm.jobs.flatMap((job) =>
      job.skipped
        ? [[arm.name, SETUP_NAMES[job.setup], job.view, '-', `skipped: ${job.skipped}`]]
        : job.evaluations.map((result) => [
            arm.name,
            SETUP_NAMES[job.setup],
            job.view,
            result.testSet ?? 'test',
            accuracy(result),
          ]),
    ),
  ]);
  return [
    `# Study ${input.study.name}`,
    '',
    ...poolLines,
    '',
    '## Data per arm',
    '',
    markdownTable(
      [
        'arm',
        'view',
        'source',
        'S',
        'filter',
        'questions',
        'coverage (95% CI)',
        'diversity',
        'kept samples',
        'train examples',
      ],
      dataRows,
    ),
    '',
    ...Object.values(STUDY_METRIC_DEFINITIONS).map((line) => `- ${line}`),
    '',
    '## Finetuned accuracy per arm',
    '',
    finetuneRows.length
      ? markdownTable(['arm', 'setup', 'data', 'test set', 'accuracy (95% Wilson CI, n)'], finetuneRows)
      : '_No finetuning in this study._',
    '',
    testSets.length
      ? `- accuracy: pass@1 of the first (greedy) sample on each test set (${testSets.join(', ')}); models trained on the same dataset with the same settings are one job, shared by the arms that list it`
      : '',
    '',
  ].join('\n');
}
