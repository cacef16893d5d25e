// Boot: pick the data source this build talks to, learn who is signed in, open the live channel.
import { effect } from '@preact/signals';
import { render } from 'preact';
import { App } from './app.js';
import { BOOT_ELEMENT_ID } from '../../src/services/web/web-boot.js';
import { agentSource, identityOf, type Me } from './data/agent-source.js';
import { prefetchFirstPage, seedFirstPage } from './pages/JobsPage.js';
import type { DataSource } from './data/source.js';
import type { JobPage } from './types.js';
import { booted, emitLive, live, me, setSource } from './state.js';
import './styles.css';

/** What `lab-agent web` put into index.html for a signed-in member (web-boot.ts), if anything. */
function bootData(): { me: Me; jobs: JobPage } | null {
  const el = document.getElementById(BOOT_ELEMENT_ID);
  if (!el?.textContent) return null;
  try {
    return JSON.parse(el.textContent) as { me: Me; jobs: JobPage };
  } catch {
    return null;
  }
}

/** Who is signed in, from the boot data when the agent sent it (no round trip), else asked. */
async function identify(src: DataSource): Promise<void> {
  const boot = src.kind === 'agent' ? bootData() : null;
  if (boot) {
    if (location.hash === '' || location.hash === '#/') seedFirstPage(boot.jobs);
    me.value = identityOf(boot.me);
    return;
  }
  // The job list is what opens first: ask the agent for it beside "who am I" (a 401 goes unused).
  // Not Supabase: there, before sign-in, it would be a call with the public key alone.
  if (src.kind === 'agent' && (location.hash === '' || location.hash === '#/')) prefetchFirstPage();
  me.value = await src.identity();
}

async function boot(): Promise<void> {
  // One branch survives the build: the agent page never ships supabase-js (and loads no extra chunk).
  const src: DataSource = __SOURCE__ === 'supabase'
    ? await (await import('./data/supabase-source.js')).supabaseSourceFromConfig()
    : agentSource();
  setSource(src);
  await identify(src);
  booted.value = true;
  let unsubscribe: (() => void) | null = null;
  effect(() => {
    const signedIn = me.value !== null;
    unsubscribe?.();
    unsubscribe = signedIn ? src.subscribe(emitLive, (up) => (live.value = up)) : null;
  });
}

render(<App />, document.getElementById('app')!);
boot().catch((err: Error) => {
  document.getElementById('app')!.textContent = `The page could not start: ${err.message}`;
});
