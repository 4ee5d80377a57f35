// `wcse report <id>`: where a finished experiment's report is and its headline table; makes the report
// from the run's artifacts when a completed run has none yet. `--json` prints report.json.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { labelsNewerThanReport } from '../activities/labels.js';
import { writeReport, type ReportSummary } from '../activities/report.js';
import { openStore, readJson, type ArtifactStore } from '../activities/store.js';
import { REPORT_JSON_KEY, REPORT_MD_KEY } from '../core/layout.js';
import type { ReportDocument } from '../core/report/model.js';
import type { SetupResult } from '../core/results.js';
import type { ExperimentResult } from '../workflows/experiment.js';
import { connectClient, resolveTarget } from './connect.js';

/** The experiment's result; runs finished before finetuning and reporting existed lack the last two fields. */
type ResultWithReport = Omit<ExperimentResult, 'setups' | 'report'> & {
  setups?: SetupResult[];
  report?: ReportSummary | null;
};

export async function reportCommand(id: string, options: { json?: boolean }): Promise<number> {
  const { client, connection } = await connectClient(await resolveTarget());
  try {
    return await report(client, id, options);
  } finally {
    await connection.close();
  }
}

async function report(client: Client, id: string, options: { json?: boolean }): Promise<number> {
  const handle = client.workflow.getHandle(id);
  let description;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      console.error(
        `No experiment with id ${id} on this Temporal server (\`wcse run <config>\` prints the id).`,
      );
      return 1;
    }
    throw error;
  }
  const status = description.status.name;
  if (status !== 'COMPLETED') {
    console.error(`Experiment ${id} is ${status.toLowerCase()}: its report is written when it completes.`);
    if (status === 'RUNNING') {
      console.error(
        `Follow it with \`wcse watch ${id}\` (or \`wcse status ${id}\`), then run \`wcse report ${id}\`.`,
      );
    } else {
      console.error(
        `Run \`wcse resume ${id}\` to finish it (finished work is reused), then \`wcse report ${id}\`.`,
      );
    }
    const runDir = (description.memo as { runDir?: unknown } | undefined)?.runDir;
    if (typeof runDir === 'string') {
      const store = openStore(runDir);
      if (await store.exists(REPORT_MD_KEY)) {
        console.error(
          `An earlier report of this run is at ${where(store, REPORT_MD_KEY)} (it may be out of date).`,
        );
      }
    }
    return 1;
  }

  const result = (await handle.result()) as ResultWithReport;
  const store = openStore(result.runDir);
  const relabelled = await labelsNewerThanReport(store);
  if (relabelled || !(await store.exists(REPORT_JSON_KEY))) {
    console.error(
      relabelled
        ? `Human labels were imported after the report: writing it again into ${result.runDir}`
        : `Experiment ${id} has no report yet: writing it into ${result.runDir}`,
    );
    await writeReport({
      runDir: result.runDir,
      experimentId: id,
      sampling: result.sampling,
      setups: result.setups ?? [],
    });
  }
  const document = await readJson<ReportDocument>(store, REPORT_JSON_KEY);
  if (!document) throw new Error(`${where(store, REPORT_JSON_KEY)}: the report could not be read`);
  if (options.json) {
    console.log(JSON.stringify(document, null, 2));
    return 0;
  }
  console.log(`Report: ${where(store, REPORT_MD_KEY)}`);
  console.log('');
  console.log(document.headline || result.report?.headline || '(no headline in report.json)');
  const pngs = document.charts.filter((key) => key.endsWith('.png'));
  const charts = pngs.length ? pngs : document.charts;
  if (charts.length) {
    console.log('');
    console.log(`Charts (SVG beside each): ${charts.map((key) => where(store, key)).join(', ')}`);
  }
  return 0;
}

/** Where an artifact is, for a message: its local path, or `<location>/<key>` (an s3:// store). */
export function where(store: ArtifactStore, key: string): string {
  return store.localPath(key) ?? `${store.location}/${key}`;
}
