// The study config (issue 10): one YAML file naming sample pools and a list of arms, each arm a view on a
// pool: how many samples per question of each source it reads (a compute budget, or number-matched
// counts), which questions (all, or a seeded subset), which filter makes a sample training data (the gold
// answer, a majority vote over the source's own samples, the LLM judge, or none), whether every correct
// solution or one per question is kept, which setups are finetuned and on which test sets they are
// evaluated. Validated like the experiment config (core/config.ts), whose schema pieces it reuses: errors
// name the field. Planning (what runs once, what it costs) is core/study-plan.ts; running a study is
// workflows/study.ts (the pool drawn once at its largest S, arms as views on it; activities/study.ts).
//
// Sampling seeds and pool prefixes (checked against the code, issue 10 asks for it):
// - A sample's seed is stableSeed(model.sampling.seed, source, question id, round, chunk)
//   (activities/sampling.ts:228): per question, round and request, NOT per sample index. A request with
//   n > 1 choices has one seed for all its choices; its chunks are cut by maxN and by how many samples the
//   round still wants (activities/sampling.ts:226-227, choicesPerRequest). So a sample index has no seed
//   of its own: with S > maxN its request changes with S, and even where the seed is the same (chunk 0)
//   the request's n differs, and whether an n = 10 request returns the first 10 choices of an n = 30
//   request with that seed is up to the server.
// - In ratio mode the pool is one round of S samples per question (workflows/sampling.ts:237 stops after
//   round 1; workflows/sampling.ts:286-287 send samplesPerQuestion: plan.samplesPerRound and
//   firstSampleIndex: round x samplesPerRound), and sample indices are consecutive per question
//   (activities/sampling.ts:299, sampleIndex = firstSampleIndex + collected.length + i).
// What follows for a study:
// - Reading the first S samples (by sampleIndex) of a pool drawn once at S_max IS a valid sample of S:
//   the samples of a question are exchangeable draws (same prompt, temperature, top_p), whatever their
//   seeds, so no seeding change is needed for arms to share one pool drawn at the largest S, as long as
//   the pool is drawn once and its stored samples are read by sampleIndex.
// - What the current code does NOT give is a pool that grows: drawing it again at a larger S redraws
//   every index, and the batch fingerprint includes samplesPerQuestion (activities/sampling.ts:142-158,
//   checked at :178), so a larger S in the same run directory fails with RunDirMismatch.
// What must change so that adding an arm that reads more samples pays only for the new ones (the study
// workflow's job):
// 1. Needed: grow a pool by a further round that draws only sample indices [S_old, S_new) with
//    firstSampleIndex = S_old. Rounds then differ in size, so workflows/sampling.ts:287 must send "samples
//    drawn so far" instead of round x samplesPerRound (a patched() change for recorded histories); the
//    seed already differs by round, so the new samples never repeat an old request, and finished batches
//    keep their fingerprints and are reused.
// 2. Optional, for a pool that is the same however it was grown: seed by sample index instead of
//    (round, chunk), i.e. stableSeed(seed, source, questionId, sampleIndex) with one-choice requests, or
//    n > 1 requests cut at fixed index boundaries (multiples of maxN) seeded by their first index. This
//    changes the seeds of existing experiments, so it belongs to the study pool's own request label.
import { z } from 'zod';
import {
  BudgetSchema,
  EvaluationSchema,
  ExperimentConfigSchema,
  FinetuneSchema,
  ModelSchema,
  ProblemsSchema,
  type ExperimentConfig,
  type ModelConfig,
  type Source,
} from './config.js';
import type { Setup } from './results.js';

const positiveInt = z.number().int().positive();
const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, ".", "_" or "-"');

/** How a sample becomes training data. `gold`: its final answer matches the problem's answer (the paper). */
export const FILTERS = ['gold', 'majority', 'judge', 'none'] as const;
export type DataFilter = (typeof FILTERS)[number];
const FilterSchema = z.enum(FILTERS);

/** `all`: every sample the filter keeps (the paper); `one`: the first kept solution of each question. */
export const KEEPS = ['all', 'one'] as const;
export type Keep = (typeof KEEPS)[number];
const KeepSchema = z.enum(KEEPS);

/**
 * A pool: the problems and the two source models whose samples every arm on it reads. It draws, per
 * question and source, the most samples any arm reads (or `samplesPerQuestion` when given, which must
 * cover every arm), once.
 */
