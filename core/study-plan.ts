// A study's plan: its arms expanded into the distinct work they need, each identified by its content (a
// hash of what makes it what it is), so work two arms share runs once: pool draws (per question, the most
// samples any arm reads from a model), judge verdicts, datasets, finetuning jobs and evaluations. The cost
// of every arm alone and of the whole study with and without that sharing, in core/plan.ts's accounting
// (2P FLOPs per generated token, prompt tokens where the pool counts them; dollars where prices are set).
// Pure: the problem sets and prompt-token estimates come in as inputs (activities/study-planning.ts).
import { majoritySamples, testSetsOf, type ModelConfig, type ProblemsConfig, type Source } from './config.js';
import { fnv1a64, seededSubset } from './hash.js';
import {
  flopsFor,
  PlanError,
  planComputeMatched,
  requestsFor,
  usdFor,
  type Plan,
  type PromptTokenStats,
} from './plan.js';
import type { Setup } from './results.js';
import {
  armExperimentConfig,
  armFinetune,
  armSetups,
  armTestSets,
  poolNameOf,
  resolveViews,
  type ArmConfig,
  type DataFilter,
  type Keep,
  type StudyConfig,
} from './study.js';
import { trainingRequest } from './training.js';

/** One question of a pool: its id and, per source, the prompt tokens of one request. */
export interface PlanQuestion {
  id: string;
  promptTokens: Record<Source, { expected: number; upperBound: number }>;
}

export interface StudyPlanInputs {
  pools: Record<
    string,
    {
      /** The pool's problem set, in file order (after `limit` and `holdOut`). */
      questions: PlanQuestion[];
      /** Questions that score checkpoints in model selection (the held-out split or finetune.validation). */
      validationQuestions: number;
    }
  >;
  /** Questions per test set, by name ("test" for a single `problems` split). */
  testSets: Record<string, number>;
}

/** What a piece of work costs: samples drawn (or judged, or generated in evaluation), FLOPs, dollars. */
export interface Cost {
  samples: number;
  flops: number;
  /** Null where no price is configured for any model involved. */
  usd: number | null;
}

export const COST_CATEGORIES = ['sampling', 'judging', 'training', 'evaluation'] as const;
export type CostCategory = (typeof COST_CATEGORIES)[number];
export type CostBreakdown = Record<CostCategory, Cost> & { total: Cost };

/** Samples per question of one source that a view or a draw needs, question by question. */
interface Needs {
  /** Per question id. */
  perQuestion: Map<string, number>;
}

/** A pool draw: one model's samples of one problem set, as many per question as any arm reads. */
export interface DrawItem {
  id: string;
  /** Which pools' sources use it, e.g. ["gemma.wc"]. */
  uses: string[];
  model: string;
  questions: number;
  maxSamplesPerQuestion: number;
  /** Questions by samples drawn: [{ samplesPerQuestion, questions }], most first. */
  levels: Array<{ samplesPerQuestion: number; questions: number }>;
  cost: Cost;
}

/** Judge verdicts on the samples of a draw that `judge`-filtered datasets read. */
export interface JudgingItem {
  id: string;
  draw: string;
  judge: string;
  cost: Cost;
}

/** A finetuning dataset: a prefix of a draw's samples (or the gold solutions), on some questions, filtered. */
export interface DatasetItem {
  id: string;
  pool: string;
  source: 'wc' | 'se' | 'gold';
  /** The draw it reads (null for gold). */
  draw: string | null;
  /** Samples per question it reads (a budgeted view: its full rounds; `topUpSamples` beside). */
  samplesPerQuestion: number | null;
  topUpSamples: number;
  questions: number;
  subset: { size: number; seed: number } | null;
  filter: DataFilter;
  keep: Keep;
  /** The judge verdicts it needs (the judge filter), or null. */
  judging: string | null;
}

export interface JobItem {
  id: string;
  dataset: string;
  setup: Setup;
  model: string;
  learningRate: number | null;
  steps: number | null;
  batchSize: number | null;
  cost: Cost;
}

export interface EvaluationItem {
  id: string;
  kind: 'base' | 'finetuned';
  setup: Setup;
  model: string;
  /** The finetuned model's dataset (null for a base model). */
  dataset: string | null;
  /** The jobs whose best checkpoint is evaluated (one per learning rate). */
  jobs: string[];
  testSet: string;
  questions: number;
  cost: Cost;
}

