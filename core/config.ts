// The experiment config: one YAML file, validated before anything starts or is spent.
// Secrets never live here: a model names the environment variable that holds its API key.
import { z } from 'zod';
import { PROMPT_PRESET_NAMES, resolvePrompt } from './prompts/presets.js';

const positive = z.number().positive();

/** No model generates a million tokens in one answer: a larger max_tokens is a typo, refused before anything is spent. */
export const MAX_TOKENS_LIMIT = 1_000_000;
const maxTokensSchema = z
  .number()
  .int()
  .positive()
  .max(MAX_TOKENS_LIMIT, `at most ${MAX_TOKENS_LIMIT} tokens per answer (is it a typo?)`);

/** An endpoint's address: http(s) only (a file:// or other scheme is not an endpoint). */
const httpURL = z
  .string()
  .url()
  .refine((value) => /^https?:\/\//i.test(value), 'an http:// or https:// URL');

/** Fewer parameters than this is implausible for an LLM (the smallest are ~1e7): a count missing its unit. */
export const MIN_PLAUSIBLE_PARAMS = 1e6;

export const SamplingParamsSchema = z
  .object({
    temperature: z.number().min(0).max(2).default(0.7),
    topP: z.number().gt(0).max(1).default(1),
    maxTokens: maxTokensSchema.default(512),
    seed: z.number().int().nonnegative().default(0),
    stop: z.array(z.string()).default([]),
  })
  .strict();

export const FewShotSchema = z.object({ question: z.string().min(1), answer: z.string().min(1) }).strict();

/**
 * A model's prompt. `preset` names standard few-shot exemplars (core/prompts/presets.ts:
 * 'math-4shot-minerva', 'gsm8k-8shot-cot'); `system`, `user` and `fewShot` given beside it override the
 * preset's. Without a preset: no system prompt, `{question}` as the user message, no few-shot.
 */
export const PromptSchema = z
  .object({
    preset: z.enum(PROMPT_PRESET_NAMES).optional(),
    system: z.string().optional(),
    /** `{question}` is replaced by the problem text. */
    user: z.string().optional(),
    fewShot: z.array(FewShotSchema).optional(),
  })
  .strict()
  .transform(({ preset, ...fields }) => resolvePrompt(preset, fields));

export const PriceSchema = z
  .object({
    inputPerMillion: z.number().nonnegative(),
    outputPerMillion: z.number().nonnegative(),
  })
  .strict();

export const ModelSchema = z
  .object({
    /** The model id the endpoint serves. */
    model: z.string().min(1),
    baseURL: httpURL,
    /** Name of the environment variable holding the API key (never the key itself). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name like OPENAI_API_KEY')
      .optional(),
    /** Parameter count, e.g. 9e9 or "9B". */
    params: z.union([positive, z.string()]).transform((value, ctx) => {
      const parsed = parseParamCount(value);
      if (parsed === null) {
        ctx.addIssue({ code: 'custom', message: 'expected a parameter count like 9e9 or "9B"' });
        return z.NEVER;
      }
      if (parsed < MIN_PLAUSIBLE_PARAMS) {
        ctx.addIssue({ code: 'custom', message: implausibleParamsMessage(value, parsed) });
        return z.NEVER;
      }
      return parsed;
    }),
    price: PriceSchema.optional(),
    prompt: PromptSchema.prefault({}),
    sampling: SamplingParamsSchema.prefault({}),
    /** Concurrent requests per worker process to this endpoint. */
    concurrency: z.number().int().positive().default(8),
    requestsPerMinute: z.number().positive().optional(),
    tokensPerMinute: z.number().positive().optional(),
    /** Whether the endpoint accepts `n` > 1 in one request. */
    supportsN: z.boolean().default(true),
    /** Largest `n` per request when supported. */
    maxN: z.number().int().positive().default(16),
    /** Seconds before a request is abandoned and retried. */
    requestTimeoutSeconds: z.number().positive().default(120),
    /** Where and how this model is finetuned (OpenAI fine-tuning protocol); defaults to its own endpoint. */
    fineTuning: z
      .object({
        /** Fine-tuning service (files + fine_tuning.jobs); default: the model's baseURL. */
        baseURL: httpURL.optional(),
        apiKeyEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
          .optional(),
        /** The base model's id at the fine-tuning service; default: `model`. */
        model: z.string().optional(),
        /** Where finetuned models are served for evaluation; default: the fine-tuning service's baseURL. */
        servingBaseURL: httpURL.optional(),
        servingApiKeyEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
          .optional(),
        /**
         * Whether the service trains a given number of steps (`n_steps`, an extension the local engine has).
         * False (OpenAI): wcse sends the epochs closest to finetune.steps and the report flags the mismatch.
         */
        supportsSteps: z.boolean().default(true),
      })
      .strict()
      .optional(),
  })
  .strict();

export const ProblemsSchema = z
  .object({
    /** JSONL file, relative to the config file. */
    path: z.string().min(1),
    kind: z.enum(['gsm8k', 'math', 'generic']),
    /** Field names for `generic` (and overrides for the others). */
    fields: z
      .object({
        question: z.string().optional(),
        answer: z.string().optional(),
        id: z.string().optional(),
        level: z.string().optional(),
        /**
         * The human-written solution (the `gold` data source's training text); default `answer` for gsm8k
         * (its worked solution ending `#### N`), `solution` for math, none for generic.
         */
        solution: z.string().optional(),
      })
      .strict()
      .prefault({}),
    /** Answer format the verifier uses; defaults from `kind`. */
    answerFormat: z.enum(['gsm8k', 'math']).optional(),
    limit: z.number().int().positive().optional(),
    /** Seed for the random subset when `limit` is set; without it the first `limit` rows are used. */
    seed: z.number().int().nonnegative().optional(),
    /**
     * Training problems only: this many questions are held out of the file (a seeded random subset, drawn
     * before `limit`, seed `seed` or 0) and never sampled or trained on. They are model selection's
     * validation set when `finetune.validation` is not given: held-out training-distribution questions,
     * never the test set.
     */
    holdOut: z.number().int().positive().optional(),
  })
  .strict();

// Fields every budget mode has: the plan's token estimate and what counts as FLOPs.
const budgetEstimateFields = {
  /** Expected completion tokens per sample, for the plan's estimate only (default: max_tokens). */
  expectedTokensPerSample: z.number().positive().optional(),
  /** Whether prompt tokens count as FLOPs (dollars always include the prompt tokens you are billed for). */
  countPromptTokens: z.boolean().default(false),
};

/** Budgeted modes: samples per question drawn in one round; a round starts only if its worst case fits. */
const samplesPerRound = z.number().int().positive().default(1);

export const BudgetSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('ratio'),
      /** S_SE: samples per question for the SE model; WC gets S_SE * P_SE / P_WC. */
      samplesPerQuestion: z.number().int().positive(),
      /** How a fractional S_WC is turned into a count: floor never spends more than SE's budget. */
      rounding: z.enum(['floor', 'round', 'ceil']).default('floor'),
      ...budgetEstimateFields,
    })
    .strict(),
  z
    .object({
      mode: z.literal('flops'),
      /** FLOPs budget for each source (the same number is what makes it compute-matched). */
      flopsPerSource: positive,
      samplesPerRound,
      ...budgetEstimateFields,
    })
    .strict(),
  z
    .object({
      mode: z.literal('price'),
      /** Dollar budget for each source. */
      usdPerSource: positive,
      samplesPerRound,
      ...budgetEstimateFields,
    })
    .strict(),
]);

