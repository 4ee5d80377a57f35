// Coverage/diversity curves and the LLM-judged false-positive rate, from stored verdicts.
import { createHash } from 'node:crypto';
import type { FprResult, MetricsFile, Problem } from '../core/records.js';
import { Context } from '@temporalio/activity';
import { SOURCES, type ModelConfig, type Source } from '../core/config.js';
import { stratifiedSample } from '../core/fpr-sample.js';
import { stableSeed } from '../core/hash.js';
import { judgeResultKey, judgmentKey, METRICS_KEY, verdictsMetaKey } from '../core/layout.js';
import {
  leastSamples,
  MetricsAccumulator,
  solutionIdentity,
  UNIQUE_SOLUTION_DEFINITION,
  wilsonInterval,
} from '../core/metrics.js';
import { promptTokensUpperBound, type ChatMessage } from '../core/prompt.js';
import { callChat } from './endpoint.js';
import { heartbeatEvery, heartbeatWhile, resumedCheckpoint } from './heartbeat.js';
import { QuestionBuckets } from './question-buckets.js';
import { problemsById } from './run-data.js';
import { openStore, readJson, writeJson, type ArtifactStore } from './store.js';
import { loadVerifiedSamples, verifiedSamples } from './verify.js';

/** Rows of correct samples (their solution identity's hash) per analyse scratch bucket. */
const ANALYSE_ROWS_PER_BUCKET = 500_000;

/** How far an analyse attempt got (its heartbeat details): the sources already measured. */
interface AnalyseCheckpoint {
  kind: 'analyse';
  done: Partial<MetricsFile['sources']>;
}

/**
 * One source's metrics in one streamed pass over its verified samples: per question, the number of samples
 * and the identities (hashed) of its correct ones, grouped by question in scratch buckets; then per bucket
 * each question's tally into the curves. Memory: the problem ids plus one bucket, whatever the run's size.
 */
async function measureSource(
  store: ArtifactStore,
  source: Source,
  problems: Map<string, Problem>,
  beat: (details?: unknown) => Promise<void> | undefined,
  details: unknown,
): Promise<Omit<MetricsFile['sources'][Source], 'fpr'>> {
  const ids = [...problems.keys()];
  const meta = await readJson<{ correct?: number }>(store, verdictsMetaKey(source));
  const buckets = await QuestionBuckets.open<string>(ids, meta?.correct ?? 0, ANALYSE_ROWS_PER_BUCKET);
  try {
    const samplesOf = new Map<string, number>(ids.map((id) => [id, 0]));
    const extractionFailures = { noAnswer: 0, truncated: 0 };
    for await (const sample of verifiedSamples(store, source)) {
      if (sample.reason === 'no-answer') extractionFailures.noAnswer++;
      if (sample.reason === 'truncated') extractionFailures.truncated++;
      const count = samplesOf.get(sample.questionId);
      if (count === undefined) continue;
      samplesOf.set(sample.questionId, count + 1);
      if (sample.correct) {
        const identity = createHash('sha256').update(solutionIdentity(sample.text)).digest('base64');
        await buckets.add(sample.questionId, identity);
      }
      await beat(details);
    }
    const accumulator = new MetricsAccumulator(
      leastSamples(ids.map((id) => ({ samples: samplesOf.get(id)! }))),
    );
    for await (const bucket of buckets.buckets()) {
      for (const [questionId, identities] of bucket) {
        const multiplicity = new Map<string, number>();
        for (const identity of identities) multiplicity.set(identity, (multiplicity.get(identity) ?? 0) + 1);
        const level = problems.get(questionId)!.level;
        accumulator.add({
          ...(level === undefined ? {} : { level }),
          samples: samplesOf.get(questionId)!,
          correct: identities.length,
          multiplicities: [...multiplicity.values()],
        });
        await beat(details);
      }
    }
    return { ...accumulator.result(), extractionFailures };
  } finally {
    await buckets.close();
  }
}

