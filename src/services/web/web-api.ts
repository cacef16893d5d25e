// The API behind the page, acting as the member through the same LabStore as the CLI:
// /api/rpc/<fn> (the SQL functions, as PostgREST would call them), and what only the server
// that runs the jobs can give: full logs, the executed notebook, a notebook's parameters.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { UUID_GROUP } from '../names.js';
import { JobInputError } from '../runner/errors.js';
import { parseNotebook } from '../runner/notebook-params.js';
import { OUTPUT_NOTEBOOK } from '../runner/prepare.js';
import { STDERR_FILE, STDOUT_FILE } from '../runner/wrapper.js';
import type { LabStore } from '../store/lab-store.js';
import { StoreError, type JobRow, type ScriptRow } from '../store/types.js';
import { notebookParams } from './notebook-form.js';
import { notebookHtml } from './notebook-html.js';
import { containedPath, FileRefused, jobFile, readLogChunk, readSmallFile } from './web-files.js';
import { callPageFunction, RpcRefused, statusOfStoreError } from './web-rpc.js';
import { NOTEBOOK_CSP, securityHeaders } from './web-security.js';

/** What the page learns about where it is served from. */
export interface ServerInfo {
  source: 'agent';
  mode: Config['mode'];
  host: string;
  version: string;
  linuxUser: string;
  userId: string;
  dashboardUrl: string | null;
  /** Jupyter's listen address: a loopback one needs an SSH tunnel, which the page spells out. */
  jupyterIp: string;
  publicHost: string;
}

export interface ApiContext {
  store: LabStore;
  config: Config;
  log: Logger;
  info: ServerInfo;
}

const MAX_BODY = 64 * 1024;
const MAX_NOTEBOOK = 64 * 1024 * 1024;
const MAX_SOURCE_NOTEBOOK = 16 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(new RpcRefused('the request body is too large', 413));
        req.destroy();
      } else parts.push(d);
    });
    req.on('end', () => {
      try {
        resolve(parts.length ? JSON.parse(Buffer.concat(parts).toString('utf8')) : {});
      } catch {
        reject(new RpcRefused('the body is not JSON', 400));
      }
    });
    req.on('error', reject);
  });
}

const int = (v: string | null): number | undefined => (v !== null && /^\d+$/.test(v) ? Number(v) : undefined);

/** Is this job's log folder on this server? Jobs that ran elsewhere have only their tails. */
const ranHere = (job: JobRow, host: string) => job.run_host === host;

async function logChunk(ctx: ApiContext, id: string, q: URLSearchParams): Promise<unknown> {
  const job = await ctx.store.getJob(id);
  const stream = q.get('stream') === 'stderr' ? 'stderr' : 'stdout';
  if (!ranHere(job, ctx.config.host)) {
    return { available: false, reason: job.run_host ? `the log is on ${job.run_host}` : 'the job has not started', status: job.status };
  }
  const path = await jobFile(ctx.config.logDir, job.job_id, stream === 'stdout' ? STDOUT_FILE : STDERR_FILE);
  if (!path) return { available: false, reason: 'no log file yet', status: job.status };
  const tail = int(q.get('tail'));
  const chunk = await readLogChunk(path, tail !== undefined ? { tail } : { from: int(q.get('from')) ?? 0, max: int(q.get('max')) });
  return { available: true, stream, status: job.status, ...chunk };
}

async function notebookPage(ctx: ApiContext, id: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
  const job = await ctx.store.getJob(id);
  const path = ranHere(job, ctx.config.host) ? await jobFile(ctx.config.logDir, job.job_id, OUTPUT_NOTEBOOK) : null;
  if (!path) throw new FileRefused(job.run_host && !ranHere(job, ctx.config.host) ? `the notebook is on ${job.run_host}` : 'no executed notebook (yet)');
  const nb = parseNotebook(await readSmallFile(path, MAX_NOTEBOOK, 'the executed notebook'), path);
  securityHeaders(res, NOTEBOOK_CSP);
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(notebookHtml(nb, { title: job.script_path ?? job.job_id, dark: q.get('theme') === 'dark' }));
}

async function scriptParams(ctx: ApiContext, id: string): Promise<unknown> {
  if (!/^\d+$/.test(id)) throw new RpcRefused('a script id is a number', 400);
  const [script] = await ctx.store.transport.rpc<ScriptRow[]>('scripts_search', { p_script_id: Number(id) });
  if (!script) throw new FileRefused(`no script ${id} in your inventory`);
  if (script.type !== 'ipynb') return { params: [], parametersCell: false };
  const path = await containedPath(script.path, ctx.config.home);
  if (!path) throw new FileRefused(`${script.path} is not on this server`);
  const params = notebookParams(await readSmallFile(path, MAX_SOURCE_NOTEBOOK, script.path), script.path);
  return { params, parametersCell: params.length > 0 };
}

const JOB_LOG = new RegExp(`^/api/jobs/${UUID_GROUP}/log$`);
const JOB_NOTEBOOK = new RegExp(`^/api/jobs/${UUID_GROUP}/notebook$`);

/** Routes /api/...; returns false for a path it does not know. */
export async function handleApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname;
  try {
    let m: RegExpExecArray | null;
    if (path === '/api/me' && req.method === 'GET') {
      sendJson(res, 200, ctx.info);
    } else if ((m = /^\/api\/rpc\/([a-z_]+)$/.exec(path)) && req.method === 'POST') {
      if (!/^application\/json\b/.test(String(req.headers['content-type'] ?? ''))) throw new RpcRefused('send the arguments as application/json', 415);
      sendJson(res, 200, await callPageFunction(ctx.store, m[1]!, await readBody(req)));
    } else if ((m = JOB_LOG.exec(path)) && req.method === 'GET') {
      sendJson(res, 200, await logChunk(ctx, m[1]!, url.searchParams));
    } else if ((m = JOB_NOTEBOOK.exec(path)) && req.method === 'GET') {
      await notebookPage(ctx, m[1]!, url.searchParams, res);
    } else if ((m = /^\/api\/scripts\/([^/]+)\/params$/.exec(path)) && req.method === 'GET') {
      sendJson(res, 200, await scriptParams(ctx, m[1]!));
    } else {
      return false;
    }
  } catch (err) {
    const status = err instanceof RpcRefused || err instanceof FileRefused ? err.status
      : err instanceof StoreError ? statusOfStoreError(err)
      : err instanceof JobInputError ? 422
      : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 404 : 500;
    if (status === 500) ctx.log.error({ err: (err as Error).message, path }, 'web API request failed');
    const message = (err as Error).message.replace(/^lab: /, '');
    if (!res.headersSent) sendJson(res, status, { error: message, code: (err as StoreError).code ?? null });
    else res.end();
  }
  return true;
}
