// The CORS a page on another origin meets at a Supabase project, as far as a browser sees it.
//
// The gateway: Supabase's kong.yml (docker/volumes/api/kong.yml) puts Kong's `cors` plugin with
// its default config on every /auth/v1 and /rest/v1 route. The plugin (kong/plugins/cors/
// handler.lua) runs before key-auth (priority 2000 against 1250), so:
//  - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the gateway
//    itself, 200 with no body and no apikey needed: Access-Control-Allow-Origin *, the requested
//    headers echoed in Access-Control-Allow-Headers, the plugin's default
//    Access-Control-Allow-Methods, no Max-Age and no credentials (neither is configured);
//  - every other answer, the gateway's own 401s included, gets Access-Control-Allow-Origin *,
//    set over whatever the upstream sent.
// Behind it, to a request that carries an Origin, the upstreams add their own:
//  - GoTrue (rs/cors in internal/api/api.go): Access-Control-Expose-Headers X-Total-Count, Link,
//    X-Supabase-Api-Version (auth-js reads the API version from it to take the error `code`),
//    Access-Control-Allow-Credentials true, Vary Origin;
//  - PostgREST (src/PostgREST/Cors.hs, wai-cors): the Access-Control-Expose-Headers below
//    (postgrest-js reads Content-Range for counts).
import type { IncomingMessage } from 'node:http';

const KONG_DEFAULT_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT';
const GOTRUE_EXPOSED = 'X-Total-Count, Link, X-Supabase-Api-Version';
const POSTGREST_EXPOSED = 'Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, Transfer-Encoding, Range-Unit';

/** Who answered: the gateway alone (a preflight, a key refused, no route), or an upstream behind it. */
export type AnsweredBy = 'gateway' | 'auth' | 'rest';

export function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && !!req.headers.origin && !!req.headers['access-control-request-method'];
}

/** The gateway's answer to a preflight. */
export function preflightHeaders(req: IncomingMessage): Record<string, string> {
  const asked = req.headers['access-control-request-headers'];
  return {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': KONG_DEFAULT_METHODS,
    ...(asked ? { 'access-control-allow-headers': String(asked) } : {}),
  };
}

/** The CORS headers on any other answer. */
export function corsHeaders(req: IncomingMessage, by: AnsweredBy): Record<string, string> {
  const upstream: Record<string, string> = !req.headers.origin || by === 'gateway'
    ? {}
    : by === 'auth'
      ? { 'access-control-expose-headers': GOTRUE_EXPOSED, 'access-control-allow-credentials': 'true', vary: 'Origin' }
      : { 'access-control-expose-headers': POSTGREST_EXPOSED };
  return { ...upstream, 'access-control-allow-origin': '*' };
}
