// A child process for test/stream-memory.test.ts: `generate <runDir> <questions> <perQuestion>` writes a
// generated run directory (problems, finished sample batches of the wc source) and verifies it (the
// verdict stream); `measure <runDir>` runs analyse and datasets over it as activities and prints one JSON
// line with the process's peak RSS (resourceUsage().maxRSS), the largest heap seen, and what the stages
// returned. Generation and measurement are separate processes, so the peak is the stages' own.
import { MockActivityEnvironment } from '@temporalio/testing';
import { analyseRun } from '../../activities/analyse.js';
import { buildDataset } from '../../activities/datasets.js';
import { writeFinishedBatch } from '../../activities/sampling.js';
import { openStore, readJson } from '../../activities/store.js';
import { verifySource } from '../../activities/verify.js';
import { batchKey, METRICS_KEY, PROBLEMS_KEY } from '../../core/layout.js';
import {
  EMPTY_LEDGER,
  type DatasetManifest,
  type MetricsFile,
  type SampleRecord,
  type VerifySummary,
} from '../../core/records.js';

const BATCH = 2000;
const FILLER =
  'First we read the problem carefully and write down what is given. Then we set up the equation ' +
  'step by step, simplify both sides, and check the arithmetic once more before giving the result.';

async function generate(runDir: string, questions: number, perQuestion: number): Promise<void> {
  const store = openStore(runDir);
  await store.writeLines(
    PROBLEMS_KEY,
    (function* () {
      for (let q = 0; q < questions; q++) {
        yield JSON.stringify({
          id: `q${q}`,
          question: `What is ${q} + ${q % 97}?`,
          gold: `${q + (q % 97)}`,
          level: `Level ${(q % 5) + 1}`,
        });
      }
    })(),
  );
  let batch = 0;
  for (let s = 0; s < perQuestion; s++) {
    for (let start = 0; start < questions; start += BATCH, batch++) {
      const records: SampleRecord[] = [];
      for (let q = start; q < Math.min(questions, start + BATCH); q++) {
        // About half correct; a few distinct solution texts per question, so duplicates are common.
        const correct = (q * 7 + s * 3) % 5 < 3;
        const answer = correct ? q + (q % 97) : q + (q % 97) + 1;
        const variant = s % (1 + (q % 4));
        records.push({
          source: 'wc',
          questionId: `q${q}`,
          round: s,
          sampleIndex: s,
          text: `${FILLER} Variant ${variant}. So ${q} + ${q % 97} = ${answer}. The answer is $\\boxed{${answer}}$.`,
          finishReason: 'stop',
          requestId: null,
          requestUsage: { promptTokens: 20, completionTokens: 60 },
          attempt: 1,
          seed: s,
        });
      }
      await writeFinishedBatch(store, batchKey('wc', s, batch), records, {
        fingerprint: 'generated',
        questions: records.length,
        ledger: EMPTY_LEDGER,
      });
    }
  }
  const verify: VerifySummary = await new MockActivityEnvironment().run(verifySource, {
    runDir,
    source: 'wc' as const,
    format: 'math' as const,
  });
  console.log(JSON.stringify({ verified: verify.samples, correct: verify.correct }));
}

async function measure(runDir: string): Promise<void> {
  let heapPeak = 0;
  const timer = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 50);
  const env = new MockActivityEnvironment();
  const started = Date.now();
  await env.run(analyseRun, { runDir });
  const analyseMs = Date.now() - started;
  const dataset: DatasetManifest = await env.run(buildDataset, {
    runDir,
    source: 'wc' as const,
    validationFraction: 0.1,
    seed: 1,
    prompt: { user: '{question}' },
  });
  const datasetsMs = Date.now() - started - analyseMs;
  clearInterval(timer);
  const metrics = (await readJson<MetricsFile>(openStore(runDir), METRICS_KEY))!;
  console.log(
    JSON.stringify({
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      heapPeakBytes: heapPeak,
      ms: { analyse: analyseMs, datasets: datasetsMs },
      metricsSamples: metrics.sources.wc.samples,
      coverageAtS: metrics.sources.wc.coverage.at(-1)?.value ?? null,
      examples: dataset.train.examples + dataset.validation.examples,
      duplicates: dataset.duplicates,
    }),
  );
}

const [mode, runDir, ...rest] = process.argv.slice(2);
if (mode === 'generate') await generate(runDir, Number(rest[0]), Number(rest[1]));
else await measure(runDir);
