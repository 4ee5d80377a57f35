// One experiment: prepare (problems + plan) -> sample WC and SE in parallel (a child workflow each) ->
// verify -> judge (optional) -> analyse -> datasets -> finetune and evaluate (optional, a child workflow
// per setup) -> report. Every stage reads the previous one's artifacts by reference; re-running the
// workflow on the same run directory re-uses everything already computed.
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
  type ActivityInterfaceFor,
  type ChildWorkflowHandle,
  type Workflow,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { PreparedRun } from '../activities/prepare.js';
import type { ReportSummary } from '../activities/report.js';
import {
  answerFormatOf,
  DEFAULT_JUDGE_PROMPT,
  DEFAULT_ROUNDS_PER_ACTIVITY,
  goldSourceOf,
  lastNumberFallbackOf,
  SOURCES,
  type ExperimentConfig,
  type Source,
} from '../core/config.js';
import type { Plan } from '../core/plan.js';
import type { DatasetManifest, FprResult, SamplingResult, VerifySummary } from '../core/records.js';
import { SETUPS, type SetupResult } from '../core/results.js';
import { baseEvaluators, trainedModelOf, withSharedBase } from '../core/setups.js';
import type { AnswerFormat } from '../core/verify/index.js';
import {
  endpointActivityOptions,
  onTaskQueue,
  runDirActivityOptions,
  runDirStageTimeout,
} from './activity-options.js';
import { configuredTaskQueue } from '../core/task-queues.js';
import { allOrCancel } from './all-or-cancel.js';
import { finetuneSetupWorkflow, GOLD_SOURCE_PATCH } from './finetune-setup.js';
import type { RunDatasets } from '../core/gold.js';
import {
  childWorkflowId,
  experimentProgressQuery,
  pauseSignal,
  raiseBudgetProblem,
  raiseBudgetSignal,
  raiseBudgetUpdate,
  resumeSignal,
  type ExperimentProgress,
  type RaiseBudget,
  type SamplingProgress,
  type Stage,
} from './messages.js';
import { samplingWorkflow } from './sampling.js';
import { WARMUP_PATCH, warmupStage, type WarmupResult } from './warmup.js';

export interface ExperimentInput {
  experimentId: string;
  /** Absolute path (or store URI) of the run directory. */
  runDir: string;
  /** Validated config with paths resolved; holds names of key variables, never keys. */
  config: ExperimentConfig;
}

export interface ExperimentResult {
  experimentId: string;
  runDir: string;
  plan: Plan;
  sampling: Record<Source, SamplingResult>;
  verify: Record<Source, VerifySummary>;
  fpr: Partial<Record<Source, FprResult>>;
  metrics: string;
  /** WC and SE data, and with datasets.gold the problems' human-written solutions (the GT baseline). */
  datasets: RunDatasets;
  /** Finetune + evaluation results per enabled setup (empty when the config has no finetune section). */
  setups: SetupResult[];
  report: ReportSummary | null;
  /** Sampling and setup child workflows of this run. */
  childWorkflowIds: string[];
  /** With `warmup`: the warm-up jobs whose models were WC and SE (absent without one). */
  warmup?: WarmupResult;
}

type Activities = ActivityInterfaceFor<typeof activities>;

/** What the stages of one experiment run share: its input, activity proxies and live progress. */
interface ExperimentRun {
  input: ExperimentInput;
  config: ExperimentConfig;
  runDir: string;
  format: AnswerFormat;
  /** Activities on the run directory only. */
  local: Activities;
  /** The LLM judge: many endpoint requests per activity. */
  judging: Activities;
  /** A child workflow's id: the experiment's id, the child's name and this run's id. */
  childId: (name: string) => string;
  progress: ExperimentProgress;
  /** Sampling children started so far; signals are forwarded once all have started. */
  samplingStarted: Set<Source>;
  /** Budget raises received before both sampling children had started, passed on once they have. */
  pendingRaises: RaiseBudget[];
}

