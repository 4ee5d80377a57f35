// `wcse label <id | run dir>`: writes the human labelling sheet of a run (CSV and a self-contained HTML
// page) into its run directory; `--import FILE` folds a labels file into the run for the report.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { compareHumanJudge } from '../core/agreement.js';
import { SOURCES } from '../core/config.js';
import { EXPERIMENT_KEY, OWNER_KEY } from '../core/layout.js';
import { fixed, percent, percentInterval } from '../core/report/format.js';
import { SOURCE_NAMES } from '../core/report/model.js';
import { importLabels, LabelError, loadHumanRatings, writeLabelSheet } from '../activities/labels.js';
import { openStore, readJson, type ArtifactStore } from '../activities/store.js';
import { connectClient, resolveTarget } from './connect.js';
import { readExperimentInput } from './run.js';

export interface LabelOptions {
  import?: string;
  perSource?: number;
}

/** A run directory given as a path, or the one an experiment was started with (its recorded input). */
async function resolveRun(target: string): Promise<{ runDir: string; experimentId: string | null }> {
  const asPath = path.resolve(target);
  if (await isDirectory(asPath)) {
    const store = openStore(asPath);
    if (!(await store.exists(EXPERIMENT_KEY))) {
      throw new LabelError(
        `${asPath} is not a run directory (no ${EXPERIMENT_KEY}): give one, or an experiment id`,
      );
    }
    const owner = await readJson<{ experimentId?: string }>(store, OWNER_KEY);
    return { runDir: asPath, experimentId: owner?.experimentId ?? null };
  }
  const { client, connection } = await connectClient(await resolveTarget());
  try {
    // The input is authoritative (a missing experiment is a WorkflowNotFoundError: main prints its message).
    const { input } = await readExperimentInput(client, target);
    return { runDir: input.runDir, experimentId: target };
  } finally {
    await connection.close();
  }
}

async function isDirectory(where: string): Promise<boolean> {
  try {
    return (await stat(where)).isDirectory();
  } catch {
    return false;
  }
}

function where(store: ArtifactStore, key: string): string {
  return store.localPath(key) ?? `${store.location}/${key}`;
}

export async function labelCommand(target: string, options: LabelOptions): Promise<number> {
  const { runDir, experimentId } = await resolveRun(target);
  const store = openStore(runDir);
  const name = experimentId ?? target;
  if (options.import) return importCommand(store, options.import, name);

  const perSource = options.perSource ?? 50;
  const sheet = await writeLabelSheet(store, { perSource, experimentId, title: name });
  const counts = SOURCES.map((source) => `${sheet.perSource[source]} ${SOURCE_NAMES[source]}`).join(' + ');
  console.log(
    `Labelling sheet of ${name}: ${counts} correct-answer solutions (the judge's sample, seed ${sheet.seed})`,
  );
  console.log(`  in a browser: ${where(store, sheet.keys.html)}  (Export labels downloads a CSV)`);
  console.log(`  or fill the label column (valid / invalid) of: ${where(store, sheet.keys.csv)}`);
  console.log(`Then: wcse label ${target} --import FILE`);
  if (sheet.warning) console.error(`warning: ${sheet.warning}`);
  return 0;
}

async function importCommand(store: ArtifactStore, file: string, name: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new LabelError(`${file}: cannot read (${(error as Error).message})`);
  }
  const summary = await importLabels(store, file, text);
  console.log(`Imported ${summary.imported} labels from ${file} (${summary.total} in the run).`);
  const ratings = await loadHumanRatings(store);
  for (const source of SOURCES) {
    const pairs = ratings?.bySource[source] ?? [];
    if (!pairs.length) continue;
    const { human, judgeOnSame, agreement } = compareHumanJudge(pairs);
    const judge = judgeOnSame.n
      ? `judge on the same ${percent(judgeOnSame.rate)} ${percentInterval(judgeOnSame.ci)} (${judgeOnSame.invalid}/${judgeOnSame.n})`
      : 'no judge verdicts on these';
    const kappa =
      agreement.kappa === null
        ? 'n/a'
        : `${fixed(agreement.kappa)} [${fixed(agreement.ci?.low)}, ${fixed(agreement.ci?.high)}]`;
    console.log(
      `  ${SOURCE_NAMES[source]}: human FPR ${percent(human.rate)} ${percentInterval(human.ci)} ` +
        `(${human.invalid}/${human.n}); ${judge}; Cohen's kappa ${kappa} (n = ${agreement.n})`,
    );
  }
  console.log(`\`wcse report ${name}\` writes the report again with them.`);
  return 0;
}
