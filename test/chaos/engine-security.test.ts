// Chaos: the local engine refuses what a web page in the user's browser could send it (issue 13, item 8). A
// real engine process on 127.0.0.1 started with a bearer token; wcse's own client sends the token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { tempDir } from '../support/harness.js';
import { freePort } from '../../workers/temporal-cli.js';
import { apiKeyFor, clientFor, ENGINE_API_KEY_ENV } from '../../activities/endpoint.js';

const PYTHON = path.resolve('engine/.venv/bin/python');
const TOKEN = 'sk-engine-chaos-token';
const JOB = JSON.stringify({ model: 'tiny-random', training_file: 'file-missing' });

/** One raw HTTP request, so that Host, Origin and the content type are exactly what a browser could send. */
function request(
  port: number,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('the engine refuses cross-site requests', () => {
  let engine: ChildProcess | undefined;
  let port = 0;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    if (!existsSync(PYTHON)) {
      throw new Error(`the local engine is not installed (${PYTHON} missing): run bash engine/install.sh`);
    }
    const dir = await tempDir('engine-security');
    port = await freePort();
    engine = spawn(
      PYTHON,
      ['-m', 'wcse_engine', 'serve', '--port', String(port), '--state-dir', path.join(dir, 'state')],
      {
        cwd: path.resolve('engine'),
        env: { ...process.env, HF_HUB_OFFLINE: '1', [ENGINE_API_KEY_ENV]: TOKEN },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (engine.exitCode !== null) throw new Error(`the engine exited with code ${engine.exitCode}`);
      const health = await request(port, { method: 'GET', path: '/health' }).catch(() => null);
      if (health?.status === 200) break;
      if (Date.now() > deadline) throw new Error('the engine did not become ready in 120 s');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }, 180_000);

  afterAll(() => {
    engine?.kill('SIGTERM');
  });

  /** POSTs the fine-tuning job JOB with these headers. */
  const postJob = (headers: Record<string, string>) =>
    request(port, { method: 'POST', path: '/v1/fine_tuning/jobs', headers, body: JOB });

  const jobs = async () =>
    JSON.parse(
      (await request(port, { method: 'GET', path: '/v1/fine_tuning/jobs', headers: auth })).body,
    ) as {
      data: unknown[];
    };

  it('refuses a cross-origin text/plain POST that would create a fine-tuning job', async () => {
    const host = `127.0.0.1:${port}`;
    // Even with the token (a page cannot know it, but the Origin check must hold on its own).
    const crossSite = await postJob({
      ...auth,
      host,
      origin: 'https://evil.example',
      'content-type': 'text/plain;charset=UTF-8',
    });
    expect(crossSite.status).toBe(403);
    expect(JSON.parse(crossSite.body).error.code).toBe('origin_not_allowed');

    const plainText = await postJob({ ...auth, host, 'content-type': 'text/plain' });
    expect(plainText.status).toBe(415);

    const rebound = await postJob({
      ...auth,
      host: `attacker.example:${port}`,
      'content-type': 'application/json',
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.code).toBe('host_not_allowed');

    const noToken = await postJob({ host, 'content-type': 'application/json' });
    expect(noToken.status).toBe(401);

    // The same request as wcse makes it reaches the route (which refuses the missing file itself).
    const own = await postJob({ ...auth, host, 'content-type': 'application/json' });
    expect(own.status).toBe(400);
    expect(JSON.parse(own.body).error.param).toBe('training_file');
    expect((await jobs()).data).toEqual([]);
  });

  it("wcse's client sends the token named by apiKeyEnv", async () => {
    const endpoint = {
      baseURL: `http://127.0.0.1:${port}/v1`,
      apiKeyEnv: ENGINE_API_KEY_ENV,
      requestTimeoutSeconds: 30,
    };
    const saved = process.env[ENGINE_API_KEY_ENV];
    try {
      // Unset, the engine's token is optional: no MissingApiKey failure (an engine without one accepts).
      delete process.env[ENGINE_API_KEY_ENV];
      expect(apiKeyFor(endpoint)).toBe('not-needed');
      process.env[ENGINE_API_KEY_ENV] = TOKEN;
      expect(apiKeyFor(endpoint)).toBe(TOKEN);
      const models = await clientFor(endpoint).models.list();
      expect(models.data.length).toBeGreaterThan(0);
    } finally {
      if (saved === undefined) delete process.env[ENGINE_API_KEY_ENV];
      else process.env[ENGINE_API_KEY_ENV] = saved;
    }
  });
});