export async function experimentWorkflow(input: ExperimentInput): Promise<ExperimentResult> {
  const run = newRun(input);
  setExperimentHandlers(run);
  const prepared = await prepareStage(run);
  const warmup = await warmupStageOf(run);
  const sampling = await sampleStage(run, prepared);
  const verify = await verifyStage(run);
  const fpr = await judgeStage(run);
  const metrics = await analyseStage(run);
  const datasets = await datasetsStage(run);
  const setups = await finetuneStage(run, datasets);
  const report = await reportStage(run, sampling, setups);
  enter(run, 'done');
  // A pause or resume still forwarding to a child finishes before the workflow completes.
  await condition(allHandlersFinished);
  return {
    experimentId: input.experimentId,
    runDir: input.runDir,
    plan: prepared.plan,
    sampling,
    verify,
    fpr,
    metrics,
    datasets,
    setups,
    report,
    ...(warmup ? { warmup } : {}),
    childWorkflowIds: [
      ...Object.values(run.progress.samplingWorkflowIds),
      ...Object.values(run.progress.setupWorkflowIds),
    ],
  };
}

function newRun(input: ExperimentInput): ExperimentRun {
  const { config, runDir } = input;
  const heartbeatTimeoutSeconds = config.temporal.heartbeatTimeoutSeconds;
  const { workflowId, runId } = workflowInfo();
  const childId = (name: string) => childWorkflowId(workflowId, runId, name);
  return {
    input,
    config,
    runDir,
    format: answerFormatOf(config.problems),
    local: proxyActivities<typeof activities>(
      onTaskQueue(
        runDirActivityOptions(heartbeatTimeoutSeconds),
        configuredTaskQueue(config.temporal, 'cpu'),
      ),
    ),
    judging: proxyActivities<typeof activities>(
      onTaskQueue(
        endpointActivityOptions(heartbeatTimeoutSeconds, '4 hours'),
        configuredTaskQueue(config.temporal, 'eval'),
      ),
    ),
    childId,
    progress: {
      experimentId: input.experimentId,
      runDir,
      stage: 'prepare',
      stagesDone: [],
      paused: false,
      plan: null,
      samplingWorkflowIds: { wc: childId('sample-wc'), se: childId('sample-se') },
      setupWorkflowIds: {},
      sampling: {},
    },
    samplingStarted: new Set(),
    pendingRaises: [],
  };
}

/** The progress query, and pause, resume and budget raises, which reach the sampling children. */
function setExperimentHandlers(run: ExperimentRun): void {
  const { progress } = run;
  setHandler(experimentProgressQuery, () => progress);
  // The children act on these between batches; outside the sampling stage there is nothing to forward.
  const forward = async (send: (id: string) => Promise<void>) => {
    if (run.samplingStarted.size < SOURCES.length || progress.stage !== 'sample') return;
    await Promise.all(
      SOURCES.filter((s) => !progress.sampling[s]).map((s) => send(progress.samplingWorkflowIds[s])),
    );
  };
  setHandler(pauseSignal, async () => {
    progress.paused = true;
    log.info('Paused', { stage: progress.stage });
    await forward((id) => getExternalWorkflowHandle(id).signal(pauseSignal));
  });
  setHandler(resumeSignal, async () => {
    progress.paused = false;
    log.info('Resumed', { stage: progress.stage });
    await forward((id) => getExternalWorkflowHandle(id).signal(resumeSignal));
  });
  const applyRaise = async (raise: RaiseBudget) => {
    if (
      progress.stage === 'prepare' ||
      (progress.stage === 'sample' && run.samplingStarted.size < SOURCES.length)
    ) {
      run.pendingRaises.push(raise);
    }
    log.info('Budget raised', { ...raise });
    await forward((id) => getExternalWorkflowHandle(id).signal(raiseBudgetSignal, raise));
  };
  setHandler(raiseBudgetSignal, async (raise) => {
    const problem = raiseBudgetProblem(run.config.budget, raise);
    if (problem !== null && patched(REJECT_INVALID_RAISES)) {
      log.warn('Budget raise ignored', { problem });
      return;
    }
    await applyRaise(raise);
  });
  setHandler(raiseBudgetUpdate, applyRaise, {
    validator: (raise) => {
      const problem = raiseBudgetProblem(run.config.budget, raise) ?? samplingOverProblem(run, raise);
      if (problem !== null) throw new Error(problem);
    },
  });
}