export const PoolSchema = z
  .object({
    problems: ProblemsSchema,
    /** Names in `models`. */
    wc: nameSchema,
    se: nameSchema,
    /** Samples drawn per question (default: the most any arm reads from that source). */
    samplesPerQuestion: z
      .object({ wc: positiveInt.optional(), se: positiveInt.optional() })
      .strict()
      .optional(),
    /** Expected completion tokens per sample, for the plan's estimate only (default: max_tokens). */
    expectedTokensPerSample: z.number().positive().optional(),
    /** Whether prompt tokens count as FLOPs (dollars always include the prompt tokens billed). */
    countPromptTokens: z.boolean().default(false),
    /** Questions per sampling activity. */
    batchSize: positiveInt.default(8),
  })
  .strict();

/** An arm's compute budget: the experiment's budget modes, less the estimate fields (they are the pool's). */
const [ratioBudget, flopsBudget, priceBudget] = BudgetSchema.options;
const estimateFields = { expectedTokensPerSample: true, countPromptTokens: true } as const;
export const ArmBudgetSchema = z.discriminatedUnion('mode', [
  ratioBudget.omit(estimateFields),
  flopsBudget.omit(estimateFields),
  priceBudget.omit(estimateFields),
]);

/** One dataset an arm compares: a source's first `samples` samples per question, or the gold solutions. */
export const ViewSchema = z
  .object({
    /** A label for the report (default: e.g. "wc@3", "se@1/one", "gold"). */
    name: nameSchema.optional(),
    source: z.enum(['wc', 'se', 'gold']),
    /** Samples per question this view reads (the pool's first `samples`); not for `gold`. */
    samples: positiveInt.optional(),
    /** Overrides the arm's `filter` for this view. */
    filter: FilterSchema.optional(),
    /** Overrides the arm's `keep` for this view. */
    keep: KeepSchema.optional(),
  })
  .strict();

export const ArmSchema = z
  .object({
    name: nameSchema,
    /** The pool this arm reads (default: the only pool). */
    pool: nameSchema.optional(),
    /** Compute-matched WC vs SE: ratio (S_SE, S_WC from P_SE / P_WC), or a FLOPs or dollar budget each. */
    budget: ArmBudgetSchema.optional(),
    /** Number-matched WC vs SE: the same (or any given) samples per question from each source. */
    samples: z.object({ wc: positiveInt, se: positiveInt }).strict().optional(),
    /** Any list of datasets, e.g. 1 WC vs 3 WC, or 1 / 30 / 30-keep-one WC samples. */
    views: z.array(ViewSchema).min(1).optional(),
    /** Add the gold (human-written) solutions as a data source beside the arm's views. */
    gold: z.boolean().default(false),
    /** A seeded random subset of the pool's questions (e.g. the paper's 500 MATH problems). */
    subset: z
      .object({ size: positiveInt, seed: z.number().int().nonnegative().default(0) })
      .strict()
      .optional(),
    filter: FilterSchema.default('gold'),
    keep: KeepSchema.default('all'),
    /** Setups finetuned on every view (names in `setups`; default all; [] for data metrics only). */
    setups: z.array(z.enum(['student', 'wc', 'se'])).optional(),
    /** Optimizer steps of this arm's jobs (default finetune.steps): the paper trains 600 at its low budget, 6,000 at its high. */
    steps: positiveInt.optional(),
    /** Examples per step of this arm's jobs (default finetune.batchSize). */
    batchSize: positiveInt.optional(),
    /** Test sets the finetuned models are evaluated on (names in evaluation.testSets; default all). */
    testSets: z.array(nameSchema).optional(),
  })
  .strict();

const experimentShape = ExperimentConfigSchema.shape;

export const StudyConfigSchema = z
  .object({
    name: nameSchema,
    /** Where artifacts go, relative to the working directory (default runs/<name>). */
    runDir: z.string().optional(),
    /** Every model the study uses, by name: pool sources, setups' base models, the judge. */
    models: z.record(nameSchema, ModelSchema),
    pools: z.record(nameSchema, PoolSchema),
    /** The model each setup finetunes (paper: Student-LM, WC-LM, SE-LM), by name in `models`. */
    setups: z
      .object({ student: nameSchema.optional(), wc: nameSchema.optional(), se: nameSchema.optional() })
      .strict()
      .prefault({}),
    /** The LLM judge (FPR, and the `judge` filter), by name in `models`. */
    judge: nameSchema.optional(),
    /** The `judge` filter's prompt: no gold answer is shown ({question}, {solution}). */
    judgeFilterPrompt: z
      .string()
      .default(
        'You are grading a solution to a math problem. Decide whether the solution is correct: every ' +
          'step valid and the final answer right.\n\nProblem:\n{question}\n\nSolution:\n{solution}\n\n' +
          'Reply with one word on the last line: VALID or INVALID.',
      ),
    analysis: experimentShape.analysis,
    datasets: experimentShape.datasets,
    verifier: experimentShape.verifier,
    /** The experiment's finetune section, less `setups` (named above, chosen per arm). */
    finetune: FinetuneSchema.omit({ setups: true }).optional(),
    evaluation: EvaluationSchema.optional(),
    confirmAbove: experimentShape.confirmAbove,
    temporal: experimentShape.temporal,
    arms: z.array(ArmSchema).min(1),
  })
  .strict();

