// `lab-agent web [--port P] [--ip A]`: serves the dashboard and its API on this server, acting as
// you through the same store as the other commands. Prints a link holding a fresh token (never
// taken from the command line, where `ps` would show it to everyone on the machine).
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { defineCommand, type Command } from './command.js';
import { CliFailure, UsageError } from './output.js';

/** Default port: this + uid % 100, or the next free one (Jupyter's rule, on its own range). */
const WEB_BASE_PORT = 8600;
const WEB_PORT_TRIES = 50;

function portOption(value: unknown): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError('--port takes a port number (0 = any free port)');
  return n;
}

export const webCommand = defineCommand({
  name: 'web',
  summary: 'serve the dashboard on this server (loopback by default); prints a link with a fresh token',
  usage: 'lab-agent web [--port P] [--ip 127.0.0.1]',
  options: { port: { type: 'string', help: 'port to serve on (0 = any free)', whenAbsent: '8600 + uid % 100, or the next free' }, ip: { type: 'string', help: 'address to listen on', whenAbsent: '127.0.0.1' } },
  async run({ options, env, out }) {
    const port = portOption(options.port);
    const ip = options.ip ?? '127.0.0.1';
    if (!isIP(ip)) throw new UsageError('--ip takes an address: 127.0.0.1 (this machine only, the default), or one of this machine\'s addresses');
    const [{ loadConfig }, { createLogger }, { openStore }, { startWebServer }, { isLoopback }, { AGENT_VERSION }] = await Promise.all([
      import('../services/config.js'), import('../services/logger.js'), import('../services/store/open-store.js'),
      import('../services/web/web-server.js'), import('../services/host/address.js'), import('../services/package-info.js'),
    ]);
    const config = loadConfig({ env });
    const log = createLogger({ level: 'warn' });
    const store = await openStore(config, log);
    const first = port ?? WEB_BASE_PORT + (userInfo().uid % 100);
    const tries = port === null ? WEB_PORT_TRIES : 1;
    let web;
    for (let p = first; p < first + tries && !web; p++) {
      try {
        web = await startWebServer({ store, config, log, ip, port: p, version: AGENT_VERSION });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' || p === first + tries - 1) {
          await store.close();
          if (code === 'EADDRINUSE') throw new CliFailure(port === null ? `no free port in ${first}–${first + tries - 1}: pass --port` : `port ${p} is in use: pass another --port (0 = any free one)`);
          throw err;
        }
      }
    }
    if (!web) throw new CliFailure('the server did not start');
    out.line(`lab-agent web: your dashboard (${config.mode} mode, acting as ${config.user}) — open this link; it holds a fresh token, keep it to yourself:`);
    out.line(`  ${web.link}`);
    if (isLoopback(ip)) {
      out.line(`It listens on ${ip} only. From your computer, tunnel first:  ssh -N -L ${web.port}:127.0.0.1:${web.port} ${config.user}@${config.jupyter.publicHost}`);
      out.line(`then open the link above on your computer (http://127.0.0.1:${web.port}/?token=…).`);
    } else {
      out.line(`It listens on ${ip} over plain HTTP: anyone on the path can read the traffic. Prefer the default (127.0.0.1) with an SSH tunnel.`);
    }
    out.line('Stop it with Ctrl-C.');
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await web.close();
    await store.close();
  },
});