/** The judge's prompt unless `analysis.judge.prompt` gives another: the same for training data and test outputs. */
export const DEFAULT_JUDGE_PROMPT =
  'You are grading a solution to a math problem. The final answer is known to be correct. ' +
  'Decide whether the reasoning is also correct: no wrong steps, no unjustified leaps, no lucky guesses.\n\n' +
  'Problem:\n{question}\n\nReference answer: {gold}\n\nSolution:\n{solution}\n\n' +
  'Reply with one word on the last line: VALID or INVALID.';

export const JudgeSchema = z
  .object({
    /** Correct-answer solutions judged per source. */
    sampleSize: z.number().int().positive().default(50),
    seed: z.number().int().nonnegative().default(0),
    prompt: z.string().default(DEFAULT_JUDGE_PROMPT),
  })
  .strict();

/**
 * The FPR of evaluated models' test outputs (`evaluation.judgeOutputs`; off when absent): after each
 * evaluation's greedy pass, a seeded sample of its correct outputs, stratified by level like the training
 * data's (core/fpr-sample.ts), is rated by models.judge with the analysis judge's prompt. The paper judged
 * 500 outputs per model; the default here is 50.
 */
export const JudgeOutputsSchema = z
  .object({
    /** Correct test outputs judged per evaluation (all of them when fewer). The paper: 500. */
    sampleSize: z.number().int().positive().default(50),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();

export const HyperparametersSchema = z
  .object({
    /** Train by epochs instead of finetune.steps: unmatched (the larger dataset gets more steps), and flagged. */
    epochs: z.number().int().positive().optional(),
    /** Multiplier of the service's default learning rate (OpenAI style)... */
    learningRateMultiplier: z.number().positive().optional(),
    /** ...or an absolute learning rate (sent as an extension field; local engine, most trainers). */
    learningRate: z.number().positive().optional(),
    batchSize: z.number().int().positive().optional(),
    /** LoRA adapters or full finetuning, where the backend offers the choice. */
    method: z.enum(['lora', 'full']).optional(),
  })
  .strict();

export const FinetuneSchema = z
  .object({
    backend: z.enum(['openai']).default('openai'),
    setups: z
      .object({
        student: z.boolean().default(true),
        wc: z.boolean().default(true),
        se: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** The same hyperparameters for both data sources of a setup: the comparison stays fair. */
    hyperparameters: HyperparametersSchema.prefault({}),
    /** Optimizer steps of every job, whatever its dataset size (default 100; matched training). */
    steps: z.number().int().positive().optional(),
    /** Examples per optimizer step (default 8, or hyperparameters.batchSize). */
    batchSize: z.number().int().positive().optional(),
    /**
     * Model selection: one job per learning rate (absolute, sent as `learning_rate`), each leaving `checkpoints`
     * evenly spaced servable checkpoints; every checkpoint is scored on `validation` and the best one is evaluated
     * on the test set.
     */
    learningRates: z.array(positive).min(1).optional(),
    /** Evenly spaced checkpoints per job (the last one is the final model); the service's own when it has them. */
    checkpoints: z.number().int().min(1).max(50).optional(),
    /** Held-out training-distribution questions that score checkpoints (never the test set). */
    validation: ProblemsSchema.optional(),
    suffix: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,40}$/)
      .default('wcse'),
    pollIntervalSeconds: z.number().positive().default(15),
    /** A job running longer than this is cancelled and fails its step. */
    maxJobHours: z.number().positive().default(72),
  })
  .strict();

/**
 * The warm-up stage: before sampling, WC and SE are each finetuned on the reference solutions of warm-up
 * problems (disjoint from the study's problems and test questions), in the evaluation prompt's format with
 * "The answer is N." ending each solution; the warmed-up models are then WC and SE everywhere (sampling,
 * and the bases of the WC-LM and SE-LM setups). For models too small to follow the answer format at all.
 */
export const WarmupSchema = z
  .object({
    /** Problems with GSM8K-style reference solutions (`answer`: worked solution ending "#### N"). */
    problems: ProblemsSchema,
    /** Optimizer steps of each warm-up job (the same for WC and SE). */
    steps: z.number().int().positive(),
    /** Examples per optimizer step. */
    batchSize: z.number().int().positive().default(8),
    hyperparameters: HyperparametersSchema.prefault({}),
    pollIntervalSeconds: z.number().positive().default(15),
    /** A warm-up job running longer than this is cancelled and fails the stage. */
    maxJobHours: z.number().positive().default(72),
  })
  .strict();

/** maj@k beside greedy pass@1 (the paper: k in {1, 4, 8, 16} at temperature 0.7). */
export const MajoritySchema = z
  .object({
    /** maj@k is reported for each k; see core/majority.ts for the estimator. */
    k: z.array(z.number().int().positive()).nonempty().default([1, 4, 8, 16]),
    temperature: z.number().min(0).max(2).default(0.7),
    /** Samples drawn per question (at least the largest k); default: the largest k. */
    samples: z.number().int().positive().optional(),
  })
  .strict();

const testSetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, ".", "_" or "-"');

export const EvaluationSchema = z
  .object({
    /** The held-out test split (e.g. MATH500): one test set named "test". Or `testSets`, not both. */
    problems: ProblemsSchema.optional(),
    /**
     * Named test sets (e.g. `math500: {...}`, `gsm8k: {...}`): every finetuned and base model is evaluated
     * on each. The first is the headline set.
     */
    testSets: z.record(testSetName, ProblemsSchema).optional(),
    /** Samples per question: 1 is greedy pass@1; k > 1 adds pass@k and maj@k. */
    samples: z.number().int().positive().default(1),
    temperature: z.number().min(0).max(2).default(0),
    maxTokens: z.number().int().positive().optional(),
    batchSize: z.number().int().positive().default(16),
    /** maj@k curve from a second, sampled pass (off when absent). */
    majority: MajoritySchema.optional(),
    /** Judge a sample of each evaluation's correct greedy outputs (needs models.judge; off when absent). */
    judgeOutputs: JudgeOutputsSchema.optional(),
    /**
     * The prompt of finetuning data and of every evaluation (base and finetuned alike, so they compare):
     * system + user template, no few-shot. A `preset` supplies its system and user template only.
     */
    prompt: z
      .object({
        preset: z.enum(PROMPT_PRESET_NAMES).optional(),
        system: z.string().optional(),
        user: z.string().optional(),
      })
      .strict()
      .transform(({ preset, ...fields }) => {
        const { system, user } = resolvePrompt(preset, { ...fields, fewShot: [] });
        return { ...(system !== undefined ? { system } : {}), user };
      })
      .prefault({}),
  })
  .strict();

/** The test sets of an evaluation, headline first; a single `problems` split is the set named "test". */
export function testSetsOf(evaluation: Pick<EvaluationConfig, 'problems' | 'testSets'>): Array<{
  name: string;
  problems: ProblemsConfig;
}> {
  if (evaluation.testSets) {
    return Object.entries(evaluation.testSets).map(([name, problems]) => ({ name, problems }));
  }
  return evaluation.problems ? [{ name: 'test', problems: evaluation.problems }] : [];
}

/** Samples per question of the maj@k pass: `samples`, or the largest k. */
export function majoritySamples(majority: MajorityConfig): number {
  return majority.samples ?? Math.max(...majority.k);
}

export const ExperimentConfigSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, ".", "_" or "-"'),
    /** Where artifacts go, relative to the config file. */
    runDir: z.string().optional(),
    problems: ProblemsSchema,
    models: z
      .object({
        wc: ModelSchema,
        se: ModelSchema,
        judge: ModelSchema.optional(),
        student: ModelSchema.optional(),
      })
      .strict(),
    budget: BudgetSchema,
    sampling: z
      .object({
        /** Questions per sampling activity: the unit of idempotency and retry. */
        batchSize: z.number().int().positive().default(8),
        /**
         * Budgeted modes: up to this many rounds' samples of a batch are drawn by one activity (in requests of
         * up to `maxN` choices where the endpoint takes `n`), as long as the worst case of all of them fits in
         * what is left; near the end of the budget the rounds that fit are fewer, down to one. The budget
         * checks are those of one round per activity (a request of n choices bills its prompt once, so it
         * may buy more samples); the activities are about this many times fewer. 1: one round per activity.
         * Default `DEFAULT_ROUNDS_PER_ACTIVITY`.
         */
        roundsPerActivity: z.number().int().positive().optional(),
      })
      .strict()
      .prefault({}),
    analysis: z.object({ judge: JudgeSchema.optional() }).strict().prefault({}),
    // The paper's finetuning data: every correct solution of every training question. De-duplication, a
    // per-question cap and a validation holdout are options, all off by default (checkpoint selection
    // uses a separate held-out question split, not this one).
    datasets: z
      .object({
        /** Drop a solution identical (up to whitespace) to an earlier one of the same question. */
        dedupe: z.boolean().default(false),
        /** Keep at most this many correct solutions per question (default: no cap). */
        maxPerQuestion: z.number().int().positive().optional(),
        /** Fraction of training questions withheld for eval loss during finetuning (default 0). */
        validationFraction: z.number().min(0).max(0.5).default(0),
        seed: z.number().int().nonnegative().default(0),
        /**
         * A third finetuning data source, `gold` (the paper's GT row): one human-written solution per training
         * question, from the problem file's solution field (`problems.fields.solution`), finetuned in every
         * setup exactly like WC and SE data. Off by default (a generic problem file need not carry
         * solutions); with it on, a training problem without a solution fails the prepare stage.
         */
        gold: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    verifier: z
      .object({
        /**
         * When no marked answer (box, "The final answer is", "Answer:") is found, take the last number in
         * the text. Default: on for gsm8k, off for math (the paper grades MATH by its final answer only).
         */
        lastNumberFallback: z.boolean().optional(),
      })
      .strict()
      .prefault({}),
    warmup: WarmupSchema.optional(),
    finetune: FinetuneSchema.optional(),
    evaluation: EvaluationSchema.optional(),
    /**
     * `wcse run` asks for `--yes` when the plan exceeds any of these (totals over both sources); defaults
     * in core/plan.ts (`DEFAULT_CONFIRM_ABOVE`). Absent from configs that do not set it.
     */
    confirmAbove: z
      .object({
        samples: positive.optional(),
        flops: positive.optional(),
        usd: positive.optional(),
      })
      .strict()
      .optional(),
    temporal: z
      .object({
        namespace: z.string().default('default'),
        taskQueue: z.string().default('wcse'),
        /**
         * Task queues per worker role (core/task-queues.ts): a role left out runs on `taskQueue`, so by
         * default everything is on one queue. `sampling` may name one queue per source ({ wc, se }).
         */
        taskQueues: z
          .object({
            sampling: z
              .union([z.string().min(1), z.object({ wc: z.string().min(1), se: z.string().min(1) }).strict()])
              .optional(),
            cpu: z.string().min(1).optional(),
            finetune: z.string().min(1).optional(),
            eval: z.string().min(1).optional(),
          })
          .strict()
          .optional(),
        /** A worker that stops heartbeating this long is presumed dead and its activity is retried elsewhere. */
        heartbeatTimeoutSeconds: z.number().positive().default(60),
        /**
         * The longest one attempt of verify, analyse or datasets may run; default 1 hour plus 1 hour per
         * million samples of the run (workflows/activity-options.ts runDirStageTimeout).
         */
        stageTimeoutMinutes: z.number().positive().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;

/** `sampling.roundsPerActivity` when the config does not give it. */
export const DEFAULT_ROUNDS_PER_ACTIVITY = 8;
export type ModelConfig = z.infer<typeof ModelSchema>;
export type SamplingParams = z.infer<typeof SamplingParamsSchema>;
export type BudgetConfig = z.infer<typeof BudgetSchema>;
export type ProblemsConfig = z.infer<typeof ProblemsSchema>;
export type HyperparametersConfig = z.infer<typeof HyperparametersSchema>;
export type FinetuneConfig = z.infer<typeof FinetuneSchema>;
export type EvaluationConfig = z.infer<typeof EvaluationSchema>;
export type MajorityConfig = z.infer<typeof MajoritySchema>;
export type WarmupConfig = z.infer<typeof WarmupSchema>;
export type Source = 'wc' | 'se';
export const SOURCES: readonly Source[] = ['wc', 'se'];
/** A finetuning data source: a sampled source, or `gold` (the problems' human-written solutions). */
export type DataSource = Source | 'gold';
export const DATA_SOURCES: readonly DataSource[] = ['wc', 'se', 'gold'];

/**
 * `datasets.gold` (false for configs recorded in workflow histories before the gold source existed).
 */
export function goldSourceOf(config: ExperimentConfig): boolean {
  return (config.datasets as Partial<ExperimentConfig['datasets']>).gold === true;
}

/** The error for a parameter count below `MIN_PLAUSIBLE_PARAMS`, suggesting the unit it probably lacks. */
function implausibleParamsMessage(value: number | string, parsed: number): string {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  // The number as written, without a unit it may have had ("135k" suggests "135M").
  const bare = typeof value === 'string' ? value.trim().replace(/\s*[kmbt]$/i, '') : String(parsed);
  return (
    `${shown} is ${parsed.toExponential(2)} parameters, implausible for an LLM (fewer than ` +
    `${MIN_PLAUSIBLE_PARAMS.toExponential(0)}); did you mean "${bare}M" (${bare}e6) or "${bare}B" (${bare}e9)?`
  );
}

/** Parses 9e9, "9e9", "9B", "270M", "1.5b". */
export function parseParamCount(value: number | string): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : null;
  const match = value.trim().match(/^(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmbt]?)$/i);
  if (!match) return null;
  const scale = { '': 1, k: 1e3, m: 1e6, b: 1e9, t: 1e12 }[
    match[2].toLowerCase() as '' | 'k' | 'm' | 'b' | 't'
  ];
  const parsed = Number(match[1]) * scale;
  return parsed > 0 ? parsed : null;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid config\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates an already-parsed YAML document; errors name the field path and what was expected. */
export function validateConfig(raw: unknown, file: string): ExperimentConfig {
  const result = ExperimentConfigSchema.safeParse(raw);
  if (result.success) {
    const problems = crossFieldProblems(result.data);
    if (problems.length) throw new ConfigError(file, problems);
    return result.data;
  }
  throw new ConfigError(
    file,
    result.error.issues.map((issue) => {
      const field = issue.path.length ? issue.path.join('.') : '(top level)';
      return `${field}: ${issue.message}`;
    }),
  );
}

/**
 * `verifier.lastNumberFallback` (undefined: the answer format's default). Configs recorded in workflow
 * histories before the `verifier` section existed lack it, so it is read as optional.
 */
export function lastNumberFallbackOf(config: ExperimentConfig): boolean | undefined {
  const verifier = (config as Partial<Pick<ExperimentConfig, 'verifier'>>).verifier;
  return verifier?.lastNumberFallback;
}

export function answerFormatOf(problems: ProblemsConfig): 'gsm8k' | 'math' {
  return problems.answerFormat ?? (problems.kind === 'gsm8k' ? 'gsm8k' : 'math');
}

/** Rules that span fields: a student setup needs a student model, finetuning needs an evaluation split. */
export function crossFieldProblems(config: ExperimentConfig): string[] {
  const problems: string[] = [];
  if (config.finetune) {
    if (config.finetune.setups.student && !config.models.student) {
      problems.push('finetune.setups.student: the student setup needs models.student (or set it to false)');
    }
    if (!config.evaluation)
      problems.push('evaluation: finetuned models need a held-out test split to be evaluated on');
    problems.push(...trainingProblems(config.finetune, config.problems.holdOut !== undefined));
  }
  if (config.evaluation) problems.push(...evaluationProblems(config.evaluation));
  if (config.evaluation?.judgeOutputs && !config.models.judge)
    problems.push('evaluation.judgeOutputs: judging test outputs needs a judge model (models.judge)');
  const heldOutElsewhere = [
    ...(config.finetune?.validation?.holdOut !== undefined ? ['finetune.validation.holdOut'] : []),
    ...(config.evaluation?.problems?.holdOut !== undefined ? ['evaluation.problems.holdOut'] : []),
    ...Object.entries(config.evaluation?.testSets ?? {})
      .filter(([, set]) => set.holdOut !== undefined)
      .map(([name]) => `evaluation.testSets.${name}.holdOut`),
  ];
  for (const field of heldOutElsewhere)
    problems.push(
      `${field}: only the training problems (problems.holdOut) hold questions out for validation`,
    );
  return problems;
}

/** One way to give the test split; enough maj@k samples for the largest k. */
function evaluationProblems(evaluation: EvaluationConfig): string[] {
  const problems: string[] = [];
  if (!evaluation.problems && !evaluation.testSets)
    problems.push('evaluation: give the test split as `problems` or as named `testSets`');
  if (evaluation.problems && evaluation.testSets)
    problems.push('evaluation.testSets: give `problems` (one set named "test") or `testSets`, not both');
  if (evaluation.testSets && !Object.keys(evaluation.testSets).length)
    problems.push('evaluation.testSets: name at least one test set');
  const majority = evaluation.majority;
  if (majority && majoritySamples(majority) < Math.max(...majority.k)) {
    problems.push(
      `evaluation.majority.samples: ${majoritySamples(majority)} samples per question cannot give ` +
        `maj@${Math.max(...majority.k)}; draw at least the largest k`,
    );
  }
  return problems;
}

/** finetune.steps and hyperparameters.epochs are two ways to say how long to train: one at a time. */
function trainingProblems(finetune: FinetuneConfig, heldOut: boolean): string[] {
  const problems: string[] = [];
  const { steps, batchSize, hyperparameters } = finetune;
  if (steps !== undefined && hyperparameters.epochs !== undefined) {
    problems.push(
      'finetune.steps and finetune.hyperparameters.epochs: give one (steps are matched across data sources, epochs are not)',
    );
  }
  const selecting = (finetune.learningRates?.length ?? 0) > 1 || (finetune.checkpoints ?? 1) > 1;
  if (selecting && !finetune.validation && !heldOut) {
    problems.push(
      'finetune.validation: choosing among learning rates or checkpoints needs held-out validation problems ' +
        '(never the test set): give a problem file here, or hold questions out of the training file with problems.holdOut',
    );
  }
  if (finetune.learningRates && hyperparameters.learningRate !== undefined) {
    problems.push('finetune.learningRates and finetune.hyperparameters.learningRate: give one');
  }
  if (
    batchSize !== undefined &&
    hyperparameters.batchSize !== undefined &&
    batchSize !== hyperparameters.batchSize
  ) {
    problems.push(
      `finetune.batchSize (${batchSize}) and finetune.hyperparameters.batchSize (${hyperparameters.batchSize}) differ: give one`,
    );
  }
  return problems;
}
