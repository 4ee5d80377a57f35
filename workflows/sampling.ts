// Sampling for one source model: rounds over all questions, so every question gets the same count; in
// each round, batches of questions run as activities in a sliding window. In the budgeted modes a round
// starts only if its worst case fits in what is left. Long runs continue-as-new between batches.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { BudgetConfig, ModelConfig, Source } from '../core/config.js';
import { requestsFor, worstCaseRoundCost, type SourcePlan } from '../core/plan.js';
import { EMPTY_LEDGER, addLedgers, type Ledger, type SamplingResult } from '../core/records.js';
import {
  pauseSignal,
  raiseBudgetSignal,
  resumeSignal,
  samplingProgressQuery,
  type SamplingProgress,
} from './messages.js';
import { endpointActivityOptions } from './activity-options.js';

export interface SamplingInput {
  runDir: string;
  source: Source;
  model: ModelConfig;
  budget: BudgetConfig;
  plan: SourcePlan;
  questions: number;
  batchSize: number;
  heartbeatTimeoutSeconds: number;
  /** Sum over questions of an upper bound on one request's prompt tokens, until a round is observed. */
  promptTokensUpperBoundSum: number;
  state?: SamplingState;
}

export interface SamplingState {
  round: number;
  nextBatch: number;
  ledger: Ledger;
  roundPromptTokens: number;
  /** Prompt tokens one whole round really cost (first round), for the worst-case bound of later rounds. */
  observedRoundPromptTokens: number | null;
  samplesPerQuestionDone: number;
  batchesDone: number;
  extraFlops: number;
  extraUsd: number;
  paused: boolean;
  startedAtMs: number;
}

type SampleBatch = ActivityInterfaceFor<typeof activities>['sampleBatch'];

/** One run of the sampling workflow (a continue-as-new starts the next with `state`). */
interface SamplingRun {
  input: SamplingInput;
  state: SamplingState;
  inFlight: number;
  stopReason: string | null;
}

export async function samplingWorkflow(input: SamplingInput): Promise<SamplingResult> {
  const { sampleBatch } = proxyActivities<typeof activities>(
    endpointActivityOptions(input.heartbeatTimeoutSeconds, '2 hours'),
  );
  const run: SamplingRun = { input, state: input.state ?? initialState(), inFlight: 0, stopReason: null };
  setSamplingHandlers(run);
  const { state } = run;
  for (;;) {
    if (state.nextBatch === 0) {
      run.stopReason = reasonToStop(run);
      if (run.stopReason !== null) break;
      log.info('Round', { source: input.source, round: state.round });
    }
    if (!(await sampleRound(run, sampleBatch))) await continueSampling(run, 'mid-round');
    // The round is complete.
    state.samplesPerQuestionDone += input.plan.samplesPerRound;
    if (state.observedRoundPromptTokens === null) state.observedRoundPromptTokens = state.roundPromptTokens;
    state.roundPromptTokens = 0;
    state.round++;
    state.nextBatch = 0;
    if (workflowInfo().continueAsNewSuggested) await continueSampling(run, 'between rounds');
  }
  log.info('Sampling stopped', { source: input.source, stopReason: run.stopReason, rounds: state.round });
  await condition(allHandlersFinished);
  return {
    source: input.source,
    ledger: state.ledger,
    samplesPerQuestion: state.samplesPerQuestionDone,
    rounds: state.round,
    stopReason: run.stopReason,
    wallSeconds: (Date.now() - state.startedAtMs) / 1000,
  };
}

function initialState(): SamplingState {
  return {
    round: 0,
    nextBatch: 0,
    ledger: EMPTY_LEDGER,
    roundPromptTokens: 0,
    observedRoundPromptTokens: null,
    samplesPerQuestionDone: 0,
    batchesDone: 0,
    extraFlops: 0,
    extraUsd: 0,
    paused: false,
    startedAtMs: Date.now(),
  };
}

/** The budget limits now, raises included; null where the mode has none. */
function limits({ input, state }: SamplingRun): { flops: number | null; usd: number | null } {
  const { budget } = input;
  return {
    flops: budget.mode === 'flops' ? budget.flopsPerSource + state.extraFlops : null,
    usd: budget.mode === 'price' ? budget.usdPerSource + state.extraUsd : null,
  };
}

