// Sampling for one source model: rounds over all questions, so every question gets the same count; in
// each round, batches of questions run as activities in a sliding window. In the budgeted modes a round
// starts only if its worst case fits in what is left; after the last full round a top-up draws one more
// sample for questions in a seeded order, batch by batch, while one sample's worst case still fits, so
// every source ends within one sample's worst case of its budget (equal spend). Long runs continue-as-new
// between batches.
import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { BudgetConfig, ModelConfig, Source } from '../core/config.js';
import { unitHash } from '../core/hash.js';
import { requestsFor, worstCaseRoundCost, type SourcePlan } from '../core/plan.js';
import { EMPTY_LEDGER, addLedgers, type Ledger, type SamplingResult } from '../core/records.js';
import {
  pauseSignal,
  raiseBudgetProblem,
  raiseBudgetSignal,
  resumeSignal,
  samplingProgressQuery,
  type SamplingProgress,
} from './messages.js';
import { endpointActivityOptions, onTaskQueue } from './activity-options.js';

export interface SamplingInput {
  runDir: string;
  source: Source;
  model: ModelConfig;
  budget: BudgetConfig;
  plan: SourcePlan;
  questions: number;
  batchSize: number;
  /**
   * Budgeted modes: the most rounds one step draws, one activity per batch (`sampling.roundsPerActivity`);
   * absent (runs started before it): one.
   */
  roundsPerActivity?: number;
  heartbeatTimeoutSeconds: number;
  /** Sum over questions of an upper bound on one request's prompt tokens, until a round is observed. */
  promptTokensUpperBoundSum: number;
  /** The sampling role's task queue (core/task-queues.ts); absent: this workflow's queue. */
  taskQueue?: string;
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
  /** The top-up after the last full round; absent until it starts (and in runs from before it existed). */
  topUp?: TopUpState;
  /**
   * Rounds the current step draws (from `round` on, one activity per batch), set when it starts; absent:
   * one (and in runs from before steps of several rounds).
   */
  roundsThisStep?: number;
}

/**
 * Top-up sample u goes to the question at position order[u mod n] of the seeded order (topUpOrder), as
 * that question's sample number S + floor(u / n), in round R + floor(u / n), where S and R are the
 * samples per question and rounds of the full rounds: a question never gets two samples of the same seed.
 */
export interface TopUpState {
  /** Why the full rounds stopped. */
  fullRoundsStopReason: string;
  /** Top-up samples started so far (all finished whenever the workflow continues as new). */
  samples: number;
  /** Top-up batches started so far: the batch index of the next one. */
  batches: number;
}

/** The patch that adds the top-up: histories recorded before it end sampling after the full rounds. */
export const EQUAL_SPEND_PATCH = 'equal-spend';

/**
 * The patch that lets one activity draw several rounds of a batch (`roundsPerActivity`): histories
 * recorded before it draw one round per activity.
 */
export const ROUNDS_PER_ACTIVITY_PATCH = 'rounds-per-activity';

type SampleBatch = (
  input: Parameters<ActivityInterfaceFor<typeof activities>['sampleBatch']>[0],
) => ReturnType<ActivityInterfaceFor<typeof activities>['sampleBatch']>;

/** One run of the sampling workflow (a continue-as-new starts the next with `state`). */
interface SamplingRun {
  input: SamplingInput;
  state: SamplingState;
  inFlight: number;
  stopReason: string | null;
}

export async function samplingWorkflow(input: SamplingInput): Promise<SamplingResult> {
  const waitForCancelledBatches = patched(WAIT_FOR_CANCELLED_BATCHES);
  const batches = new Set<Promise<unknown>>();
  const { sampleBatch: startBatch } = proxyActivities<typeof activities>(
    onTaskQueue(
      {
        ...endpointActivityOptions(input.heartbeatTimeoutSeconds, '2 hours'),
        ...(waitForCancelledBatches
          ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }
          : {}),
      },
      input.taskQueue,
    ),
  );
  // Every batch started by this run, until it settles: a cancelled run closes only after they have.
  const sampleBatch: SampleBatch = (batch) => {
    const promise = startBatch(batch);
    batches.add(promise);
    void promise.then(
      () => batches.delete(promise),
      () => batches.delete(promise),
    );
    return promise;
  };
  try {
    return await sample(input, sampleBatch);
  } catch (error) {
    // Cancelled (or failed): the batches still running stop requesting before this run closes, so once
    // it is closed nothing more is requested (`wcse cancel` waits for that).
    if (waitForCancelledBatches && batches.size > 0) await Promise.allSettled([...batches]);
    throw error;
  }
}

