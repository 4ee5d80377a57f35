// Coverage/diversity curves and the LLM-judged false-positive rate, from stored verdicts.
import type { FprResult, MetricsFile } from '../core/records.js';
import { Context } from '@temporalio/activity';
import { SOURCES, type ModelConfig, type Source } from '../core/config.js';
import { fnv1a64, stableSeed } from '../core/hash.js';
import {
  sourceMetrics,
  UNIQUE_SOLUTION_DEFINITION,
  wilsonInterval,
  type QuestionSamples,
} from '../core/metrics.js';
import { clientFor, limitsFor, toTemporalFailure } from './endpoint.js';
import { problemsById } from './run-data.js';
import { openStore, readJson, writeJson } from './store.js';
import { loadVerifiedSamples } from './verify.js';

export const METRICS_KEY = 'metrics.json';

export async function analyseRun(input: { runDir: string }): Promise<{ artifact: string }> {
  const store = openStore(input.runDir);
  const problems = await problemsById(store);
  const sources = {} as MetricsFile['sources'];
  for (const source of SOURCES) {
    const byQuestion = new Map<string, QuestionSamples>();
    for (const problem of problems.values()) {
      byQuestion.set(problem.id, { questionId: problem.id, level: problem.level, samples: [] });
    }
    for (const sample of await loadVerifiedSamples(store, source)) {
      byQuestion.get(sample.questionId)?.samples.push({ correct: sample.correct, text: sample.text });
    }
    const fpr = await readJson<FprResult>(store, `judge/${source}.json`);
    sources[source] = { ...sourceMetrics([...byQuestion.values()]), fpr };
  }
  const metrics: MetricsFile = {
    definitions: {
      coverageAtK:
        'Expected fraction of questions with at least one correct solution among k of the S samples, ' +
        'drawn without replacement (unbiased pass@k estimator).',
      diversityAtK:
        'Expected number of unique correct solutions per question among k of the S samples, drawn ' +
        'without replacement.',
      uniqueSolution: UNIQUE_SOLUTION_DEFINITION,
      fpr:
        'Among judged solutions whose final answer is correct, the fraction whose reasoning the judge ' +
        'model called INVALID; 95% Wilson interval.',
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

/** Asks the judge model about a seeded sample of correct-answer solutions; each judgment is saved once. */
export async function judgeFalsePositives(input: JudgeInput): Promise<FprResult> {
  const store = openStore(input.runDir);
  const problems = await problemsById(store);
  const correct = (await loadVerifiedSamples(store, input.source)).filter((s) => s.correct);
  const chosen = correct
    .map((sample) => ({
      sample,
      rank: fnv1a64(`${input.seed}\u0000${sample.questionId}\u0000${sample.sampleIndex}`),
    }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0))
    .slice(0, input.sampleSize)
    .map(({ sample }) => sample);
  const client = clientFor(input.judge);
  const limits = limitsFor(input.judge);
  const context = Context.current();
  const what = `judge model ${input.judge.model} at ${input.judge.baseURL}`;
  const judgments = await Promise.all(
    chosen.map(async (sample) => {
      const key = `judge/${input.source}/${sample.questionId}-${sample.sampleIndex}.json`;
      const saved = await readJson<SavedJudgment>(store, key);
      if (saved) return saved;
      const problem = problems.get(sample.questionId)!;
      const content = input.prompt
        .split('{question}')
        .join(problem.question)
        .split('{gold}')
        .join(sample.extracted ?? problem.gold)
        .split('{solution}')
        .join(sample.text);
      const release = await limits.concurrency.acquire();
      let reply: string;
      try {
        const response = await client.chat.completions.create(
          {
            model: input.judge.model,
            messages: [{ role: 'user', content }],
            temperature: 0,
            max_tokens: input.judge.sampling.maxTokens,
            seed: stableSeed(input.seed, sample.questionId, sample.sampleIndex),
          },
          { signal: context.cancellationSignal },
        );
        reply = response.choices?.[0]?.message?.content ?? '';
      } catch (error) {
        throw toTemporalFailure(error, what);
      } finally {
        release();
      }
      const judgment: SavedJudgment = {
        questionId: sample.questionId,
        sampleIndex: sample.sampleIndex,
        verdict: parseJudgeVerdict(reply),
        reply,
      };
      await writeJson(store, key, judgment);
      context.heartbeat();
      return judgment;
    }),
  );
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
  await writeJson(store, `judge/${input.source}.json`, result);
  return result;
}

/** The last VALID/INVALID word of the reply decides. */
export function parseJudgeVerdict(reply: string): 'valid' | 'invalid' | 'unparsed' {
  const words = reply.toUpperCase().match(/\b(INVALID|VALID)\b/g);
  if (!words) return 'unparsed';
  return words[words.length - 1] === 'INVALID' ? 'invalid' : 'valid';
}
