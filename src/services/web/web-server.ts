// `lab-agent web`: the dashboard's HTTP server. Every request passes the Host check (DNS
// rebinding); the link's token buys an HttpOnly, SameSite=Strict cookie (then the address bar
// drops it); the API wants that cookie and a same-origin request; every answer carries a strict
// Content-Security-Policy. Page files are public (they hold no data), the API is not; index.html
// carries the member's first screen (web-boot.ts) only to a request with the session cookie.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { LabStore } from '../store/lab-store.js';
import { LiveHub, type LiveHubOptions } from './live-hub.js';
import { handleApi, sendJson, type ServerInfo } from './web-api.js';
import { JOBS_PAGE_SIZE, sendBootPage } from './web-boot.js';
import { securityHeaders, WebAccess } from './web-security.js';
import { StaticPage } from './web-static.js';

export interface WebServerOptions {
  store: LabStore;
  config: Config;
  log: Logger;
  ip: string;
  port: number;
  version: string;
  live?: LiveHubOptions;
  /** The built page's folder (tests may point elsewhere). */
  pageDir?: string;
}

export interface WebServer {
  server: Server;
  port: number;
  /** The link to open: holds the token. */
  link: string;
  access: WebAccess;
  hub: LiveHub;
  close(): Promise<void>;
}

/** The address a browser uses for the link: loopback names stay, a wildcard becomes the host name. */
function linkHost(ip: string, config: Config): string {
  if (ip === '0.0.0.0' || ip === '::') return config.jupyter.publicHost;
  return ip.includes(':') ? `[${ip}]` : ip;
}

function refuse(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const page = new StaticPage(opts.pageDir);
  const hub = new LiveHub(opts.store, opts.log, opts.live);
  await hub.start();
  const who = await opts.store.whoami();
  const info: ServerInfo = {
    source: 'agent', mode: opts.config.mode, host: opts.config.host, version: opts.version,
    linuxUser: opts.config.user, userId: who.user_id, dashboardUrl: opts.config.values.LAB_DASHBOARD_URL || null,
    jupyterIp: opts.config.jupyter.ip, publicHost: opts.config.jupyter.publicHost,
  };
  let access: WebAccess | null = null;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    securityHeaders(res);
    const acc = access;
    if (!acc) return refuse(res, 503, 'starting'); // between listen() and the cookie's name (it holds the port)
    if (!acc.hostAllowed(req)) return refuse(res, 421, 'this server answers only to its own address (Host header refused)');
    const url = new URL(req.url ?? '/', 'http://server.invalid');
    const isApi = url.pathname.startsWith('/api/');
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if ((isApi || write) && !acc.originAllowed(req, write)) return refuse(res, 403, 'cross-origin request refused');
    if (!isApi) {
      if (write) return refuse(res, 405, 'method not allowed');
      const token = url.searchParams.get('token');
      if (token !== null) {
        if (!acc.tokenMatches(token)) return refuse(res, 403, 'this link is not valid (any more): open the link that `lab-agent web` printed last');
        // The token leaves the address bar (and the history) at once; the cookie stands for it.
        res.writeHead(303, { 'Set-Cookie': acc.newSession(), Location: '/', 'Cache-Control': 'no-store' });
        return void res.end();
      }
      // The page itself, to a member with a session: with their first screen's data in it.
      if ((url.pathname === '/' || url.pathname === '/index.html') && req.method === 'GET' && acc.hasSession(req)) {
        return sendBootPage(page.indexHtml(), res, async () => ({ me: info, jobs: await opts.store.transport.rpc('jobs_page', { p_limit: JOBS_PAGE_SIZE }) }), opts.log);
      }
      if (page.serve(url.pathname, req, res)) return;
      return refuse(res, 404, 'not found');
    }
    if (!acc.hasSession(req)) return refuse(res, 401, 'not signed in: open the link that `lab-agent web` printed');
    if (url.pathname === '/api/events' && req.method === 'GET') return hub.add(req, res);
    if (!(await handleApi({ store: opts.store, config: opts.config, log: opts.log, info }, req, res, url))) refuse(res, 404, 'no such API');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      opts.log.error({ err: (err as Error).message }, 'web request failed');
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.end();
    });
  });
  // Headers must come in time: a slow client cannot hold a connection forever.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.ip, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err) => {
    await hub.stop();
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  access = new WebAccess({ ip: opts.ip, publicNames: [opts.config.jupyter.publicHost, opts.config.host] }, `lab_web_${port}`);
  const link = `http://${linkHost(opts.ip, opts.config)}:${port}/?token=${access.token}`;
  return {
    server, port, link, access, hub,
    async close() {
      await hub.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
