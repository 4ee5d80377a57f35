// Verification over stored samples: re-runnable alone (a new verifier version re-grades the same samples
// without paying for any of them again).
import { Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import type { Source } from '../core/config.js';
import type { ExtractionFailures, SampleRecord, VerdictRecord, VerifySummary } from '../core/records.js';
import { failure, FailureType } from '../core/failures.js';
import {
  batchKeyOfMeta,
  isBatchMetaKey,
  samplesDir,
  verdictPartKey,
  verdictPartsDir,
  verdictsKey,
  verdictsMetaKey,
} from '../core/layout.js';
import { gradeCompletion, VERIFIER_VERSION, type AnswerFormat } from '../core/verify/index.js';
import { heartbeatEvery, resumedCheckpoint } from './heartbeat.js';
import { problemsById } from './run-data.js';
import { readFinishedBatch } from './sampling.js';
import { openStore, streamJsonl, writeJson, type ArtifactStore } from './store.js';

export interface VerifySourceInput {
  runDir: string;
  source: Source;
  format: AnswerFormat;
  /** `verifier.lastNumberFallback`; undefined: the format's default (gsm8k on, math off). */
  lastNumberFallback?: boolean;
}

/** The meta keys of a source's finished batches, in (round, batch) order. */
async function finishedBatchKeys(store: ArtifactStore, source: Source): Promise<string[]> {
  const keys: string[] = [];
  for (const roundDir of await store.list(samplesDir(source))) {
    for (const key of await store.list(roundDir)) if (isBatchMetaKey(key)) keys.push(batchKeyOfMeta(key));
  }
  return keys;
}

/**
 * Every stored sample of a source's finished batches, in (round, batch) order, one batch (shard) in memory
 * at a time; from batch `from` on (for a resumed stage). A batch is finished when its meta.json exists
 * (never a parts or send log); its file must prove itself against the meta (readFinishedBatch), so a
 * missing or damaged batch is a CorruptArtifact, never a silent loss.
 */
export async function* sampleBatches(
  store: ArtifactStore,
  source: Source,
  from = 0,
): AsyncIterable<{ index: number; samples: SampleRecord[] }> {
  const keys = await finishedBatchKeys(store, source);
  for (let index = from; index < keys.length; index++) {
    yield { index, samples: (await readFinishedBatch(store, keys[index])) ?? [] };
  }
}

/** Every stored sample of a source in one array: for small consumers only (stages stream sampleBatches). */
export async function loadSamples(store: ArtifactStore, source: Source): Promise<SampleRecord[]> {
  const samples: SampleRecord[] = [];
  for await (const batch of sampleBatches(store, source))
    for (const sample of batch.samples) samples.push(sample);
  return samples;
}

/** Verdicts per part file, and so per checkpoint: bounds the verdicts held in memory. */
const VERDICTS_PER_PART = 20_000;

/** How far a verify attempt got: its heartbeat details, from which a retried attempt continues. */
interface VerifyCheckpoint {
  kind: 'verify';
  /** The attempt whose part files these are (verdictPartKey): attempts running side by side never share. */
  attempt: string;
  /** Part files written, and the finished batches whose verdicts they hold. */
  parts: number;
  batches: number;
  samples: number;
  correct: number;
  noAnswer: number;
  truncated: number;
}

export async function verifySource(input: VerifySourceInput): Promise<VerifySummary> {
  const store = openStore(input.runDir);
  const problems = await problemsById(store);
  const context = Context.current();
  const beat = heartbeatEvery(context);
  const fresh: VerifyCheckpoint = {
    kind: 'verify',
    attempt: randomUUID(),
    parts: 0,
    batches: 0,
    samples: 0,
    correct: 0,
    noAnswer: 0,
    truncated: 0,
  };
  let checkpoint =
    resumedCheckpoint<VerifyCheckpoint>(context, (d) => (d as VerifyCheckpoint).kind === 'verify') ?? fresh;
  for (let part = 0; part < checkpoint.parts; part++) {
    if (!(await store.exists(verdictPartKey(input.source, checkpoint.attempt, part)))) checkpoint = fresh;
  }
  const attempt = checkpoint.attempt;
  let progress = { ...checkpoint };
  let pending: string[] = [];
  const writePart = async (batches: number) => {
    await store.writeLines(verdictPartKey(input.source, attempt, progress.parts), pending);
    pending = [];
    checkpoint = { ...progress, parts: progress.parts + 1, batches };
    progress = { ...checkpoint };
    context.heartbeat(checkpoint);
  };
  for await (const batch of sampleBatches(store, input.source, checkpoint.batches)) {
    for (const sample of batch.samples) {
      const problem = problems.get(sample.questionId);
      if (!problem) {
        throw failure(
          FailureType.BadRunData,
          `${store.location}: a ${input.source} sample (round ${sample.round}, #${sample.sampleIndex}) is of ` +
            `question ${sample.questionId}, which is not in the run's problem set`,
        );
      }
      const verdict = gradeCompletion(sample.text, problem.gold, input.format, {
        finishReason: sample.finishReason,
        lastNumberFallback: input.lastNumberFallback,
      });
      const record: VerdictRecord = {
        source: input.source,
        questionId: sample.questionId,
        sampleIndex: sample.sampleIndex,
        ...verdict,
      };
      pending.push(JSON.stringify(record));
      progress.samples++;
      if (record.correct) progress.correct++;
      if (record.reason === 'no-answer') progress.noAnswer++;
      if (record.reason === 'truncated') progress.truncated++;
      // The details are the last checkpoint written: what a retried attempt can resume from.
      await beat(checkpoint);
    }
    if (pending.length >= VERDICTS_PER_PART) await writePart(batch.index + 1);
  }
  if (pending.length) await writePart(Number.MAX_SAFE_INTEGER);
  const parts = progress.parts;
  const source = input.source;
  const joined = await store.writeLines(
    verdictsKey(source),
    (async function* () {
      for (let part = 0; part < parts; part++) {
        for await (const line of store.readLines(verdictPartKey(source, attempt, part))) {
          if (line.trim() !== '') yield line;
        }
      }
    })(),
  );
  if (joined.lines !== progress.samples) {
    // A part went missing under this attempt (the parts of a whole source were removed beside it).
    await store.remove(verdictsKey(source));
    throw failure(
      FailureType.StageInterrupted,
      `${store.location}: ${verdictsKey(source)} joined ${joined.lines} verdicts of ${progress.samples}; ` +
        'its parts changed during the attempt, which is retried',
    );
  }
  const extractionFailures: ExtractionFailures = {
    noAnswer: progress.noAnswer,
    truncated: progress.truncated,
  };
  await writeJson(store, verdictsMetaKey(source), {
    verifierVersion: VERIFIER_VERSION,
    format: input.format,
    lastNumberFallback: input.lastNumberFallback ?? null,
    samples: progress.samples,
    correct: progress.correct,
    extractionFailures,
  });
  // Every attempt's parts: this one's are joined, and an older attempt's belong to work already done.
  await store.remove(verdictPartsDir(source));
  return {
    source,
    artifact: verdictsKey(source),
    samples: progress.samples,
    correct: progress.correct,
    extractionFailures,
    verifierVersion: VERIFIER_VERSION,
  };
}

/** Samples with no final answer to grade: none found in the text, or the output was cut off. */
export function countExtractionFailures(verdicts: Array<{ reason: string }>): ExtractionFailures {
  return {
    noAnswer: verdicts.filter((v) => v.reason === 'no-answer').length,
    truncated: verdicts.filter((v) => v.reason === 'truncated').length,
  };
}

export interface VerifiedSample extends SampleRecord {
  correct: boolean;
  extracted: string | null;
  /** The verdict's normalised answer (null: none extracted); a study's majority filter votes on it. */
  normalized: string | null;
  reason: string;
}

/**
 * A source's samples joined with their verdicts, streamed: the samples one batch at a time, zipped with
 * the verdict file read line by line (verify writes verdicts in the samples' order). A sample without its
 * verdict there (none, or another in its place) is BadRunData naming the sample: run verify again.
 */
export async function* verifiedSamples(store: ArtifactStore, source: Source): AsyncIterable<VerifiedSample> {
  const verdicts = streamJsonl<VerdictRecord>(store, verdictsKey(source))[Symbol.asyncIterator]();
  try {
    for await (const batch of sampleBatches(store, source)) {
      for (const sample of batch.samples) {
        const next = await verdicts.next();
        const verdict = next.done ? undefined : next.value;
        if (
          !verdict ||
          verdict.questionId !== sample.questionId ||
          verdict.sampleIndex !== sample.sampleIndex
        ) {
          throw failure(
            FailureType.BadRunData,
            `${store.location}: ${source} sample ${sample.questionId}#${sample.sampleIndex} has no verdict in ` +
              `${verdictsKey(source)}${verdict ? ` (in its place: ${verdict.questionId}#${verdict.sampleIndex})` : ''}; ` +
              `run the verify stage again (wcse verify)`,
          );
        }
        yield {
          ...sample,
          correct: verdict.correct,
          extracted: verdict.extracted,
          normalized: verdict.normalized,
          reason: verdict.reason,
        };
      }
    }
    const extra = await verdicts.next();
    if (!extra.done) {
      throw failure(
        FailureType.BadRunData,
        `${store.location}: ${verdictsKey(source)} has a verdict for ${extra.value.questionId}#` +
          `${extra.value.sampleIndex}, which is not among the ${source} samples; run the verify stage again`,
      );
    }
  } finally {
    await verdicts.return?.();
  }
}

/** Samples joined with their verdicts, in one array: for small consumers (stages stream verifiedSamples). */
export async function loadVerifiedSamples(store: ArtifactStore, source: Source): Promise<VerifiedSample[]> {
  const joined: VerifiedSample[] = [];
  for await (const sample of verifiedSamples(store, source)) joined.push(sample);
  return joined;
}
