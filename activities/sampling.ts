// Sampling from an endpoint, saved as it is paid for. Every paid response is written to the store the
// moment it arrives, so a retry, a crashed worker or a replay never pays for it again; a finished batch
// is one atomic artifact (`<key>.jsonl` + `<key>.meta.json`) whose presence means "done", and whose meta
// records the sha256 and line count that every reader checks (readFinishedBatch). A send whose response
// was never saved (a crash, a cancel, a timeout) is counted in the ledger as re-paid.
import { Context, log as activityLog } from '@temporalio/activity';
import type { ModelConfig, Source } from '../core/config.js';
import { failure, FailureType, rootFailureType } from '../core/failures.js';
import { stableSeed } from '../core/hash.js';
import { batchFiles, batchKey, PROBLEMS_KEY } from '../core/layout.js';
import { flopsFor, usdFor } from '../core/plan.js';
import { buildMessages, promptTokensUpperBound } from '../core/prompt.js';
import { chargedUsage, reportsUsageOfOneChoice } from '../core/usage.js';
import {
  EMPTY_LEDGER,
  addLedgers,
  type BatchSummary,
  type Ledger,
  type Problem,
  type SampleRecord,
} from '../core/records.js';
import {
  callChat,
  checkChoiceUsage,
  choicesPerRequest,
  noteChoiceUndercount,
  toTemporalFailure,
  workTicket,
} from './endpoint.js';
import { heartbeatWhile } from './heartbeat.js';
import { loadProblemSet } from './run-data.js';
import {
  corruptArtifact,
  digestOf,
  openStore,
  parseJsonl,
  readJson,
  readLog,
  sha256,
  toJsonl,
  writeJson,
  type ArtifactLog,
  type ArtifactStore,
} from './store.js';

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
  /** Positions in problems.jsonl to sample instead of [start, end) (a budget top-up's seeded subset). */
  questionPositions?: number[];
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
  /** sha256 and line count of the batch file (absent in metas written before they were recorded). */
  sha256?: string;
  lines?: number;
}

/**
 * One line of a batch's send log (`.sent.jsonl`): `sent` just before a request goes out, `settled` when it
 * is known not to have been billed (the endpoint answered an error, or it was never sent). A send with
 * neither a saved part nor `settled` was paid for and lost: charged at `worstCase`.
 */
interface SendMark {
  event: 'sent' | 'settled';
  position: number;
  chunk: number;
  worstCase: Ledger;
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
  /** Requested again after the batch had finished once and lost its samples: paid twice. */
  repaid?: boolean;
}

