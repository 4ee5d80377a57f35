// Verification over stored samples: re-runnable alone (a new verifier version re-grades the same samples
// without paying for any of them again).
import { Context } from '@temporalio/activity';
import type { Source } from '../core/config.js';
import type { ExtractionFailures, SampleRecord, VerdictRecord, VerifySummary } from '../core/records.js';
import { failure, FailureType } from '../core/failures.js';
import { batchKeyOfMeta, isBatchMetaKey, samplesDir, verdictsKey, verdictsMetaKey } from '../core/layout.js';
import { gradeCompletion, VERIFIER_VERSION, type AnswerFormat } from '../core/verify/index.js';
import { heartbeatEvery } from './heartbeat.js';
import { problemsById } from './run-data.js';
import { readFinishedBatch } from './sampling.js';
import { openStore, readJsonl, toJsonl, writeJson, type ArtifactStore } from './store.js';

export interface VerifySourceInput {
  runDir: string;
  source: Source;
  format: AnswerFormat;
  /** `verifier.lastNumberFallback`; undefined: the format's default (gsm8k on, math off). */
  lastNumberFallback?: boolean;
}

/**
 * Every stored sample of a source's finished batches, in (round, batch) order. A batch is finished when
 * its meta.json exists (never a parts or send log); its file must prove itself against the meta
 * (readFinishedBatch), so a missing or damaged batch is a CorruptArtifact, never a silent loss.
 */
export async function loadSamples(store: ArtifactStore, source: Source): Promise<SampleRecord[]> {
  const samples: SampleRecord[] = [];
  for (const roundDir of await store.list(samplesDir(source))) {
    for (const key of await store.list(roundDir)) {
      if (!isBatchMetaKey(key)) continue;
      samples.push(...((await readFinishedBatch(store, batchKeyOfMeta(key))) ?? []));
    }
  }
  return samples;
}

export async function verifySource(input: VerifySourceInput): Promise<VerifySummary> {
  const store = openStore(input.runDir);
  const problems = await problemsById(store);
  const samples = await loadSamples(store, input.source);
  const beat = heartbeatEvery(Context.current());
  const verdicts: VerdictRecord[] = [];
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i];
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
    verdicts.push({
      source: input.source,
      questionId: sample.questionId,
      sampleIndex: sample.sampleIndex,
      ...verdict,
    });
    await beat({ graded: i + 1 });
  }
  await store.write(verdictsKey(input.source), toJsonl(verdicts));
  const correct = verdicts.filter((v) => v.correct).length;
  const extractionFailures = countExtractionFailures(verdicts);
  await writeJson(store, verdictsMetaKey(input.source), {
    verifierVersion: VERIFIER_VERSION,
    format: input.format,
    lastNumberFallback: input.lastNumberFallback ?? null,
    samples: verdicts.length,
    correct,
    extractionFailures,
  });
  return {
    source: input.source,
    artifact: verdictsKey(input.source),
    samples: verdicts.length,
    correct,
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
  reason: string;
}

/** Samples joined with their verdicts. */
export async function loadVerifiedSamples(store: ArtifactStore, source: Source): Promise<VerifiedSample[]> {
  const samples = await loadSamples(store, source);
  const verdicts = (await readJsonl<VerdictRecord>(store, verdictsKey(source))) ?? [];
  const byKey = new Map(verdicts.map((v) => [`${v.questionId}\u0000${v.sampleIndex}`, v]));
  return samples.map((sample) => {
    const verdict = byKey.get(`${sample.questionId}\u0000${sample.sampleIndex}`);
    if (!verdict) {
      throw failure(
        FailureType.BadRunData,
        `${store.location}: ${source} sample ${sample.questionId}#${sample.sampleIndex} has no verdict in ` +
          `${verdictsKey(source)}; run the verify stage again (wcse verify)`,
      );
    }
    return { ...sample, correct: verdict.correct, extracted: verdict.extracted, reason: verdict.reason };
  });
}
