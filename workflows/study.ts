// One study (issue 10): plan -> per pool, draw its samples once (the sampling child workflow of an
// experiment, into <studyDir>/pools/<pool>/, at the most samples per question any arm reads) and verify
// them once -> per arm, a child workflow that builds the arm's datasets as views on the pool (its first S
// samples per question; no sampling), finetunes and evaluates its jobs (each job in a directory named by
// its content id, so a job a second arm shares is found done and reused) and writes the arm's result ->
// the study report. An arm whose result exists with the same plan is not run again, so adding an arm and
// running the study again computes only the new arm.
//
// History bound (no continue-as-new): the study workflow records one planning activity, per pool a prepare
// activity, two sampling children and two verify activities, per arm one read activity and one child, and
// one report activity: O(pools + arms) events. An arm's child records per view one dataset activity and
// per job a stage, a fine-tuning and one evaluation activity per test set, plus one base evaluation per
// setup and test set: O(views x setups x test sets), tens of events for the paper's arms. Arms run one
// after another, so two arms sharing a job never run it at the same time (the second finds it done).
import {
  defineQuery,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type {
  StudyArmPlan,
  StudyArmResult,
  StudyJobResult,
  StudyReportSummary,
  StudyRunPlan,
  StudyViewResult,
} from '../activities/study.js';
import {
  answerFormatOf,
  DEFAULT_ROUNDS_PER_ACTIVITY,
  lastNumberFallbackOf,
  SOURCES,
  testSetsOf,
  type EvaluationConfig,
  type ExperimentConfig,
  type Source,
} from '../core/config.js';
import { studyPoolDir, studySubdir } from '../core/layout.js';
import type { EvalResult, Setup } from '../core/results.js';
import { evaluatedModel, majorityPass, safeId } from '../core/setups.js';
import { armExperimentConfig, armFinetune, type StudyConfig } from '../core/study.js';
import { configuredTaskQueue } from '../core/task-queues.js';
import { trainingRequest } from '../core/training.js';
import {
  endpointActivityOptions,
  onTaskQueue,
  runDirActivityOptions,
  trainingActivityOptions,
} from './activity-options.js';
import { allOrCancel } from './all-or-cancel.js';
import { resultOf } from './experiment.js';
import { samplingWorkflow } from './sampling.js';

export interface StudyInput {
  studyId: string;
  /** Absolute path (or store URI) of the study directory. */
  studyDir: string;
  /** Validated study config with paths resolved. */
  study: StudyConfig;
}

export interface StudyResult {
  studyId: string;
  studyDir: string;
  plan: StudyRunPlan;
  arms: StudyArmResult[];
  /** Arms found done (same plan) and not run again. */
  reused: string[];
  report: StudyReportSummary;
}

/** What `wcse status <studyId>` shows: the stage, the pools' draws and the arms done so far. */
export interface StudyProgress {
  studyId: string;
  studyDir: string;
  stage: 'plan' | 'pools' | 'arms' | 'report' | 'done';
  /** Samples per question each pool draws from each source, once planned. */
  pools: StudyRunPlan['pools'] | null;
  arms: string[];
  armsDone: string[];
  /** Arms found done with the same plan, not run again. */
  armsReused: string[];
  /** The arm whose child workflow runs now. */
  currentArm: string | null;
  childWorkflowIds: string[];
}

export const studyProgressQuery = defineQuery<StudyProgress>('studyProgress');

type Activities = ActivityInterfaceFor<typeof activities>;

function localActivities(config: Pick<ExperimentConfig, 'temporal'>): Activities {
  return proxyActivities<typeof activities>(
    onTaskQueue(
      runDirActivityOptions(config.temporal.heartbeatTimeoutSeconds),
      configuredTaskQueue(config.temporal, 'cpu'),
    ),
  );
}

/** The experiment config of a pool drawn at `samples` (S_SE) in ratio mode: what its run directory records. */
function poolConfig(study: StudyConfig, pool: string, samples: Record<Source, number>): ExperimentConfig {
  return armExperimentConfig(study, pool, {
    mode: 'ratio',
    samplesPerQuestion: Math.max(1, samples.se),
    rounding: 'floor',
  });
}

export async function studyWorkflow(input: StudyInput): Promise<StudyResult> {
  const { study, studyDir, studyId } = input;
  const progress: StudyProgress = {
    studyId,
    studyDir,
    stage: 'plan',
    pools: null,
    arms: study.arms.map((arm) => arm.name),
    armsDone: [],
    armsReused: [],
    currentArm: null,
    childWorkflowIds: [],
  };
  setHandler(studyProgressQuery, () => progress);
  const local = localActivities(study);
  const plan = await local.planStudyRun({ study });
  log.info('Study planned', { pools: plan.pools, arms: plan.arms.map((arm) => arm.name) });
  progress.pools = plan.pools;
  const { workflowId, runId } = workflowInfo();
  const childId = (name: string) => {
    const id = `${workflowId}/${name}-${runId.slice(0, 8)}`;
    progress.childWorkflowIds.push(id);
    return id;
  };
  // Pools: drawn and verified once each, side by side.
  progress.stage = 'pools';
  await allOrCancel(Object.keys(plan.pools).map((pool) => () => drawPool(input, plan, pool, childId)));
  // Arms: one after another, so a job two arms share runs once.
  const arms: StudyArmResult[] = [];
  const reused: string[] = [];
  progress.stage = 'arms';
  for (const arm of plan.arms) {
    const done = await local.readStudyArmResult({ studyDir, arm: arm.name, fingerprint: arm.fingerprint });
    if (done) {
      reused.push(arm.name);
      progress.armsReused.push(arm.name);
      progress.armsDone.push(arm.name);
      arms.push(done);
      continue;
    }
    progress.currentArm = arm.name;
    const child = await startChild(studyArmWorkflow, {
      workflowId: childId(`arm-${arm.name}`),
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      args: [{ studyId, studyDir, study, arm }],
    });
    arms.push(await resultOf(child));
    progress.armsDone.push(arm.name);
    progress.currentArm = null;
  }
  progress.stage = 'report';
  const report = await local.writeStudyReport({ studyDir, studyId, study, pools: plan.pools, arms });
  progress.stage = 'done';
  return { studyId, studyDir, plan, arms, reused, report };
}

/** A pool's samples: prepared, drawn (one sampling child per source that any arm reads) and verified. */
async function drawPool(
  input: StudyInput,
  plan: StudyRunPlan,
  pool: string,
  childId: (name: string) => string,
): Promise<void> {
  const { study, studyDir, studyId } = input;
  const samples = plan.pools[pool];
  const runDir = studySubdir(studyDir, studyPoolDir(pool));
  const config = poolConfig(study, pool, samples);
  const local = localActivities(config);
  const prepared = await local.prepareRun({ runDir, config, experimentId: studyId });
  const sources = SOURCES.filter((source) => samples[source] > 0);
  await allOrCancel(
    sources.map((source) => async () => {
      const count = samples[source];
      const child = await startChild(samplingWorkflow, {
        workflowId: childId(`pool-${pool}-${source}`),
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        args: [
          {
            runDir,
            source,
            model: config.models[source],
            budget: config.budget,
            // One round of the pool's count: sample indices 0..count-1, which every arm reads a prefix of.
            plan: {
              ...prepared.plan[source],
              samplesPerQuestion: count,
              samplesPerRound: count,
              maxRounds: 1,
            },
            questions: prepared.questions,
            batchSize: config.sampling.batchSize,
            roundsPerActivity: DEFAULT_ROUNDS_PER_ACTIVITY,
            heartbeatTimeoutSeconds: config.temporal.heartbeatTimeoutSeconds,
            promptTokensUpperBoundSum: prepared.promptTokensUpperBoundSum[source],
            taskQueue: configuredTaskQueue(config.temporal, 'sampling', source),
          },
        ],
      });
      const result = await resultOf(child);
      log.info('Pool drawn', { pool, source, samplesPerQuestion: result.samplesPerQuestion });
      await local.verifySource({
        runDir,
        source,
        format: answerFormatOf(config.problems),
        lastNumberFallback: lastNumberFallbackOf(config),
      });
    }),
  );
}

export interface StudyArmInput {
  studyId: string;
  studyDir: string;
  study: StudyConfig;
  arm: StudyArmPlan;
}

/** One arm: its views' datasets, the base models' and every job's evaluations, and its result file. */
export async function studyArmWorkflow(input: StudyArmInput): Promise<StudyArmResult> {
  const { study, studyDir, arm } = input;
  const config = poolConfig(study, arm.pool, { wc: 1, se: 1 });
  const local = localActivities(config);
  const rules = {
    dedupe: study.datasets.dedupe,
    maxPerQuestion: study.datasets.maxPerQuestion,
    validationFraction: study.datasets.validationFraction,
    seed: study.datasets.seed,
    prompt: study.evaluation?.prompt ?? { user: '{question}' },
  };
  const views = await allOrCancel<StudyViewResult>(
    arm.views.map(
      ({ jobs: _jobs, ...view }) =>
        () =>
          local.buildStudyView({ studyDir, pool: arm.pool, view, subset: arm.subset, rules }),
    ),
  );
  const evaluation = study.evaluation;
  const finetune = study.finetune;
  let base: EvalResult[] = [];
  let jobs: StudyJobResult[] = [];
  if (finetune && evaluation && arm.setups.length) {
    const evaluating = proxyActivities<typeof activities>(
      onTaskQueue(
        endpointActivityOptions(config.temporal.heartbeatTimeoutSeconds, '24 hours'),
        configuredTaskQueue(config.temporal, 'eval'),
      ),
    );
    const training = proxyActivities<typeof activities>(
      onTaskQueue(
        trainingActivityOptions(config.temporal.heartbeatTimeoutSeconds, finetune),
        configuredTaskQueue(config.temporal, 'finetune'),
      ),
    );
    const evaluationOf = evaluationRunner(evaluating, config, evaluation, arm.testSets);
    const poolDir = studySubdir(studyDir, studyPoolDir(arm.pool));
    // Each base model once per arm (setups sharing a model share it), in the pool's directory.
    const baseModels = [...new Map(arm.setups.map((setup) => [study.setups[setup]!, setup])).entries()];
    const baseRuns = baseModels.map(([name, setup]) => async () => {
      const model = study.models[name];
      return evaluationOf(
        poolDir,
        `base-${safeId(model.model)}`,
        'base',
        setup,
        null,
        evaluatedModel(model, evaluation),
      );
    });
    const jobRuns = arm.views.flatMap((view, v) =>
      view.jobs.map(({ setup, jobId }) => async (): Promise<StudyJobResult> => {
        if (views[v].manifest.train.examples === 0) {
          return {
            view: view.name,
            setup,
            jobId,
            fineTunedModel: null,
            skipped: `no training examples in ${view.name}`,
            evaluations: [],
          };
        }
        const trained = study.models[study.setups[setup]!];
        const staged = await local.stageStudyJob({
          studyDir,
          pool: arm.pool,
          datasetId: view.datasetId,
          source: view.source,
          jobId,
          testSets: arm.testSets,
        });
        const service = {
          baseURL: trained.fineTuning?.baseURL ?? trained.baseURL,
          apiKeyEnv: trained.fineTuning?.apiKeyEnv ?? trained.apiKeyEnv,
          requestTimeoutSeconds: trained.requestTimeoutSeconds,
        };
        // The arm's steps and batch size (core/study.ts), as its job's content id has them.
        const settings =
          armFinetune(
            study,
            study.arms.find((a) => a.name === arm.name)!,
          ) ?? finetune;
        const job = await training.runFinetuneJob({
          runDir: staged.runDir,
          experimentId: `${input.studyId}/${jobId}`,
          setup,
          data: view.source,
          backend: finetune.backend,
          service,
          baseModel: trained.fineTuning?.model ?? trained.model,
          trainKey: staged.trainKey,
          validationKey: staged.validationKey,
          hyperparameters: finetune.hyperparameters,
          training: trainingRequest(settings),
          supportsSteps: trained.fineTuning?.supportsSteps ?? true,
          params: trained.params,
          suffix: `${finetune.suffix}-${setup}-${view.source}`.slice(0, 40),
          pollIntervalSeconds: finetune.pollIntervalSeconds,
        });
        const serving = {
          baseURL: trained.fineTuning?.servingBaseURL ?? service.baseURL,
          apiKeyEnv: trained.fineTuning?.servingApiKeyEnv ?? service.apiKeyEnv,
        };
        const evaluations = await evaluationOf(
          staged.runDir,
          `${setup}-on-${view.source}`,
          'finetuned',
          setup,
          view.source,
          evaluatedModel(trained, evaluation, { model: job.fineTunedModel, ...serving }),
        );
        return {
          view: view.name,
          setup,
          jobId,
          fineTunedModel: job.fineTunedModel,
          skipped: null,
          evaluations,
        };
      }),
    );
    // Base evaluations and jobs side by side; the first failure cancels the others.
    const baseResults: EvalResult[][] = [];
    const jobResults: StudyJobResult[] = [];
    await allOrCancel<void>([
      ...baseRuns.map((runBase, i) => async () => {
        baseResults[i] = await runBase();
      }),
      ...jobRuns.map((runJob, i) => async () => {
        jobResults[i] = await runJob();
      }),
    ]);
    base = baseResults.flat();
    jobs = jobResults;
  }
  const result: StudyArmResult = {
    name: arm.name,
    pool: arm.pool,
    fingerprint: arm.fingerprint,
    views,
    base,
    jobs,
  };
  await local.writeStudyArmResult({ studyDir, result });
  return result;
}

/** Evaluates one model on the arm's test sets (one evaluation activity each), in `runDir`. */
function evaluationRunner(
  evaluating: Activities,
  config: ExperimentConfig,
  evaluation: EvaluationConfig,
  testSets: string[],
) {
  const sets = testSetsOf(evaluation).filter((set) => testSets.includes(set.name));
  return (
    runDir: string,
    evalId: string,
    kind: 'base' | 'finetuned',
    setup: Setup,
    data: Source | null,
    model: ReturnType<typeof evaluatedModel>,
  ): Promise<EvalResult[]> =>
    allOrCancel(
      sets.map(
        ({ name, problems }) =>
          () =>
            evaluating.evaluateModel({
              runDir,
              evalId: evaluation.testSets ? `${evalId}.${name}` : evalId,
              kind,
              setup,
              data,
              model,
              samples: evaluation.samples,
              batchSize: evaluation.batchSize,
              format: evaluation.testSets ? answerFormatOf(problems) : answerFormatOf(config.problems),
              testSet: name,
              majority: majorityPass(model, evaluation),
              lastNumberFallback: lastNumberFallbackOf(config),
            }),
      ),
    );
}
