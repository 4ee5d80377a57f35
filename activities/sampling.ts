// Sampling from an endpoint, saved as it is paid for. Every paid response is written to the store the
// moment it arrives, so a retry, a crashed worker or a replay never pays for it again; a finished batch
// is one atomic artifact (`<key>.jsonl` + `<key>.meta.json`) whose presence means "done".
import { Context } from '@temporalio/activity';
import type { ModelConfig, Source } from '../core/config.js';
import { failure, FailureType } from '../core/failures.js';
import { stableSeed } from '../core/hash.js';
import { batchFiles, batchKey, PROBLEMS_KEY } from '../core/layout.js';
import { flopsFor, usdFor } from '../core/plan.js';
import { buildMessages, promptTokensUpperBound } from '../core/prompt.js';
import {
  EMPTY_LEDGER,
  addLedgers,
  type BatchSummary,
  type Ledger,
  type Problem,
  type SampleRecord,
} from '../core/records.js';
import { callChat, toTemporalFailure } from './endpoint.js';
import { heartbeatWhile } from './heartbeat.js';
import { loadProblemSet } from './run-data.js';
import { openStore, readJson, readLog, sha256, toJsonl, writeJson, type ArtifactStore } from './store.js';

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
  /** Position of the question in the batch, and the request's index among that question's requests. */
  position: number;
  chunk: number;
  questionId: string;
  samples: SampleRecord[];
  ledger: Ledger;
  usageMissing: boolean;
}

export async function sampleBatch(input: SampleBatchInput): Promise<BatchSummary> {
  const store = openStore(input.runDir);
  const problemSet = await loadProblemSet(store);
  const questions = problemSet.list.slice(input.questionStart, input.questionEnd);
  if (questions.length !== input.questionEnd - input.questionStart) {
    throw failure(
      FailureType.BadRunData,
      `questions ${input.questionStart}..${input.questionEnd} are not all in ${PROBLEMS_KEY} (${problemSet.list.length})`,
    );
  }
  return sampleQuestions({
    store,
    key: batchKey(input.source, input.round, input.batchIndex),
    label: input.source,
    model: input.model,
    questions,
    samplesPerQuestion: input.samplesPerQuestion,
    firstSampleIndex: input.firstSampleIndex,
    round: input.round,
    countPromptTokens: input.countPromptTokens,
  });
}

export interface SampleQuestionsRequest {
  store: ArtifactStore;
  /** Artifact key of the batch (without extension). */
  key: string;
  /** What the samples are for: a source ('wc', 'se') or an evaluation id. */
  label: string;
  model: ModelConfig;
  questions: Problem[];
  samplesPerQuestion: number;
  firstSampleIndex: number;
  round: number;
  countPromptTokens: boolean;
}

function fingerprintOf(request: SampleQuestionsRequest): string {
  const { model } = request;
  return sha256(
    JSON.stringify({
      model: model.model,
      baseURL: model.baseURL,
      prompt: model.prompt,
      sampling: model.sampling,
      supportsN: model.supportsN,
      maxN: model.maxN,
      questionIds: request.questions.map((q) => q.id),
      samplesPerQuestion: request.samplesPerQuestion,
      firstSampleIndex: request.firstSampleIndex,
    }),
  ).slice(0, 16);
}

function mismatch(key: string): Error {
  return failure(
    FailureType.RunDirMismatch,
    `${key} in the run directory was sampled with a different model, prompt or plan than this ` +
      'experiment asks for; use a new runDir (or remove the old samples) instead of mixing them',
  );
}

