// Determinism guard: recorded histories must replay against the current workflow code. A failure here
// means a workflow change would break running experiments: use patching, or record new fixtures for an
// intentional break (`npm run record-histories -- v2`) and keep the old ones while old runs may be open.
import { describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';

const fixtures = path.resolve('test/fixtures/histories');

describe('workflow replay', () => {
  it('replays every recorded history against the current workflow code', async () => {
    const index = JSON.parse(await readFile(path.join(fixtures, 'index.json'), 'utf8')) as Record<
      string,
      string
    >;
    const files = (await readdir(fixtures)).filter((name) => name.endsWith('.json') && name !== 'index.json');
    expect(files.sort()).toEqual(Object.keys(index).sort());
    expect(files.length).toBeGreaterThanOrEqual(2);
    const histories = await Promise.all(
      files.map(async (file) => ({
        workflowId: index[file],
        history: historyFromJSON(JSON.parse(await readFile(path.join(fixtures, file), 'utf8'))),
      })),
    );
    const results = Worker.runReplayHistories(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      histories,
    );
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of results) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
