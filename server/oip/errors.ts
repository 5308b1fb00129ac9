import type { ErrorForm, Problem } from '../problems.js';

/** The Open Inference Protocol's error body (inference_rest.md, the `*_error_response` objects). */
export interface OipError {
  error: string;
}

/** Media type of a protocol error body (clients parse it as JSON). */
export const OIP_ERROR_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Whether a request URL is under the protocol's /v2 prefix (its errors then take the protocol's form). */
export function isOipUrl(url: string): boolean {
  return url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?');
}

/** A problem as the protocol's error body: its detail, the same sentence /v1 answers with. */
export function oipError(problem: Pick<Problem, 'detail'>): OipError {
  return { error: problem.detail };
}

/** The protocol's error form: `{"error": detail}` as JSON, with the status and headers of the problem. */
export const OIP_ERROR_FORM: ErrorForm = { contentType: OIP_ERROR_CONTENT_TYPE, body: (problem) => oipError(problem) };