export interface ArmViewPlan {
  name: string;
  source: 'wc' | 'se' | 'gold';
  dataset: string;
}

export interface ArmPlan {
  name: string;
  pool: string;
  questions: number;
  views: ArmViewPlan[];
  /** The compute-matched plan of a budget arm (core/plan.ts), else null. */
  plan: Plan | null;
  draws: string[];
  judgings: string[];
  datasets: string[];
  jobs: string[];
  evaluations: string[];
  /** What this arm costs run alone (its own draws at its own counts). */
  cost: CostBreakdown;
}

export interface StudyPlan {
  name: string;
  arms: ArmPlan[];
  draws: DrawItem[];
  judgings: JudgingItem[];
  datasets: DatasetItem[];
  jobs: JobItem[];
  evaluations: EvaluationItem[];
  /** Every distinct piece of work once. */
  shared: CostBreakdown;
  /** Every arm run on its own: the sum of the arms' costs. */
  unshared: CostBreakdown;
  /** Work items summed over arms, and distinct. */
  counts: Record<
    'draws' | 'judgings' | 'datasets' | 'jobs' | 'evaluations',
    { unshared: number; shared: number }
  >;
  notes: string[];
  warnings: string[];
}

const ZERO: Cost = { samples: 0, flops: 0, usd: null };

export function addCosts(a: Cost, b: Cost): Cost {
  return {
    samples: a.samples + b.samples,
    flops: a.flops + b.flops,
    usd: a.usd === null && b.usd === null ? null : (a.usd ?? 0) + (b.usd ?? 0),
  };
}

function emptyBreakdown(): CostBreakdown {
  return { sampling: ZERO, judging: ZERO, training: ZERO, evaluation: ZERO, total: ZERO };
}

function addTo(breakdown: CostBreakdown, category: CostCategory, cost: Cost): void {
  breakdown[category] = addCosts(breakdown[category], cost);
  breakdown.total = addCosts(breakdown.total, cost);
}

/** JSON with object keys sorted, so equal content gives equal text whatever the key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonical(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A content identity: `<kind>-<16 hex digits>` of the canonical JSON of what makes the work what it is. */
export function contentId(kind: string, content: unknown): string {
  return `${kind}-${fnv1a64(canonical(content))}`;
}

/** What makes a model's samples what they are (not how they are requested: concurrency, maxN, limits). */
function modelIdentity(model: ModelConfig): unknown {
  return { model: model.model, baseURL: model.baseURL, prompt: model.prompt, sampling: model.sampling };
}

function problemsIdentity(problems: ProblemsConfig): unknown {
  return problems;
}

/** The questions an arm reads: the pool's, or its seeded subset (the same rule as `problems.limit`). */
export function armQuestions<T extends { id: string }>(arm: Pick<ArmConfig, 'subset'>, questions: T[]): T[] {
  return arm.subset ? seededSubset(questions, arm.subset.size, arm.subset.seed, (q) => q.id) : questions;
}

function statsOf(questions: PlanQuestion[], source: Source): PromptTokenStats {
  return {
    expectedPerRequestSum: questions.reduce((sum, q) => sum + q.promptTokens[source].expected, 0),
    upperBoundPerRequestSum: questions.reduce((sum, q) => sum + q.promptTokens[source].upperBound, 0),
    upperBoundPerRequestMax: Math.max(0, ...questions.map((q) => q.promptTokens[source].upperBound)),
  };
}

/** Expected tokens of one sample of a pool's source: the pool's estimate, else max_tokens. */
function tokensPerSample(study: StudyConfig, poolName: string, model: ModelConfig): number {
  return study.pools[poolName].expectedTokensPerSample ?? model.sampling.maxTokens;
}

/** The cost of drawing `needs` from a model, in core/plan.ts's ratio-mode accounting. */
function drawCost(
  model: ModelConfig,
  needs: Needs,
  prompts: Map<string, number>,
  tokens: number,
  countPromptTokens: boolean,
): Cost {
  let samples = 0;
  let promptTokens = 0;
  for (const [id, count] of needs.perQuestion) {
    samples += count;
    promptTokens += requestsFor(model, count) * (prompts.get(id) ?? 0);
  }
  const completionTokens = samples * tokens;
  return {
    samples,
    flops: flopsFor(model.params, completionTokens + (countPromptTokens ? promptTokens : 0)),
    usd: model.price ? usdFor(model, { promptTokens, completionTokens }) : null,
  };
}