export async function sampleBatch(input: SampleBatchInput): Promise<BatchSummary> {
  const store = openStore(input.runDir);
  const problemSet = await loadProblemSet(store);
  const questions = input.questionPositions
    ? input.questionPositions.map((position) => problemSet.list[position])
    : problemSet.list.slice(input.questionStart, input.questionEnd);
  const expected = input.questionPositions?.length ?? input.questionEnd - input.questionStart;
  if (questions.filter(Boolean).length !== expected) {
    const which = input.questionPositions
      ? `positions ${input.questionPositions.join(', ')}`
      : `${input.questionStart}..${input.questionEnd}`;
    throw failure(
      FailureType.BadRunData,
      `questions ${which} are not all in ${PROBLEMS_KEY} (${problemSet.list.length})`,
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
  const savedLog = await readLog<SavedPart>(store, files.parts);
  // A finished batch whose samples file is missing or wrong: its ledger stays paid, its samples are
  // re-derived from the response log where one is left, else sampled (and paid for) again.
  let previous: BatchMeta | null = null;
  const done = await readMeta(store, files.meta, savedLog.length > 0);
  if (done) {
    if (done.fingerprint !== fingerprint) throw mismatch(key);
    const problem = await checkBatchFile(store, files.samples, done);
    if (problem === null) {
      // A crash between writing the meta and removing the logs leaves them behind: they are spent.
      await store.remove(files.parts);
      await store.remove(files.sent);
      return { key, artifact: files.samples, questions: done.questions, ledger: done.ledger, reused: true };
    }
    previous = done;
    activityLog.warn(
      savedLog.length > 0
        ? `${problem}: re-deriving it from its response log ${files.parts}`
        : `${problem}: its response log is gone, so its questions are sampled again (paid again, counted ` +
            'in ledger.repaidRequests)',
      { key },
    );
  }

  // Responses earlier attempts paid for, by (question position, chunk).
  const savedParts = new Map<string, SavedPart>();
  for (const part of savedLog) {
    if (part.fingerprint !== fingerprint) throw mismatch(files.parts);
    savedParts.set(`${part.position}/${part.chunk}`, part);
  }
  const log = await saving(files.parts, () => store.openLog(files.parts));
  const sent = await saving(files.sent, () => store.openLog(files.sent)).catch(async (error: unknown) => {
    await log.close();
    throw error;
  });
  const save = (into: ArtifactLog, file: string, line: unknown) =>
    saving(file, () => into.append(JSON.stringify(line)));

  const context = Context.current();
  const what = `${request.label} model ${model.model} at ${model.baseURL}`;
  let partsDone = 0;
  let firstError: unknown = null;
  // Batches are served in the order they started (callChat's priority): they finish one by one, not all
  // at once, so the endpoint keeps working while the workflow schedules the next batch.
  const priority = workTicket();

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
      const n = choicesPerRequest(model, wanted);
      const seed = stableSeed(model.sampling.seed, request.label, problem.id, request.round, chunk);
      const { sampling } = model;
      const mark = (event: SendMark['event']): SendMark => ({
        event,
        position,
        chunk,
        worstCase: lostSendLedger(model, request.countPromptTokens, promptBound, n * sampling.maxTokens),
      });
      let wentOut = false;
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
          priority,
          // After the batch's first failure, requests still waiting for the limits are not sent.
          stillWanted: () => !firstError,
          // Logged before it goes out: a send whose response is never saved is counted as paid for.
          beforeSend: async () => {
            await save(sent, files.sent, mark('sent'));
            wentOut = true;
          },
        },
      ).catch(async (error: unknown) => {
        // At once, before the await below: requests still waiting for the limits must see it.
        firstError ??= error;
        // Answered with an error: not billed. A timeout or a cancel in flight may have been.
        if (wentOut && isErrorAnswer(error)) await save(sent, files.sent, mark('settled'));
        throw error;
      });
      if (!response) return collected;
      const { data, requestId } = response;
      const usageMissing = !data.usage;
      // Usage that is missing or below what the response could have cost is charged at the worst case,
      // so a budget can only be under-spent, whatever the endpoint reports (core/usage.ts).
      const charged = chargedUsage({
        reported: data.usage,
        choices: data.choices.map((choice) => ({
          text: typeof choice.message?.content === 'string' ? choice.message.content : '',
          finishReason: choice.finish_reason ?? null,
        })),
        requestedChoices: n,
        maxTokens: sampling.maxTokens,
        promptText: messages.map((message) => message.content).join('\n'),
        promptTokensUpperBound: promptBound,
        reportsOneChoice: reportsUsageOfOneChoice(data),
      });
      const { promptTokens, completionTokens } = charged;
      if (charged.distrusted !== null) {
        activityLog.warn(`${what}: usage not believed (${charged.distrusted}): charged at the worst case`, {
          requestId,
        });
        // An endpoint that undercounts multi-choice responses gets one choice per request from now on
        // (in this worker), so its usage is exact again.
        if (data.usage && data.choices.length > 1) noteChoiceUndercount(model);
      }
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
        ...(charged.distrusted !== null ? { usageDistrusted: charged.distrusted } : {}),
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
        ledger: {
          ...ledgerFor(model, request.countPromptTokens, { promptTokens, completionTokens }, samples.length),
          ...(charged.distrusted !== null ? { usageDistrusted: 1 } : {}),
        },
      };
      if (previous) {
        part.repaid = true;
        part.ledger.repaidRequests = 1;
      }
      // Saved before anything else: a paid response is never paid for again.
      await save(log, files.parts, part);
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
  // A llama-server is told apart before its first n > 1 request: it undercounts them.
  if (request.samplesPerQuestion > 1) await checkChoiceUsage(model, context.cancellationSignal);
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
  await sent.close();
  if (firstError) throw toTemporalFailure(firstError, what);

  const records = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
  // Every saved part counts, including responses from earlier attempts: they were paid for. Parts of a
  // batch that had finished before count only where they were bought again.
  const partsLedger = [...savedParts.values()]
    .filter((part) => !previous || part.repaid)
    .reduce((sum, part) => addLedgers(sum, part.ledger), NO_REPAIDS);
  const lost = lostSends(await readLog<SendMark>(store, files.sent), savedParts);
  const ledger = addLedgers(addLedgers(previous?.ledger ?? EMPTY_LEDGER, partsLedger), lost);
  await writeFinishedBatch(store, key, records, {
    fingerprint,
    questions: request.questions.length,
    ledger,
  });
  // The logs go only once the batch file and its meta are written and the file read back as written.
  await store.remove(files.parts);
  await store.remove(files.sent);
  return { key, artifact: files.samples, questions: request.questions.length, ledger, reused: false };
}

