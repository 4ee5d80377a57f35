// Re-verification of a finished (or failed) experiment's samples with the current verifier: new verdicts
// and metrics from the stored samples, without paying for any sample again. Datasets and finetuning are
// left as they were; the verdict files record which verifier version produced them.
import { allHandlersFinished, condition, log, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { SOURCES, type Source } from '../core/config.js';
import type { VerifySummary } from '../core/records.js';
import type { AnswerFormat } from '../core/verify/index.js';
import { runDirActivityOptions } from './activity-options.js';
import { allOrCancel } from './all-or-cancel.js';

export interface ReverifyInput {
  runDir: string;
  format: AnswerFormat;
  /** `verifier.lastNumberFallback` of the experiment's config (undefined: the format's default). */
  lastNumberFallback?: boolean;
  heartbeatTimeoutSeconds: number;
}

export interface ReverifyResult {
  verify: Record<Source, VerifySummary>;
  metrics: string;
}

export async function reverifyWorkflow(input: ReverifyInput): Promise<ReverifyResult> {
  const { verifySource, analyseRun } = proxyActivities<typeof activities>(
    runDirActivityOptions(input.heartbeatTimeoutSeconds),
  );
  log.info('Stage', { stage: 'verify' });
  const [wc, se] = await allOrCancel(
    SOURCES.map(
      (source) => () =>
        verifySource({
          runDir: input.runDir,
          source,
          format: input.format,
          lastNumberFallback: input.lastNumberFallback,
        }),
    ),
  );
  log.info('Stage', { stage: 'analyse' });
  const metrics = await analyseRun({ runDir: input.runDir });
  await condition(allHandlersFinished);
  return { verify: { wc, se }, metrics: metrics.artifact };
}
