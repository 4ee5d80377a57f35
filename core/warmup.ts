// The warm-up stage (config `warmup`): WC and SE are first finetuned on warm-up problems' reference solutions,
// and the warmed-up models are WC and SE from then on. Pure: the text of a warm-up example and the model
// config of a warmed-up model.
import { SOURCES, type ExperimentConfig, type ModelConfig, type Source } from './config.js';
import type { FinetuneResult } from './results.js';

/**
 * A GSM8K-style reference solution ("step\nstep\n#### N", calculator annotations `<<...>>` allowed) as one
 * answer in the prompts' format: the steps on one line, then "The answer is N.". A solution without "####"
 * is returned trimmed, as written.
 */
export function warmupSolutionText(solution: string): string {
  const at = solution.lastIndexOf('####');
  if (at < 0) return solution.trim();
  const steps = solution
    .slice(0, at)
    .replace(/<<[^>]*>>/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
  const answer = solution.slice(at + 4).trim();
  return `${steps}${steps ? ' ' : ''}The answer is ${answer}.`;
}

/**
 * The config of `model` warmed up into `fineTunedModel`: requests go to where fine-tuned models are served,
 * and a setup that finetunes it starts from the warmed-up model (the fine-tuning service's `model`).
 */
export function warmedUpModel(model: ModelConfig, fineTunedModel: string): ModelConfig {
  const serviceURL = model.fineTuning?.baseURL ?? model.baseURL;
  const servingURL = model.fineTuning?.servingBaseURL ?? serviceURL;
  const serviceKey = model.fineTuning?.apiKeyEnv ?? model.apiKeyEnv;
  const servingKey = model.fineTuning?.servingApiKeyEnv ?? serviceKey;
  return {
    ...model,
    model: fineTunedModel,
    baseURL: servingURL,
    ...(servingKey !== undefined ? { apiKeyEnv: servingKey } : {}),
    fineTuning: {
      supportsSteps: true,
      ...model.fineTuning,
      baseURL: serviceURL,
      ...(serviceKey !== undefined ? { apiKeyEnv: serviceKey } : {}),
      model: fineTunedModel,
    },
  };
}

/** The plan's note on a config with `warmup`: what WC and SE will be. */
export function warmupPlanNote(config: ExperimentConfig): string | null {
  const warmup = config.warmup;
  if (!warmup) return null;
  return (
    `Warm-up: WC (${config.models.wc.model}) and SE (${config.models.se.model}) are first each finetuned ` +
    `for ${warmup.steps} steps of ${warmup.batchSize} on the reference solutions of ${warmup.problems.path}` +
    `${warmup.problems.limit ? ` (${warmup.problems.limit} problems)` : ''}; the warmed-up models are WC and SE ` +
    'for sampling and the bases of the WC-LM and SE-LM setups.'
  );
}

/** The report's note on a run with a warm-up stage: its jobs, by source (those that exist). */
export function warmupReportNote(jobs: Partial<Record<Source, FinetuneResult>>): string | null {
  const done = SOURCES.filter((source) => jobs[source]);
  if (!done.length) return null;
  const described = done.map((source) => {
    const job = jobs[source]!;
    const steps = job.training
      ? `${job.training.steps} steps x ${job.training.batchSize ?? '?'} examples`
      : 'trained';
    return `${source.toUpperCase()} = \`${job.fineTunedModel}\` (\`${job.baseModel}\` warmed up, ${steps})`;
  });
  return (
    `WC and SE are warmed-up models: before sampling, each base model was finetuned on warm-up problems' ` +
    `reference solutions (disjoint from the study's problems and test questions): ${described.join('; ')}. ` +
    'Every WC/SE number in this report (sampling, data, WC-LM and SE-LM setups and their base rows) is about ' +
    'these warmed-up models.'
  );
}