function mergeNeeds(into: Needs, from: Needs): void {
  for (const [id, count] of from.perQuestion) {
    into.perQuestion.set(id, Math.max(into.perQuestion.get(id) ?? 0, count));
  }
}

/** A view's needs: `samples` for every question, plus one top-up sample for the first `topUp` in a seeded order. */
function viewNeeds(questionIds: string[], samples: number, topUp: number, seedKey: string): Needs {
  const perQuestion = new Map(
    questionIds.map((id) => [id, samples + Math.floor(topUp / questionIds.length)]),
  );
  const extra = topUp % questionIds.length;
  if (extra > 0) {
    for (const id of seededSubset(questionIds, extra, 0, (q) => `${seedKey}\u0000${q}`)) {
      perQuestion.set(id, (perQuestion.get(id) ?? 0) + 1);
    }
  }
  return { perQuestion };
}

/** Generation cost: `samples` answers of at most `maxTokens` from a model of `params`. */
function generationCost(model: ModelConfig, samples: number, maxTokens: number, promptTokens = 0): Cost {
  return {
    samples,
    flops: flopsFor(model.params, samples * maxTokens),
    usd: model.price ? usdFor(model, { promptTokens, completionTokens: samples * maxTokens }) : null,
  };
}

/**
 * Expands a validated study's arms into its distinct work and costs. Sharing: a draw is keyed by model
 * and problem set and draws per question the most any arm needs; datasets by draw, prefix, questions,
 * filter and keep (and the dataset options); jobs by dataset, trained model and training; evaluations by
 * evaluated model, test set and evaluation settings.
 */
