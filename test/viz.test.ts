// The machine visualizer. Every state and transition is checked against the machine itself (walked
// here through its own state nodes, independently of src/services/viz), in every format; the
// HTML is opened in headless Chromium with no network; and a job driven down a failure path on a
// real database shows exactly that path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { instance } from '@viz-js/viz';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { AgentEnv, cliPath } from './helpers/agent-env.js';
import { requirePart } from './helpers/required.js';
import { idOf, leafOf, walk, type Expected } from './helpers/machine-walk.js';
import { nestedMachine } from './fixtures/nested-machine.js';
import { loadMachine, MACHINE_NAMES } from '../src/services/viz/machines.js';
import { machineGraph } from '../src/services/viz/machine-graph.js';
import { traceHistory } from '../src/services/viz/history.js';
import { drawHistory, drawMachine } from '../src/services/viz/render.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import type { Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const noChromium = requirePart('chromium', existsSync(CHROMIUM), 'apt-get install chromium (Debian)');
// Pages and screenshots go here; LAB_VIZ_KEEP=1 keeps them to look at.
const outDir = mkdtempSync(join(tmpdir(), 'lab-viz-test-'));

// ---- what each format draws ---------------------------------------------------------------------

interface Drawn {
  source: string;
  target: string;
  label: string;
  classes: string;
}

const decode = (s: string) => s.replace(/&#45;/g, '-').replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&quot;/g, '"').replace(/&#160;/g, ' ').replace(/&amp;/g, '&');

const mermaidEdges = (text: string): Drawn[] =>
  [...text.matchAll(/^\s*(\S+) --> (\S+) : (.*)$/gm)].filter((m) => m[1] !== '[*]').map((m) => ({ source: m[1]!.replace(/__/g, '.'), target: m[2]!.replace(/__/g, '.'), label: m[3]!, classes: '' }));

const dotEdges = (text: string): Drawn[] =>
  [...text.matchAll(/^\s*"([^"]+)" -> "([^"]+)" \[(.*)\];$/gm)].filter((m) => m[1] !== '__initial').map((m) => ({
    source: m[1]!, target: m[2]!, label: /label="((?:[^"\\]|\\.)*)"/.exec(m[3]!)?.[1] ?? '', classes: /class="([^"]*)"/.exec(m[3]!)?.[1] ?? '',
  }));

/** Graphviz writes each node and edge as a <g id=... class=...><title>...</title>...text...</g>. */
function svgElements(svg: string, kind: 'node' | 'edge'): Drawn[] {
  // Graphviz writes '-' in ids as &#45;; a browser reads them back as '-'.
  const chunks = svg.replace(/&#45;/g, '-').split(/(?=<g id="[^"]*" class="(?:node|edge|cluster)[^"]*">)/).slice(1);
  return chunks.filter((c) => c.startsWith(`<g id="${kind === 'node' ? 'state-' : 'edge-'}`)).map((c) => {
    const title = decode(/<title>([\s\S]*?)<\/title>/.exec(c)?.[1] ?? '');
    const label = [...c.matchAll(/<text[^>]*>([\s\S]*?)<\/text>/g)].map((m) => decode(m[1]!)).join(' ');
    const classes = /class="([^"]*)"/.exec(c)?.[1] ?? '';
    // A compound state is a cluster, titled cluster_<id>.
    const [source, target] = kind === 'edge' ? title.split('->') : [title.replace(/^cluster_/, ''), title];
    return { source: source!, target: target!, label, classes };
  });
}

/** Each expected transition matched to its own drawn edge, and no drawn edge left over. */
function assertTransitions(format: string, expected: Expected[], drawn: Drawn[], machine: AnyStateMachine) {
  const byId = new Map(walk(machine).states.map((s) => [idOf(s), s]));
  const leaf = (id: string) => (format === 'mermaid' ? id : idOf(leafOf(byId.get(id)!)));
  const left = [...drawn];
  for (const t of expected) {
    const i = left.findIndex((d) => d.source === leaf(t.source) && d.target === leaf(t.target) && t.words.every((w) => d.label.includes(w)));
    assert.ok(i >= 0, `${format}: transition ${t.source} → ${t.target} (${t.words.join(', ')}) is not drawn`);
    left.splice(i, 1);
  }
  assert.deepEqual(left, [], `${format}: drawn edges that are not transitions of the machine`);
}

