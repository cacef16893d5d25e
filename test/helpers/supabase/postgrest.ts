// The PostgREST half of the layer: `POST /rest/v1/rpc/<fn>` and `GET /rest/v1/<table>` over the real
// database, each rule copied from PostgREST's documented behaviour (docs: "Functions as RPC",
// "Tables and Views", "Transactions", "Errors"; source: Plan.hs, Query/QueryBuilder.hs, Error.hs).
import pg from 'pg';
import { fromPgError, pgrstError, type RestReply } from './postgrest-errors.js';

/** Who is asking, from the verified JWT (or anon without one). */
export interface RestAuth {
  role: string;
  claims: Record<string, unknown>;
}

interface Routine {
  name: string;
  volatile: string;
  returnsSet: boolean;
  params: { name: string; type: string; hasDefault: boolean }[];
}

const q = pg.escapeIdentifier;

export class PostgrestApi {
  constructor(private readonly pool: pg.Pool, readonly schema = 'public') {}

  /**
   * The schema cache: PostgREST reads pg_proc when it starts and again on `NOTIFY pgrst` (the
   * event trigger a Supabase project has fires it after every DDL); reading per request is that
   * cache, always fresh. Only IN/INOUT/VARIADIC parameters are parameters.
   */
  private async routines(fn: string): Promise<Routine[]> {
    const r = await this.pool.query(
      `select p.proname, p.provolatile, p.proretset, p.pronargs, p.pronargdefaults,
              coalesce(p.proargnames, '{}') as names, coalesce(p.proargmodes::text[], '{}') as modes,
              array(select format_type(t, null) from unnest(p.proargtypes) as t) as types
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = $1 and p.proname = $2 and p.prokind = 'f'`,
      [this.schema, fn],
    );
    return r.rows.map((row) => {
      const names = (row.names as string[]).filter((_, i) => !(row.modes as string[])[i] || ['i', 'b', 'v'].includes((row.modes as string[])[i]!));
      const types = row.types as string[];
      const firstDefault = row.pronargs - row.pronargdefaults;
      return {
        name: row.proname, volatile: row.provolatile, returnsSet: row.proretset,
        params: types.map((type, i) => ({ name: names[i] ?? '', type, hasDefault: i >= firstDefault })),
      };
    });
  }

