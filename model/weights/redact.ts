/**
 * What may be shown of a weights source: an http(s) URL loses its userinfo, query string and fragment (signed
 * object-store URLs carry their credentials there); anything else (a path, a preset name) is shown as given.
 * Every weights source that is logged, answered or printed goes through this one function.
 */
export function redactUrl(source: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return source;
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    // Unparseable: cut at the first `?` or `#`, and drop anything before an `@` in the authority.
    return source.replace(/[?#].*$/s, '').replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
  }
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.href;
}
