// Signals and queries of the experiment workflows; the CLI imports these same definitions.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { SOURCES, type BudgetConfig, type Source } from '../core/config.js';
import { SETUPS, type Setup } from '../core/results.js';
import type { Plan } from '../core/plan.js';
import type { Ledger } from '../core/records.js';

export type Stage =
  | 'prepare'
  | 'warmup'
  | 'sample'
  | 'verify'
  | 'judge'
  | 'analyse'
  | 'datasets'
  | 'finetune'
  | 'report'
  | 'done';

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

/**
 * A child workflow's id: the experiment's id, the child's name (`sample-wc`, `finetune-<setup>`) and the
 * first 8 characters of the experiment run's id, so a resumed run never collides with children of a run
 * still closing. The CLI derives the same ids to reach the children of a run directly.
 */
export function childWorkflowId(experimentId: string, experimentRunId: string, name: string): string {
  return `${experimentId}/${name}-${experimentRunId.slice(0, 8)}`;
}

/** Every child workflow id an experiment run can have: its sampling and its finetune+evaluate children. */
export function childWorkflowIds(experimentId: string, experimentRunId: string): string[] {
  return [...SOURCES.map((source) => `sample-${source}`), ...SETUPS.map((setup) => `finetune-${setup}`)].map(
    (name) => childWorkflowId(experimentId, experimentRunId, name),
  );
}

export const experimentProgressQuery = defineQuery<ExperimentProgress>('experimentProgress');
export const samplingProgressQuery = defineQuery<SamplingProgress>('samplingProgress');

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** A budget raise: FLOPs in flops mode or dollars in price mode, for one source (default both). */
export interface RaiseBudget {
  source?: Source;
  flops?: number;
  usd?: number;
}

/** Adds to the budget of one source (or both). Kept for replay: the CLI uses `raiseBudgetUpdate`. */
export const raiseBudgetSignal = defineSignal<[RaiseBudget]>('raiseBudget');

/** The same raise as an update: its validator refuses a raise that could not take effect, with the reason. */
export const raiseBudgetUpdate = defineUpdate<void, [RaiseBudget]>('raiseBudgetUpdate');

const isPositiveFinite = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;

/** Why `raise` cannot take effect on a run with this budget, or null when it can. */
export function raiseBudgetProblem(budget: BudgetConfig, raise: RaiseBudget): string | null {
  if (typeof raise !== 'object' || raise === null)
    return 'a budget raise must be an object { source?, flops?, usd? }';
  if (raise.source !== undefined && !SOURCES.includes(raise.source)) {
    return `source must be one of ${SOURCES.join(', ')} (got ${JSON.stringify(raise.source)})`;
  }
  for (const field of ['flops', 'usd'] as const) {
    if (raise[field] !== undefined && !isPositiveFinite(raise[field])) {
      return `${field} must be a positive, finite number (got ${String(raise[field])})`;
    }
  }
  if (budget.mode === 'ratio') {
    return "this experiment's budget is in ratio mode (a fixed number of samples per question): there is no FLOPs or dollar budget to raise";
  }
  if (budget.mode === 'flops') {
    if (raise.usd !== undefined)
      return "this experiment's budget is in flops mode: raise it with flops, not usd";
    if (raise.flops === undefined)
      return "nothing to raise: give flops (this experiment's budget is in flops mode)";
  }
  if (budget.mode === 'price') {
    if (raise.flops !== undefined)
      return "this experiment's budget is in price mode: raise it with usd, not flops";
    if (raise.usd === undefined)
      return "nothing to raise: give usd (this experiment's budget is in price mode)";
  }
  return null;
}
