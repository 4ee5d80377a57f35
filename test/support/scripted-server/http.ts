/**
 * HTTP plumbing of the scripted server: the route table type and its dispatcher, OpenAI-shaped JSON answers and
 * errors, and reading request bodies. Knows nothing of chat, files or jobs.
 */
import type http from 'node:http';
import type { ServerState } from './state.js';

/** One HTTP exchange as route handlers see it. */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** `x-request-id` of the answer (`req_<n>`). */
  requestId: string;
  url: URL;
  /** Values of the route's `:name` segments (a trailing `:name*` takes the rest of the path). */
  params: Record<string, string>;
}

export type Handler = (state: ServerState, ex: Exchange) => void | Promise<void>;

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** E.g. `/v1/files/:id/content`; a last segment `:name*` matches one or more segments. */
  path: string;
  handler: Handler;
}

/** Finds the route for a request; `undefined` when none matches. Trailing slashes are ignored. */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  pathname: string,
): { route: Route; params: Record<string, string> } | undefined {
  const segments = pathname.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.method !== method) continue;
    const params = matchPath(route.path.split('/').filter(Boolean), segments);
    if (params) return { route, params };
  }
  return undefined;
}

function matchPath(pattern: string[], segments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':') && p.endsWith('*') && i === pattern.length - 1) {
      if (segments.length <= i) return undefined;
      params[p.slice(1, -1)] = decodeURIComponent(segments.slice(i).join('/'));
      return params;
    }
    if (i >= segments.length) return undefined;
    if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(segments[i]);
    else if (p !== segments[i]) return undefined;
  }
  return segments.length === pattern.length ? params : undefined;
}

/**
 * The `node:http` request listener: numbers the request, runs the matching route (synchronously up to its first
 * `await`, so a chat request is counted the moment it arrives) and answers 404 or 500 when none matches or it throws.
 */
export function dispatcher(
  state: ServerState,
  routes: readonly Route[],
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const requestId = `req_${++state.lastId.request}`;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const found = matchRoute(routes, method, url.pathname);
    if (!found) {
      notFound({ res, requestId }, `route ${method} ${url.pathname.replace(/\/+$/, '')}`);
      return;
    }
    const ex: Exchange = { req, res, requestId, url, params: found.params };
    run(found.route.handler, state, ex).catch((e: unknown) => {
      if (!res.headersSent) sendError(ex, 500, String(e), 'server_error');
      else res.destroy();
    });
  };
}

async function run(handler: Handler, state: ServerState, ex: Exchange): Promise<void> {
  await handler(state, ex);
}

/** Writes a whole answer with `content-length` and `x-request-id`. */
export function writeRaw(
  ex: Pick<Exchange, 'res' | 'requestId'>,
  status: number,
  body: string | Buffer,
  extraHeaders?: Record<string, string>,
  contentType = 'application/json',
): void {
  const headers: Record<string, string | number> = {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-request-id': ex.requestId,
  };
  if (extraHeaders) Object.assign(headers, extraHeaders);
  ex.res.writeHead(status, headers);
  ex.res.end(body);
}

export function sendJson(ex: Pick<Exchange, 'res' | 'requestId'>, status: number, value: unknown): void {
  writeRaw(ex, status, JSON.stringify(value));
}

/** The body of an OpenAI error answer. */
export function errorBody(
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

export function sendError(
  ex: Pick<Exchange, 'res' | 'requestId'>,
  status: number,
  message: string,
  type = 'invalid_request_error',
  code: string | null = null,
  param: string | null = null,
): void {
  writeRaw(ex, status, errorBody(message, type, code, param));
}

export function notFound(ex: Pick<Exchange, 'res' | 'requestId'>, what: string): void {
  sendError(ex, 404, `No such ${what}`, 'invalid_request_error', 'not_found');
}

/** The whole request body. */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A request body parsed as a JSON object, or the message of the 400 that refuses it. */
export function parseJsonObject(body: Buffer): { value: Record<string, unknown> } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    return { error: `We could not parse the JSON body of your request. (${(e as Error).message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'The request body must be a JSON object.' };
  }
  return { value: value as Record<string, unknown> };
}

/** Reads a JSON object body; answers 400 and returns `undefined` when the body is not one. */
export async function readJsonObject(ex: Exchange): Promise<Record<string, unknown> | undefined> {
  const parsed = parseJsonObject(await readBody(ex.req));
  if ('error' in parsed) {
    sendError(ex, 400, parsed.error);
    return undefined;
  }
  return parsed.value;
}

/** `created_at`-style timestamps. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** `{ object: 'list', data, has_more }` for the page after `?after=<id>` of at most `?limit=` items. */
export function listPage<T extends { id: string }>(items: T[], url: URL, defaultLimit: number): unknown {
  const limit = Math.max(
    1,
    Math.min(100, Number(url.searchParams.get('limit') ?? defaultLimit) || defaultLimit),
  );
  const after = url.searchParams.get('after');
  let start = 0;
  if (after) {
    const i = items.findIndex((x) => x.id === after);
    start = i === -1 ? items.length : i + 1;
  }
  return { object: 'list', data: items.slice(start, start + limit), has_more: start + limit < items.length };
}
