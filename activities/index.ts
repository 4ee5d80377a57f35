// Every activity the workers register. Workflows import only the types (proxyActivities<typeof ...>).
export { prepareRun } from './prepare.js';
export { sampleBatch } from './sampling.js';
export { verifySource } from './verify.js';
export { analyseRun, judgeFalsePositives } from './analyse.js';
export { buildDataset } from './datasets.js';
export { buildGoldDataset } from './gold-dataset.js';
export { runFinetuneJob } from './finetune/job.js';
export { buildWarmupDataset } from './warmup.js';
export { validateCheckpoint } from './finetune/selection.js';
export { evaluateModel } from './evaluate.js';
export { judgeTestOutputs } from './judge-outputs.js';
export { writeReport } from './report.js';
export {
  buildStudyView,
  planStudyRun,
  readStudyArmResult,
  stageStudyJob,
  writeStudyArmResult,
  writeStudyReport,
} from './study.js';