/** Patch: a budget raise that cannot take effect (ratio mode, wrong unit, no amount) is logged and dropped. */
const REJECT_INVALID_RAISES = 'reject-invalid-raises';

/** Why a raise for `raise.source` (default both) comes too late, or null while it can still be spent. */
function samplingOverProblem(run: ExperimentRun, raise: RaiseBudget): string | null {
  const { progress } = run;
  const sources = raise.source ? [raise.source] : SOURCES;
  const open = progress.stage === 'prepare' || progress.stage === 'sample';
  const done = sources.filter((source) => !open || progress.sampling[source]);
  if (done.length === 0) return null;
  return `sampling of ${done.join(' and ')} has already finished (stage: ${progress.stage}): a raise could not be spent`;
}

/**
 * Patch: a cancel of the scope awaiting a child also cancels the child's current run by id. The SDK
 * sends its cancel to the run it started, which a child that has continued as new no longer is: the
 * current run never saw the cancel and went on requesting until its budget was spent (issue 13).
 */
const CANCEL_CHILD_CURRENT_RUN = 'cancel-child-current-run';

/** A child workflow's result; a cancel of the calling scope reaches the child's current run. */
export async function resultOf<T extends Workflow>(child: ChildWorkflowHandle<T>) {
  if (patched(CANCEL_CHILD_CURRENT_RUN)) {
    const scope = CancellationScope.current();
    // Never settles unless the scope is cancelled; the child then closes as cancelled and so does this.
    void scope.cancelRequested.catch(() =>
      CancellationScope.nonCancellable(() => getExternalWorkflowHandle(child.workflowId).cancel()).catch(
        (error: unknown) =>
          log.info('Child already closed', { workflowId: child.workflowId, error: String(error) }),
      ),
    );
  }
  return child.result();
}

/**
 * Patch: a pause or budget raise that arrived while the sampling children were starting (before both had
 * started, so `forward` could not reach them yet) is passed on once both have started.
 */
const FORWARD_EARLY_MESSAGES = 'forward-early-messages';

async function forwardEarlyMessages(run: ExperimentRun): Promise<void> {
  const { progress } = run;
  const raises = run.pendingRaises.splice(0);
  if (!progress.paused && raises.length === 0) return;
  if (!patched(FORWARD_EARLY_MESSAGES)) return;
  await Promise.all(
    SOURCES.map(async (source) => {
      const child = getExternalWorkflowHandle(progress.samplingWorkflowIds[source]);
      if (progress.paused) await child.signal(pauseSignal);
      for (const raise of raises) await child.signal(raiseBudgetSignal, raise);
    }),
  );
}

/** Moves progress to `stage`. */
function enter(run: ExperimentRun, stage: Stage): void {
  const { progress } = run;
  if (progress.stage !== stage) progress.stagesDone.push(progress.stage);
  progress.stage = stage;
  log.info('Stage', { stage });
}

/** Moves progress to `stage` and waits there while the experiment is paused. */
async function beginStage(run: ExperimentRun, stage: Stage): Promise<void> {
  enter(run, stage);
  if (run.progress.paused) log.info('Waiting for resume', { stage });
  await condition(() => !run.progress.paused);
}

async function prepareStage(run: ExperimentRun): Promise<PreparedRun> {
  log.info('Stage', { stage: run.progress.stage });
  const prepared = await run.local.prepareRun({ runDir: run.runDir, config: run.config });
  run.progress.plan = prepared.plan;
  return prepared;
}

/**
 * With `warmup` (patch WARMUP_PATCH): WC and SE are finetuned on the warm-up problems, and their warmed-up
 * models replace them in `run.config` for sampling, the setups and the report.
 */
async function warmupStageOf(run: ExperimentRun): Promise<WarmupResult | null> {
  const { config } = run;
  if (!config.warmup || !patched(WARMUP_PATCH)) return null;
  await beginStage(run, 'warmup');
  const warmed = await warmupStage(run.runDir, run.input.experimentId, { ...config, warmup: config.warmup });
  run.config = warmed.config;
  return warmed.result;
}