// The lab's machines (jupyter once it is written), and a fixture with nested and parallel states.
const machines = new Map<string, AnyStateMachine>();
for (const name of MACHINE_NAMES) {
  const m = await loadMachine(name);
  if (m) machines.set(name, m);
}
machines.set('nested fixture', nestedMachine);
const DRAWN = [...MACHINE_NAMES, 'nested fixture'];

describe('statecharts drawn from the machines', () => {
  for (const name of DRAWN) {
    const machine = machines.get(name);
    test(`${name}: every state and transition appears in mermaid, dot, svg and html`, { skip: machine ? false : `the ${name} machine is not in this build yet` }, async () => {
      const { states, transitions } = walk(machine!);
      assert.ok(states.length > 2 && transitions.length > 2, 'the walk found the machine');
      const graph = machineGraph(machine!);
      const mermaid = await drawMachine(graph, 'mermaid');
      const dot = await drawMachine(graph, 'dot');
      const svg = await drawMachine(graph, 'svg');
      const html = await drawMachine(graph, 'html');
      for (const s of states) {
        const id = idOf(s);
        const mid = id.replace(/\./g, '__');
        assert.ok(mermaid.includes(`state "${s.key}" as ${mid}\n`) || mermaid.includes(`state ${mid} {`), `mermaid: state ${id}`);
        assert.match(dot, new RegExp(`^\\s*(?:"${id}" \\[id="state-${id}"|subgraph "cluster_${id}")`, 'm'), `dot: state ${id}`);
        for (const [fmt, text] of [['svg', svg], ['html', html]] as const) {
          assert.ok(svgElements(text, 'node').some((n) => n.source === id && n.label.includes(s.key)), `${fmt}: state ${id}`);
        }
        if (s.type === 'final') assert.ok(mermaid.includes(`${mid} --> [*]`), `mermaid: ${id} is final`);
      }
      const initial = idOf(machine!.root.initial!.target[0]!);
      assert.ok(mermaid.includes(`[*] --> ${initial.replace(/\./g, '__')}`), 'mermaid: initial state');
      assert.ok(dot.includes(`"__initial" -> "${idOf(leafOf(machine!.root.initial!.target[0]!))}"`), 'dot: initial state');
      assertTransitions('mermaid', transitions, mermaidEdges(mermaid), machine!);
      assertTransitions('dot', transitions, dotEdges(dot), machine!);
      assertTransitions('svg', transitions, svgElements(svg, 'edge'), machine!);
      assertTransitions('html', transitions, svgElements(html, 'edge'), machine!);
      // Invoked actors are named on their states.
      for (const s of states) for (const inv of s.invoke) assert.ok(mermaid.includes(`${idOf(s).replace(/\./g, '__')} : invoke ${String(inv.src)}`), `mermaid: ${idOf(s)} invokes ${String(inv.src)}`);
      writeFileSync(join(outDir, `${name.replace(/\W+/g, '-')}.html`), html);
    });

    test(`${name}: the DOT renders without error or warning`, { skip: machine ? false : `the ${name} machine is not in this build yet` }, async () => {
      const result = (await instance()).render(await drawMachine(machineGraph(machine!), 'dot'), { format: 'svg' });
      assert.equal(result.status, 'success', JSON.stringify(result.errors));
      assert.deepEqual(result.errors, []);
    });
  }

  test('nested fixture: a status that names a compound state is reached through its initial child', async () => {
    const graph = machineGraph(nestedMachine);
    const at = new Date().toISOString();
    const ev = (from: string | null, to: string) => ({ event_id: 0, subject: 'job' as const, subject_id: 'x', from_status: from, to_status: to, at, detail: {} });
    const history = traceHistory(graph, [ev(null, 'pending'), ev('pending', 'running'), ev('running', 'stopping'), ev('stopping', 'stopped')]);
    assert.deepEqual(history.steps.map((s) => Boolean(s.external || s.problem)), [false, false, false, false]);
    // A compound state is entered at its initial child; a parallel one is shown as a whole.
    assert.deepEqual(history.path, ['pending', 'starting', 'running', 'running.serving', 'stopping', 'stopped']);
    assert.equal(history.current, 'stopped');
    const svg = await drawHistory(graph, { machine: 'demo', id: 'x', title: null, status: 'stopped' }, history, 'svg');
    assert.ok(/<g id="state-running" class="cluster state compound visited"/.test(svg.replace(/&#45;/g, '-')), 'the compound state is marked visited');
  });

  test('`viz jupyter` says plainly when that machine is missing; `viz job` prints mermaid', async () => {
    const env = { PATH: process.env.PATH, HOME: outDir };
    const { execFileSync, spawnSync } = await import('node:child_process');
    const jobText = execFileSync(process.execPath, [cliPath, 'viz', 'job'], { env, encoding: 'utf8' });
    assert.match(jobText, /^stateDiagram-v2/);
    const svgFile = join(outDir, 'job-cli.svg');
    execFileSync(process.execPath, [cliPath, 'viz', 'job', '-o', svgFile], { env, encoding: 'utf8' });
    assert.match(readFileSync(svgFile, 'utf8'), /<svg[\s\S]*<g id="state&#45;pending"/, 'the format follows the file name');
    const bad = spawnSync(process.execPath, [cliPath, 'viz', 'job', '--format', 'png'], { env, encoding: 'utf8' });
    assert.equal(bad.status, 2, 'an unknown format is a usage error');
    const j = spawnSync(process.execPath, [cliPath, 'viz', 'jupyter'], { env, encoding: 'utf8' });
    if (machines.has('jupyter')) assert.equal(j.status, 0, j.stderr);
    else assert.match(j.stderr, /jupyter machine is not available in this build yet/);
  });
});

// ---- the browser -------------------------------------------------------------------------------

// The few DOM shapes the page checks use: the test program is typed without the DOM library.
interface El {
  getBoundingClientRect(): { left: number; top: number; width: number; height: number };
  contains(other: El | null): boolean;
  querySelector(selector: string): El | null;
  style: { visibility: string };
  textContent: string | null;
}
interface Win {
  document: { getElementById(id: string): El | null; elementFromPoint(x: number, y: number): El | null; querySelectorAll(selector: string): ArrayLike<El> & Iterable<El> };
  innerWidth: number;
  innerHeight: number;
}

type Browser = Awaited<ReturnType<typeof import('playwright-core').chromium.launch>>;
let browser: Browser | null = null;

async function openOffline(file: string): Promise<{ page: Page; offsite: string[] }> {
  const { chromium } = await import('playwright-core');
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1600, height: 1200 }, offline: true });
  const page = await context.newPage();
  const offsite: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:')) offsite.push(r.url()); });
  await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
  await page.goto(pathToFileURL(file).href);
  return { page, offsite };
}