/**
 * Patch: batches are cancelled with WAIT_CANCELLATION_COMPLETED and a cancelled run waits for them, and a
 * cancel that arrives as the run continues as new ends it as cancelled instead of being lost to the next
 * run (issue 13: requests went on after `wcse cancel`).
 */
const WAIT_FOR_CANCELLED_BATCHES = 'wait-for-cancelled-batches';

async function sample(input: SamplingInput, sampleBatch: SampleBatch): Promise<SamplingResult> {
  const run: SamplingRun = { input, state: input.state ?? initialState(), inFlight: 0, stopReason: null };
  setSamplingHandlers(run);
  const { state } = run;
  const mostRoundsPerStep =
    input.budget.mode !== 'ratio' && (input.roundsPerActivity ?? 1) > 1 && patched(ROUNDS_PER_ACTIVITY_PATCH)
      ? (input.roundsPerActivity ?? 1)
      : 1;
  // A run continued as new during the top-up goes straight back to it.
  while (state.topUp === undefined) {
    if (state.nextBatch === 0) {
      run.stopReason = reasonToStop(run);
      if (run.stopReason !== null) break;
      // Several rounds in one step only while the worst case of all of them fits: the rounds drawn and
      // where they stop are those of one round per step.
      if (mostRoundsPerStep > 1) state.roundsThisStep = roundsThatFit(run, mostRoundsPerStep);
      log.info('Round', { source: input.source, round: state.round, rounds: state.roundsThisStep ?? 1 });
    }
    if (!(await sampleRound(run, sampleBatch))) await continueSampling(run, 'mid-round');
    // The step's rounds are complete.
    const rounds = state.roundsThisStep ?? 1;
    state.samplesPerQuestionDone += rounds * input.plan.samplesPerRound;
    // What one round's prompts really cost. A step of several rounds asks requestsFor(rounds x
    // samplesPerRound) requests per question where one round asks requestsFor(samplesPerRound), all with
    // the question's same prompt; an endpoint that gets fewer choices per request than planned (llama-server)
    // makes this an overestimate, never an underestimate.
    if (state.observedRoundPromptTokens === null) {
      const perRound = input.plan.samplesPerRound;
      state.observedRoundPromptTokens =
        rounds === 1
          ? state.roundPromptTokens
          : (state.roundPromptTokens * requestsFor(input.model, perRound)) /
            requestsFor(input.model, rounds * perRound);
    }
    state.roundPromptTokens = 0;
    state.round += rounds;
    state.nextBatch = 0;
    delete state.roundsThisStep;
    if (workflowInfo().continueAsNewSuggested) await continueSampling(run, 'between rounds');
  }
  if (input.budget.mode !== 'ratio' && (state.topUp !== undefined || patched(EQUAL_SPEND_PATCH))) {
    run.stopReason = await topUp(run, sampleBatch);
  }
  log.info('Sampling stopped', { source: input.source, stopReason: run.stopReason, rounds: state.round });
  await condition(allHandlersFinished);
  return {
    source: input.source,
    ledger: state.ledger,
    samplesPerQuestion:
      state.samplesPerQuestionDone + Math.floor((state.topUp?.samples ?? 0) / input.questions),
    rounds: state.round,
    ...(state.topUp ? { topUpSamples: state.topUp.samples } : {}),
    // Never null here: the loop above ends only with a reason, and the top-up always gives one.
    stopReason: run.stopReason ?? 'sampling stopped',
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
    // The experiment validates raises; a raise sent to this workflow directly is checked here.
    const problem = raiseBudgetProblem(input.budget, raise);
    if (problem !== null) {
      log.warn('Budget raise ignored', { source: input.source, problem });
      return;
    }
    state.extraFlops += raise.flops ?? 0;
    state.extraUsd += raise.usd ?? 0;
  });
  setHandler(samplingProgressQuery, (): SamplingProgress => ({
    source: input.source,
    round: state.round,
    samplesPerQuestionDone: state.samplesPerQuestionDone,
    samplesDone: state.ledger.samples,
    samplesPlanned: input.plan.samplesPerQuestion * input.questions + (input.plan.expectedTopUpSamples ?? 0),
    batchesDone: state.batchesDone,
    batchesInFlight: run.inFlight,
    ledger: state.ledger,
    budget: limits(run),
    paused: state.paused,
    done: run.stopReason !== null,
    stopReason: run.stopReason,
  }));
}