/**
 * Writes a finished batch: its samples file, read back and checked, then its meta.json with the file's
 * sha256 and line count (the meta's presence means "done"). A failed write is SaveFailed.
 */
export async function writeFinishedBatch(
  store: ArtifactStore,
  key: string,
  records: SampleRecord[],
  about: { fingerprint: string; questions: number; ledger: Ledger },
): Promise<void> {
  const files = batchFiles(key);
  const body = toJsonl(records);
  await saving(files.samples, () => store.write(files.samples, body));
  const meta: BatchMeta = { ...about, samples: records.length, ...digestOf(body) };
  const problem = await checkBatchFile(store, files.samples, meta);
  if (problem !== null) throw failure(FailureType.SaveFailed, `${problem} right after it was written`);
  await saving(files.meta, () => writeJson(store, files.meta, meta));
}

/** An empty ledger that records, in the batch's meta, that nothing was paid twice. */
const NO_REPAIDS: Ledger = { ...EMPTY_LEDGER, repaidRequests: 0 };

/** Runs a write to the run directory; a failure is SaveFailed (non-retryable) naming the file. */
async function saving<T>(file: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw failure(
      FailureType.SaveFailed,
      `could not save ${file} in the run directory (${(error as Error).message}); nothing more of this ` +
        'batch is requested, since responses that cannot be saved would be paid for again',
    );
  }
}

/** An error the endpoint answered with (an HTTP status): no completion was generated, so none is billed. */
function isErrorAnswer(error: unknown): boolean {
  const type = rootFailureType(error);
  return type !== null && /^Http\d+$/.test(type);
}

/**
 * Sends whose response was never saved: per (position, chunk), the sends beyond those settled and the
 * one whose response was saved. Each is charged at its worst case and counted in `repaidRequests`.
 */
function lostSends(marks: SendMark[], saved: Map<string, SavedPart>): Ledger {
  const open = new Map<string, { count: number; worstCase: Ledger }>();
  for (const mark of marks) {
    const id = `${mark.position}/${mark.chunk}`;
    const entry = open.get(id) ?? { count: 0, worstCase: mark.worstCase };
    entry.count += mark.event === 'sent' ? 1 : -1;
    open.set(id, entry);
  }
  let total = NO_REPAIDS;
  for (const [id, { count, worstCase }] of open) {
    const lost = count - (saved.has(id) ? 1 : 0);
    for (let i = 0; i < lost; i++) total = addLedgers(total, worstCase);
  }
  return total;
}

