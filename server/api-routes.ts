/**
 * The versioned API: every route under /v1/ (segment, classify, models) and /v2 (its own metadata at /v2 included).
 * API keys and rate limits apply to these by this one prefix rule, so a new inference route is covered without being listed.
 */
const API_ROUTE = /^\/v\d+(\/|$)/;

/** Whether a route template (`request.routeOptions.url`, `routeOptions.url` in onRoute) is an API route. */
export function isApiRoute(url: string | undefined): boolean {
  return url !== undefined && API_ROUTE.test(url);
}
