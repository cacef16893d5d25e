// The built page (dist/web/agent, made by `npm run build`), served from memory: it is small, and
// read once. Hashed assets are cached for good; index.html never, so a rebuilt page is picked up.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../package-info.js';

export const agentPageDir = join(packageRoot, 'dist', 'web', 'agent');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer | null;
  immutable: boolean;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export class StaticPage {
  private readonly files = new Map<string, StaticFile>();

  constructor(readonly dir = agentPageDir) {
    if (!existsSync(join(dir, 'index.html'))) {
      throw new Error(`the page is not built (${join(dir, 'index.html')} is missing): run \`npm run build\``);
    }
    for (const file of walk(dir)) {
      const body = readFileSync(file);
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      const compressible = /^(text|application\/json|image\/svg)/.test(type) && body.length > 1024;
      const url = `/${relative(dir, file).split('\\').join('/')}`;
      this.files.set(url, { type, body, gzip: compressible ? gzipSync(body, { level: 9 }) : null, immutable: url.startsWith('/assets/') });
    }
  }

  /** index.html as text (the server adds the member's first data to it). */
  indexHtml(): string {
    return this.files.get('/index.html')!.body.toString('utf8');
  }

  /** Serves a file of the page; false when there is none at that path. */
  serve(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    const f = this.files.get(path === '/' ? '/index.html' : path);
    if (!f) return false;
    const gzip = f.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, {
      'Content-Type': f.type,
      'Cache-Control': f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      Vary: 'Accept-Encoding',
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : gzip ? f.gzip : f.body);
    return true;
  }
}