/** What a send whose usage is unknown is charged: its prompt bound and `max_tokens` for every choice. */
function lostSendLedger(
  model: ModelConfig,
  countPromptTokens: boolean,
  promptTokens: number,
  completionTokens: number,
): Ledger {
  const charge = ledgerFor(model, countPromptTokens, { promptTokens, completionTokens }, 0);
  return { ...charge, requests: 0, promptTokens: 0, completionTokens: 0, repaidRequests: 1 };
}

/**
 * A batch's meta.json, or null if it has none. Unreadable JSON is a CorruptArtifact, unless the batch's
 * response log is still there to rebuild the batch from (`rebuildable`): then it counts as unfinished.
 */
async function readMeta(store: ArtifactStore, key: string, rebuildable: boolean): Promise<BatchMeta | null> {
  try {
    const meta = await readJson<BatchMeta>(store, key);
    if (meta !== null && (typeof meta.fingerprint !== 'string' || typeof meta.ledger !== 'object')) {
      throw corruptArtifact(store, key, 'not a batch meta.json (no fingerprint or ledger)');
    }
    return meta;
  } catch (error) {
    if (rebuildable) return null;
    throw error;
  }
}

/**
 * Whether a finished batch's samples file proves itself against its meta: null if it does, else what is
 * wrong, naming the file (and the line where one is at fault).
 */
async function checkBatchFile(store: ArtifactStore, key: string, meta: BatchMeta): Promise<string | null> {
  return (await inspectBatchFile(store, key, meta)).problem;
}

/** The rows of a finished batch's samples file and what is wrong with it (null: it proves itself). */
async function inspectBatchFile(
  store: ArtifactStore,
  key: string,
  meta: BatchMeta,
): Promise<{ problem: string | null; rows: SampleRecord[] }> {
  const where = store.localPath(key) ?? `${store.location}/${key}`;
  const data = await store.read(key);
  if (data === null) {
    return { problem: `${where} is missing, though its meta.json says the batch finished`, rows: [] };
  }
  let rows: SampleRecord[];
  try {
    rows = parseJsonl<SampleRecord>(store, key, data);
  } catch (error) {
    return { problem: (error as Error).message, rows: [] };
  }
  return { problem: digestProblem(where, data, meta), rows };
}

/** What is wrong with a batch file's bytes against its meta's line count and sha256, or null. */
function digestProblem(where: string, data: Buffer, meta: BatchMeta): string | null {
  const { sha256: checksum, lines } = digestOf(data);
  const expectedLines = meta.lines ?? meta.samples;
  if (lines !== expectedLines) {
    return `${where} has ${lines} lines where its meta.json records ${expectedLines} (line ${Math.min(lines, expectedLines) + 1} is the first one missing or extra)`;
  }
  if (meta.sha256 !== undefined && checksum !== meta.sha256) {
    return `${where}: its sha256 ${checksum.slice(0, 12)}... differs from the ${meta.sha256.slice(0, 12)}... its meta.json records`;
  }
  return null;
}

/**
 * The samples of a finished batch (its meta.json exists), checked against the sha256 and line count the
 * meta records; null when the batch has not finished. A batch that does not prove itself is a
 * CorruptArtifact naming the file and line: `wcse resume` re-derives it.
 */
export async function readFinishedBatch(store: ArtifactStore, key: string): Promise<SampleRecord[] | null> {
  const files = batchFiles(key);
  const meta = await readMeta(store, files.meta, false);
  if (meta === null) return null;
  const { problem, rows } = await inspectBatchFile(store, files.samples, meta);
  if (problem !== null) {
    throw failure(
      FailureType.CorruptArtifact,
      `${problem}; \`wcse resume\` re-derives the batch from its response log where one is kept, else samples it again`,
    );
  }
  return rows;
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
