// The dashboard under test: the real `lab-agent web` (dist/index.cjs) of an AgentEnv, and Debian's
// Chromium driven by playwright-core. Screenshots go to test-results/web/ (not committed).
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext } from 'playwright-core';
import { AgentEnv, eventually, exited } from './agent-env.js';
import { repoRoot, requirePart } from './required.js';

const CHROMIUM = '/usr/bin/chromium';
export const noChromium = requirePart('chromium', existsSync(CHROMIUM), 'apt-get install chromium (Debian)');
const shotsDir = join(repoRoot, 'test-results', 'web');

export interface RunningWeb {
  child: ChildProcess & { output: () => string };
  link: string;
  origin: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts `lab-agent web --port 0` and reads the link it prints. */
export async function startWeb(a: AgentEnv, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningWeb> {
  const child = a.spawn(['web', '--port', '0', ...args], env);
  const link = await eventually('the web link', async () => /http:\/\/\S+\?token=[A-Za-z0-9_-]+/.exec(child.output())?.[0] ?? (child.exitCode !== null ? Promise.reject(new Error(`lab-agent web exited: ${child.output()}`)) : null), 60_000, 100);
  const url = new URL(link);
  return {
    child, link, origin: url.origin, port: Number(url.port),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited(child);
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A browser profile of its own (no cookies), in a language, at a screen size. */
export function newContext(browser: Browser, opts: { locale?: string; phone?: boolean; dark?: boolean } = {}): Promise<BrowserContext> {
  return browser.newContext({
    locale: opts.locale ?? 'en-US',
    viewport: opts.phone ? { width: 390, height: 844 } : { width: 1360, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: opts.dark ? 'dark' : 'light',
    ...(opts.phone ? { isMobile: true, hasTouch: true } : {}),
  });
}

export function shotPath(name: string): string {
  mkdirSync(shotsDir, { recursive: true });
  return join(shotsDir, `${name}.png`);
}

/** The gzip size (level 9, as served) of every JavaScript file of a built page, by file name. */
export function pageJsGzipBytes(dir: string): Record<string, number> {
  const assets = join(dir, 'assets');
  return Object.fromEntries(readdirSync(assets).filter((f) => f.endsWith('.js')).map((f) => [f, gzipSync(readFileSync(join(assets, f)), { level: 9 }).length]));
}

/** The page's JavaScript budget (issue 14): gzip ≤ 150 KB, all chunks together. */
export const PAGE_JS_GZIP_BUDGET = 150 * 1024;
