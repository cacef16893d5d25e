// Boot: pick the data source this build talks to, learn who is signed in, open the live channel.
import { effect } from '@preact/signals';
import { render } from 'preact';
import { App } from './app.js';
import { agentSource } from './data/agent-source.js';
import { prefetchFirstPage } from './pages/JobsPage.js';
import type { DataSource } from './data/source.js';
import { booted, emitLive, live, me, setSource } from './state.js';
import './styles.css';

async function boot(): Promise<void> {
  // One branch survives the build: the agent page never ships supabase-js (and loads no extra chunk).
  const src: DataSource = __SOURCE__ === 'supabase'
    ? await (await import('./data/supabase-source.js')).supabaseSourceFromConfig()
    : agentSource();
  setSource(src);
  // The job list is what opens first: ask the agent for it beside "who am I" (a 401 goes unused).
  // Not Supabase: there, before sign-in, it would be a call with the public key alone.
  if (src.kind === 'agent' && (location.hash === '' || location.hash === '#/')) prefetchFirstPage();
  me.value = await src.identity();
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