function setSamplingHandlers(run: SamplingRun): void {
  const { input, state } = run;
  setHandler(pauseSignal, () => void (state.paused = true));
  setHandler(resumeSignal, () => void (state.paused = false));
  setHandler(raiseBudgetSignal, (raise) => {
    if (raise.source && raise.source !== input.source) return;
    state.extraFlops += raise.flops ?? 0;
    state.extraUsd += raise.usd ?? 0;
  });
  setHandler(samplingProgressQuery, (): SamplingProgress => ({
    source: input.source,
    round: state.round,
    samplesPerQuestionDone: state.samplesPerQuestionDone,
    samplesDone: state.ledger.samples,
    samplesPlanned: input.plan.samplesPerQuestion * input.questions,
    batchesDone: state.batchesDone,
    batchesInFlight: run.inFlight,
    ledger: state.ledger,
    budget: limits(run),
    paused: state.paused,
    done: run.stopReason !== null,
    stopReason: run.stopReason,
  }));
}

/** Why no further round may start, or null if the next one fits. */
function reasonToStop(run: SamplingRun): string | null {
  const { input, state } = run;
  const { budget, model } = input;
  const samplesPerRound = input.plan.samplesPerRound;
  if (budget.mode === 'ratio') return state.round >= 1 ? 'planned samples drawn' : null;
  const worst = worstCaseRoundCost({
    model,
    questions: input.questions,
    samplesPerRound,
    roundPromptTokens:
      state.observedRoundPromptTokens ??
      requestsFor(model, samplesPerRound) * input.promptTokensUpperBoundSum,
    countPromptTokens: budget.countPromptTokens,
  });
  const limit = limits(run);
  if (limit.flops !== null && state.ledger.flops + worst.flops > limit.flops) {
    return `FLOPs budget: the next round could cost up to ${worst.flops.toExponential(3)}, ${(limit.flops - state.ledger.flops).toExponential(3)} left`;
  }
  if (limit.usd !== null && state.ledger.usd + worst.usd > limit.usd) {
    return `price budget: the next round could cost up to $${worst.usd.toFixed(4)}, $${(limit.usd - state.ledger.usd).toFixed(4)} left`;
  }
  return null;
}

/**
 * Runs the current round's remaining batches in a sliding window, waiting between batches while paused.
 * False when the history grew long enough to continue as new before the round ended.
 */
async function sampleRound(run: SamplingRun, sampleBatch: SampleBatch): Promise<boolean> {
  const { input, state } = run;
  const batches = Math.ceil(input.questions / input.batchSize);
  // Enough batches in flight to keep the endpoint busy: a batch keeps at most one request per question
  // open at a time (a question's requests go one after another), so each batch offers batchSize requests.
  const window = Math.max(2, Math.ceil((2 * input.model.concurrency) / input.batchSize) + 1);
  const running = new Set<Promise<void>>();
  let continueSuggested = false;
  while (state.nextBatch < batches) {
    await condition(() => !state.paused);
    if (workflowInfo().continueAsNewSuggested) {
      continueSuggested = true;
      break;
    }
    const batchIndex = state.nextBatch++;
    const questionStart = batchIndex * input.batchSize;
    const promise = sampleBatch({
      runDir: input.runDir,
      source: input.source,
      model: input.model,
      countPromptTokens: input.budget.countPromptTokens,
      round: state.round,
      batchIndex,
      questionStart,
      questionEnd: Math.min(input.questions, questionStart + input.batchSize),
      samplesPerQuestion: input.plan.samplesPerRound,
      firstSampleIndex: state.round * input.plan.samplesPerRound,
    }).then((summary) => {
      state.ledger = addLedgers(state.ledger, summary.ledger);
      state.roundPromptTokens += summary.ledger.promptTokens;
      state.batchesDone++;
      run.inFlight--;
      running.delete(promise);
    });
    run.inFlight++;
    running.add(promise);
    if (running.size >= window) await Promise.race(running);
  }
  await Promise.all(running);
  return !continueSuggested;
}

/** Continues as new with the state so far, once no signal handler is still running. */
async function continueSampling(run: SamplingRun, where: string): Promise<never> {
  log.info('Continuing as new', { source: run.input.source, where, round: run.state.round });
  await condition(allHandlersFinished);
  return continueAsNew<typeof samplingWorkflow>({ ...run.input, state: run.state });
}
