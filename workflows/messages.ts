// Signals and queries of the experiment workflows; the CLI imports these same definitions.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Source } from '../core/config.js';
import type { Setup } from '../core/results.js';
import type { Plan } from '../core/plan.js';
import type { Ledger } from '../core/records.js';

export type Stage =
  'prepare' | 'sample' | 'verify' | 'judge' | 'analyse' | 'datasets' | 'finetune' | 'report' | 'done';

export interface SamplingProgress {
  source: Source;
  round: number;
  samplesPerQuestionDone: number;
  samplesDone: number;
  samplesPlanned: number;
  batchesDone: number;
  batchesInFlight: number;
  ledger: Ledger;
  budget: { flops: number | null; usd: number | null };
  paused: boolean;
  done: boolean;
  stopReason: string | null;
}

export interface ExperimentProgress {
  experimentId: string;
  runDir: string;
  stage: Stage;
  stagesDone: Stage[];
  paused: boolean;
  plan: Plan | null;
  samplingWorkflowIds: Record<Source, string>;
  /** Workflow ids of the finetune+evaluate children, per setup. */
  setupWorkflowIds: Partial<Record<Setup, string>>;
  /** Final sampling progress once a source is done (live progress: query its sampling workflow). */
  sampling: Partial<Record<Source, SamplingProgress>>;
}

export const experimentProgressQuery = defineQuery<ExperimentProgress>('experimentProgress');
export const samplingProgressQuery = defineQuery<SamplingProgress>('samplingProgress');

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Adds to the budget of one source (or both): FLOPs in flops mode, dollars in price mode. */
export const raiseBudgetSignal =
  defineSignal<[{ source?: Source; flops?: number; usd?: number }]>('raiseBudget');
