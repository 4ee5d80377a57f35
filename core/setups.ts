// Rules of the study's second half that workflows apply: which model a setup finetunes, which setup
// evaluates a shared base model (each base model is evaluated once), and the model config evaluation uses.
import { majoritySamples, type EvaluationConfig, type ExperimentConfig, type ModelConfig } from './config.js';
import { failure, FailureType } from './failures.js';
import type { EvalResult, Setup, SetupResult } from './results.js';

/** A setup's result as its workflow returns it; `base` is null when another setup evaluated the same base. */
export type SetupRuns = Omit<SetupResult, 'base'> & { base: EvalResult | null };

/** The model a setup finetunes: models.student for the student setup, else the source's own model. */
export function trainedModelOf(models: ExperimentConfig['models'], setup: Setup): ModelConfig {
  if (setup !== 'student') return models[setup];
  if (!models.student)
    throw failure(FailureType.InvalidConfig, 'models.student: the student setup needs a student model');
  return models.student;
}

/**
 * For each setup, the setup that evaluates its base model: the first one in `setups` whose model has the
 * same endpoint and model id. Setups finetuning the same base model share one base evaluation, so it is
 * paid for once.
 */
export function baseEvaluators(
  setups: ReadonlyArray<{ setup: Setup; model: Pick<ModelConfig, 'baseURL' | 'model'> }>,
): Map<Setup, Setup> {
  const owners = new Map<Setup, Setup>();
  const ownerOfModel = new Map<string, Setup>();
  for (const { setup, model } of setups) {
    const key = `${model.baseURL} ${model.model}`;
    if (!ownerOfModel.has(key)) ownerOfModel.set(key, setup);
    owners.set(setup, ownerOfModel.get(key)!);
  }
  return owners;
}

/** Setup results with every `base` filled in from the setup that evaluated it (see baseEvaluators). */
export function withSharedBase(runs: SetupRuns[], evaluators: Map<Setup, Setup>): SetupResult[] {
  return runs.map((run) => {
    if (run.base) return { ...run, base: run.base };
    const owner = evaluators.get(run.setup);
    const base = runs.find((other) => other.setup === owner)?.base;
    if (!base) {
      throw failure(
        FailureType.BadRunData,
        `setup ${run.setup}: no base evaluation (expected one from setup ${owner})`,
      );
    }
    return { ...run, base };
  });
}

/** The model config evaluation uses: the served id and endpoint, the evaluation prompt and sampling. */
export function evaluatedModel(
  base: ModelConfig,
  evaluation: EvaluationConfig,
  served?: { model: string; baseURL: string; apiKeyEnv?: string },
): ModelConfig {
  return {
    ...base,
    ...(served ?? {}),
    prompt: { ...evaluation.prompt, fewShot: [] },
    sampling: {
      ...base.sampling,
      temperature: evaluation.temperature,
      maxTokens: evaluation.maxTokens ?? base.sampling.maxTokens,
    },
    fineTuning: undefined,
  };
}

/**
 * The maj@k pass of an evaluation: the evaluated model at the majority temperature, its samples per
 * question and the ks to report; null when `evaluation.majority` is off (or the input predates it).
 */
export function majorityPass(
  model: ModelConfig,
  evaluation: EvaluationConfig,
): { model: ModelConfig; samples: number; k: number[] } | null {
  const majority = evaluation.majority;
  if (!majority) return null;
  return {
    model: { ...model, sampling: { ...model.sampling, temperature: majority.temperature } },
    samples: majoritySamples(majority),
    k: [...majority.k],
  };
}

/** A model id as a path segment. */
export function safeId(model: string): string {
  return model.replace(/[^A-Za-z0-9._-]+/g, '_');
}