/** Samples a batch of questions (inside an activity), resuming from whatever earlier attempts saved. */
export async function sampleQuestions(request: SampleQuestionsRequest): Promise<BatchSummary> {
  const { store, key, model } = request;
  const files = batchFiles(key);
  const fingerprint = fingerprintOf(request);
  const done = await readJson<BatchMeta>(store, files.meta);
  if (done) {
    if (done.fingerprint !== fingerprint) throw mismatch(key);
    return { key, artifact: files.samples, questions: done.questions, ledger: done.ledger, reused: true };
  }

  // Responses earlier attempts paid for, by (question position, chunk).
  const savedParts = new Map<string, SavedPart>();
  for (const part of await readLog<SavedPart>(store, files.parts)) {
    if (part.fingerprint !== fingerprint) throw mismatch(files.parts);
    savedParts.set(`${part.position}/${part.chunk}`, part);
  }
  const log = await store.openLog(files.parts);

  const context = Context.current();
  const what = `${request.label} model ${model.model} at ${model.baseURL}`;
  let partsDone = 0;
  let firstError: unknown = null;

  const sampleQuestion = async (problem: Problem, position: number): Promise<SampleRecord[]> => {
    const messages = buildMessages(model.prompt, problem.question);
    const promptBound = promptTokensUpperBound(messages);
    const collected: SampleRecord[] = [];
    for (let chunk = 0; collected.length < request.samplesPerQuestion; chunk++) {
      const saved = savedParts.get(`${position}/${chunk}`);
      if (saved) {
        collected.push(...saved.samples);
        continue;
      }
      if (firstError) return collected;
      const wanted = request.samplesPerQuestion - collected.length;
      const n = model.supportsN ? Math.min(wanted, model.maxN) : 1;
      const seed = stableSeed(model.sampling.seed, request.label, problem.id, request.round, chunk);
      const { sampling } = model;
      const response = await callChat(
        model,
        {
          model: model.model,
          messages,
          temperature: sampling.temperature,
          top_p: sampling.topP,
          max_tokens: sampling.maxTokens,
          seed,
          ...(n > 1 ? { n } : {}),
          ...(sampling.stop.length ? { stop: sampling.stop } : {}),
        },
        {
          what,
          signal: context.cancellationSignal,
          promptTokensBound: promptBound,
          // After the batch's first failure, requests still waiting for the limits are not sent.
          stillWanted: () => !firstError,
        },
      );
      if (!response) return collected;
      const { data, requestId } = response;
      const usageMissing = !data.usage;
      // Without the endpoint's usage we charge the worst case, so a budget can only be under-spent.
      const promptTokens = data.usage?.prompt_tokens ?? promptBound;
      const completionTokens = data.usage?.completion_tokens ?? data.choices.length * sampling.maxTokens;
      const choices = [...data.choices].sort((a, b) => a.index - b.index).slice(0, wanted);
      const samples = choices.map((choice, i): SampleRecord => ({
        source: request.label,
        questionId: problem.id,
        round: request.round,
        sampleIndex: request.firstSampleIndex + collected.length + i,
        text: typeof choice.message?.content === 'string' ? choice.message.content : '',
        finishReason: choice.finish_reason ?? null,
        requestId,
        requestUsage: { promptTokens, completionTokens },
        attempt: context.info.attempt,
        seed,
      }));
      const part: SavedPart = {
        fingerprint,
        position,
        chunk,
        questionId: problem.id,
        samples,
        usageMissing,
        ledger: ledgerFor(
          model,
          request.countPromptTokens,
          { promptTokens, completionTokens },
          samples.length,
        ),
      };
      // Saved before anything else: a paid response is never paid for again.
      await log.append(JSON.stringify(part));
      savedParts.set(`${position}/${chunk}`, part);
      partsDone++;
      if (part.samples.length === 0) {
        throw failure(FailureType.EmptyChoices, `${what}: the response had no choices`);
      }
      collected.push(...part.samples);
    }
    return collected;
  };

  // Liveness even while requests wait on the endpoint's limits; details say how far it got.
  const stopHeartbeats = heartbeatWhile(context, () => ({ partsDone }));
  const results = await Promise.allSettled(
    request.questions.map((problem, position) =>
      sampleQuestion(problem, position).catch((error: unknown) => {
        firstError ??= error;
        throw error;
      }),
    ),
  );
  stopHeartbeats();
  await log.close();
  if (firstError) throw toTemporalFailure(firstError, what);

  const records = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
  // Every saved part counts, including responses from earlier attempts: they were paid for.
  const ledger = [...savedParts.values()].reduce((sum, part) => addLedgers(sum, part.ledger), EMPTY_LEDGER);
  await store.write(files.samples, toJsonl(records));
  const meta: BatchMeta = {
    fingerprint,
    questions: request.questions.length,
    samples: records.length,
    ledger,
  };
  await writeJson(store, files.meta, meta);
  await store.remove(files.parts);
  return { key, artifact: files.samples, questions: request.questions.length, ledger, reused: false };
}

function ledgerFor(
  model: ModelConfig,
  countPromptTokens: boolean,
  usage: { promptTokens: number; completionTokens: number },
  samples: number,
): Ledger {
  const flopsTokens = usage.completionTokens + (countPromptTokens ? usage.promptTokens : 0);
  return {
    requests: 1,
    samples,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    flops: flopsFor(model.params, flopsTokens),
    usd: usdFor(model, usage),
  };
}