/** A state's node: inside the viewport, on top at its centre, and painted (hiding it changes the pixels). */
async function assertVisible(page: Page, stateId: string) {
  const box = await page.evaluate((id) => {
    const { document, innerWidth, innerHeight } = globalThis as unknown as Win;
    const g = document.getElementById(`state-${id}`);
    if (!g) return null;
    const r = g.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return { x: r.left, y: r.top, width: r.width, height: r.height, onTop: Boolean(top && g.contains(top)), vw: innerWidth, vh: innerHeight };
  }, stateId);
  assert.ok(box, `state ${stateId} is in the page`);
  assert.ok(box.width > 4 && box.height > 4, `state ${stateId} has a size: ${JSON.stringify(box)}`);
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= box.vw && box.y + box.height <= box.vh, `state ${stateId} is within the viewport: ${JSON.stringify(box)}`);
  assert.ok(box.onTop, `state ${stateId} is not covered by something else`);
  const clip = { x: box.x, y: box.y, width: box.width, height: box.height };
  const shown = await page.screenshot({ clip });
  await page.evaluate((id) => { (globalThis as unknown as Win).document.getElementById(`state-${id}`)!.style.visibility = 'hidden'; }, stateId);
  const hidden = await page.screenshot({ clip });
  await page.evaluate((id) => { (globalThis as unknown as Win).document.getElementById(`state-${id}`)!.style.visibility = ''; }, stateId);
  assert.ok(!shown.equals(hidden), `state ${stateId} is painted`);
}