export type StudyConfig = z.infer<typeof StudyConfigSchema>;
export type PoolConfig = z.infer<typeof PoolSchema>;
export type ArmConfig = z.infer<typeof ArmSchema>;
export type ArmBudget = z.infer<typeof ArmBudgetSchema>;
export type ViewConfig = z.infer<typeof ViewSchema>;

/** The fewest samples per question a majority vote is taken over: with 2, a disagreement is a tie. */
export const MIN_MAJORITY_SAMPLES = 3;

/** A study config is one with a top-level `arms` list (an experiment config has none). */
export function isStudyDocument(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'arms' in raw;
}

export interface StudyIssue {
  path: Array<string | number>;
  message: string;
}

/** Schema issues, then cross-field issues; each names its field path. */
export function studyIssues(
  raw: unknown,
): { study: StudyConfig; issues: [] } | { study: null; issues: StudyIssue[] } {
  const result = StudyConfigSchema.safeParse(raw);
  if (!result.success) {
    return {
      study: null,
      issues: result.error.issues.map((issue) => ({
        path: issue.path.filter((part): part is string | number => typeof part !== 'symbol'),
        message: issue.message,
      })),
    };
  }
  const issues = crossFieldIssues(result.data);
  return issues.length ? { study: null, issues } : { study: result.data, issues: [] };
}

/** `field.path: message`, the way config errors read. */
export function formatIssue(issue: StudyIssue): string {
  return `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`;
}

/** The pool an arm reads: its `pool`, or the only one. */
export function poolNameOf(study: Pick<StudyConfig, 'pools'>, arm: Pick<ArmConfig, 'pool'>): string {
  return arm.pool ?? Object.keys(study.pools)[0];
}

/** Setups an arm finetunes: its list, or every setup the study names a model for. */
export function armSetups(study: Pick<StudyConfig, 'setups' | 'finetune'>, arm: ArmConfig): Setup[] {
  if (!study.finetune) return [];
  return (
    arm.setups ?? (['student', 'wc', 'se'] as const).filter((setup) => study.setups[setup] !== undefined)
  );
}

/** The finetune section an arm's jobs use: the study's, with the arm's `steps` and `batchSize`. */
export function armFinetune(study: Pick<StudyConfig, 'finetune'>, arm: ArmConfig): StudyConfig['finetune'] {
  if (!study.finetune) return undefined;
  return {
    ...study.finetune,
    ...(arm.steps !== undefined ? { steps: arm.steps } : {}),
    ...(arm.batchSize !== undefined ? { batchSize: arm.batchSize } : {}),
  };
}

/** Test set names an arm evaluates on: its list, or all of them (a single `problems` split is "test"). */
export function armTestSets(study: Pick<StudyConfig, 'evaluation'>, arm: ArmConfig): string[] {
  if (!study.evaluation) return [];
  const all = study.evaluation.testSets ? Object.keys(study.evaluation.testSets) : ['test'];
  return arm.testSets ?? all;
}

/** The views of an arm with budget and sample shorthands spelled out; a budget arm's counts come from its plan. */
export interface ResolvedView {
  name: string;
  source: 'wc' | 'se' | 'gold';
  /** Samples per question read from the pool; null for gold, and for budgeted (flops, price) views. */
  samples: number | null;
  filter: DataFilter;
  keep: Keep;
}

/**
 * An arm's datasets: `budget` or `samples` give one WC and one SE view, `views` any list, `gold` adds the
 * gold solutions. `ratioSamples` turns a ratio budget's S_SE into S_WC (core/plan.ts's rule); flops and
 * price budgets leave `samples` null until planned.
 */
