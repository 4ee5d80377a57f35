// `wcse plan <config>`: the compute-matched plan, before anything is spent or written.
import { planExperiment } from '../activities/planning.js';
import { confirmationReasons, type Plan, type SourcePlan } from '../core/plan.js';
import { loadConfigFile } from './config-file.js';
import { studyPlanCommand } from './study-plan.js';
import { isStudyFile } from './study-file.js';

export async function planCommand(configFile: string, options: { json?: boolean }): Promise<number> {
  // A study config (a top-level `arms` list) plans every arm and the work they share.
  if (await isStudyFile(configFile)) return studyPlanCommand(configFile, options);
  const { config } = await loadConfigFile(configFile);
  const { plan } = await planExperiment(config);
  console.log(options.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
  if (!options.json) {
    for (const reason of confirmationReasons(plan, config.confirmAbove)) {
      console.log(`large: ${reason} (\`wcse run\` asks for --yes)`);
    }
  }
  return 0;
}

export function formatPlan(plan: Plan): string {
  const row = (p: SourcePlan) =>
    [
      p.source.padEnd(4),
      p.model.padEnd(28),
      p.params.toExponential(2).padStart(9),
      String(p.samplesPerQuestion).padStart(8),
      String(p.guaranteedSamplesPerQuestion).padStart(11),
      String(p.expectedTopUpSamples ?? 0).padStart(7),
      p.expectedTokens.toExponential(3).padStart(11),
      p.expectedFlops.toExponential(3).padStart(11),
      (p.expectedCostUsd === null ? '-' : `$${p.expectedCostUsd.toFixed(4)}`).padStart(10),
    ].join('  ');
  const header = [
    'src ',
    'model'.padEnd(28),
    'params'.padStart(9),
    'S/quest'.padStart(8),
    'guaranteed'.padStart(11),
    'top-up'.padStart(7),
    'tokens'.padStart(11),
    'FLOPs'.padStart(11),
    'cost'.padStart(10),
  ].join('  ');
  return [
    `mode: ${plan.mode}   questions: ${plan.questions}   P_SE/P_WC = ${plan.costRatio.toPrecision(4)}`,
    header,
    row(plan.wc),
    row(plan.se),
    ...(plan.expectedSpentRatio !== undefined
      ? [`expected spend WC / SE = ${plan.expectedSpentRatio.toFixed(4)} (${plan.spendUnit ?? 'FLOPs'})`]
      : []),
    ...plan.notes.map((note) => `note: ${note}`),
    ...(plan.warnings ?? []).map((warning) => `warning: ${warning}`),
  ].join('\n');
}
