// The workflows a worker runs (the bundle's entry point).
export { experimentWorkflow } from './experiment.js';
export { samplingWorkflow } from './sampling.js';
export { finetuneSetupWorkflow } from './finetune-setup.js';
export { reverifyWorkflow } from './reverify.js';
export { studyWorkflow, studyArmWorkflow } from './study.js';
