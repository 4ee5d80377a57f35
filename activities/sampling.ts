// The sampling activity: one batch of questions for one source and round. Every paid response is saved
// to the store the moment it arrives, so a retry, a crashed worker or a replay never pays for it again;
// a finished batch is one atomic artifact whose presence means "done".
import { Context } from '@temporalio/activity';
import { setMaxListeners } from 'node:events';
import { ApplicationFailure } from '@temporalio/common';
import type { ModelConfig, Source } from '../core/config.js';
import { stableSeed } from '../core/hash.js';
import { flopsFor, usdFor } from '../core/plan.js';
import { buildMessages, promptTokensUpperBound } from '../core/prompt.js';
import { EMPTY_LEDGER, addLedgers, type BatchSummary, type Ledger, type Problem, type SampleRecord } from '../core/records.js';
import { clientFor, limitsFor, toTemporalFailure } from './endpoint.js';
import { readJson, sha256, toJsonl, writeJson, openStore, type ArtifactStore } from './store.js';
import { loadProblemSet } from './run-data.js';

export interface SampleBatchInput {
  runDir: string;
  source: Source;
  model: ModelConfig;
  countPromptTokens: boolean;
  round: number;
  batchIndex: number;
  /** Positions [start, end) in problems.jsonl. */
  questionStart: number;
  questionEnd: number;
  /** Samples each question gets in this round. */
  samplesPerQuestion: number;
  /** Sample index of this round's first sample for each question. */
  firstSampleIndex: number;
}

interface BatchMeta {
  fingerprint: string;
  questions: number;
  samples: number;
  ledger: Ledger;
}

/** One paid response, saved before anything else happens. */
interface SavedPart {
  fingerprint: string;
  questionId: string;
  samples: SampleRecord[];
  ledger: Ledger;
  usageMissing: boolean;
}

export function batchKey(source: Source, round: number, batchIndex: number): string {
  return `samples/${source}/round-${String(round).padStart(4, '0')}/batch-${String(batchIndex).padStart(5, '0')}`;
}

function fingerprintOf(input: SampleBatchInput, questionIds: string[]): string {
  const { model } = input;
  return sha256(
    JSON.stringify({
      model: model.model,
      baseURL: model.baseURL,
      prompt: model.prompt,
      sampling: model.sampling,
      supportsN: model.supportsN,
      maxN: model.maxN,
      questionIds,
      samplesPerQuestion: input.samplesPerQuestion,
      firstSampleIndex: input.firstSampleIndex,
    }),
  ).slice(0, 16);
}

function mismatch(key: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'RunDirMismatch',
    message:
      `${key} in the run directory was sampled with a different model, prompt or plan than this ` +
      'experiment asks for; use a new runDir (or remove the old samples) instead of mixing them',
    nonRetryable: true,
  });
}

