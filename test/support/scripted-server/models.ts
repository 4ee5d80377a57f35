/** `GET /v1/models` and `GET /v1/models/:id`: the scripted models and the fine-tuned ones. */
import { sendError, sendJson, type Exchange, type Route } from './http.js';
import type { ServerState } from './state.js';

export const modelRoutes: Route[] = [
  { method: 'GET', path: '/v1/models', handler: listModels },
  { method: 'GET', path: '/v1/models/:id*', handler: retrieveModel },
];

function modelObject(state: ServerState, id: string): unknown {
  const created = state.fineTunedModels.get(id);
  return {
    id,
    object: 'model',
    created: created ?? 0,
    owned_by: created === undefined ? (state.models.get(id)?.ownedBy ?? 'scripted') : 'user',
  };
}

function listModels(state: ServerState, ex: Exchange): void {
  sendJson(ex, 200, { object: 'list', data: [...state.models.keys()].map((id) => modelObject(state, id)) });
}

function retrieveModel(state: ServerState, ex: Exchange): void {
  const { id } = ex.params;
  if (!state.models.has(id)) {
    sendError(
      ex,
      404,
      `The model \`${id}\` does not exist`,
      'invalid_request_error',
      'model_not_found',
      'model',
    );
    return;
  }
  sendJson(ex, 200, modelObject(state, id));
}