export async function analyseRun(input: { runDir: string }): Promise<{ artifact: string }> {
  const store = openStore(input.runDir);
  const context = Context.current();
  const beat = heartbeatEvery(context);
  const problems = await problemsById(store);
  const checkpoint = resumedCheckpoint<AnalyseCheckpoint>(
    context,
    (d) => (d as AnalyseCheckpoint).kind === 'analyse',
  ) ?? { kind: 'analyse', done: {} };
  const sources = {} as MetricsFile['sources'];
  for (const source of SOURCES) {
    // A retried attempt continues after the sources its predecessor finished.
    const measured =
      checkpoint.done[source] ?? (await measureSource(store, source, problems, beat, checkpoint));
    const fpr = await readJson<FprResult>(store, judgeResultKey(source));
    sources[source] = { ...measured, fpr };
    checkpoint.done[source] = measured as MetricsFile['sources'][Source];
    context.heartbeat(checkpoint);
  }
  const metrics: MetricsFile = {
    definitions: {
      coverageAtK:
        'Expected fraction of questions with at least one correct solution among k of the S samples, ' +
        'drawn without replacement (unbiased pass@k estimator).',
      diversityAtK:
        'Expected number of unique correct solutions per question among k of the S samples, drawn ' +
        'without replacement, averaged over all questions (a question with no correct sample counts as 0).',
      diversityAtKSolved:
        'The same expected number of unique correct solutions among k of the S samples, summed over all ' +
        'questions and divided by the number of solved questions (those with at least one correct sample ' +
        'among all S). At k = S it is the mean number of unique correct solutions of a solved question. It ' +
        'is not conditioned on a correct sample among the k drawn.',
      uniqueSolution: UNIQUE_SOLUTION_DEFINITION,
      fpr:
        'Among judged solutions whose final answer is correct, the fraction whose reasoning the judge ' +
        'model called INVALID; 95% Wilson interval.',
      extractionFailure:
        'A sample in which the verifier found no final answer to grade: none in the text (no-answer), or ' +
        'the output was cut off at the token limit (truncated). Both count as incorrect.',
    },
    sources,
  };
  await writeJson(store, METRICS_KEY, metrics);
  return { artifact: METRICS_KEY };
}

export interface JudgeInput {
  runDir: string;
  source: Source;
  judge: ModelConfig;
  sampleSize: number;
  seed: number;
  prompt: string;
}

export interface SavedJudgment {
  questionId: string;
  sampleIndex: number;
  verdict: 'valid' | 'invalid' | 'unparsed';
  reply: string;
}

/**
 * Asks the judge model about a seeded sample of correct-answer solutions, through the same endpoint path
 * as sampling (concurrency, requests and tokens per minute); each judgment is saved once.
 */
export async function judgeFalsePositives(input: JudgeInput): Promise<FprResult> {
  const store = openStore(input.runDir);
  const problems = await problemsById(store);
  const correct = (await loadVerifiedSamples(store, input.source)).filter((s) => s.correct);
  const chosen = fprSample(correct, problems, input.sampleSize, input.seed);
  const judgments = await judgeSolutions(store, problems, chosen, input, (sample) =>
    judgmentKey(input.source, sample.questionId, sample.sampleIndex),
  );
  const result: FprResult = {
    source: input.source,
    ...judgedRate(judgments),
    judgeModel: input.judge.model,
    correctSamples: correct.length,
    stratifiedByLevel: correct.some((sample) => problems.get(sample.questionId)?.level !== undefined),
  };
  await writeJson(store, judgeResultKey(input.source), result);
  return result;
}

/** A correct-answer solution put to the judge, with the answer it reached (absent: the problem's gold). */
export interface JudgedSolution {
  questionId: string;
  sampleIndex: number;
  text: string;
  extracted?: string | null;
}

/**
 * The judge's verdicts on `chosen` (in its order), each asked through the same endpoint path as sampling
 * and saved under `keyOf(solution)` once paid for; a saved judgment is never asked again. The judge model,
 * its prompt template ({question}, {gold}, {solution}) and the seed of its requests come from `request`.
 */
