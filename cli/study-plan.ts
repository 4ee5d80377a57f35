// `wcse plan study.yaml`: every arm's cost alone, and the study's total with and without sharing.
import { studyPlanInputs } from '../activities/study-planning.js';
import { planStudy, type Cost, type CostBreakdown, type StudyPlan } from '../core/study-plan.js';
import { loadStudyFile } from './study-file.js';

export async function studyPlanCommand(configFile: string, options: { json?: boolean }): Promise<number> {
  const { study } = await loadStudyFile(configFile);
  const plan = planStudy(study, await studyPlanInputs(study));
  console.log(options.json ? JSON.stringify(plan, null, 2) : formatStudyPlan(plan));
  return 0;
}

const flops = (value: number) => value.toExponential(3);
const usd = (cost: Cost) => (cost.usd === null ? '-' : `$${cost.usd.toFixed(2)}`);

export function formatStudyPlan(plan: StudyPlan): string {
  const columns = (label: string, views: string, breakdown: CostBreakdown) =>
    [
      label.padEnd(40),
      views.padEnd(36),
      String(breakdown.sampling.samples).padStart(11),
      flops(breakdown.sampling.flops).padStart(11),
      flops(breakdown.judging.flops).padStart(11),
      flops(breakdown.training.flops).padStart(11),
      flops(breakdown.evaluation.flops).padStart(11),
      flops(breakdown.total.flops).padStart(11),
      usd(breakdown.total).padStart(10),
    ].join('  ');
  const header = [
    'arm (pool, questions)'.padEnd(40),
    'datasets'.padEnd(36),
    'samples'.padStart(11),
    'sampling'.padStart(11),
    'judging'.padStart(11),
    'training'.padStart(11),
    'evaluation'.padStart(11),
    'FLOPs'.padStart(11),
    'cost'.padStart(10),
  ].join('  ');
  const saved = plan.unshared.total.flops - plan.shared.total.flops;
  const savedSamples = plan.unshared.sampling.samples - plan.shared.sampling.samples;
  const percent = (part: number, whole: number) => (whole > 0 ? ((100 * part) / whole).toFixed(1) : '0.0');
  const savedUsd =
    plan.unshared.total.usd === null
      ? ''
      : `, $${((plan.unshared.total.usd ?? 0) - (plan.shared.total.usd ?? 0)).toFixed(2)}`;
  const counts = Object.entries(plan.counts)
    .map(([what, count]) => `${what} ${count.unshared} -> ${count.shared}`)
    .join(', ');
  return [
    `study ${plan.name}: ${plan.arms.length} arms; FLOPs by stage, dollars where models have prices`,
    header,
    ...plan.arms.map((arm) =>
      columns(
        `${arm.name} (${arm.pool}, ${arm.questions})`,
        arm.views.map((view) => view.name).join(' '),
        arm.cost,
      ),
    ),
    columns('total without sharing (sum of arms)', '', plan.unshared),
    columns('total with sharing (study)', '', plan.shared),
    `saved by sharing: ${flops(saved)} FLOPs (${percent(saved, plan.unshared.total.flops)}%), ` +
      `${savedSamples} samples (${percent(savedSamples, plan.unshared.sampling.samples)}% of sampling)${savedUsd}`,
    `work items (arms summed -> distinct): ${counts}`,
    ...plan.draws.map(
      (draw) =>
        `pool draw ${draw.uses.join(', ')} (${draw.model}): ` +
        draw.levels.map((level) => `${level.samplesPerQuestion}/question x ${level.questions}`).join(' + ') +
        ` = ${draw.cost.samples} samples, ${flops(draw.cost.flops)} FLOPs${draw.cost.usd === null ? '' : `, $${draw.cost.usd.toFixed(2)}`}`,
    ),
    ...plan.notes.map((note) => `note: ${note}`),
    ...plan.warnings.map((warning) => `warning: ${warning}`),
  ].join('\n');
}