export function resolveViews(
  arm: ArmConfig,
  ratioSamples: (budget: Extract<ArmBudget, { mode: 'ratio' }>) => Record<Source, number>,
): ResolvedView[] {
  const view = (
    source: ResolvedView['source'],
    samples: number | null,
    filter = arm.filter,
    keep = arm.keep,
  ) => ({
    source,
    samples,
    filter: source === 'gold' ? ('none' as const) : filter,
    keep,
  });
  let views: Array<Omit<ResolvedView, 'name'> & { name?: string }> = [];
  if (arm.budget) {
    const counts = arm.budget.mode === 'ratio' ? ratioSamples(arm.budget) : null;
    views = [view('wc', counts?.wc ?? null), view('se', counts?.se ?? null)];
  } else if (arm.samples) {
    views = [view('wc', arm.samples.wc), view('se', arm.samples.se)];
  } else if (arm.views) {
    views = arm.views.map((v) => ({ ...view(v.source, v.samples ?? null, v.filter, v.keep), name: v.name }));
  }
  if (arm.gold && !views.some((v) => v.source === 'gold')) views.push(view('gold', null));
  return views.map((v) => ({ ...v, name: v.name ?? defaultViewName(v) }));
}

function defaultViewName(view: Omit<ResolvedView, 'name'>): string {
  if (view.source === 'gold') return 'gold';
  return `${view.source}${view.samples !== null ? `@${view.samples}` : ''}${view.keep === 'one' ? '-one' : ''}`;
}

/**
 * The experiment config an arm's pool and budget make: the config core/plan.ts plans (S_WC from S_SE, or
 * what a FLOPs or dollar budget buys), and a per-arm config a study workflow can hand to the experiment's
 * stages. A view without a budget plans as ratio mode at S_SE = 1 (only the models and estimates are read).
 */
export function armExperimentConfig(
  study: StudyConfig,
  poolName: string,
  budget?: ArmBudget,
): ExperimentConfig {
  const pool = study.pools[poolName];
  const model = (name: string): ModelConfig => study.models[name];
  const estimates = {
    ...(pool.expectedTokensPerSample !== undefined
      ? { expectedTokensPerSample: pool.expectedTokensPerSample }
      : {}),
    countPromptTokens: pool.countPromptTokens,
  };
  const fullBudget: ExperimentConfig['budget'] = budget
    ? ({ ...budget, ...estimates } as ExperimentConfig['budget'])
    : { mode: 'ratio', samplesPerQuestion: 1, rounding: 'floor', ...estimates };
  return {
    name: `${study.name}.${poolName}`,
    ...(study.runDir !== undefined ? { runDir: study.runDir } : {}),
    problems: pool.problems,
    models: {
      wc: model(pool.wc),
      se: model(pool.se),
      ...(study.judge !== undefined ? { judge: model(study.judge) } : {}),
      ...(study.setups.student !== undefined ? { student: model(study.setups.student) } : {}),
    },
    budget: fullBudget,
    sampling: { batchSize: pool.batchSize },
    analysis: study.analysis,
    datasets: study.datasets,
    verifier: study.verifier,
    ...(study.evaluation ? { evaluation: study.evaluation } : {}),
    ...(study.confirmAbove ? { confirmAbove: study.confirmAbove } : {}),
    temporal: study.temporal,
  };
}

