/**
 * `/v1/files`: upload (multipart/form-data, parsed by the web `Request#formData()` of Node's fetch), list, retrieve,
 * delete and download. Uploaded files are what fine-tuning jobs train on.
 */
import {
  nowSeconds,
  notFound,
  readBody,
  sendError,
  sendJson,
  writeRaw,
  type Exchange,
  type Route,
} from './http.js';
import { notify, type ServerState, type StoredFile } from './state.js';
import type { FileObjectRecord } from './types.js';

export const fileRoutes: Route[] = [
  { method: 'POST', path: '/v1/files', handler: uploadFile },
  { method: 'GET', path: '/v1/files', handler: listFiles },
  { method: 'GET', path: '/v1/files/:id', handler: retrieveFile },
  { method: 'DELETE', path: '/v1/files/:id', handler: deleteFile },
  { method: 'GET', path: '/v1/files/:id/content', handler: fileContent },
];

/** The form fields of a multipart body, or the message of the 400 that refuses it. */
async function readForm(ex: Exchange): Promise<FormData | string> {
  const contentType = ex.req.headers['content-type'] ?? '';
  const body = await readBody(ex.req);
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) return 'Expected multipart/form-data.';
  const request = new Request(ex.url, { method: 'POST', headers: { 'content-type': contentType }, body });
  try {
    return await request.formData();
  } catch (e) {
    return `Could not parse the multipart/form-data body: ${(e as Error).message}`;
  }
}

async function uploadFile(state: ServerState, ex: Exchange): Promise<void> {
  const form = await readForm(ex);
  if (typeof form === 'string') return sendError(ex, 400, form);
  const file = form.get('file');
  const purpose = form.get('purpose');
  if (file === null) return sendError(ex, 400, "Missing 'file'.", 'invalid_request_error', null, 'file');
  if (typeof purpose !== 'string' || !purpose) {
    return sendError(ex, 400, "Missing 'purpose'.", 'invalid_request_error', null, 'purpose');
  }
  // A part without a filename arrives as a string field.
  const content =
    typeof file === 'string' ? Buffer.from(file, 'utf8') : Buffer.from(await file.arrayBuffer());
  const obj: FileObjectRecord = {
    object: 'file',
    id: `file-${++state.lastId.file}`,
    bytes: content.length,
    created_at: nowSeconds(),
    filename: typeof file === 'string' || !file.name ? 'upload' : file.name,
    purpose,
    status: 'processed',
    status_details: null,
  };
  state.files.set(obj.id, { obj, content });
  state.stats.fineTuning.filesCreated++;
  notify(state);
  sendJson(ex, 200, obj);
}

function listFiles(state: ServerState, ex: Exchange): void {
  sendJson(ex, 200, { object: 'list', data: [...state.files.values()].map((f) => f.obj), has_more: false });
}

/** The file named by the route's `:id`, or `undefined` after answering 404. */
function fileOf(state: ServerState, ex: Exchange): StoredFile | undefined {
  const file = state.files.get(ex.params.id);
  if (!file) notFound(ex, `file: ${ex.params.id}`);
  return file;
}

function retrieveFile(state: ServerState, ex: Exchange): void {
  const file = fileOf(state, ex);
  if (file) sendJson(ex, 200, file.obj);
}

function deleteFile(state: ServerState, ex: Exchange): void {
  const file = fileOf(state, ex);
  if (!file) return;
  state.files.delete(file.obj.id);
  sendJson(ex, 200, { id: file.obj.id, object: 'file', deleted: true });
}

function fileContent(state: ServerState, ex: Exchange): void {
  const file = fileOf(state, ex);
  if (file) writeRaw(ex, 200, file.content, undefined, 'application/octet-stream');
}
