// Model selection (the paper's protocol): a learning-rate grid, evenly spaced checkpoints per job, each
// checkpoint scored on held-out training-distribution questions (never the test set); the best one by
// validation accuracy is the one evaluated on the test set. Pure (workflows and the report use it).

/** A servable checkpoint of a finetuning job: the service's `fine_tuned_model_checkpoint` id. */
export interface CheckpointRef {
  step: number;
  model: string;
}

/** One grid point: a learning rate's checkpoint and its validation accuracy. */
export interface ValidationScore {
  /** Index of the learning rate in finetune.learningRates. */
  gridPoint: number;
  learningRate: number | null;
  step: number;
  model: string;
  jobId: string;
  /** Validation questions. */
  n: number;
  correct: number;
  accuracy: number;
}

export interface SelectionResult {
  learningRates: Array<number | null>;
  checkpointsPerJob: number;
  /** Validation questions every checkpoint was scored on. */
  validationQuestions: number;
  /** Every checkpoint's score, by learning rate then step. */
  grid: ValidationScore[];
  selected: ValidationScore;
}

export const SELECTION_DEFINITIONS: Record<string, string> = {
  modelSelection:
    'Each learning rate of finetune.learningRates trains one job that leaves finetune.checkpoints evenly spaced ' +
    'checkpoints; every checkpoint is scored (greedy pass@1) on the validation problems, held-out ' +
    'training-distribution questions, never the test set; the highest-scoring one (ties: the earlier learning ' +
    'rate, then the earlier step) is evaluated on the test set.',
};

/** Whether a finetune config asks for model selection (more than one candidate model). */
export function selectsModels(finetune: { learningRates?: number[]; checkpoints?: number }): boolean {
  return (finetune.learningRates?.length ?? 0) > 1 || (finetune.checkpoints ?? 1) > 1;
}

/** The best score: highest validation accuracy; ties go to the earlier learning rate, then the earlier step. */
export function selectBest(grid: ValidationScore[]): ValidationScore {
  if (!grid.length) throw new Error('model selection: no checkpoint was scored');
  const ordered = [...grid].sort((a, b) => a.gridPoint - b.gridPoint || a.step - b.step);
  return ordered.reduce((best, score) => (score.accuracy > best.accuracy ? score : best));
}

/**
 * The `count` checkpoints to score, evenly spaced over the ones a job left (ascending steps; the last one is
 * always kept): a service that keeps more than asked, or fewer, still gives a grid of at most `count`.
 */
export function spacedCheckpoints(available: CheckpointRef[], count: number): CheckpointRef[] {
  const sorted = [...available].sort((a, b) => a.step - b.step);
  if (sorted.length <= count) return sorted;
  const picked = new Set<number>();
  for (let i = 1; i <= count; i++) picked.add(Math.round((sorted.length * i) / count) - 1);
  return [...picked].sort((a, b) => a - b).map((index) => sorted[index]);
}