after(async () => {
  await browser?.close();
  if (process.env.LAB_VIZ_KEEP) process.stderr.write(`viz test output kept in ${outDir}\n`);
  else rmSync(outDir, { recursive: true, force: true });
});

describe('the HTML page in headless Chromium, offline', { skip: noChromium }, () => {
  for (const name of DRAWN) {
    test(`${name}: opens with no network and shows every state`, { skip: machines.has(name) ? false : `the ${name} machine is not in this build yet` }, async () => {
      const file = join(outDir, `${name.replace(/\W+/g, '-')}.html`);
      if (!existsSync(file)) writeFileSync(file, await drawMachine(machineGraph(machines.get(name)!), 'html'));
      const { page, offsite } = await openOffline(file);
      for (const s of walk(machines.get(name)!).states) {
        if (Object.keys(s.states).length === 0) await assertVisible(page, idOf(s));
      }
      const shot = join(outDir, `${name.replace(/\W+/g, '-')}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000, 'a screenshot with something in it');
      assert.deepEqual(offsite, [], 'the page asked for nothing beyond its own file');
      await page.context().close();
    });
  }
});

// ---- a row's history -----------------------------------------------------------------------------

describe("a job's history over the machine", () => {
  let db: TestDb;
  let store: LabStore;
  let env: AgentEnv;
  const agent = randomUUID();

  before(async () => {
    db = await freshDatabase();
    const userId = await makeUser(db, 'vizzy');
    store = storeAs(db, userId);
    env = new AgentEnv(db, 'vizzy', { LAB_USER_ID: userId });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  /** submit → claim → start → the process exits 1: failed. */
  async function failedJob(): Promise<string> {
    const job = await store.submitJob({ scriptPath: '/home/vizzy/train.py' });
    const [claimed] = await store.claimJobs({ agentId: agent, host: 'testhost', limit: 1 });
    assert.equal(claimed?.job_id, job.job_id);
    await store.startJob({
      jobId: job.job_id, agentId: agent, pid: 4242, pidStart: '12345', interpreter: '/usr/bin/python3',
      command: ['/usr/bin/python3', '/home/vizzy/train.py'], logDir: '/tmp/x', stdoutPath: '/tmp/x/out', stderrPath: '/tmp/x/err',
    });
    const ended = await store.finishJob({ jobId: job.job_id, retcode: 1, signal: null });
    assert.equal(ended.status, 'failed');
    return job.job_id;
  }

  // The failure path, stated as the machine must take it; each step is checked to be a transition.
  const expectedPath = ['pending', 'claimed', 'starting', 'running', 'probing', 'concluding', 'failed'];
  const expectedEdges = expectedPath.slice(1).map((to, i) => `${expectedPath[i]}->${to}`);

  test('the failure path is a path of the machine', () => {
    const { transitions } = walk(machines.get('job')!);
    for (const e of expectedEdges) assert.ok(transitions.some((t) => `${t.source}->${t.target}` === e), `the machine has ${e}`);
  });

  test('exactly the path taken is highlighted, in the model, DOT, SVG and text', async () => {
    const id = await failedJob();
    const graph = machineGraph(machines.get('job')!);
    const history = traceHistory(graph, await store.history(id));
    assert.deepEqual(history.path, expectedPath);
    assert.equal(history.current, 'failed');
    assert.deepEqual([...history.taken.keys()].map((i) => `${graph.edges[i]!.source}->${graph.edges[i]!.target}`).sort(), [...expectedEdges].sort());
    const subject = { machine: 'job', id, title: null, status: 'failed' };
    const dot = await drawHistory(graph, subject, history, 'dot');
    assert.deepEqual(dotEdges(dot).filter((e) => /\btaken\b/.test(e.classes)).map((e) => `${e.source}->${e.target}`).sort(), [...expectedEdges].sort());
    const svg = await drawHistory(graph, subject, history, 'svg');
    assert.deepEqual(svgElements(svg, 'edge').filter((e) => /\btaken\b/.test(e.classes)).map((e) => `${e.source}->${e.target}`).sort(), [...expectedEdges].sort());
    const nodes = svgElements(svg, 'node');
    assert.deepEqual(nodes.filter((n) => /\bvisited\b/.test(n.classes)).map((n) => n.source).sort(), [...expectedPath].sort());
    assert.deepEqual(nodes.filter((n) => /\bcurrent\b/.test(n.classes)).map((n) => n.source), ['failed']);
  });

  test('`lab-agent viz --job` prints the timeline; -o writes an HTML page that Chromium shows', { skip: noChromium }, async () => {
    const id = await failedJob();
    const text = await env.cli(['viz', '--job', id.slice(0, 8)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`path: ${expectedPath.join(' → ')}\\n`));
    assert.match(text.stdout, /pending → claimed .*agent [0-9a-f]{8}/);
    assert.match(text.stdout, /pending → claimed .*on testhost/);
    assert.match(text.stdout, /claimed → running .*pid 4242/);
    assert.match(text.stdout, /running → failed .*exit code 1/);
    assert.match(text.stdout, /running ─TICK→ probing ─done\(probeJob\) \[processEnded\]→ concluding ─done\(concludeJob\) \[endedFailed\]→ failed/);
    const json = await env.cli(['viz', '--job', id, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const model = JSON.parse(json.stdout) as { current: string; path: string[]; steps: { detail: Record<string, unknown> }[] };
    assert.deepEqual(model.path, expectedPath);
    assert.equal(model.current, 'failed');
    assert.equal(model.steps.at(-1)?.detail.retcode, 1);
    const file = join(outDir, 'job-history.html');
    const written = await env.cli(['viz', '--job', id, '-o', file]);
    assert.equal(written.code, 0, written.stderr);
    const { page, offsite } = await openOffline(file);
    const seen = await page.evaluate(() => {
      const { document } = globalThis as unknown as Win;
      // No named functions in here: tsx would wrap them in a helper the page does not have.
      const [taken, visited, current] = ['g.edge.taken', 'g.node.visited', 'g.node.current']
        .map((selector) => [...document.querySelectorAll(selector)].map((g) => g.querySelector('title')!.textContent!));
      return { taken: taken!, visited: visited!, current: current!, rows: [...document.querySelectorAll('table.timeline tr.step')].map((tr) => tr.textContent ?? '') };
    });
    assert.deepEqual(seen.taken.sort(), [...expectedEdges].sort());
    assert.deepEqual(seen.visited.sort(), [...expectedPath].sort());
    assert.deepEqual(seen.current, ['failed']);
    assert.equal(seen.rows.length, 4, 'created, claimed, running, failed');
    for (const s of expectedPath) await assertVisible(page, s);
    const shot = join(outDir, 'job-history.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000);
    assert.deepEqual(offsite, []);
    assert.ok(readFileSync(file, 'utf8').includes("default-src 'none'"), 'the page forbids fetching anything');
    await page.context().close();
  });

  test('a pending job cancelled by its user went outside the machine, and says so', async () => {
    const job = await store.submitJob({ scriptPath: '/home/vizzy/other.py' });
    await store.requestCancel(job.job_id);
    const graph = machineGraph(machines.get('job')!);
    const history = traceHistory(graph, await store.history(job.job_id));
    assert.equal(history.taken.size, 0, 'no machine edge is claimed for it');
    assert.deepEqual(history.external.map((x) => `${x.source}->${x.target}`), ['pending->cancelled']);
    assert.deepEqual(history.path, ['pending', 'cancelled']);
    const text = await drawHistory(graph, { machine: 'job', id: job.job_id, title: null, status: 'cancelled' }, history, 'text');
    assert.match(text, /pending → cancelled .*reason: cancelled before it started/);
    assert.match(text, /outside the machine/);
  });
});
