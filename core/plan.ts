// The compute-matched plan (Bansal et al. 2024): at equal FLOPs, S_WC = S_SE * P_SE / P_WC.
import type { BudgetConfig, ExperimentConfig, ModelConfig, Source } from './config.js';

export interface PromptTokenStats {
  /** Sum over questions of the estimated prompt tokens of one request. */
  expectedPerRequestSum: number;
  /** Sum over questions of an upper bound on the prompt tokens of one request. */
  upperBoundPerRequestSum: number;
}

export interface PlanInputs {
  questions: number;
  promptTokens: Record<Source, PromptTokenStats>;
}

export interface SourcePlan {
  source: Source;
  model: string;
  params: number;
  /** Samples per question the plan expects to draw. */
  samplesPerQuestion: number;
  /** Samples per question that fit even if every sample used max_tokens (flops/price modes). */
  guaranteedSamplesPerQuestion: number;
  samplesPerRound: number;
  /** Rounds to run (ratio mode) or at most (flops/price modes, further limited by the budget). */
  maxRounds: number;
  expectedTokens: number;
  expectedPromptTokens: number;
  expectedFlops: number;
  expectedCostUsd: number | null;
  budgetFlops: number | null;
  budgetUsd: number | null;
}

export interface Plan {
  mode: BudgetConfig['mode'];
  questions: number;
  /** P_SE / P_WC: how many WC samples one SE sample buys. */
  costRatio: number;
  countPromptTokens: boolean;
  wc: SourcePlan;
  se: SourcePlan;
  notes: string[];
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** FLOPs of generating `tokens` tokens with a model of `params` parameters: 2P per token. */
export function flopsFor(params: number, tokens: number): number {
  return 2 * params * tokens;
}

export function usdFor(
  model: ModelConfig,
  usage: { promptTokens: number; completionTokens: number },
): number {
  if (!model.price) return 0;
  return (
    (usage.promptTokens * model.price.inputPerMillion +
      usage.completionTokens * model.price.outputPerMillion) /
    1e6
  );
}

/** Requests needed for `samples` samples of one question. */
export function requestsFor(model: ModelConfig, samples: number): number {
  return model.supportsN ? Math.ceil(samples / model.maxN) : samples;
}

/**
 * The most one round can cost if every sample runs to max_tokens: a round starts only if this fits in
 * what is left of the budget, so a budget is never overspent.
 */
export function worstCaseRoundCost(args: {
  model: ModelConfig;
  questions: number;
  samplesPerRound: number;
  /** Prompt tokens of the whole round: an upper bound, or what an earlier identical round really cost. */
  roundPromptTokens: number;
  countPromptTokens: boolean;
}): { flops: number; usd: number } {
  const { model, questions, samplesPerRound } = args;
  const completionTokens = questions * samplesPerRound * model.sampling.maxTokens;
  const promptTokens = args.roundPromptTokens;
  return {
    flops: flopsFor(model.params, completionTokens + (args.countPromptTokens ? promptTokens : 0)),
    usd: usdFor(model, { promptTokens, completionTokens }),
  };
}

export function planComputeMatched(config: ExperimentConfig, inputs: PlanInputs): Plan {
  const { budget } = config;
  const { wc, se } = config.models;
  const n = inputs.questions;
  if (n < 1) throw new PlanError('problems: the problem set is empty');
  const notes: string[] = [];
  const costRatio = se.params / wc.params;
  const tokensPerSample = (model: ModelConfig) => budget.expectedTokensPerSample ?? model.sampling.maxTokens;
  if (budget.expectedTokensPerSample === undefined) {
    notes.push('Expected tokens assume every sample uses max_tokens (set budget.expectedTokensPerSample).');
  }

  const sourcePlan = (
    source: Source,
    model: ModelConfig,
    samples: number,
    guaranteed: number,
    rounds: number,
  ) => {
    const perRound = budget.mode === 'ratio' ? samples : budget.samplesPerRound;
    const expectedTokens = n * samples * tokensPerSample(model);
    const requests = rounds * requestsFor(model, perRound);
    const expectedPromptTokens = requests * inputs.promptTokens[source].expectedPerRequestSum;
    const flopsTokens = expectedTokens + (budget.countPromptTokens ? expectedPromptTokens : 0);
    const plan: SourcePlan = {
      source,
      model: model.model,
      params: model.params,
      samplesPerQuestion: samples,
      guaranteedSamplesPerQuestion: guaranteed,
      samplesPerRound: perRound,
      maxRounds: rounds,
      expectedTokens,
      expectedPromptTokens,
      expectedFlops: flopsFor(model.params, flopsTokens),
      expectedCostUsd: model.price
        ? usdFor(model, { promptTokens: expectedPromptTokens, completionTokens: expectedTokens })
        : null,
      budgetFlops: budget.mode === 'flops' ? budget.flopsPerSource : null,
      budgetUsd: budget.mode === 'price' ? budget.usdPerSource : null,
    };
    return plan;
  };

  if (budget.mode === 'ratio') {
    const exact = budget.samplesPerQuestion * costRatio;
    const wcSamples = Math[budget.rounding](exact);
    if (wcSamples < 1) {
      throw new PlanError(
        `budget.samplesPerQuestion: ${budget.samplesPerQuestion} SE samples buy ${exact.toFixed(3)} WC samples ` +
          `per question (P_SE/P_WC = ${costRatio.toPrecision(4)}); with rounding "${budget.rounding}" that is 0`,
      );
    }
    if (exact !== wcSamples) {
      notes.push(
        `S_WC = ${budget.samplesPerQuestion} x ${costRatio.toPrecision(6)} = ${exact.toFixed(3)}, ` +
          `rounded by "${budget.rounding}" to ${wcSamples}` +
          (budget.rounding === 'floor' ? ' (WC never spends more than SE).' : '.'),
      );
    }
    return {
      mode: 'ratio',
      questions: n,
      costRatio,
      countPromptTokens: budget.countPromptTokens,
      wc: sourcePlan('wc', wc, wcSamples, wcSamples, 1),
      se: sourcePlan('se', se, budget.samplesPerQuestion, budget.samplesPerQuestion, 1),
      notes,
    };
  }

  const budgetedPlan = (source: Source, model: ModelConfig) => {
    const perRound = budget.samplesPerRound;
    const worst = worstCaseRoundCost({
      model,
      questions: n,
      samplesPerRound: perRound,
      roundPromptTokens: requestsFor(model, perRound) * inputs.promptTokens[source].upperBoundPerRequestSum,
      countPromptTokens: budget.countPromptTokens,
    });
    const requestsPerRound = requestsFor(model, perRound);
    const expectedPrompt = requestsPerRound * inputs.promptTokens[source].expectedPerRequestSum;
    const expectedCompletion = n * perRound * tokensPerSample(model);
    let limit: number;
    let worstRound: number;
    let expectedRound: number;
    let unit: string;
    if (budget.mode === 'flops') {
      limit = budget.flopsPerSource;
      worstRound = worst.flops;
      expectedRound = flopsFor(
        model.params,
        expectedCompletion + (budget.countPromptTokens ? expectedPrompt : 0),
      );
      unit = 'FLOPs';
    } else {
      if (!model.price) throw new PlanError(`models.${source}.price: required in price mode`);
      limit = budget.usdPerSource;
      worstRound = worst.usd;
      expectedRound = usdFor(model, { promptTokens: expectedPrompt, completionTokens: expectedCompletion });
      unit = 'USD';
    }
    const guaranteedRounds = Math.floor(limit / worstRound);
    if (guaranteedRounds < 1) {
      const field = budget.mode === 'flops' ? 'budget.flopsPerSource' : 'budget.usdPerSource';
      throw new PlanError(
        `${field}: ${formatAmount(limit, unit)} cannot buy one round for ${source} (${model.model}): ` +
          `${perRound} sample(s) per question for ${n} questions can cost up to ${formatAmount(worstRound, unit)} ` +
          `(max_tokens ${model.sampling.maxTokens}, ${model.params.toExponential(2)} params). ` +
          'Raise the budget, lower max_tokens or use fewer questions.',
      );
    }
    // Rounds keep starting while their worst case fits, so the count reached lies between these two.
    const expectedRounds = Math.max(guaranteedRounds, Math.floor((limit - worstRound) / expectedRound) + 1);
    return sourcePlan(source, model, expectedRounds * perRound, guaranteedRounds * perRound, expectedRounds);
  };

  notes.push(
    `Rounds of ${budget.samplesPerRound} sample(s) per question start only while the round's worst case ` +
      '(every sample at max_tokens) fits in the remaining budget: spending never passes the budget.',
  );
  return {
    mode: budget.mode,
    questions: n,
    costRatio,
    countPromptTokens: budget.countPromptTokens,
    wc: budgetedPlan('wc', wc),
    se: budgetedPlan('se', se),
    notes,
  };
}

function formatAmount(value: number, unit: string): string {
  return unit === 'USD' ? `$${value.toFixed(4)}` : `${value.toExponential(3)} ${unit}`;
}
