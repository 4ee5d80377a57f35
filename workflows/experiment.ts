// One experiment: prepare (problems + plan) -> sample WC and SE in parallel (a child workflow each) ->
// verify -> judge (optional) -> analyse -> datasets. Every stage reads the previous one's artifacts by
// reference; re-running the workflow on the same run directory re-uses everything already computed.
import {
  condition,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { answerFormatOf, SOURCES, type ExperimentConfig, type Source } from '../core/config.js';
import type { Plan } from '../core/plan.js';
import type { DatasetManifest, FprResult, SamplingResult, VerifySummary } from '../core/records.js';
import {
  experimentProgressQuery,
  pauseSignal,
  raiseBudgetSignal,
  resumeSignal,
  type ExperimentProgress,
  type Stage,
} from './messages.js';
import { samplingWorkflow } from './sampling.js';
import { finetuneSetupWorkflow } from './finetune-setup.js';
import { allOrCancel } from './all-or-cancel.js';
import { SETUPS, type Setup, type SetupResult } from '../core/results.js';
import type { ReportSummary } from '../activities/report.js';

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
  datasets: Record<Source, DatasetManifest>;
  /** Finetune + evaluation results per enabled setup (empty when the config has no finetune section). */
  setups: SetupResult[];
  report: ReportSummary | null;
  /** Sampling and setup child workflows of this run. */
  childWorkflowIds: string[];
}