  /**
   * Resolution by name and JSON keys: a function fits when every key names one of its parameters
   * and every parameter without a default is given. None → 404 PGRST202; several → 300 PGRST203.
   */
  async rpc(fn: string, body: Record<string, unknown>, auth: RestAuth, requestPath: string): Promise<RestReply> {
    const keys = Object.keys(body).sort();
    const all = await this.routines(fn);
    const fits = all.filter((r) => keys.every((k) => r.params.some((p) => p.name === k)) && r.params.every((p) => p.hasDefault || keys.includes(p.name)));
    const sig = `${this.schema}.${fn}(${keys.join(', ')})`;
    if (fits.length === 0) {
      const searched = keys.length ? `with parameters ${keys.join(', ')}` : 'without parameters';
      return pgrstError(404, 'PGRST202', `Could not find the function ${sig} in the schema cache`,
        `Searched for the function ${this.schema}.${fn} ${searched} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
        all.length ? `Perhaps you meant to call the function ${this.schema}.${fn}(${all[0]!.params.map((p) => p.name).join(', ')})` : null);
    }
    if (fits.length > 1) {
      const list = fits.map((r) => `${this.schema}.${fn}(${r.params.map((p) => `${p.name} => ${p.type}`).join(', ')})`).join(', ');
      return pgrstError(300, 'PGRST203', `Could not choose the best candidate function between: ${list}`, null,
        'Try renaming the parameters or the function itself in the database so function overloading can be resolved');
    }
    const routine = fits[0]!;
    const given = routine.params.filter((p) => keys.includes(p.name));
    // Arguments go through json_to_record with the parameters' own types, as PostgREST does.
    const call = `${q(this.schema)}.${q(fn)}(${given.map((p) => `${q(p.name)} := pgrst_args.${q(p.name)}`).join(', ')})`;
    const from = given.length
      ? `from json_to_record($1::json) as pgrst_args(${given.map((p) => `${q(p.name)} ${p.type}`).join(', ')})`
      : '';
    const sql = routine.returnsSet
      ? `select coalesce(json_agg(pgrst_call), '[]')::text as body from (select * ${from ? `${from}, lateral ` : 'from '}${call} as pgrst_call) s`
      : `select to_json(${call})::text as body ${from}`;
    // STABLE and IMMUTABLE functions run in a read-only transaction (docs: "Functions as RPC").
    const readOnly = routine.volatile !== 'v';
    return this.inTransaction(auth, readOnly, 'POST', requestPath, async (c) => {
      const r = await c.query(sql, given.length ? [JSON.stringify(body)] : []);
      return { status: 200, body: JSON.parse(r.rows[0]?.body ?? 'null') as unknown };
    });
  }

  /** `GET /rest/v1/<table>?select=a,b&col=eq.x&order=c.desc&limit=n`: what `.from()` sends. */
  async select(table: string, params: URLSearchParams, auth: RestAuth, singular: boolean, requestPath: string): Promise<RestReply> {
    const found = await this.pool.query(
      "select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2 and c.relkind in ('r','v','m','p','f')",
      [this.schema, table],
    );
    if (found.rowCount === 0) {
      return pgrstError(404, 'PGRST205', `Could not find the table '${this.schema}.${table}' in the schema cache`);
    }
    const values: unknown[] = [];
    const where: string[] = [];
    let order = '';
    let limit = '';
    let cols = '*';
    for (const [key, raw] of params) {
      if (key === 'select') cols = raw === '*' ? '*' : raw.split(',').map((c) => q(c.trim())).join(', ');
      else if (key === 'order') order = ` order by ${raw.split(',').map((o) => { const [c, dir] = o.split('.'); return `${q(c!)} ${dir === 'desc' ? 'desc' : 'asc'}`; }).join(', ')}`;
      else if (key === 'limit') limit = ` limit ${Number(raw) | 0}`;
      else if (key === 'apikey') continue;
      else {
        const dot = raw.indexOf('.');
        const op = raw.slice(0, dot);
        const val = raw.slice(dot + 1);
        const ops: Record<string, string> = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=', like: 'like', ilike: 'ilike' };
        if (ops[op]) {
          values.push(val);
          where.push(`${q(key)}::text ${ops[op]} $${values.length}`);
        } else if (op === 'is' && ['null', 'true', 'false'].includes(val)) {
          where.push(`${q(key)} is ${val}`);
        } else if (op === 'in') {
          values.push(val.replace(/^\(|\)$/g, '').split(','));
          where.push(`${q(key)}::text = any($${values.length})`);
        } else {
          return pgrstError(400, 'PGRST100', `"failed to parse filter (${raw})" (line 1, column 1)`, 'unexpected end of input');
        }
      }
    }
    const sql = `select coalesce(json_agg(t), '[]')::text as body from (select ${cols} from ${q(this.schema)}.${q(table)}${where.length ? ` where ${where.join(' and ')}` : ''}${order}${limit}) t`;
    return this.inTransaction(auth, true, 'GET', requestPath, async (c) => {
      const rows = JSON.parse((await c.query(sql, values)).rows[0].body) as unknown[];
      if (!singular) return { status: 200, body: rows };
      // Accept: application/vnd.pgrst.object+json asks for exactly one row.
      if (rows.length !== 1) return pgrstError(406, 'PGRST116', 'JSON object requested, multiple (or no) rows returned', `The result contains ${rows.length} rows`);
      return { status: 200, body: rows[0] };
    });
  }

  /**
   * Each request is one transaction that does what PostgREST does before the query: `set local
   * role` to the JWT's role and the JWT's claims in `request.jwt.claims` (docs: "Transaction-Scoped
   * Settings"), request.method/path, and the search_path of the exposed schema plus `extensions`.
   */
  private async inTransaction(auth: RestAuth, readOnly: boolean, method: string, path: string, run: (c: pg.PoolClient) => Promise<RestReply>): Promise<RestReply> {
    const c = await this.pool.connect();
    try {
      await c.query(readOnly ? 'begin isolation level read committed read only' : 'begin isolation level read committed');
      try {
        await c.query(
          `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true),
                  set_config('request.method', $3, true), set_config('request.path', $4, true),
                  set_config('search_path', $5, true)`,
          [auth.role, JSON.stringify(auth.claims), method, path, `${q(this.schema)}, extensions`],
        );
        const reply = await run(c);
        await c.query('commit');
        return reply;
      } catch (err) {
        await c.query('rollback').catch(() => undefined);
        const e = err as { code?: string; message: string; detail?: string; hint?: string };
        if (!e.code) throw err;
        return fromPgError(e, auth.role !== 'anon');
      }
    } finally {
      c.release();
    }
  }
}