/** Rules that span fields: names that must exist, one way to give an arm's views, enough samples. */
export function crossFieldIssues(study: StudyConfig): StudyIssue[] {
  const issues: StudyIssue[] = [];
  const modelNames = Object.keys(study.models);
  const poolNames = Object.keys(study.pools);
  const needModel = (path: Array<string | number>, name: string | undefined) => {
    if (name !== undefined && !study.models[name]) {
      issues.push({
        path,
        message: `no model named "${name}" in models (${modelNames.join(', ') || 'none'})`,
      });
    }
  };
  if (!poolNames.length) issues.push({ path: ['pools'], message: 'name at least one pool' });
  for (const [name, pool] of Object.entries(study.pools)) {
    needModel(['pools', name, 'wc'], pool.wc);
    needModel(['pools', name, 'se'], pool.se);
  }
  for (const setup of ['student', 'wc', 'se'] as const) needModel(['setups', setup], study.setups[setup]);
  needModel(['judge'], study.judge);
  if (study.finetune && !study.evaluation) {
    issues.push({
      path: ['evaluation'],
      message: 'finetuned models need a held-out test split to be evaluated on',
    });
  }
  if ((study.datasets as { gold?: boolean }).gold) {
    issues.push({
      path: ['datasets', 'gold'],
      message: 'in a study the gold (GT) baseline is chosen per arm, as its steps are: arms[].gold: true',
    });
  }
  const testSetNames = study.evaluation
    ? study.evaluation.testSets
      ? Object.keys(study.evaluation.testSets)
      : ['test']
    : [];
  const seen = new Set<string>();
  study.arms.forEach((arm, index) => {
    const at = (...path: Array<string | number>) => ['arms', index, ...path];
    if (seen.has(arm.name)) issues.push({ path: at('name'), message: `"${arm.name}" names two arms` });
    seen.add(arm.name);
    if (arm.pool !== undefined && !study.pools[arm.pool]) {
      issues.push({ path: at('pool'), message: `no pool named "${arm.pool}" (${poolNames.join(', ')})` });
    }
    if (arm.pool === undefined && poolNames.length > 1) {
      issues.push({
        path: at('pool'),
        message: `the study has ${poolNames.length} pools: name one (${poolNames.join(', ')})`,
      });
    }
    const forms = (['budget', 'samples', 'views'] as const).filter((key) => arm[key] !== undefined);
    if (forms.length !== 1 && !(forms.length === 0 && arm.gold)) {
      issues.push({
        path: at(forms[1] ?? 'budget'),
        message: forms.length
          ? `give one of budget, samples or views, not ${forms.join(' and ')}`
          : 'give the datasets to compare: budget (compute-matched), samples (number-matched) or views',
      });
    }
    arm.views?.forEach((view, v) => {
      if (view.source === 'gold' && view.samples !== undefined) {
        issues.push({
          path: at('views', v, 'samples'),
          message: 'the gold source has one solution per question: no samples',
        });
      }
      if (view.source !== 'gold' && view.samples === undefined) {
        issues.push({
          path: at('views', v, 'samples'),
          message: `samples per question to read from ${view.source}`,
        });
      }
    });
    const pool = study.pools[poolNameOf(study, arm)];
    const plannedSamples = [
      ...(arm.samples
        ? (['wc', 'se'] as const).map((source) => ({
            source,
            n: arm.samples![source],
            path: at('samples', source),
          }))
        : []),
      ...(arm.views ?? []).flatMap((view, v) =>
        view.source !== 'gold' && view.samples !== undefined
          ? [{ source: view.source, n: view.samples, filter: view.filter, path: at('views', v, 'samples') }]
          : [],
      ),
      ...(arm.budget?.mode === 'ratio'
        ? [
            {
              source: 'se' as const,
              n: arm.budget.samplesPerQuestion,
              path: at('budget', 'samplesPerQuestion'),
            },
          ]
        : []),
    ];
    for (const entry of plannedSamples) {
      const filter = ('filter' in entry ? entry.filter : undefined) ?? arm.filter;
      if (filter === 'majority' && entry.n < MIN_MAJORITY_SAMPLES) {
        issues.push({
          path: entry.path,
          message: `the majority filter votes over a question's own samples: ${entry.n} cannot make a majority (at least ${MIN_MAJORITY_SAMPLES})`,
        });
      }
      const cap = pool?.samplesPerQuestion?.[entry.source];
      if (cap !== undefined && entry.n > cap) {
        issues.push({
          path: entry.path,
          message: `${entry.n} samples per question, but the pool draws ${cap} from ${entry.source} (pools.${poolNameOf(study, arm)}.samplesPerQuestion.${entry.source})`,
        });
      }
    }
    const filters = [arm.filter, ...(arm.views ?? []).map((view) => view.filter)];
    if (filters.includes('judge') && study.judge === undefined) {
      issues.push({
        path: at('filter'),
        message: 'the judge filter needs a judge model (top-level `judge`)',
      });
    }
    if (arm.budget?.mode === 'price' && pool) {
      for (const source of ['wc', 'se'] as const) {
        if (study.models[pool[source]] && !study.models[pool[source]].price) {
          issues.push({
            path: ['models', pool[source], 'price'],
            message: `required by arm ${arm.name}'s price budget`,
          });
        }
      }
    }
    for (const [s, setup] of (arm.setups ?? []).entries()) {
      if (!study.finetune)
        issues.push({ path: at('setups', s), message: 'finetuning needs a `finetune` section' });
      else if (study.setups[setup] === undefined) {
        issues.push({ path: at('setups', s), message: `setup ${setup} needs a model: setups.${setup}` });
      }
    }
    if ((arm.steps !== undefined || arm.batchSize !== undefined) && !study.finetune) {
      issues.push({
        path: at(arm.steps !== undefined ? 'steps' : 'batchSize'),
        message: 'training settings need a `finetune` section',
      });
    }
    if (arm.steps !== undefined && study.finetune?.hyperparameters.epochs !== undefined) {
      issues.push({
        path: at('steps'),
        message: 'finetune.hyperparameters.epochs trains by epochs: give steps or epochs, not both',
      });
    }
    for (const [t, name] of (arm.testSets ?? []).entries()) {
      if (!testSetNames.includes(name)) {
        issues.push({
          path: at('testSets', t),
          message: `no test set named "${name}" (${testSetNames.join(', ') || 'no evaluation'})`,
        });
      }
    }
  });
  return issues;
}