export async function sampleBatch(input: SampleBatchInput): Promise<BatchSummary> {
  const store = openStore(input.runDir);
  const key = batchKey(input.source, input.round, input.batchIndex);
  const problemSet = await loadProblemSet(store);
  const questions = problemSet.list.slice(input.questionStart, input.questionEnd);
  if (questions.length !== input.questionEnd - input.questionStart) {
    throw ApplicationFailure.create({
      message: `questions ${input.questionStart}..${input.questionEnd} are not all in the problem set (${problemSet.list.length})`,
      nonRetryable: true,
    });
  }
  const fingerprint = fingerprintOf(
    input,
    questions.map((q) => q.id),
  );

  const done = await readJson<BatchMeta>(store, `${key}.meta.json`);
  if (done) {
    if (done.fingerprint !== fingerprint) throw mismatch(key);
    return { key, artifact: `${key}.jsonl`, questions: done.questions, ledger: done.ledger, reused: true };
  }

  const context = Context.current();
  // Every request of the batch listens on the one cancellation signal.
  setMaxListeners(0, context.cancellationSignal);
  const limits = limitsFor(input.model);
  const client = clientFor(input.model);
  const what = `${input.source} model ${input.model.model} at ${input.model.baseURL}`;
  let partsDone = 0;
  let firstError: unknown = null;

  const sampleQuestion = async (problem: Problem, position: number): Promise<SampleRecord[]> => {
    const messages = buildMessages(input.model.prompt, problem.question);
    const promptBound = promptTokensUpperBound(messages);
    const collected: SampleRecord[] = [];
    for (let chunk = 0; collected.length < input.samplesPerQuestion; chunk++) {
      const partKey = `${key}.parts/${String(position).padStart(4, '0')}-${String(chunk).padStart(3, '0')}.json`;
      const saved = await readJson<SavedPart>(store, partKey);
      if (saved) {
        if (saved.fingerprint !== fingerprint) throw mismatch(partKey);
        collected.push(...saved.samples);
        continue;
      }
      if (firstError) return collected;
      const wanted = input.samplesPerQuestion - collected.length;
      const n = input.model.supportsN ? Math.min(wanted, input.model.maxN) : 1;
      const seed = stableSeed(input.model.sampling.seed, input.source, problem.id, input.round, chunk);
      const release = await limits.concurrency.acquire();
      let part: SavedPart;
      try {
        if (firstError) return collected;
        await limits.requests?.take(1);
        await limits.tokens?.take(promptBound + n * input.model.sampling.maxTokens);
        const { sampling } = input.model;
        const { data, request_id } = await client.chat.completions
          .create(
            {
              model: input.model.model,
              messages,
              temperature: sampling.temperature,
              top_p: sampling.topP,
              max_tokens: sampling.maxTokens,
              seed,
              ...(n > 1 ? { n } : {}),
              ...(sampling.stop.length ? { stop: sampling.stop } : {}),
            },
            { signal: context.cancellationSignal },
          )
          .withResponse();
        if (!data || !Array.isArray(data.choices)) throw new Error('response has no choices array');
        const usageMissing = !data.usage;
        // Without the endpoint's usage we charge the worst case, so a budget can only be under-spent.
        const promptTokens = data.usage?.prompt_tokens ?? promptBound;
        const completionTokens = data.usage?.completion_tokens ?? data.choices.length * sampling.maxTokens;
        const choices = [...data.choices].sort((a, b) => a.index - b.index).slice(0, wanted);
        const samples = choices.map(
          (choice, i): SampleRecord => ({
            source: input.source,
            questionId: problem.id,
            round: input.round,
            sampleIndex: input.firstSampleIndex + collected.length + i,
            text: typeof choice.message?.content === 'string' ? choice.message.content : '',
            finishReason: choice.finish_reason ?? null,
            requestId: request_id ?? data.id ?? null,
            requestUsage: { promptTokens, completionTokens },
            attempt: context.info.attempt,
            seed,
          }),
        );
        part = {
          fingerprint,
          questionId: problem.id,
          samples,
          usageMissing,
          ledger: ledgerFor(input, { promptTokens, completionTokens }, samples.length),
        };
      } finally {
        release();
      }
      await writeJson(store, partKey, part);
      partsDone++;
      context.heartbeat({ partsDone });
      if (part.samples.length === 0) {
        throw ApplicationFailure.create({ type: 'EmptyChoices', message: `${what}: the response had no choices` });
      }
      collected.push(...part.samples);
    }
    return collected;
  };

  // Liveness even while requests wait on the endpoint's concurrency limit; details say how far it got.
  const beat = setInterval(() => context.heartbeat({ partsDone }), heartbeatIntervalMs(context));
  const results = await Promise.allSettled(
    questions.map((problem, position) =>
      sampleQuestion(problem, position).catch((error: unknown) => {
        firstError ??= error;
        throw error;
      }),
    ),
  );
  clearInterval(beat);
  if (firstError) throw toTemporalFailure(firstError, what);

  const records = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
  const ledger = await sumParts(store, key);
  await store.write(`${key}.jsonl`, toJsonl(records));
  const meta: BatchMeta = { fingerprint, questions: questions.length, samples: records.length, ledger };
  await writeJson(store, `${key}.meta.json`, meta);
  await store.remove(`${key}.parts`);
  return { key, artifact: `${key}.jsonl`, questions: questions.length, ledger, reused: false };
}

export function heartbeatIntervalMs(context: Context): number {
  const timeout = context.info.heartbeatTimeoutMs ?? 60_000;
  return Math.max(200, Math.min(10_000, timeout / 3));
}

/** Every saved part counts, including responses from earlier attempts: they were paid for. */
async function sumParts(store: ArtifactStore, key: string): Promise<Ledger> {
  let ledger = EMPTY_LEDGER;
  for (const partKey of await store.list(`${key}.parts`)) {
    const part = await readJson<SavedPart>(store, partKey);
    if (part) ledger = addLedgers(ledger, part.ledger);
  }
  return ledger;
}

function ledgerFor(
  input: SampleBatchInput,
  usage: { promptTokens: number; completionTokens: number },
  samples: number,
): Ledger {
  const flopsTokens = usage.completionTokens + (input.countPromptTokens ? usage.promptTokens : 0);
  return {
    requests: 1,
    samples,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    flops: flopsFor(input.model.params, flopsTokens),
    usd: usdFor(input.model, usage),
  };
}
