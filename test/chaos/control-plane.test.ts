// Chaos: the embedded control plane. A dev server that died is restarted on its recorded ports, so a
// client (or worker) still holding the old address reconnects by itself (issue 13, item 7).
import { describe, expect, it } from 'vitest';
import { Connection } from '@temporalio/client';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureDevServer, portOpen, stopDevServer } from '../../workers/temporal-cli.js';
import { answerScript, goldTable, startScriptedServer } from '../support/scripted-server.js';
import { tempDir, writeProblems } from '../support/harness.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilClosed(port: number): Promise<void> {
  for (let i = 0; i < 100 && (await portOpen(port)); i++) await sleep(100);
  expect(await portOpen(port)).toBe(false);
}

describe('the embedded dev server', () => {
  it('comes back on its recorded ports after it was killed, and an open connection recovers', async () => {
    const stateDir = await tempDir('control-plane');
    const first = await ensureDevServer({ stateDir, detached: false, headless: true });
    expect(first.started).toBe(true);
    const connection = await Connection.connect({ address: first.address });
    try {
      await connection.workflowService.getSystemInfo({});
      process.kill(first.pid, 'SIGKILL');
      const port = Number(first.address.split(':')[1]);
      await waitUntilClosed(port);

      const second = await ensureDevServer({ stateDir, detached: false, headless: true });
      expect(second.started).toBe(true);
      expect(second.pid).not.toBe(first.pid);
      expect(second.address).toBe(first.address);
      expect(second.uiUrl).toBe(first.uiUrl);
      // The connection made before the kill talks to the new server.
      await expect(connection.workflowService.getSystemInfo({})).resolves.toBeDefined();

      // Running: reused as is.
      const third = await ensureDevServer({ stateDir, detached: false, headless: true });
      expect(third).toMatchObject({ started: false, pid: second.pid, address: first.address });
    } finally {
      await connection.close();
      await stopDevServer(stateDir);
    }
  });

  it('`wcse run` brings a killed dev server back and follows the experiment to the end', async () => {
    const home = await tempDir('control-plane-run');
    const problems = await writeProblems(home, 4);
    const gold = goldTable(Object.fromEntries(problems.gold));
    const server = await startScriptedServer({
      models: { weak: { ...answerScript({ gold, correctFraction: 0.5 }), latencyMs: 150 } },
    });
    const stateDir = path.join(home, 'temporal');
    try {
      const config = path.join(home, 'config.yaml');
      await writeFile(
        config,
        [
          'name: control-plane',
          `runDir: ${path.join(home, 'run')}`,
          `problems: {path: ${problems.file}, kind: generic, fields: {question: question, answer: answer, id: id}}`,
          'models:',
          `  wc: {model: weak, baseURL: "${server.baseURL}", params: 1e9, concurrency: 1}`,
          `  se: {model: weak, baseURL: "${server.baseURL}", params: 2e9, concurrency: 1}`,
          'budget: {mode: ratio, samplesPerQuestion: 6}',
          'temporal: {heartbeatTimeoutSeconds: 5}',
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, ['bin/wcse.js', 'run', config], {
        env: { ...process.env, TEMPORAL_ADDRESS: '', WCSE_HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

      await Promise.race([
        server.waitForServed(3, 60_000),
        exited.then((code) => {
          throw new Error(`wcse run exited (${code}) before any request:\n${stderr}`);
        }),
      ]);
      const record = JSON.parse(await readFile(path.join(stateDir, 'dev-server.json'), 'utf8')) as {
        pid: number;
        port: number;
      };
      process.kill(record.pid, 'SIGKILL');
      const code = await exited;
      expect(stderr).toMatch(/restarting it and re-attaching/);
      expect(stderr).toMatch(/Experiment control-plane-[0-9a-f]{8} completed/);
      expect(code).toBe(0);
      const restarted = JSON.parse(await readFile(path.join(stateDir, 'dev-server.json'), 'utf8')) as {
        pid: number;
        port: number;
      };
      expect(restarted.pid).not.toBe(record.pid);
      expect(restarted.port).toBe(record.port);
    } finally {
      await stopDevServer(stateDir);
      await server.close();
    }
  });

  it('`wcse resume --wait` on a running experiment whose worker died runs one and finishes it', async () => {
    const home = await tempDir('control-plane-resume');
    const problems = await writeProblems(home, 4);
    const gold = goldTable(Object.fromEntries(problems.gold));
    const server = await startScriptedServer({
      models: { weak: { ...answerScript({ gold, correctFraction: 0.5 }), latencyMs: 100 } },
    });
    const stateDir = path.join(home, 'temporal');
    const env = { ...process.env, TEMPORAL_ADDRESS: '', WCSE_HOME: home };
    try {
      const config = path.join(home, 'config.yaml');
      await writeFile(
        config,
        [
          'name: control-plane-resume',
          `runDir: ${path.join(home, 'run')}`,
          `problems: {path: ${problems.file}, kind: generic, fields: {question: question, answer: answer, id: id}}`,
          'models:',
          `  wc: {model: weak, baseURL: "${server.baseURL}", params: 1e9, concurrency: 1}`,
          `  se: {model: weak, baseURL: "${server.baseURL}", params: 2e9, concurrency: 1}`,
          'budget: {mode: ratio, samplesPerQuestion: 4}',
          // The dead worker's batches are retried once their heartbeats stop: soon, here.
          'temporal: {heartbeatTimeoutSeconds: 5}',
          '',
        ].join('\n'),
      );
      const first = spawn(process.execPath, ['bin/wcse.js', 'run', config], {
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let id = '';
      first.stdout.on('data', (chunk: Buffer) => (id += chunk.toString()));
      const firstExited = new Promise((resolve) => first.once('exit', resolve));
      await server.waitForServed(3, 60_000);
      // The only worker dies with its process; the experiment stays running on the dev server.
      first.kill('SIGKILL');
      await firstExited;
      id = id.trim();
      expect(id).toMatch(/^control-plane-resume-[0-9a-f]{8}$/);

      const resumed = await promisify(execFile)(process.execPath, ['bin/wcse.js', 'resume', id, '--wait'], {
        env,
        timeout: 120_000,
      });
      expect(resumed.stderr).toMatch(/runs a worker/);
      expect(resumed.stderr).toMatch(/Experiment control-plane-resume-[0-9a-f]{8} completed/);
      // Every planned sample was drawn: 4 questions x (4 SE + 8 WC) samples.
      expect(server.stats.servedChoices).toBeGreaterThanOrEqual(4 * (4 + 8));
      const metrics = JSON.parse(await readFile(path.join(home, 'run', 'metrics.json'), 'utf8'));
      expect(metrics.sources.wc.samplesPerQuestion).toBe(8);
      expect(metrics.sources.se.samplesPerQuestion).toBe(4);
    } finally {
      await stopDevServer(stateDir);
      await server.close();
    }
  });
});
