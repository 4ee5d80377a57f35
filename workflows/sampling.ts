// Sampling for one source model: rounds over all questions, so every question gets the same count; in
// each round, batches of questions run as activities in a sliding window. In the budgeted modes a round
// starts only if its worst case fits in what is left. Long runs continue-as-new between batches.
import { condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
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

export async function samplingWorkflow(input: SamplingInput): Promise<SamplingResult> {
  const { budget, model } = input;
  const { sampleBatch } = proxyActivities<typeof activities>({
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds} seconds`,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: 20,
    },
  });
  const state: SamplingState = input.state ?? {
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
  const samplesPerRound = input.plan.samplesPerRound;
  const batches = Math.ceil(input.questions / input.batchSize);
  let inFlight = 0;
  let stopReason: string | null = null;

  const limits = () => ({
    flops: budget.mode === 'flops' ? budget.flopsPerSource + state.extraFlops : null,
    usd: budget.mode === 'price' ? budget.usdPerSource + state.extraUsd : null,
  });

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
    batchesInFlight: inFlight,
    ledger: state.ledger,
    budget: limits(),
    paused: state.paused,
    done: stopReason !== null,
    stopReason,
  }));

  /** Why no further round may start, or null if the next one fits. */
  const reasonToStop = (): string | null => {
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
    const limit = limits();
    if (limit.flops !== null && state.ledger.flops + worst.flops > limit.flops) {
      return `FLOPs budget: the next round could cost up to ${worst.flops.toExponential(3)}, ${(limit.flops - state.ledger.flops).toExponential(3)} left`;
    }
    if (limit.usd !== null && state.ledger.usd + worst.usd > limit.usd) {
      return `price budget: the next round could cost up to $${worst.usd.toFixed(4)}, $${(limit.usd - state.ledger.usd).toFixed(4)} left`;
    }
    return null;
  };

  // Enough batches in flight to keep the endpoint busy: a batch keeps at most one request per question
  // open at a time (a question's requests go one after another), so each batch offers batchSize requests.
  const window = Math.max(2, Math.ceil((2 * model.concurrency) / input.batchSize) + 1);

  for (;;) {
    if (state.nextBatch === 0) {
      stopReason = reasonToStop();
      if (stopReason !== null) break;
    }
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
        model,
        countPromptTokens: budget.countPromptTokens,
        round: state.round,
        batchIndex,
        questionStart,
        questionEnd: Math.min(input.questions, questionStart + input.batchSize),
        samplesPerQuestion: samplesPerRound,
        firstSampleIndex: state.round * samplesPerRound,
      }).then((summary) => {
        state.ledger = addLedgers(state.ledger, summary.ledger);
        state.roundPromptTokens += summary.ledger.promptTokens;
        state.batchesDone++;
        inFlight--;
        running.delete(promise);
      });
      inFlight++;
      running.add(promise);
      if (running.size >= window) await Promise.race(running);
    }
    await Promise.all(running);
    if (continueSuggested) await continueAsNew<typeof samplingWorkflow>({ ...input, state });

    // The round is complete.
    state.samplesPerQuestionDone += samplesPerRound;
    if (state.observedRoundPromptTokens === null) state.observedRoundPromptTokens = state.roundPromptTokens;
    state.roundPromptTokens = 0;
    state.round++;
    state.nextBatch = 0;
    if (workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof samplingWorkflow>({ ...input, state });
  }

  return {
    source: input.source,
    ledger: state.ledger,
    samplesPerQuestion: state.samplesPerQuestionDone,
    rounds: state.round,
    stopReason,
    wallSeconds: (Date.now() - state.startedAtMs) / 1000,
  };
}
