// Every activity the workers register. Workflows import only the types (proxyActivities<typeof ...>).
export { prepareRun } from './prepare.js';
export { sampleBatch } from './sampling.js';
export { verifySource } from './verify.js';
export { analyseRun, judgeFalsePositives } from './analyse.js';
export { buildDataset } from './datasets.js';
export { runFinetuneJob } from './finetune/job.js';
export { validateCheckpoint } from './finetune/selection.js';
export { evaluateModel } from './evaluate.js';
export { writeReport } from './report.js';