async function sampleStage(
  run: ExperimentRun,
  prepared: PreparedRun,
): Promise<Record<Source, SamplingResult>> {
  await beginStage(run, 'sample');
  const { config, progress } = run;
  const sampling = {} as Record<Source, SamplingResult>;
  await allOrCancel(
    SOURCES.map((source) => async () => {
      const child = await startChild(samplingWorkflow, {
        workflowId: progress.samplingWorkflowIds[source],
        // If this run fails or is cancelled, children stop their work cleanly (jobs cancelled, not orphaned).
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        args: [
          {
            runDir: run.runDir,
            source,
            model: config.models[source],
            budget: config.budget,
            plan: prepared.plan[source],
            questions: prepared.questions,
            batchSize: config.sampling.batchSize,
            roundsPerActivity: config.sampling.roundsPerActivity ?? DEFAULT_ROUNDS_PER_ACTIVITY,
            heartbeatTimeoutSeconds: config.temporal.heartbeatTimeoutSeconds,
            promptTokensUpperBoundSum: prepared.promptTokensUpperBoundSum[source],
            taskQueue: configuredTaskQueue(config.temporal, 'sampling', source),
          },
        ],
      });
      run.samplingStarted.add(source);
      if (run.samplingStarted.size === SOURCES.length) await forwardEarlyMessages(run);
      sampling[source] = await resultOf(child);
      progress.sampling[source] = finalProgress(prepared, sampling[source]);
      log.info('Sampling done', { source, stopReason: sampling[source].stopReason });
    }),
  );
  return sampling;
}

/** A finished sampling child's progress, as the experiment reports it once the child is gone. */
function finalProgress(prepared: PreparedRun, result: SamplingResult): SamplingProgress {
  const plan = prepared.plan[result.source];
  return {
    source: result.source,
    round: result.rounds,
    samplesPerQuestionDone: result.samplesPerQuestion,
    samplesDone: result.ledger.samples,
    samplesPlanned: plan.samplesPerQuestion * prepared.questions + (plan.expectedTopUpSamples ?? 0),
    batchesDone: 0,
    batchesInFlight: 0,
    ledger: result.ledger,
    budget: { flops: plan.budgetFlops, usd: plan.budgetUsd },
    paused: false,
    done: true,
    stopReason: result.stopReason,
  };
}

/** Stage timeouts that scale with the run's samples (or come from the config); older runs keep 1 hour. */
export const STAGE_TIMEOUTS_SCALE_PATCH = 'stage-timeouts-scale';

/** The run-directory activities for a stage over every sample: timed out by the size of the run. */
function sampleStageActivities(run: ExperimentRun): ExperimentRun['local'] {
  if (!patched(STAGE_TIMEOUTS_SCALE_PATCH)) return run.local;
  const samples = SOURCES.reduce((sum, source) => sum + (run.progress.sampling[source]?.samplesDone ?? 0), 0);
  const timeout = runDirStageTimeout(samples, run.config.temporal.stageTimeoutMinutes);
  return proxyActivities<typeof activities>(
    onTaskQueue(
      runDirActivityOptions(run.config.temporal.heartbeatTimeoutSeconds, timeout),
      configuredTaskQueue(run.config.temporal, 'cpu'),
    ),
  );
}

async function verifyStage(run: ExperimentRun): Promise<Record<Source, VerifySummary>> {
  await beginStage(run, 'verify');
  const local = sampleStageActivities(run);
  const [wc, se] = await allOrCancel(
    SOURCES.map(
      (source) => () =>
        local.verifySource({
          runDir: run.runDir,
          source,
          format: run.format,
          lastNumberFallback: lastNumberFallbackOf(run.config),
        }),
    ),
  );
  return { wc, se };
}

