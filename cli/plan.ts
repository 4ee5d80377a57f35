// `wcse plan <config>`: the compute-matched plan, before anything is spent or written.
import { planExperiment } from '../activities/planning.js';
import type { Plan, SourcePlan } from '../core/plan.js';
import { loadConfigFile } from './config-file.js';

export async function planCommand(configFile: string, options: { json?: boolean }): Promise<number> {
  const { config } = await loadConfigFile(configFile);
  const { plan } = await planExperiment(config);
  console.log(options.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
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
    'tokens'.padStart(11),
    'FLOPs'.padStart(11),
    'cost'.padStart(10),
  ].join('  ');
  return [
    `mode: ${plan.mode}   questions: ${plan.questions}   P_SE/P_WC = ${plan.costRatio.toPrecision(4)}`,
    header,
    row(plan.wc),
    row(plan.se),
    ...plan.notes.map((note) => `note: ${note}`),
  ].join('\n');
}
