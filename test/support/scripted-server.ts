/**
 * A scripted, in-process OpenAI-compatible HTTP server for tests and benchmarks.
 *
 * - `POST /v1/chat/completions`: answers from per-model scripts (`ModelScript.respond`, once per choice), with
 *   OpenAI-shaped responses and errors, `usage`, `x-request-id`.
 * - Exact accounting of what a real API would bill (`served`) against what arrived (`received`), what the
 *   client abandoned (`aborted`), what was answered by an injected fault (`faulted`) and what was refused
 *   (`rejected`). See {@link ServerStats}.
 * - Faults on demand (`injectFaults`, `setFaultRate`), holding responses (`holdAfter`, `release`) and waiting for
 *   counts (`waitForServed`, `waitForHeld`, ...), for tests that kill a worker mid-sampling.
 * - Files + fine-tuning jobs (`/v1/files`, `/v1/fine_tuning/jobs`) in the shapes the `openai` v6 client expects;
 *   a succeeded job's `fine_tuned_model` becomes servable by chat completions.
 *
 * Built on `node:http` (a real socket on 127.0.0.1, which is what lets crash tests count billing exactly). Zero
 * per-request logging and no timers unless latency is asked for, so it can serve 10,000s of completions in a
 * benchmark.
 *
 * The implementation lives in `scripted-server/`, modules around one state object that every handler takes:
 * `state.ts` (the state, counters, waiters), `http.ts` (route table, dispatcher, OpenAI-shaped answers),
 * `chat.ts` (chat completions, holds, accounting), `faults.ts`, `models.ts`, `files.ts` (uploads parsed by
 * `Request#formData()`), `fine-tuning.ts`, `index.ts` (`startScriptedServer` and the controls) and `types.ts`
 * (the public types). This file is the import path tests use.
 *
 * @example
 * ```ts
 * const server = await startScriptedServer({
 *   models: { 'wc-model': answerScript({ gold: goldTable({ 'What is 6*7?': '42' }), correctFraction: 0.5 }) },
 * });
 * const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'test', maxRetries: 0 });
 * server.injectFaults({ kind: 'status', status: 429, retryAfterSeconds: 0 });
 * // ... run the code under test ...
 * expect(server.stats.served).toBe(10);
 * await server.close();
 * ```
 */
export { startScriptedServer } from './scripted-server/index.js';
export { countWords } from './scripted-server/text.js';
export type * from './scripted-server/types.js';
export { answerScript, goldTable, FLAWED_REASONING_MARKER } from './scripted-answers.js';
export type { AnswerScriptOptions, AnswerScript, SampleInfo } from './scripted-answers.js';
