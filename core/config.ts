// The experiment config: one YAML file, validated before anything starts or is spent.
// Secrets never live here: a model names the environment variable that holds its API key.
import { z } from 'zod';

const positive = z.number().positive();

export const SamplingParamsSchema = z
  .object({
    temperature: z.number().min(0).max(2).default(0.7),
    topP: z.number().gt(0).max(1).default(1),
    maxTokens: z.number().int().positive().default(512),
    seed: z.number().int().nonnegative().default(0),
    stop: z.array(z.string()).default([]),
  })
  .strict();

export const FewShotSchema = z.object({ question: z.string().min(1), answer: z.string().min(1) }).strict();

export const PromptSchema = z
  .object({
    system: z.string().optional(),
    /** `{question}` is replaced by the problem text. */
    user: z.string().default('{question}'),
    fewShot: z.array(FewShotSchema).default([]),
  })
  .strict();

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
    baseURL: z.string().url(),
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
        baseURL: z.string().url().optional(),
        apiKeyEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
          .optional(),
        /** The base model's id at the fine-tuning service; default: `model`. */
        model: z.string().optional(),
        /** Where finetuned models are served for evaluation; default: the fine-tuning service's baseURL. */
        servingBaseURL: z.string().url().optional(),
        servingApiKeyEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
          .optional(),
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
      })
      .strict()
      .prefault({}),
    /** Answer format the verifier uses; defaults from `kind`. */
    answerFormat: z.enum(['gsm8k', 'math']).optional(),
    limit: z.number().int().positive().optional(),
    /** Seed for the random subset when `limit` is set; without it the first `limit` rows are used. */
    seed: z.number().int().nonnegative().optional(),
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

export const JudgeSchema = z
  .object({
    /** Correct-answer solutions judged per source. */
    sampleSize: z.number().int().positive().default(50),
    seed: z.number().int().nonnegative().default(0),
    prompt: z
      .string()
      .default(
        'You are grading a solution to a math problem. The final answer is known to be correct. ' +
          'Decide whether the reasoning is also correct: no wrong steps, no unjustified leaps, no lucky guesses.\n\n' +
          'Problem:\n{question}\n\nReference answer: {gold}\n\nSolution:\n{solution}\n\n' +
          'Reply with one word on the last line: VALID or INVALID.',
      ),
  })
  .strict();

export const HyperparametersSchema = z
  .object({
    epochs: z.number().int().positive().default(3),
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
    suffix: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,40}$/)
      .default('wcse'),
    pollIntervalSeconds: z.number().positive().default(15),
    /** A job running longer than this is cancelled and fails its step. */
    maxJobHours: z.number().positive().default(72),
  })
  .strict();

export const EvaluationSchema = z
  .object({
    /** The held-out test split (e.g. MATH500, GSM8K test). */
    problems: ProblemsSchema,
    /** Samples per question: 1 is greedy pass@1; k > 1 adds pass@k and maj@k. */
    samples: z.number().int().positive().default(1),
    temperature: z.number().min(0).max(2).default(0),
    maxTokens: z.number().int().positive().optional(),
    batchSize: z.number().int().positive().default(16),
    /**
     * The prompt of finetuning data and of every evaluation (base and finetuned alike, so they compare):
     * system + user template, no few-shot.
     */
    prompt: z
      .object({ system: z.string().optional(), user: z.string().default('{question}') })
      .strict()
      .prefault({}),
  })
  .strict();

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
      })
      .strict()
      .prefault({}),
    analysis: z.object({ judge: JudgeSchema.optional() }).strict().prefault({}),
    datasets: z
      .object({
        maxPerQuestion: z.number().int().positive().optional(),
        validationFraction: z.number().min(0).max(0.5).default(0.1),
        seed: z.number().int().nonnegative().default(0),
      })
      .strict()
      .prefault({}),
    finetune: FinetuneSchema.optional(),
    evaluation: EvaluationSchema.optional(),
    temporal: z
      .object({
        namespace: z.string().default('default'),
        taskQueue: z.string().default('wcse'),
        /** A worker that stops heartbeating this long is presumed dead and its activity is retried elsewhere. */
        heartbeatTimeoutSeconds: z.number().positive().default(60),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;
export type ModelConfig = z.infer<typeof ModelSchema>;
export type SamplingParams = z.infer<typeof SamplingParamsSchema>;
export type BudgetConfig = z.infer<typeof BudgetSchema>;
export type ProblemsConfig = z.infer<typeof ProblemsSchema>;
export type HyperparametersConfig = z.infer<typeof HyperparametersSchema>;
export type FinetuneConfig = z.infer<typeof FinetuneSchema>;
export type EvaluationConfig = z.infer<typeof EvaluationSchema>;
export type Source = 'wc' | 'se';
export const SOURCES: readonly Source[] = ['wc', 'se'];

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
  }
  return problems;
}