/** The worst case of one more round: every sample at max_tokens, the prompts at their bound. */
function roundWorstCase({ input, state }: SamplingRun): { flops: number; usd: number } {
  const { budget, model } = input;
  const samplesPerRound = input.plan.samplesPerRound;
  return worstCaseRoundCost({
    model,
    questions: input.questions,
    samplesPerRound,
    roundPromptTokens:
      state.observedRoundPromptTokens ??
      requestsFor(model, samplesPerRound) * input.promptTokensUpperBoundSum,
    countPromptTokens: budget.countPromptTokens,
  });
}

/**
 * How many rounds (1 to `most`) the next step draws: as many whose worst cases, all together, fit in
 * what is left. Called once one round is known to fit.
 */
function roundsThatFit(run: SamplingRun, most: number): number {
  const worst = roundWorstCase(run);
  const limit = limits(run);
  const { ledger } = run.state;
  const fits = (rounds: number) =>
    (limit.flops === null || ledger.flops + rounds * worst.flops <= limit.flops) &&
    (limit.usd === null || ledger.usd + rounds * worst.usd <= limit.usd);
  let rounds = most;
  while (rounds > 1 && !fits(rounds)) rounds--;
  return rounds;
}

/** Why no further round may start, or null if the next one fits. */
function reasonToStop(run: SamplingRun): string | null {
  const { input, state } = run;
  if (input.budget.mode === 'ratio') return state.round >= 1 ? 'planned samples drawn' : null;
  const worst = roundWorstCase(run);
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
      samplesPerQuestion: (state.roundsThisStep ?? 1) * input.plan.samplesPerRound,
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

/** Positions 0..n-1 of problems.jsonl in the top-up's seeded order (per source and sampling seed). */
export function topUpOrder(source: string, seed: number, questions: number): number[] {
  const rank = (position: number) => unitHash(`top-up/${source}/${seed}/${position}`);
  const positions = Array.from({ length: questions }, (_, position) => ({ position, rank: rank(position) }));
  return positions.sort((a, b) => a.rank - b.rank || a.position - b.position).map((p) => p.position);
}

/** What every top-up batch shares, and what is in flight. */
interface TopUpWindow {
  /** Positions of problems.jsonl in the seeded top-up order. */
  order: number[];
  /** One sample's worst case: one request for one question, at max_tokens and the largest prompt. */
  perSample: { flops: number; usd: number };
  /** Batches in flight at the most. */
  size: number;
  running: Set<Promise<void>>;
  /** The worst case of the batches in flight. */
  reserved: { flops: number; usd: number };
}

function topUpWindow({ input }: SamplingRun): TopUpWindow {
  const { budget, model } = input;
  const order = topUpOrder(input.source, model.sampling.seed, input.questions);
  const perSample = worstCaseRoundCost({
    model,
    questions: 1,
    samplesPerRound: 1,
    roundPromptTokens: input.plan.promptTokensUpperBoundMax ?? input.promptTokensUpperBoundSum,
    countPromptTokens: budget.countPromptTokens,
  });
  const size = Math.max(2, Math.ceil((2 * model.concurrency) / input.batchSize) + 1);
  return { order, perSample, size, running: new Set(), reserved: { flops: 0, usd: 0 } };
}

/** Samples whose worst case fits in what is left after what is spent and what is in flight. */
function affordableSamples(run: SamplingRun, { perSample, reserved }: TopUpWindow): number {
  const { ledger } = run.state;
  const limit = limits(run);
  let count = Number.POSITIVE_INFINITY;
  if (limit.flops !== null && perSample.flops > 0) {
    count = Math.min(count, Math.floor((limit.flops - ledger.flops - reserved.flops) / perSample.flops));
  }
  if (limit.usd !== null && perSample.usd > 0) {
    count = Math.min(count, Math.floor((limit.usd - ledger.usd - reserved.usd) / perSample.usd));
  }
  return Number.isFinite(count) ? Math.max(0, count) : 0;
}

/**
 * Starts the next top-up batch, of up to `fit` samples, one per question in the seeded order; its worst case
 * stays reserved until it finishes and its real cost is in the ledger.
 */
function startTopUpBatch(
  run: SamplingRun,
  sampleBatch: SampleBatch,
  progress: TopUpState,
  window: TopUpWindow,
  fit: number,
): void {
  const { input, state } = run;
  const { perSample, reserved, running } = window;
  const n = input.questions;
  const pass = Math.floor(progress.samples / n);
  const start = progress.samples % n;
  const count = Math.min(input.batchSize, fit, n - start);
  const cost = { flops: count * perSample.flops, usd: count * perSample.usd };
  reserved.flops += cost.flops;
  reserved.usd += cost.usd;
  progress.samples += count;
  const promise = sampleBatch({
    runDir: input.runDir,
    source: input.source,
    model: input.model,
    countPromptTokens: input.budget.countPromptTokens,
    round: state.round + pass,
    batchIndex: progress.batches++,
    questionStart: 0,
    questionEnd: 0,
    questionPositions: window.order.slice(start, start + count),
    samplesPerQuestion: 1,
    firstSampleIndex: state.samplesPerQuestionDone + pass,
  }).then((summary) => {
    state.ledger = addLedgers(state.ledger, summary.ledger);
    reserved.flops -= cost.flops;
    reserved.usd -= cost.usd;
    state.batchesDone++;
    run.inFlight--;
    running.delete(promise);
  });
  run.inFlight++;
  running.add(promise);
}

/**
 * The top-up after the last full round: batches of one sample per question, for questions in the seeded
 * order, start while the worst case of everything in flight plus one more sample fits in what is left;
 * a finished batch frees its worst case for what it really cost. Returns the stop reason.
 */
async function topUp(run: SamplingRun, sampleBatch: SampleBatch): Promise<string> {
  const { input, state } = run;
  state.topUp ??= { fullRoundsStopReason: run.stopReason ?? 'full rounds done', samples: 0, batches: 0 };
  // Not done yet: the progress query says so until the top-up ends.
  run.stopReason = null;
  const progress = state.topUp;
  const window = topUpWindow(run);
  const { running } = window;
  if (progress.samples === 0) {
    log.info('Top-up', { source: input.source, affordable: affordableSamples(run, window) });
  }
  for (;;) {
    await condition(() => !state.paused);
    if (workflowInfo().continueAsNewSuggested) {
      await Promise.all(running);
      await continueSampling(run, 'top-up');
    }
    const fit = affordableSamples(run, window);
    if (fit < 1 || running.size >= window.size) {
      if (running.size === 0) break;
      await Promise.race(running);
      continue;
    }
    startTopUpBatch(run, sampleBatch, progress, window, fit);
  }
  return topUpStopReason(run, progress, window.perSample);
}

function topUpStopReason(
  run: SamplingRun,
  progress: TopUpState,
  perSample: TopUpWindow['perSample'],
): string {
  const { ledger } = run.state;
  const limit = limits(run);
  const left =
    limit.flops !== null
      ? `${(limit.flops - ledger.flops).toExponential(3)} FLOPs left, one sample can cost up to ${perSample.flops.toExponential(3)}`
      : `$${((limit.usd ?? 0) - ledger.usd).toFixed(4)} left, one sample can cost up to $${perSample.usd.toFixed(4)}`;
  return `${progress.fullRoundsStopReason}; then ${progress.samples} top-up sample(s) until no more fit (${left})`;
}

/** Continues as new with the state so far, once no signal handler is still running. */
async function continueSampling(run: SamplingRun, where: string): Promise<never> {
  log.info('Continuing as new', { source: run.input.source, where, round: run.state.round });
  await condition(allHandlersFinished);
  // A cancel that arrived meanwhile ends this run as cancelled: the next run would never see it.
  const scope = CancellationScope.current();
  if (scope.consideredCancelled && patched(WAIT_FOR_CANCELLED_BATCHES)) await scope.cancelRequested;
  return continueAsNew<typeof samplingWorkflow>({ ...run.input, state: run.state });
}
