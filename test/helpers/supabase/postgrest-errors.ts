// PostgREST's error answers, copied from its source (src/PostgREST/Error.hs, `mapSQLtoHTTP`, and
// the PGRST codes of its schema-cache and JWT errors) and its docs ("Errors" → "HTTP status codes").
// The body is always { code, message, details, hint }.

export interface RestReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export const pgrstError = (status: number, code: string, message: string, details: string | null = null, hint: string | null = null, headers: Record<string, string> = {}): RestReply => ({
  status,
  body: { code, message, details, hint },
  headers,
});

/** SQLSTATE → HTTP status; `authed` is false for the anon role (42501 → 401, else 403). */
function statusOfSqlState(code: string, message: string, authed: boolean): number {
  const two = code.slice(0, 2);
  if (two === '08') return 503; // connection exception
  if (two === '09') return 500; // triggered action exception
  if (two === '0L' || two === '0P') return 403; // invalid grantor / role specification
  if (code === '23503' || code === '23505') return 409; // foreign key / unique violation
  if (code === '25006') return 405; // read-only transaction (a stable function that writes)
  if (code === '21000') return message.endsWith('requires a WHERE clause') ? 400 : 500;
  if (code === '22023') return message.startsWith('role') && message.endsWith('does not exist') ? 401 : 400;
  if (['25', '2D', '38', '39', '3B', '40'].includes(two)) return 500;
  if (two === '28') return 403; // invalid authorization specification
  if (code === '53400') return 500;
  if (two === '53') return 503;
  if (two === '54' || two === '55') return 500; // too complex / object not in prerequisite state
  if (code === '57P01') return 503;
  if (['57', '58', 'F0', 'HV', 'XX'].includes(two)) return 500;
  if (code === 'P0001') return 400; // a plain `raise exception`
  if (two === 'P0') return 500; // other PL/pgSQL errors, e.g. P0002 no_data_found
  if (code === '42883') return 404; // undefined function
  if (code === '42P01') return 404; // undefined table
  if (code === '42P17') return 500; // infinite recursion (a policy)
  if (code === '42501') return authed ? 403 : 401; // insufficient privilege
  if (two === 'PT') return Number(code.slice(2)) || 500; // raise ... using errcode = 'PT404'
  return 400;
}

/** A database error as PostgREST answers it; 401s carry WWW-Authenticate: Bearer. */
export function fromPgError(err: { code?: string; message: string; detail?: string; hint?: string }, authed: boolean): RestReply {
  const code = err.code ?? 'XX000';
  const status = statusOfSqlState(code, err.message, authed);
  return pgrstError(status, code, err.message, err.detail ?? null, err.hint ?? null, status === 401 ? { 'www-authenticate': 'Bearer' } : {});
}
