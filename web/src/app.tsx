// The page's frame: header (navigation, live state, language, theme), the routes, sign-in.
import { Route, Router, Switch, useLocation } from 'wouter-preact';
import { useHashLocation } from 'wouter-preact/use-hash-location';
import { setLang, lang, t, type Lang } from './i18n.js';
import { JobPage } from './pages/JobPage.js';
import { JobsPage } from './pages/JobsPage.js';
import { JupyterPage } from './pages/JupyterPage.js';
import { QueuePage } from './pages/QueuePage.js';
import { ServersPage } from './pages/ServersPage.js';
import { NeedToken, SignIn } from './pages/SignIn.js';
import { SubmitPage } from './pages/SubmitPage.js';
import { SweepPage } from './pages/SweepPage.js';
import { booted, live, me, setTheme, source, theme, type Theme } from './state.js';

function Nav() {
  const [loc] = useLocation();
  const item = (href: string, label: string, match: (l: string) => boolean) => (
    <a href={`#${href}`} aria-current={match(loc) ? 'page' : undefined}>{label}</a>
  );
  return (
    <nav class="nav" aria-label="main">
      {item('/', t('nav.jobs'), (l) => l === '/' || l.startsWith('/jobs'))}
      {item('/submit', t('nav.submit'), (l) => l.startsWith('/submit'))}
      {item('/queue', t('nav.queue'), (l) => l.startsWith('/queue') || l.startsWith('/sweeps'))}
      {item('/jupyter', t('nav.jupyter'), (l) => l.startsWith('/jupyter'))}
      {item('/servers', t('nav.servers'), (l) => l.startsWith('/servers'))}
    </nav>
  );
}

function Header() {
  const who = me.value;
  return (
    <header class="top">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>{t('nav.skip')}</a>
      <a class="brand" href="#/"><svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true"><rect width="32" height="32" rx="7" fill="#1d4ed8" /><path d="M9 22V10h3v9.5h7V22z" fill="#fff" /><circle cx="23" cy="11" r="3" fill="#fde68a" /></svg>{t('app.title')}</a>
      <Nav />
      <div class="tools">
        <span class={`live ${live.value ? 'on' : 'off'}`} role="status" title={live.value ? t('live.on') : t('live.off')}>
          <span class="dot" />{live.value ? t('live.on') : t('live.off')}
        </span>
        {who && <span class="who muted small" title={who.userId}>{who.label}</span>}
        <select aria-label={t('nav.language')} value={lang.value} onChange={(e) => setLang(e.currentTarget.value as Lang)}>
          <option value="en">English</option><option value="ja">日本語</option>
        </select>
        <select aria-label={t('nav.theme')} value={theme.value} onChange={(e) => setTheme(e.currentTarget.value as Theme)}>
          <option value="auto">{t('theme.auto')}</option><option value="light">{t('theme.light')}</option><option value="dark">{t('theme.dark')}</option>
        </select>
        {source().auth && who && <button type="button" class="small" onClick={() => void source().auth!.signOut().then(() => (me.value = null))}>{t('signout')}</button>}
      </div>
    </header>
  );
}

export function App() {
  if (!booted.value) return <p class="muted center">{t('loading')}</p>;
  if (!me.value) return <>{source().kind === 'agent' ? <NeedToken /> : <SignIn />}</>;
  return (
    <Router hook={useHashLocation}>
      <Header />
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/"><JobsPage /></Route>
          <Route path="/submit"><SubmitPage /></Route>
          <Route path="/submit/from/:id">{(p: { id: string }) => <SubmitPage fromJob={p.id} />}</Route>
          <Route path="/jobs/:id">{(p: { id: string }) => <JobPage id={p.id} />}</Route>
          <Route path="/queue"><QueuePage /></Route>
          <Route path="/sweeps/:id">{(p: { id: string }) => <SweepPage id={p.id} />}</Route>
          <Route path="/jupyter"><JupyterPage /></Route>
          <Route path="/jupyter/:id">{(p: { id: string }) => <JupyterPage id={p.id} />}</Route>
          <Route path="/servers"><ServersPage /></Route>
          <Route><p class="page">404 · <a href="#/">{t('nav.jobs')}</a></p></Route>
        </Switch>
      </main>
    </Router>
  );
}