/** The LLM-judged false-positive rate of each source's correct samples, when the config asks for it. */
async function judgeStage(run: ExperimentRun): Promise<Partial<Record<Source, FprResult>>> {
  const fpr: Partial<Record<Source, FprResult>> = {};
  const judgeConfig = run.config.analysis.judge;
  const judge = run.config.models.judge;
  if (!judgeConfig || !judge) return fpr;
  await beginStage(run, 'judge');
  const results = await allOrCancel(
    SOURCES.map(
      (source) => () =>
        run.judging.judgeFalsePositives({
          runDir: run.runDir,
          source,
          judge,
          sampleSize: judgeConfig.sampleSize,
          seed: judgeConfig.seed,
          prompt: judgeConfig.prompt,
        }),
    ),
  );
  for (const result of results) fpr[result.source] = result;
  return fpr;
}

async function analyseStage(run: ExperimentRun): Promise<string> {
  await beginStage(run, 'analyse');
  const metrics = await sampleStageActivities(run).analyseRun({ runDir: run.runDir });
  return metrics.artifact;
}

async function datasetsStage(run: ExperimentRun): Promise<RunDatasets> {
  await beginStage(run, 'datasets');
  const { datasets, evaluation } = run.config;
  const rules = {
    runDir: run.runDir,
    dedupe: datasets.dedupe,
    maxPerQuestion: datasets.maxPerQuestion,
    validationFraction: datasets.validationFraction,
    seed: datasets.seed,
    prompt: evaluation?.prompt ?? { user: '{question}' },
  };
  // The gold source (datasets.gold) is built by the same rules beside WC and SE data.
  const gold = goldSourceOf(run.config) && patched(GOLD_SOURCE_PATCH);
  const local = sampleStageActivities(run);
  const [wc, se, ...goldManifest] = await allOrCancel<DatasetManifest>([
    ...SOURCES.map((source) => () => local.buildDataset({ ...rules, source })),
    ...(gold ? [() => local.buildGoldDataset(rules)] : []),
  ]);
  return { wc, se, ...(goldManifest.length ? { gold: goldManifest[0] } : {}) };
}

/** One child workflow per enabled setup; setups sharing a base model share its evaluation. */
async function finetuneStage(run: ExperimentRun, datasets: RunDatasets): Promise<SetupResult[]> {
  const { config, progress } = run;
  const { finetune, evaluation } = config;
  if (!finetune || !evaluation) return [];
  await beginStage(run, 'finetune');
  const enabled = SETUPS.filter((setup) => finetune.setups[setup]);
  const evaluators = baseEvaluators(
    enabled.map((setup) => ({ setup, model: trainedModelOf(config.models, setup) })),
  );
  log.info('Setups', { enabled, baseEvaluatedBy: Object.fromEntries(evaluators) });
  const runs = await allOrCancel(
    enabled.map((setup) => async () => {
      const workflowId = run.childId(`finetune-${setup}`);
      progress.setupWorkflowIds[setup] = workflowId;
      const child = await startChild(finetuneSetupWorkflow, {
        workflowId,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        args: [
          {
            runDir: run.runDir,
            experimentId: run.input.experimentId,
            setup,
            trainedModel: trainedModelOf(config.models, setup),
            datasets,
            finetune,
            evaluation,
            format: run.format,
            heartbeatTimeoutSeconds: config.temporal.heartbeatTimeoutSeconds,
            evaluateBase: evaluators.get(setup) === setup,
            lastNumberFallback: lastNumberFallbackOf(config),
            ...(evaluation.judgeOutputs && config.models.judge
              ? {
                  judge: {
                    model: config.models.judge,
                    prompt: config.analysis.judge?.prompt ?? DEFAULT_JUDGE_PROMPT,
                  },
                }
              : {}),
            taskQueues: {
              finetune: configuredTaskQueue(config.temporal, 'finetune'),
              eval: configuredTaskQueue(config.temporal, 'eval'),
            },
          },
        ],
      });
      return resultOf(child);
    }),
  );
  return withSharedBase(runs, evaluators);
}

async function reportStage(
  run: ExperimentRun,
  sampling: Record<Source, SamplingResult>,
  setups: SetupResult[],
): Promise<ReportSummary | null> {
  enter(run, 'report');
  return run.local.writeReport({
    runDir: run.runDir,
    experimentId: run.input.experimentId,
    sampling,
    setups,
  });
}