export function planStudy(study: StudyConfig, inputs: StudyPlanInputs): StudyPlan {
  const notes: string[] = [];
  const warnings: string[] = [];
  const draws = new Map<
    string,
    DrawItem & {
      needs: Needs;
      modelConfig: ModelConfig;
      prompts: Map<string, number>;
      tokens: number;
      countPrompt: boolean;
    }
  >();
  const judgings = new Map<string, JudgingItem & { needs: Needs; drawTokens: number }>();
  const datasets = new Map<string, DatasetItem>();
  const jobs = new Map<string, JobItem>();
  const evaluations = new Map<string, EvaluationItem>();
  const counts: StudyPlan['counts'] = {
    draws: { unshared: 0, shared: 0 },
    judgings: { unshared: 0, shared: 0 },
    datasets: { unshared: 0, shared: 0 },
    jobs: { unshared: 0, shared: 0 },
    evaluations: { unshared: 0, shared: 0 },
  };
  const judgeModel = study.judge !== undefined ? study.models[study.judge] : undefined;
  const judgeTokens = judgeModel?.sampling.maxTokens ?? 0;
  const judgeCost = (samples: number, solutionTokens: number): Cost =>
    judgeModel ? generationCost(judgeModel, samples, judgeTokens, samples * solutionTokens) : ZERO;
  const testSets = study.evaluation ? testSetsOf(study.evaluation) : [];
  const evaluation = study.evaluation;
  const evalSamples = evaluation
    ? evaluation.samples + (evaluation.majority ? majoritySamples(evaluation.majority) : 0)
    : 0;
  const evalMaxTokens = (model: ModelConfig) => evaluation?.maxTokens ?? model.sampling.maxTokens;
  const evalSettings = evaluation
    ? {
        samples: evaluation.samples,
        temperature: evaluation.temperature,
        maxTokens: evaluation.maxTokens,
        majority: evaluation.majority,
        prompt: evaluation.prompt,
      }
    : null;

  const arms = study.arms.map((arm): ArmPlan => {
    const poolName = poolNameOf(study, arm);
    const pool = study.pools[poolName];
    const poolInputs = inputs.pools[poolName];
    if (!poolInputs) throw new PlanError(`pools.${poolName}: no problem set was read for it`);
    if (arm.subset && arm.subset.size > poolInputs.questions.length) {
      throw new PlanError(
        `arms.${arm.name}.subset.size: ${arm.subset.size} questions, but pool ${poolName} has ${poolInputs.questions.length}`,
      );
    }
    const questions = armQuestions(arm, poolInputs.questions);
    if (!questions.length) throw new PlanError(`pools.${poolName}.problems: the problem set is empty`);
    const questionIds = questions.map((q) => q.id);
    const cost = emptyBreakdown();
    const config = armExperimentConfig(study, poolName, arm.budget);
    const planInputs = {
      questions: questions.length,
      promptTokens: { wc: statsOf(questions, 'wc'), se: statsOf(questions, 'se') },
    };
    // core/plan.ts's rule for S_WC (ratio) or what a FLOPs / dollar budget buys, on the arm's questions.
    const plan = arm.budget ? planComputeMatched(config, planInputs) : null;
    if (plan) warnings.push(...(plan.warnings ?? []).map((w) => `arm ${arm.name}: ${w}`));
    const views = resolveViews(arm, () => ({
      wc: plan!.wc.samplesPerQuestion,
      se: plan!.se.samplesPerQuestion,
    }));
    const armPlan: ArmPlan = {
      name: arm.name,
      pool: poolName,
      questions: questions.length,
      views: [],
      plan,
      draws: [],
      judgings: [],
      datasets: [],
      jobs: [],
      evaluations: [],
      cost,
    };
    // This arm's own draws and judge verdicts, per draw id.
    const ownDraws = new Map<string, Needs>();
    const ownJudgings = new Map<string, Needs>();
    const subset = arm.subset ? { size: arm.subset.size, seed: arm.subset.seed } : null;
    for (const view of views) {
      let drawId: string | null = null;
      let samples: number | null = null;
      let topUp = 0;
      let judgingId: string | null = null;
      if (view.source !== 'gold') {
        const source = view.source;
        const model = study.models[pool[source]];
        samples = view.samples ?? plan?.[source].samplesPerQuestion ?? null;
        topUp = view.samples === null ? (plan?.[source].expectedTopUpSamples ?? 0) : 0;
        if (samples === null) throw new PlanError(`arms.${arm.name}: no sample count for ${view.name}`);
        drawId = contentId('draw', {
          model: modelIdentity(model),
          problems: problemsIdentity(pool.problems),
        });
        const needs = viewNeeds(questionIds, samples, topUp, `${arm.name}/${source}`);
        if (!ownDraws.has(drawId)) ownDraws.set(drawId, { perQuestion: new Map() });
        mergeNeeds(ownDraws.get(drawId)!, needs);
        if (!draws.has(drawId)) {
          draws.set(drawId, {
            id: drawId,
            uses: [],
            model: pool[source],
            questions: 0,
            maxSamplesPerQuestion: 0,
            levels: [],
            cost: ZERO,
            needs: { perQuestion: new Map() },
            modelConfig: model,
            prompts: new Map(poolInputs.questions.map((q) => [q.id, q.promptTokens[source].expected])),
            tokens: tokensPerSample(study, poolName, model),
            countPrompt: pool.countPromptTokens,
          });
        }
        const draw = draws.get(drawId)!;
        if (!draw.uses.includes(`${poolName}.${source}`)) draw.uses.push(`${poolName}.${source}`);
        mergeNeeds(draw.needs, needs);
        const fixed = pool.samplesPerQuestion?.[source];
        if (fixed !== undefined) {
          mergeNeeds(draw.needs, { perQuestion: new Map(poolInputs.questions.map((q) => [q.id, fixed])) });
        }
        if (view.filter === 'judge') {
          judgingId = contentId('judging', {
            draw: drawId,
            judge: judgeModel && modelIdentity(judgeModel),
            prompt: study.judgeFilterPrompt,
          });
          if (!ownJudgings.has(judgingId)) ownJudgings.set(judgingId, { perQuestion: new Map() });
          mergeNeeds(ownJudgings.get(judgingId)!, needs);
          if (!judgings.has(judgingId)) {
            judgings.set(judgingId, {
              id: judgingId,
              draw: drawId,
              judge: study.judge ?? '',
              cost: ZERO,
              needs: { perQuestion: new Map() },
              drawTokens: draw.tokens,
            });
          }
          mergeNeeds(judgings.get(judgingId)!.needs, needs);
        }
      }
      const datasetContent = {
        draw: drawId,
        gold: view.source === 'gold' ? problemsIdentity(pool.problems) : null,
        samples,
        topUp: topUp > 0 ? { topUp, arm: arm.name } : null,
        subset,
        filter: view.filter,
        keep: view.keep,
        judging: judgingId,
        options: study.datasets,
        verifier: study.verifier,
      };
      const datasetId = contentId('dataset', datasetContent);
      counts.datasets.unshared++;
      if (!datasets.has(datasetId)) {
        datasets.set(datasetId, {
          id: datasetId,
          pool: poolName,
          source: view.source,
          draw: drawId,
          samplesPerQuestion: samples,
          topUpSamples: topUp,
          questions: questions.length,
          subset,
          filter: view.filter,
          keep: view.keep,
          judging: judgingId,
        });
      }
      armPlan.datasets.push(datasetId);
      armPlan.views.push({ name: view.name, source: view.source, dataset: datasetId });
      // Finetuning: one job per learning rate for each setup; the best checkpoint is evaluated.
      for (const setup of armSetups(study, arm)) {
        const finetune = armFinetune(study, arm)!;
        const modelName = study.setups[setup]!;
        const model = study.models[modelName];
        const training = trainingRequest(finetune);
        const learningRates: Array<number | null> = finetune.learningRates ?? [
          finetune.hyperparameters.learningRate ?? null,
        ];
        const checkpoints = finetune.checkpoints ?? 1;
        const selecting = learningRates.length > 1 || checkpoints > 1;
        const exampleTokens =
          view.source === 'gold'
            ? tokensPerSample(study, poolName, study.models[pool.se])
            : tokensPerSample(study, poolName, study.models[pool[view.source]]);
        const jobIds: string[] = [];
        for (const learningRate of learningRates) {
          const jobId = contentId('job', {
            dataset: datasetId,
            model: modelIdentity(model),
            training,
            learningRate,
            checkpoints,
            hyperparameters: finetune.hyperparameters,
            validation: finetune.validation ?? null,
          });
          jobIds.push(jobId);
          // Training: 6P FLOPs per token trained (forward and backward); scoring each checkpoint on the
          // validation questions: 2P per generated token.
          const examples = training.mode === 'steps' ? training.steps * training.batchSize : 0;
          const scoring = selecting
            ? generationCost(model, checkpoints * poolInputs.validationQuestions, evalMaxTokens(model))
            : ZERO;
          const jobCost: Cost = addCosts(
            { samples: 0, flops: 6 * model.params * examples * exampleTokens, usd: null },
            { ...scoring, usd: null },
          );
          counts.jobs.unshared++;
          addTo(cost, 'training', jobCost);
          if (!jobs.has(jobId)) {
            jobs.set(jobId, {
              id: jobId,
              dataset: datasetId,
              setup,
              model: modelName,
              learningRate,
              steps: training.mode === 'steps' ? training.steps : null,
              batchSize: training.batchSize,
              cost: jobCost,
            });
          }
          armPlan.jobs.push(jobId);
        }
        for (const testSetName of armTestSets(study, arm)) {
          const testSet = testSets.find((set) => set.name === testSetName)!;
          const questionsOfSet = inputs.testSets[testSetName] ?? 0;
          const evalId = contentId('eval', {
            jobs: jobIds,
            testSet: testSet.problems,
            settings: evalSettings,
          });
          const evalCost = generationCost(model, questionsOfSet * evalSamples, evalMaxTokens(model));
          counts.evaluations.unshared++;
          addTo(cost, 'evaluation', evalCost);
          if (!evaluations.has(evalId)) {
            evaluations.set(evalId, {
              id: evalId,
              kind: 'finetuned',
              setup,
              model: modelName,
              dataset: datasetId,
              jobs: jobIds,
              testSet: testSetName,
              questions: questionsOfSet,
              cost: evalCost,
            });
          }
          armPlan.evaluations.push(evalId);
        }
      }
    }
    // Each base model an arm finetunes is evaluated once per test set (setups sharing a model share it).
    const baseModels = new Map<string, Setup>();
    for (const setup of armSetups(study, arm)) {
      const name = study.setups[setup]!;
      if (!baseModels.has(name)) baseModels.set(name, setup);
    }
    for (const [modelName, setup] of baseModels) {
      const model = study.models[modelName];
      for (const testSetName of armTestSets(study, arm)) {
        const testSet = testSets.find((set) => set.name === testSetName)!;
        const questionsOfSet = inputs.testSets[testSetName] ?? 0;
        const evalId = contentId('eval', {
          base: modelIdentity(model),
          testSet: testSet.problems,
          settings: evalSettings,
        });
        const evalCost = generationCost(model, questionsOfSet * evalSamples, evalMaxTokens(model));
        counts.evaluations.unshared++;
        addTo(cost, 'evaluation', evalCost);
        if (!evaluations.has(evalId)) {
          evaluations.set(evalId, {
            id: evalId,
            kind: 'base',
            setup,
            model: modelName,
            dataset: null,
            jobs: [],
            testSet: testSetName,
            questions: questionsOfSet,
            cost: evalCost,
          });
        }
        armPlan.evaluations.push(evalId);
      }
    }
    for (const [drawId, needs] of ownDraws) {
      const draw = draws.get(drawId)!;
      counts.draws.unshared++;
      addTo(cost, 'sampling', drawCost(draw.modelConfig, needs, draw.prompts, draw.tokens, draw.countPrompt));
      armPlan.draws.push(drawId);
    }
    for (const [judgingId, needs] of ownJudgings) {
      const judging = judgings.get(judgingId)!;
      counts.judgings.unshared++;
      addTo(cost, 'judging', judgeCost(sumNeeds(needs), judging.drawTokens));
      armPlan.judgings.push(judgingId);
    }
    armPlan.evaluations = [...new Set(armPlan.evaluations)];
    return armPlan;
  });

  const shared = emptyBreakdown();
  const unshared = emptyBreakdown();
  for (const arm of arms) {
    for (const category of COST_CATEGORIES) addTo(unshared, category, arm.cost[category]);
  }
  const drawItems = [...draws.values()].map(
    ({ needs, modelConfig, prompts, tokens, countPrompt, ...item }): DrawItem => {
      const drawn = drawCost(modelConfig, needs, prompts, tokens, countPrompt);
      const byLevel = new Map<number, number>();
      for (const count of needs.perQuestion.values()) byLevel.set(count, (byLevel.get(count) ?? 0) + 1);
      addTo(shared, 'sampling', drawn);
      return {
        ...item,
        questions: needs.perQuestion.size,
        maxSamplesPerQuestion: Math.max(...byLevel.keys()),
        levels: [...byLevel]
          .sort(([a], [b]) => b - a)
          .map(([samplesPerQuestion, questions]) => ({ samplesPerQuestion, questions })),
        cost: drawn,
      };
    },
  );
  const judgingItems = [...judgings.values()].map(({ needs, drawTokens, ...item }): JudgingItem => {
    const judged = judgeCost(sumNeeds(needs), drawTokens);
    addTo(shared, 'judging', judged);
    return { ...item, cost: judged };
  });
  for (const job of jobs.values()) addTo(shared, 'training', job.cost);
  for (const item of evaluations.values()) addTo(shared, 'evaluation', item.cost);
  counts.draws.shared = drawItems.length;
  counts.judgings.shared = judgingItems.length;
  counts.datasets.shared = datasets.size;
  counts.jobs.shared = jobs.size;
  counts.evaluations.shared = evaluations.size;

  notes.push(
    "Sampling: 2P FLOPs per completion token (expected tokens per sample: the pool's expectedTokensPerSample, else max_tokens), prompt tokens where the pool counts them (core/plan.ts). An arm reads the first S samples of each question from its pool; the pool draws, per question, the most samples any arm reads, once.",
    'Training: 6P FLOPs per token trained, steps x batch size examples of the expected sample length; model selection adds 2P per generated token to score each checkpoint on the validation questions. Evaluation: 2P per generated token at max_tokens (greedy and maj@k passes). Dollars: sampling and judging only, where models have a price.',
  );
  if (study.finetune && trainingRequest(study.finetune).mode === 'epochs') {
    warnings.push(
      'finetune.hyperparameters.epochs: training by epochs depends on dataset sizes; its FLOPs are not estimated (0)',
    );
  }
  return {
    name: study.name,
    arms,
    draws: drawItems,
    judgings: judgingItems,
    datasets: [...datasets.values()],
    jobs: [...jobs.values()],
    evaluations: [...evaluations.values()],
    shared,
    unshared,
    counts,
    notes,
    warnings: [...new Set(warnings)],
  };
}

function sumNeeds(needs: Needs): number {
  let total = 0;
  for (const count of needs.perQuestion.values()) total += count;
  return total;
}