export async function judgeSolutions<T extends JudgedSolution>(
  store: ArtifactStore,
  problems: ReadonlyMap<string, Problem>,
  chosen: readonly T[],
  request: Pick<JudgeInput, 'judge' | 'prompt' | 'seed'>,
  keyOf: (solution: T) => string,
): Promise<SavedJudgment[]> {
  const context = Context.current();
  const what = `judge model ${request.judge.model} at ${request.judge.baseURL}`;
  let judged = 0;
  let firstError: unknown = null;

  const judge = async (sample: T): Promise<SavedJudgment | null> => {
    const key = keyOf(sample);
    const saved = await readJson<SavedJudgment>(store, key);
    if (saved) return saved;
    if (firstError) return null;
    const problem = problems.get(sample.questionId)!;
    const content = request.prompt
      .split('{question}')
      .join(problem.question)
      .split('{gold}')
      .join(sample.extracted ?? problem.gold)
      .split('{solution}')
      .join(sample.text);
    const messages: ChatMessage[] = [{ role: 'user', content }];
    const response = await callChat(
      request.judge,
      {
        model: request.judge.model,
        messages,
        temperature: 0,
        max_tokens: request.judge.sampling.maxTokens,
        seed: stableSeed(request.seed, sample.questionId, sample.sampleIndex),
      },
      {
        what,
        signal: context.cancellationSignal,
        promptTokensBound: promptTokensUpperBound(messages),
        stillWanted: () => !firstError,
      },
    );
    if (!response) return null;
    const reply = response.data.choices[0]?.message?.content ?? '';
    const judgment: SavedJudgment = {
      questionId: sample.questionId,
      sampleIndex: sample.sampleIndex,
      verdict: parseJudgeVerdict(reply),
      reply,
    };
    await writeJson(store, key, judgment);
    judged++;
    return judgment;
  };

  // Liveness while judgments wait on the judge's limits, which may hold them for minutes.
  const stopHeartbeats = heartbeatWhile(context, () => ({ judged }));
  const results = await Promise.allSettled(
    chosen.map((sample) =>
      judge(sample).catch((error: unknown) => {
        firstError ??= error;
        throw error;
      }),
    ),
  );
  stopHeartbeats();
  // Every request in flight has ended (and its judgment is saved) before the attempt fails.
  if (firstError) throw firstError;
  return results.map((result) => (result as PromiseFulfilledResult<SavedJudgment>).value);
}

/** The false-positive rate of judgments: INVALID among those with a verdict, with its 95% Wilson interval. */
export function judgedRate(
  judgments: readonly SavedJudgment[],
): Pick<FprResult, 'judged' | 'invalid' | 'unparsed' | 'fpr' | 'ci'> {
  const parsed = judgments.filter((j) => j.verdict !== 'unparsed');
  const invalid = parsed.filter((j) => j.verdict === 'invalid').length;
  return {
    judged: parsed.length,
    invalid,
    unparsed: judgments.length - parsed.length,
    fpr: parsed.length ? invalid / parsed.length : null,
    ci: parsed.length ? wilsonInterval(invalid, parsed.length) : null,
  };
}

/**
 * The correct-answer solutions rated for the FPR: `stratifiedSample` by their problems' levels. The judge
 * and the human labelling sheet (`wcse label`) both draw with it, so with the same seed a human sample no
 * larger than the judge's is a subset of it.
 */
export function fprSample<T extends { questionId: string; sampleIndex: number }>(
  correct: readonly T[],
  problems: ReadonlyMap<string, Problem>,
  count: number,
  seed: number,
): T[] {
  return stratifiedSample(correct, {
    count,
    seed,
    keyOf: (sample) => `${sample.questionId}\u0000${sample.sampleIndex}`,
    levelOf: (sample) => problems.get(sample.questionId)?.level,
  });
}

/** The last VALID/INVALID word of the reply decides. */
export function parseJudgeVerdict(reply: string): 'valid' | 'invalid' | 'unparsed' {
  const words = reply.toUpperCase().match(/\b(INVALID|VALID)\b/g);
  if (!words) return 'unparsed';
  return words[words.length - 1] === 'INVALID' ? 'invalid' : 'valid';
}
