import OpenAI, { toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import {
  answerScript,
  FLAWED_REASONING_MARKER,
  goldTable,
  startScriptedServer,
  type ModelScript,
  type ScriptedServer,
  type ScriptedServerOptions,
} from './support/scripted-server.js';

const echo: ModelScript = {
  respond: (ctx) => ({ content: `answer ${ctx.choiceIndex} to: ${ctx.lastUserMessage}` }),
};

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(
  options: Partial<ScriptedServerOptions> = {},
): Promise<{ s: ScriptedServer; client: OpenAI }> {
  server = await startScriptedServer({ models: { echo }, ...options });
  return { s: server, client: new OpenAI({ baseURL: server.baseURL, apiKey: 'test', maxRetries: 0 }) };
}

const ask = (
  client: OpenAI,
  content: string,
  extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {},
) => client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content }], ...extra });

describe('chat completions', () => {
  it('answers n choices with usage and request ids', async () => {
    const { s, client } = await start({ recordRequests: true });
    const { data, response } = await ask(client, 'two plus two', {
      n: 3,
      seed: 7,
      max_tokens: 64,
    }).withResponse();
    expect(response.headers.get('x-request-id')).toMatch(/^req_\d+$/);
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-\d+$/);
    expect(data.choices.map((c) => c.message.content)).toEqual([
      'answer 0 to: two plus two',
      'answer 1 to: two plus two',
      'answer 2 to: two plus two',
    ]);
    expect(data.choices.map((c) => c.finish_reason)).toEqual(['stop', 'stop', 'stop']);
    // prompt: 3 words + 4; completion: 6 words per choice.
    expect(data.usage).toEqual({ prompt_tokens: 7, completion_tokens: 18, total_tokens: 25 });
    expect(s.stats).toMatchObject({ received: 1, served: 1, servedChoices: 3, aborted: 0, inFlight: 0 });
    expect(s.stats.perModel.echo).toMatchObject({
      served: 1,
      servedChoices: 3,
      promptTokens: 7,
      completionTokens: 18,
    });
    expect(s.stats.requests).toEqual([
      expect.objectContaining({
        model: 'echo',
        lastUserMessage: 'two plus two',
        n: 3,
        seed: 7,
        status: 'served',
      }),
    ]);
  });

  it('passes request fields to the script and honours completionTokens / finishReason', async () => {
    const seen: unknown[] = [];
    const { s, client } = await start({
      models: {
        m: {
          respond: (ctx) => {
            seen.push([ctx.requestIndex, ctx.choiceIndex, ctx.n, ctx.seed, ctx.maxTokens, ctx.temperature]);
            return { content: 'x', completionTokens: 10, finishReason: 'length' };
          },
        },
      },
    });
    for (let i = 0; i < 2; i++) {
      const r = await client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'q' }],
        n: 2,
        seed: i,
        max_tokens: 5,
        temperature: 0.7,
      });
      expect(r.choices[1].finish_reason).toBe('length');
      expect(r.usage?.completion_tokens).toBe(20);
    }
    expect(seen).toEqual([
      [0, 0, 2, 0, 5, 0.7],
      [0, 1, 2, 0, 5, 0.7],
      [1, 0, 2, 1, 5, 0.7],
      [1, 1, 2, 1, 5, 0.7],
    ]);
    expect(s.stats.usage).toEqual({ promptTokens: 10, completionTokens: 40, totalTokens: 50 });
  });

  it('rejects unknown models, unsupported n and malformed bodies with OpenAI-shaped errors', async () => {
    const { s, client } = await start({ models: { echo, single: { ...echo, supportsN: false } } });
    const unknown = await client.chat.completions
      .create({ model: 'nope', messages: [{ role: 'user', content: 'q' }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    expect((unknown as Error).message).toContain('The model `nope` does not exist');

    const nErr = await client.chat.completions
      .create({ model: 'single', messages: [{ role: 'user', content: 'q' }], n: 2 })
      .catch((e: unknown) => e);
    expect(nErr).toBeInstanceOf(OpenAI.BadRequestError);
    expect((nErr as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');

    const raw = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(raw.status).toBe(400);
    const body = (await raw.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: null, code: null });
    expect(typeof body.error.message).toBe('string');
    expect(s.stats).toMatchObject({ received: 3, served: 0, rejected: 3, inFlight: 0 });
  });

  it('lists models', async () => {
    const { client } = await start();
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['echo']);
  });
});

describe('faults', () => {
  it('status faults reach the client with status, body and retry-after; FIFO, per model, times', async () => {
    const { s, client } = await start({ models: { echo, other: echo }, recordRequests: true });
    s.injectFaults(
      { kind: 'status', status: 429, retryAfterSeconds: 2 },
      { kind: 'status', status: 503, model: 'other' },
      { kind: 'status', status: 500, times: 2, message: 'boom' },
    );
    const e1 = (await ask(client, 'a').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e1).toBeInstanceOf(OpenAI.RateLimitError);
    expect(e1.headers?.get('retry-after')).toBe('2');
    expect(e1.headers?.get('retry-after-ms')).toBe('2000');
    expect(e1.code).toBe('rate_limit_exceeded');

    // The 503 only matches 'other': echo requests skip it and take the 500s.
    const e2 = (await ask(client, 'b').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e2).toBeInstanceOf(OpenAI.InternalServerError);
    expect(e2.status).toBe(500);
    expect(e2.message).toContain('boom');
    const e3 = (await ask(client, 'c').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e3.status).toBe(500);
    expect((await ask(client, 'd')).choices).toHaveLength(1);

    const e4 = (await client.chat.completions
      .create({ model: 'other', messages: [{ role: 'user', content: 'e' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e4.status).toBe(503);
    expect(s.pendingFaults()).toBe(0);

    for (const status of [400, 401, 403, 404] as const) {
      s.injectFaults({ kind: 'status', status });
      const e = (await ask(client, 'x').catch((err: unknown) => err)) as InstanceType<typeof OpenAI.APIError>;
      expect(e.status).toBe(status);
    }
    expect(s.stats).toMatchObject({ received: 9, served: 1, faulted: 8, aborted: 0, inFlight: 0 });
    expect(s.stats.perModel.echo).toMatchObject({ faulted: 7, served: 1 });
    expect(s.stats.requests.map((r) => r.status)).toEqual([
      'faulted',
      'faulted',
      'faulted',
      'served',
      'faulted',
      'faulted',
      'faulted',
      'faulted',
      'faulted',
    ]);
  });

  it('malformed JSON and empty choices are 200s the client cannot use', async () => {
    const { s, client } = await start();
    s.injectFaults({ kind: 'malformed-json' }, { kind: 'empty-choices' });
    const e = await ask(client, 'a').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(OpenAI.APIError);
    const empty = await ask(client, 'b');
    expect(empty.choices).toEqual([]);
    expect(s.stats).toMatchObject({ received: 2, served: 0, faulted: 2 });
  });

  it('hang without ms never answers: a client timeout counts as aborted, not served', async () => {
    const { s } = await start();
    const impatient = new OpenAI({ baseURL: s.baseURL, apiKey: 'test', maxRetries: 0, timeout: 200 });
    s.injectFaults({ kind: 'hang' });
    const e = await ask(impatient, 'a').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    await s.waitForAborted(1, 2000);
    expect(s.stats).toMatchObject({ received: 1, served: 0, faulted: 1, aborted: 1, inFlight: 0 });
    // The next request is fine.
    expect((await ask(impatient, 'b')).choices).toHaveLength(1);
    expect(s.stats.served).toBe(1);
  });

  it('hang with ms answers normally after the delay', async () => {
    const { s, client } = await start();
    s.injectFaults({ kind: 'hang', ms: 150 });
    const t0 = Date.now();
    const r = await ask(client, 'slow');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(r.choices[0].message.content).toBe('answer 0 to: slow');
    expect(s.stats).toMatchObject({ received: 1, served: 1, faulted: 1 });
  });

  it('random fault rate is deterministic for a seed', async () => {
    const outcomes: string[][] = [];
    for (let round = 0; round < 2; round++) {
      const { s, client } = await start();
      s.setFaultRate({ status: 503, fraction: 0.3, seed: 123 });
      const got: string[] = [];
      for (let i = 0; i < 40; i++) {
        got.push(
          await ask(client, 'q').then(
            () => 'ok',
            (e: unknown) => String((e as InstanceType<typeof OpenAI.APIError>).status),
          ),
        );
      }
      s.setFaultRate(undefined);
      expect((await ask(client, 'q')).choices).toHaveLength(1);
      outcomes.push(got);
      expect(s.stats.faulted).toBe(got.filter((x) => x === '503').length);
      await s.close();
      server = undefined;
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    const faults = outcomes[0].filter((x) => x === '503').length;
    expect(faults).toBeGreaterThan(3);
    expect(faults).toBeLessThan(25);
  });
});

describe('hold, abort and accounting', () => {
  it('holdAfter serves exactly k under concurrency, holds the rest until release', async () => {
    const { s, client } = await start({ recordRequests: true });
    s.holdAfter(5);
    const all = Promise.all(Array.from({ length: 8 }, (_, i) => ask(client, `q${i}`)));
    await s.waitForServed(5, 5000);
    await s.waitForHeld(3, 5000);
    expect(s.stats).toMatchObject({ received: 8, served: 5, held: 3, inFlight: 3 });
    expect(s.stats.requests.filter((r) => r.status === 'held')).toHaveLength(3);
    s.release(1);
    await s.waitForServed(6, 5000);
    expect(s.stats.held).toBe(2);
    s.release();
    const results = await all;
    expect(results).toHaveLength(8);
    expect(s.stats).toMatchObject({ received: 8, served: 8, held: 0, inFlight: 0, aborted: 0 });
  });

  it('an aborted held request counts aborted, never served', async () => {
    const { s, client } = await start({ recordRequests: true });
    s.holdAfter(1);
    await ask(client, 'first');
    const controller = new AbortController();
    const pending = ask(client, 'second', {}).catch((e: unknown) => e);
    const aborted = client.chat.completions
      .create(
        { model: 'echo', messages: [{ role: 'user', content: 'third' }] },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e);
    await s.waitForHeld(2, 5000);
    controller.abort();
    expect(await aborted).toBeInstanceOf(OpenAI.APIUserAbortError);
    await s.waitForAborted(1, 5000);
    expect(s.stats).toMatchObject({ received: 3, served: 1, held: 1, aborted: 1 });
    expect(s.stats.perModel.echo).toMatchObject({ served: 1, aborted: 1 });
    s.release();
    const second = (await pending) as OpenAI.ChatCompletion;
    expect(second.choices[0].message.content).toBe('answer 0 to: second');
    expect(s.stats).toMatchObject({ received: 3, served: 2, held: 0, aborted: 1, inFlight: 0 });
    expect(s.stats.requests.map((r) => [r.lastUserMessage, r.status])).toEqual([
      ['first', 'served'],
      ['second', 'served'],
      ['third', 'aborted'],
    ]);
  });

  it('per-model latency delays answers; close() ends held and hanging requests promptly', async () => {
    const { s, client } = await start({ models: { echo, slow: { ...echo, latencyMs: 100 } } });
    const t0 = Date.now();
    await client.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'q' }] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    s.injectFaults({ kind: 'hang' });
    s.holdAfter(0);
    const hanging = ask(client, 'hang').catch((e: unknown) => e);
    const held = ask(client, 'held').catch((e: unknown) => e);
    await s.waitForHeld(1, 5000);
    await s.waitForReceived(3, 5000);
    const waiting = s.waitForServed(100).catch((e: unknown) => e);
    const c0 = Date.now();
    await s.close();
    server = undefined;
    expect(Date.now() - c0).toBeLessThan(1000);
    expect(await hanging).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(await held).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(await waiting).toBeInstanceOf(Error);
  });

  it('resetStats zeroes counters and the served index', async () => {
    const { s, client } = await start();
    await ask(client, 'a');
    s.resetStats();
    expect(s.stats).toMatchObject({ received: 0, served: 0, perModel: {} });
    await ask(client, 'b');
    expect(s.stats.served).toBe(1);
  });
});

describe('answerScript', () => {
  const questions = { 'What is 6*7?': '42', 'What is 2+2?': '4', 'What is 1/3 of 9?': '3', 'Hard?': '17' };
  const gold = goldTable(questions);

  it('gives exact coverage and diversity for any split of samples into requests', async () => {
    const fractions: Record<string, number> = { '42': 0.5, '4': 1, '3': 1 / 3, '17': 0 };
    const variants: Record<string, number> = { '42': Infinity, '4': 2, '3': 1, '17': 5 };
    const wc = answerScript({
      gold,
      correctFraction: (_q, g) => fractions[g],
      variants: (_q, g) => variants[g],
      flawed: (s) => s.gold === '4' && s.variant === 1,
    });
    const { client } = await start({ models: { wc } });
    const prompt = (q: string) => `Solve the problem.\n\nProblem: ${q}\nSolution:`;
    const samples = new Map<string, string[]>();
    // 6 samples per question, as n=4 + n=2, concurrently.
    await Promise.all(
      Object.keys(questions).flatMap((q) =>
        [4, 2].map(async (n) => {
          const r = await client.chat.completions.create({
            model: 'wc',
            messages: [
              { role: 'system', content: 'You are a math solver.' },
              { role: 'user', content: prompt(q) },
            ],
            n,
          });
          samples.set(q, [...(samples.get(q) ?? []), ...r.choices.map((c) => c.message.content ?? '')]);
        }),
      ),
    );
    const correctOf = (q: string) =>
      samples
        .get(q)!
        .filter((t) => /\\boxed\{([^}]*)\}/.exec(t)?.[1] === questions[q as keyof typeof questions]);
    const counts = Object.keys(questions).map((q) => [correctOf(q).length, new Set(correctOf(q)).size]);
    // 42: floor(6*0.5)=3 correct, all distinct; 4: 6 correct, 2 variants; 3: 2 correct, 1 variant; 17: none.
    expect(counts).toEqual([
      [3, 3],
      [6, 2],
      [2, 1],
      [0, 0],
    ]);
    expect(wc.samplesOf(prompt('What is 6*7?'))).toBe(6);
    expect(correctOf('What is 2+2?').filter((t) => t.includes(FLAWED_REASONING_MARKER))).toHaveLength(3);
    expect(samples.get('Hard?')!.every((t) => !t.includes('\\boxed{17}'))).toBe(true);
    expect(new Set(samples.get('Hard?')).size).toBe(6);
  });

  it('fraction pattern, truncation at max_tokens, unknown questions', async () => {
    const wc = answerScript({ gold, correctFraction: 0.5, reasoningWords: 10 });
    const { client } = await start({ models: { wc } });
    const r = await client.chat.completions.create({
      model: 'wc',
      messages: [{ role: 'user', content: 'What is 6*7?' }],
      n: 4,
    });
    expect(r.choices.map((c) => c.message.content?.endsWith('\\boxed{42}.'))).toEqual([
      false,
      true,
      false,
      true,
    ]);
    expect(r.choices[0].message.content).toContain('\\boxed{43}');
    const short = await client.chat.completions.create({
      model: 'wc',
      messages: [{ role: 'user', content: 'What is 6*7?' }],
      max_tokens: 3,
    });
    expect(short.choices[0].finish_reason).toBe('length');
    expect(short.usage?.completion_tokens).toBe(3);
    const unknown = await client.chat.completions.create({
      model: 'wc',
      messages: [{ role: 'user', content: 'Who are you?' }],
    });
    expect(unknown.choices[0].message.content).not.toContain('boxed');
  });
});

describe('files and fine-tuning', () => {
  const line = (q: string, a: string) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: q },
        { role: 'assistant', content: a },
      ],
    });
  const jsonl =
    [line('What is 2+2?', 'The answer is 4.'), line('What is 3+3?', 'The answer is 6.')].join('\n') + '\n';

  it('uploads files, runs a job to success, serves the finetuned model', async () => {
    const tuned: ModelScript = { respond: () => ({ content: 'tuned answer' }) };
    const modelFor = (job: { trainingFileContent: string; suffix: string | null }) => {
      expect(job.trainingFileContent).toBe(jsonl);
      expect(job.suffix).toBe('wc-data');
      return tuned;
    };
    const { s, client } = await start({ fineTuning: { stepsToFinish: 3, modelFor } });
    const file = await client.files.create({
      file: await toFile(Buffer.from(jsonl), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    expect(file).toMatchObject({
      object: 'file',
      filename: 'train.jsonl',
      purpose: 'fine-tune',
      bytes: jsonl.length,
    });
    expect((await client.files.retrieve(file.id)).id).toBe(file.id);
    expect(await (await client.files.content(file.id)).text()).toBe(jsonl);

    const job = await client.fineTuning.jobs.create({
      model: 'echo',
      training_file: file.id,
      suffix: 'wc-data',
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2 } } },
    });
    expect(job).toMatchObject({
      object: 'fine_tuning.job',
      status: 'validating_files',
      fine_tuned_model: null,
    });
    expect(job.hyperparameters.n_epochs).toBe(2);
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await client.fineTuning.jobs.retrieve(job.id)).status);
    expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    const done = await client.fineTuning.jobs.retrieve(job.id);
    expect(done.fine_tuned_model).toBe(`ft:echo:wc-data:${job.id}`);
    expect(done.finished_at).toEqual(expect.any(Number));
    expect(done.trained_tokens).toBeGreaterThan(0);

    const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 50 });
    const messages = events.data.map((e) => e.message);
    expect(messages[0]).toBe('The job has successfully completed');
    // Steps follow the data: 2 examples x 2 epochs at batch size 1 ('auto'), the loss scripted as 1.5 / step.
    expect(messages).toContain('Step 4/4: training loss=0.375');
    expect(events.data.every((e) => e.object === 'fine_tuning.job.event')).toBe(true);

    const r = await client.chat.completions.create({
      model: done.fine_tuned_model!,
      messages: [{ role: 'user', content: 'q' }],
    });
    expect(r.choices[0].message.content).toBe('tuned answer');
    expect((await client.models.list()).data.map((m) => m.id)).toContain(done.fine_tuned_model);

    const listed = await client.fineTuning.jobs.list();
    expect(listed.data.map((j) => j.id)).toEqual([job.id]);
    expect(listed.has_more).toBe(false);
    expect(s.jobs()).toHaveLength(1);
    expect(s.stats.fineTuning).toMatchObject({
      filesCreated: 1,
      jobsCreated: 1,
      jobsCancelled: 0,
      jobPolls: 4,
    });
  });

  it('cancels, fails (invalid file, failWith, failJob), time-driven jobs and pagination', async () => {
    const { s, client } = await start({
      fineTuning: {
        stepsToFinish: 2,
        failWith: (job) => (job.suffix === 'doomed' ? 'loss diverged' : undefined),
      },
    });
    const good = await client.files.create({
      file: await toFile(Buffer.from(jsonl), 't.jsonl'),
      purpose: 'fine-tune',
    });
    const bad = await client.files.create({
      file: await toFile(Buffer.from('not json\n'), 'b.jsonl'),
      purpose: 'fine-tune',
    });

    const toCancel = await client.fineTuning.jobs.create({ model: 'echo', training_file: good.id });
    const cancelled = await client.fineTuning.jobs.cancel(toCancel.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await client.fineTuning.jobs.retrieve(toCancel.id)).status).toBe('cancelled');
    expect(await client.fineTuning.jobs.cancel(toCancel.id).catch((e: unknown) => e)).toBeInstanceOf(
      OpenAI.BadRequestError,
    );

    const invalid = await client.fineTuning.jobs.create({ model: 'echo', training_file: bad.id });
    const invalidDone = await client.fineTuning.jobs.retrieve(invalid.id);
    expect(invalidDone.status).toBe('failed');
    expect(invalidDone.error?.code).toBe('invalid_training_file');

    const doomed = await client.fineTuning.jobs.create({
      model: 'echo',
      training_file: good.id,
      suffix: 'doomed',
    });
    await client.fineTuning.jobs.retrieve(doomed.id);
    const doomedDone = await client.fineTuning.jobs.retrieve(doomed.id);
    expect(doomedDone).toMatchObject({ status: 'failed', fine_tuned_model: null });
    expect(doomedDone.error).toMatchObject({ code: 'invalid_training_file', message: 'loss diverged' });

    const later = await client.fineTuning.jobs.create({ model: 'echo', training_file: good.id });
    s.failJob(later.id, 'node lost');
    expect((await client.fineTuning.jobs.retrieve(later.id)).error).toMatchObject({
      code: 'training_failed',
      message: 'node lost',
    });

    const missing = await client.fineTuning.jobs
      .create({ model: 'echo', training_file: 'file-404' })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.BadRequestError);
    expect(await client.fineTuning.jobs.retrieve('ftjob-404').catch((e: unknown) => e)).toBeInstanceOf(
      OpenAI.NotFoundError,
    );

    const page = await client.fineTuning.jobs.list({ limit: 2 });
    expect(page.data.map((j) => j.id)).toEqual([later.id, doomed.id]);
    expect(page.has_more).toBe(true);
    const ids: string[] = [];
    for await (const j of client.fineTuning.jobs.list({ limit: 2 })) ids.push(j.id);
    expect(ids).toEqual([later.id, doomed.id, invalid.id, toCancel.id]);
    expect(s.jobs().map((j) => j.status)).toEqual(['cancelled', 'failed', 'failed', 'failed']);
    expect(s.stats.fineTuning).toMatchObject({ jobsCreated: 4, jobsCancelled: 1 });
  });

  it('time-driven jobs succeed without polls', async () => {
    const { s, client } = await start({ fineTuning: { durationMs: 100 } });
    const file = await client.files.create({
      file: await toFile(Buffer.from(jsonl), 't.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({ model: 'echo', training_file: file.id });
    await new Promise((r) => setTimeout(r, 150));
    expect(s.jobs()[0].status).toBe('succeeded');
    const r = await client.chat.completions.create({
      model: `ft:echo:wcse:${job.id}`,
      messages: [{ role: 'user', content: 'hi' }],
    });
    // Default script of a finetuned model: the base model's.
    expect(r.choices[0].message.content).toBe('answer 0 to: hi');
  });
});

describe('uploads and routing', () => {
  it('parses multipart uploads byte-exact and refuses bodies that are not one, naming the field', async () => {
    const { s, client } = await start();
    const bytes = Buffer.from([0, 255, 13, 10, 45, 45, 0x62, 13, 10]); // NUL, 0xff, CRLF, "--b", CRLF
    const file = await client.files.create({ file: await toFile(bytes, 'raw.bin'), purpose: 'fine-tune' });
    expect(file).toMatchObject({ filename: 'raw.bin', bytes: bytes.length });
    expect(Buffer.from(await (await client.files.content(file.id)).arrayBuffer())).toEqual(bytes);

    const upload = async (body: FormData | string, headers: Record<string, string> = {}) => {
      const r = await fetch(`${s.baseURL}/files`, { method: 'POST', body, headers });
      return { status: r.status, error: ((await r.json()) as { error: Record<string, unknown> }).error };
    };
    const noPurpose = new FormData();
    noPurpose.append('file', new Blob(['x']), 'x.jsonl');
    expect(await upload(noPurpose)).toMatchObject({ status: 400, error: { param: 'purpose' } });
    const noFile = new FormData();
    noFile.append('purpose', 'fine-tune');
    expect(await upload(noFile)).toMatchObject({ status: 400, error: { param: 'file' } });
    expect(await upload('{}', { 'content-type': 'application/json' })).toMatchObject({
      status: 400,
      error: { message: 'Expected multipart/form-data.' },
    });
    const torn = await upload('--b\r\ncontent-disposition: form-data; name="file"', {
      'content-type': 'multipart/form-data; boundary=b',
    });
    expect(torn.status).toBe(400);
    expect(torn.error.message).toContain('multipart/form-data');
    expect(s.files().map((f) => f.id)).toEqual([file.id]);
    expect(s.stats.fineTuning.filesCreated).toBe(1);

    expect(await client.files.delete(file.id)).toMatchObject({ id: file.id, deleted: true });
    expect(await client.files.retrieve(file.id).catch((e: unknown) => e)).toBeInstanceOf(
      OpenAI.NotFoundError,
    );
  });

  it('records arrival time, retrieves models by id (slashes included), answers 404 for unknown routes', async () => {
    const { s, client } = await start({ models: { echo, 'org/model': echo }, recordRequests: true });
    const t0 = Date.now();
    await ask(client, 'a');
    const t1 = Date.now();
    expect(s.stats.requests[0].receivedAt).toBeGreaterThanOrEqual(t0);
    expect(s.stats.requests[0].receivedAt).toBeLessThanOrEqual(t1);

    expect(await client.models.retrieve('org/model')).toMatchObject({
      id: 'org/model',
      owned_by: 'scripted',
    });
    const missing = await client.models.retrieve('nope').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');

    const r = await fetch(`${s.baseURL}/embeddings`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { message: string } }).error.message).toBe(
      'No such route POST /v1/embeddings',
    );
    expect(s.stats.received).toBe(1);
  });
});
