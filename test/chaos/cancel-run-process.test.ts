// Chaos: the `wcse run` process that follows an experiment (the embedded default: its own dev server and
// in-process worker) ends promptly once `wcse cancel` has cancelled the experiment, and on SIGTERM; after
// either, nothing more reaches the endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  answerScript,
  goldTable,
  startScriptedServer,
  type ScriptedServer,
} from '../support/scripted-server.js';
import { tempDir, useTemporal, writeProblems } from '../support/harness.js';
import { inject } from 'vitest';
import { stopDevServer } from '../../workers/temporal-cli.js';

process.env.WCSE_TEST_API_KEY = 'sk-test-cancel-run';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('wcse run follows a cancel', () => {
  let server: ScriptedServer;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    home = await tempDir('cancel-run');
    env = { ...process.env, TEMPORAL_ADDRESS: '', WCSE_HOME: home };
    const problems = await writeProblems(home, 6);
    const gold = goldTable(Object.fromEntries(problems.gold));
    server = await startScriptedServer({
      recordRequests: true,
      models: {
        weak: { ...answerScript({ gold, correctFraction: 0.5 }), latencyMs: 100 },
        strong: { ...answerScript({ gold, correctFraction: 1, variants: 1 }), latencyMs: 100 },
      },
    });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await stopDevServer(path.join(home, 'temporal'));
    await server?.close();
  });

  /** A config whose budget no test here can spend: sampling goes on until the run is stopped. */
  async function endlessConfig(name: string, taskQueue?: string): Promise<string> {
    const file = path.join(home, `${name}.yaml`);
    const modelLine = (source: string, id: string, params: number) =>
      `  ${source}: {model: ${id}, baseURL: "${server.baseURL}", params: ${params}, apiKeyEnv: WCSE_TEST_API_KEY, ` +
      'concurrency: 1, sampling: {maxTokens: 16, temperature: 0.7}}';
    await writeFile(
      file,
      [
        `name: ${name}`,
        `runDir: ${path.join(home, name)}`,
        'problems: {path: problems.jsonl, kind: generic, fields: {question: question, answer: answer, id: id}}',
        'models:',
        modelLine('wc', 'weak', 1e9),
        modelLine('se', 'strong', 2e9),
        'budget: {mode: flops, flopsPerSource: 1e30}',
        'confirmAbove: {samples: 1e30, flops: 1e40}',
        'sampling: {batchSize: 2}',
        `temporal: {heartbeatTimeoutSeconds: 3${taskQueue ? `, taskQueue: ${taskQueue}` : ''}}`,
        '',
      ].join('\n'),
    );
    return file;
  }

  /** `wcse run <config>` in its own process, once the endpoint has served requests for it. */
  async function startRun(
    config: string,
    options: { args?: string[]; env?: NodeJS.ProcessEnv } = {},
  ): Promise<{ child: ChildProcess; id: string; exited: Promise<number>; stderr: () => string }> {
    const child = spawn(process.execPath, ['bin/wcse.js', 'run', config, ...(options.args ?? [])], {
      env: options.env ?? env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))),
    );
    const id = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        const line = chunk.toString().trim();
        if (line) resolve(line.split('\n')[0]);
      });
      void exited.then((code) => reject(new Error(`wcse run exited with ${code}: ${stderr}`)));
    });
    const served = server.stats.served;
    await server
      .waitFor((s) => s.served >= served + 4, 60_000, 'requests of the run')
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; wcse run said: ${stderr}`);
      });
    return { child, id, exited, stderr: () => stderr };
  }

  const wcse = (args: string[]) => run(process.execPath, ['bin/wcse.js', ...args], { env, timeout: 180_000 });

  it('exits once `wcse cancel` has returned, and nothing more is requested', async () => {
    const { id, exited } = await startRun(await endlessConfig('cancel-run'));
    const cancelled = await wcse(['cancel', id, '--wait-seconds', '60']);
    expect(cancelled.stderr).toContain(`Cancelled ${id}`);
    const returnedAt = Date.now();
    const code = await Promise.race([exited, sleep(20_000).then(() => 'still running')]);
    console.log(`wcse run exited ${Date.now() - returnedAt} ms after wcse cancel returned`);
    expect(code).toBe(1);
    // Within the time its in-process worker needs to see the experiment closed, not the worker's grace time.
    expect(Date.now() - returnedAt).toBeLessThan(15_000);
    await sleep(1_000);
    expect(server.stats.requests.filter((r) => r.receivedAt > returnedAt)).toEqual([]);
    expect(server.stats.inFlight).toBe(0);
  });

  it('exits promptly on SIGTERM mid-run, its requests stopped', async () => {
    const { child, exited, stderr } = await startRun(await endlessConfig('sigterm-run'));
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(30_000).then(() => 'still running')]);
    console.log(`wcse run exited ${Date.now() - signalledAt} ms after SIGTERM`);
    expect(code).toBe(1);
    // Not after its progress query timed out (the query waited for the worker that had just stopped).
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(stderr()).toContain('Stopped: this process no longer runs a worker');
    expect(stderr()).not.toMatch(/Channel has been shut down|Error:/);
    const exitedAt = Date.now();
    await sleep(1_000);
    expect(server.stats.requests.filter((r) => r.receivedAt > exitedAt)).toEqual([]);
  });

  describe('following a server with its own workers (`wcse run --wait`)', () => {
    const temporal = useTemporal('cancel-run-follow');

    it('exits promptly on SIGTERM (the Temporal runtime swallowed the first one)', async () => {
      const config = await endlessConfig('follow-run', temporal.worker.taskQueue);
      const { child, id, exited } = await startRun(config, {
        args: ['--wait'],
        env: { ...env, TEMPORAL_ADDRESS: inject('temporalAddress') },
      });
      const signalledAt = Date.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
      console.log(`wcse run --wait exited ${Date.now() - signalledAt} ms after SIGTERM`);
      expect(code).toBe(1);
      expect(Date.now() - signalledAt).toBeLessThan(5_000);
      // The experiment goes on with the workers it has; `wcse cancel` ends it.
      await temporal.client.workflow.getHandle(id).cancel();
    });
  });
});
