// Coverage/diversity curves and the LLM-judged false-positive rate, from stored verdicts.
import type { FprResult, MetricsFile } from '../core/records.js';
import { Context } from '@temporalio/activity';
import { SOURCES, type ModelConfig, type Source } from '../core/config.js';
import { seededSubset, stableSeed } from '../core/hash.js';
import { judgeResultKey, judgmentKey, METRICS_KEY } from '../core/layout.js';
import {
  sourceMetrics,
  UNIQUE_SOLUTION_DEFINITION,
  wilsonInterval,
  type QuestionSamples,
} from '../core/metrics.js';
import { promptTokensUpperBound, type ChatMessage } from '../core/prompt.js';
import { callChat } from './endpoint.js';
import { heartbeatEvery, heartbeatWhile } from './heartbeat.js';
import { problemsById } from './run-data.js';
import { openStore, readJson, writeJson } from './store.js';
import { countExtractionFailures, loadVerifiedSamples } from './verify.js';

export async function analyseRun(input: { runDir: string }): Promise<{ artifact: string }> {
  const store = openStore(input.runDir);
  const beat = heartbeatEvery(Context.current());
  const problems = await problemsById(store);
  const sources = {} as MetricsFile['sources'];
  for (const source of SOURCES) {
    const byQuestion = new Map<string, QuestionSamples>();
    for (const problem of problems.values()) {
      byQuestion.set(problem.id, { questionId: problem.id, level: problem.level, samples: [] });
    }
    const verified = await loadVerifiedSamples(store, source);
    for (const sample of verified) {
      byQuestion.get(sample.questionId)?.samples.push({ correct: sample.correct, text: sample.text });
    }
    await beat({ source, stage: 'loaded' });
    const fpr = await readJson<FprResult>(store, judgeResultKey(source));
    sources[source] = {
      ...sourceMetrics([...byQuestion.values()]),
      fpr,
      extractionFailures: countExtractionFailures(verified),
    };
    await beat({ source, stage: 'measured' });
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

interface SavedJudgment {
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
  const chosen = seededSubset(
    correct,
    input.sampleSize,
    input.seed,
    (sample) => `${sample.questionId}\u0000${sample.sampleIndex}`,
  );
  const context = Context.current();
  const what = `judge model ${input.judge.model} at ${input.judge.baseURL}`;
  let judged = 0;
  let firstError: unknown = null;

  const judge = async (sample: (typeof chosen)[number]): Promise<SavedJudgment | null> => {
    const key = judgmentKey(input.source, sample.questionId, sample.sampleIndex);
    const saved = await readJson<SavedJudgment>(store, key);
    if (saved) return saved;
    if (firstError) return null;
    const problem = problems.get(sample.questionId)!;
    const content = input.prompt
      .split('{question}')
      .join(problem.question)
      .split('{gold}')
      .join(sample.extracted ?? problem.gold)
      .split('{solution}')
      .join(sample.text);
    const messages: ChatMessage[] = [{ role: 'user', content }];
    const response = await callChat(
      input.judge,
      {
        model: input.judge.model,
        messages,
        temperature: 0,
        max_tokens: input.judge.sampling.maxTokens,
        seed: stableSeed(input.seed, sample.questionId, sample.sampleIndex),
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
  const judgments = results.map((result) => (result as PromiseFulfilledResult<SavedJudgment>).value);
  const parsed = judgments.filter((j) => j.verdict !== 'unparsed');
  const invalid = parsed.filter((j) => j.verdict === 'invalid').length;
  const result: FprResult = {
    source: input.source,
    judged: parsed.length,
    invalid,
    unparsed: judgments.length - parsed.length,
    fpr: parsed.length ? invalid / parsed.length : null,
    ci: parsed.length ? wilsonInterval(invalid, parsed.length) : null,
    judgeModel: input.judge.model,
  };
  await writeJson(store, judgeResultKey(input.source), result);
  return result;
}

/** The last VALID/INVALID word of the reply decides. */
export function parseJudgeVerdict(reply: string): 'valid' | 'invalid' | 'unparsed' {
  const words = reply.toUpperCase().match(/\b(INVALID|VALID)\b/g);
  if (!words) return 'unparsed';
  return words[words.length - 1] === 'INVALID' ? 'invalid' : 'valid';
}