export async function experimentWorkflow(input: ExperimentInput): Promise<ExperimentResult> {
  const { config, runDir } = input;
  const heartbeatTimeout = `${config.temporal.heartbeatTimeoutSeconds} seconds`;
  const quick = proxyActivities<typeof activities>({
    startToCloseTimeout: '1 hour',
    heartbeatTimeout,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 10,
    },
  });
  const judging = proxyActivities<typeof activities>({
    startToCloseTimeout: '4 hours',
    heartbeatTimeout,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: 20,
    },
  });
  const self = workflowInfo().workflowId;
  // Child ids carry this run's id: a resumed run never collides with children of a run still closing.
  const runTag = workflowInfo().runId.slice(0, 8);
  const samplingWorkflowIds = { wc: `${self}/sample-wc-${runTag}`, se: `${self}/sample-se-${runTag}` };
  const progress: ExperimentProgress = {
    experimentId: input.experimentId,
    runDir,
    stage: 'prepare',
    stagesDone: [],
    paused: false,
    plan: null,
    samplingWorkflowIds,
    setupWorkflowIds: {},
    sampling: {},
  };
  const enter = (stage: Stage) => {
    if (progress.stage !== stage) progress.stagesDone.push(progress.stage);
    progress.stage = stage;
  };
  setHandler(experimentProgressQuery, () => progress);

  // Pause, resume and budget raises reach the sampling children, which act on them between batches.
  let samplingStarted = false;
  const forward = async (send: (id: string) => Promise<void>) => {
    if (!samplingStarted || progress.stage !== 'sample') return;
    await Promise.all(SOURCES.filter((s) => !progress.sampling[s]).map((s) => send(samplingWorkflowIds[s])));
  };
  setHandler(pauseSignal, async () => {
    progress.paused = true;
    await forward((id) => getExternalWorkflowHandle(id).signal(pauseSignal));
  });
  setHandler(resumeSignal, async () => {
    progress.paused = false;
    await forward((id) => getExternalWorkflowHandle(id).signal(resumeSignal));
  });
  setHandler(raiseBudgetSignal, async (raise) => {
    await forward((id) => getExternalWorkflowHandle(id).signal(raiseBudgetSignal, raise));
  });
  const notPaused = () => condition(() => !progress.paused);

  const prepared = await quick.prepareRun({ runDir, config });
  const plan = prepared.plan;
  progress.plan = plan;

  enter('sample');
  await notPaused();
  const children = await Promise.all(
    SOURCES.map((source) =>
      startChild(samplingWorkflow, {
        workflowId: samplingWorkflowIds[source],
        // If this run fails or is cancelled, children stop their work cleanly (jobs cancelled, not orphaned).
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        args: [
          {
            runDir,
            source,
            model: config.models[source],
            budget: config.budget,
            plan: plan[source],
            questions: prepared.questions,
            batchSize: config.sampling.batchSize,
            heartbeatTimeoutSeconds: config.temporal.heartbeatTimeoutSeconds,
            promptTokensUpperBoundSum: prepared.promptTokensUpperBoundSum[source],
          },
        ],
      }),
    ),
  );
  samplingStarted = true;
  const sampling = {} as Record<Source, SamplingResult>;
  await allOrCancel(
    children.map((child, i) => async () => {
      const source = SOURCES[i];
      sampling[source] = await child.result();
      progress.sampling[source] = {
        source,
        round: sampling[source].rounds,
        samplesPerQuestionDone: sampling[source].samplesPerQuestion,
        samplesDone: sampling[source].ledger.samples,
        samplesPlanned: plan[source].samplesPerQuestion * prepared.questions,
        batchesDone: 0,
        batchesInFlight: 0,
        ledger: sampling[source].ledger,
        budget: { flops: plan[source].budgetFlops, usd: plan[source].budgetUsd },
        paused: false,
        done: true,
        stopReason: sampling[source].stopReason,
      };
    }),
  );

  enter('verify');
  await notPaused();
  const format = answerFormatOf(config.problems);
  const verified = await Promise.all(SOURCES.map((source) => quick.verifySource({ runDir, source, format })));
  const verify = { wc: verified[0], se: verified[1] };

  const fpr: Partial<Record<Source, FprResult>> = {};
  const judgeConfig = config.analysis.judge;
  if (judgeConfig && config.models.judge) {
    enter('judge');
    await notPaused();
    const judge = config.models.judge;
    const results = await Promise.all(
      SOURCES.map((source) =>
        judging.judgeFalsePositives({
          runDir,
          source,
          judge,
          sampleSize: judgeConfig.sampleSize,
          seed: judgeConfig.seed,
          prompt: judgeConfig.prompt,
        }),
      ),
    );
    for (const result of results) fpr[result.source] = result;
  }

  enter('analyse');
  await notPaused();
  const metrics = await quick.analyseRun({ runDir });

  enter('datasets');
  await notPaused();
  const manifests = await Promise.all(
    SOURCES.map((source) =>
      quick.buildDataset({
        runDir,
        source,
        maxPerQuestion: config.datasets.maxPerQuestion,
        validationFraction: config.datasets.validationFraction,
        seed: config.datasets.seed,
        prompt: config.evaluation?.prompt ?? { user: '{question}' },
      }),
    ),
  );
  const datasets = { wc: manifests[0], se: manifests[1] };

  const setups: SetupResult[] = [];
  if (config.finetune && config.evaluation) {
    enter('finetune');
    await notPaused();
    const enabled = SETUPS.filter((setup) => config.finetune!.setups[setup]);
    const trainedModelOf = (setup: Setup) =>
      setup === 'student' ? config.models.student! : config.models[setup];
    const endpointOf = (setup: Setup) => `${trainedModelOf(setup).baseURL} ${trainedModelOf(setup).model}`;
    // The first setup on a base model evaluates it; the others reuse that evaluation.
    const baseOwner = (setup: Setup) => enabled.find((other) => endpointOf(other) === endpointOf(setup))!;
    const handles = await Promise.all(
      enabled.map((setup) => {
        const workflowId = `${self}/finetune-${setup}-${runTag}`;
        progress.setupWorkflowIds[setup] = workflowId;
        const trainedModel = trainedModelOf(setup);
        return startChild(finetuneSetupWorkflow, {
          workflowId,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          args: [
            {
              runDir,
              experimentId: input.experimentId,
              setup,
              trainedModel,
              datasets,
              finetune: config.finetune!,
              evaluation: config.evaluation!,
              format,
              heartbeatTimeoutSeconds: config.temporal.heartbeatTimeoutSeconds,
              evaluateBase: baseOwner(setup) === setup,
            },
          ],
        });
      }),
    );
    const runs = await allOrCancel(handles.map((handle) => () => handle.result()));
    for (const run of runs) {
      const base = run.base ?? runs[enabled.indexOf(baseOwner(run.setup))].base!;
      setups.push({ ...run, base });
    }
  }

  enter('report');
  const report = await quick.writeReport({ runDir, experimentId: input.experimentId, sampling, setups });

  enter('done');
  return {
    experimentId: input.experimentId,
    runDir,
    plan,
    sampling,
    verify,
    fpr,
    metrics: metrics.artifact,
    datasets,
    setups,
    report,
    childWorkflowIds: [...Object.values(samplingWorkflowIds), ...Object.values(progress.setupWorkflowIds)],
  };
}
