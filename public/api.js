// HTTP client for the cityseg API (contract: POST /v1/segment, POST /v1/classify, GET /v1/models, /v1/jobs).

/** An API error (problem+json) or a network failure, with the fields the page shows. */
export class ApiProblem extends Error {
  constructor({ status, title, detail, retryAfterSeconds }) {
    super(`${title}: ${detail}`);
    this.name = 'ApiProblem';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

async function problemOf(response) {
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined; // not problem+json (a proxy's HTML page, say): show the raw text instead
  }
  const retryAfter = response.headers.get('retry-after');
  return new ApiProblem({
    status: body?.status ?? response.status,
    title: body?.title ?? (response.statusText || `HTTP ${response.status}`),
    detail: body?.detail ?? text.slice(0, 300),
    retryAfterSeconds: retryAfter === null ? undefined : Number(retryAfter),
  });
}

async function request(path, init) {
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiProblem({ status: 0, title: 'Network error', detail: `could not reach the server (${error.message})` });
  }
  if (!response.ok) throw await problemOf(response);
  return response;
}

/** The file's type when the browser knows it is an image; otherwise the server sniffs the bytes. */
function contentTypeOf(file) {
  return file.type.startsWith('image/') ? file.type : 'application/octet-stream';
}

function postImage(path, query, file, accept, signal) {
  const headers = { 'content-type': contentTypeOf(file), accept };
  return request(`${path}?${new URLSearchParams(query)}`, { method: 'POST', body: file, headers, signal });
}

/** GET /v1/models → the loaded models. */
export async function fetchModels() {
  const response = await request('/v1/models', { headers: { accept: 'application/json' } });
  return (await response.json()).models;
}

/**
 * The one segmentation request per image: format=json with a COCO RLE per class, from which the page draws
 * the colour mask, the overlay and the label ids itself, and the legend and timings.
 */
export async function segmentImage(file, model, signal) {
  const query = { format: 'json', rle: 'true', ...(model ? { model } : {}) };
  const response = await postImage('/v1/segment', query, file, 'application/json', signal);
  return response.json();
}

/** POST /v1/classify → its `classes`: `[{ index, label, probability }]`, most probable first. */
export async function classifyImage(file, { topk, model }, signal) {
  const query = { topk: String(topk), ...(model ? { model } : {}) };
  const response = await postImage('/v1/classify', query, file, 'application/json', signal);
  return (await response.json()).classes;
}

/** POST /v1/jobs with the video as the body → the job (id, status, frames…); its Location is /v1/jobs/{id}. */
export async function startVideoJob(file, model, signal) {
  const query = { format: 'overlay', ...(model ? { model } : {}) };
  const headers = { 'content-type': file.type.startsWith('video/') ? file.type : 'application/octet-stream', accept: 'application/json' };
  const response = await request(`/v1/jobs?${new URLSearchParams(query)}`, { method: 'POST', body: file, headers, signal });
  return response.json();
}

/** GET /v1/jobs/{id} → status, frames done/total, frames/s, ETA, error. */
export async function fetchJob(id, signal) {
  return (await request(`/v1/jobs/${id}`, { headers: { accept: 'application/json' }, signal })).json();
}

/** The finished job's overlay MP4 as a Blob, and its per-frame lines. */
export async function fetchJobResults(id, signal) {
  const [video, frames] = await Promise.all([
    request(`/v1/jobs/${id}/result`, { signal }).then((response) => response.blob()),
    request(`/v1/jobs/${id}/frames.jsonl`, { signal }).then((response) => response.text()),
  ]);
  return { video, lines: frames.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line)) };
}
