// Jupyter start latency: launchJupyter → waitHealthy (first 200 from /api/status with the token),
// then stopJupyter. Each run gets a fresh HOME / JUPYTER_* folders and a free port.
// Run: node --import tsx bench/jupyter-start.ts [runs=5]
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasLegacyJupyter, hasTestJupyter, legacyJupyter, testJupyter } from '../test/helpers/required.js';
import { waitHealthy } from '../src/services/jupyter/health.js';
import { launchJupyter, type JupyterAppKind } from '../src/services/jupyter/launch.js';
import { pickFreePort } from '../src/services/jupyter/ports.js';
import { stopJupyter } from '../src/services/jupyter/stop.js';

const runs = Number(process.argv[2] ?? 5);

interface Sample {
  startMs: number;
  stopMs: number;
}

async function once(jupyterPath: string, app: JupyterAppKind, legacy: boolean): Promise<Sample> {
  const root = mkdtempSync(join(tmpdir(), 'jupyter-bench-'));
  const home = join(root, 'home');
  mkdirSync(home);
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    JUPYTER_RUNTIME_DIR: join(root, 'runtime'),
    JUPYTER_CONFIG_DIR: join(root, 'config'),
    JUPYTER_DATA_DIR: join(root, 'data'),
  };
  const port = await pickFreePort({ basePort: 29800, uid: process.getuid?.() ?? 0, host: '127.0.0.1' });
  const token = randomBytes(24).toString('hex');
  const logFile = join(home, 'lab_job_logs', 'jupyter', 'bench.log');
  try {
    const t0 = performance.now();
    const r = await launchJupyter({ sessionId: 'bench', jupyterPath, app, legacy, port, ip: '127.0.0.1', dir: home, token, idleMinutes: 60, logFile, env });
    await waitHealthy({ port, token, timeoutMs: 120_000, pid: r.pid, startTime: r.startTime, logFile, intervalMs: 50 });
    const t1 = performance.now();
    const res = await stopJupyter({ pgid: r.pgid, pid: r.pid, startTime: r.startTime, port, host: '127.0.0.1', configFile: r.configFile });
    const t2 = performance.now();
    if (res.killed !== 'term' || !res.portFree) throw new Error(`unclean stop: ${JSON.stringify(res)}`);
    return { startMs: t1 - t0, stopMs: t2 - t1 };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Nearest-rank percentile. */
function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const s = (ms: number) => (ms / 1000).toFixed(2);

async function series(label: string, jupyterPath: string, app: JupyterAppKind, legacy: boolean): Promise<string> {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const sample = await once(jupyterPath, app, legacy);
    samples.push(sample);
    console.error(`${label} run ${i + 1}: start ${s(sample.startMs)} s, stop ${s(sample.stopMs)} s`);
  }
  const start = samples.map((x) => x.startMs);
  const stop = samples.map((x) => x.stopMs);
  return `| ${label} | ${runs} | ${s(pct(start, 50))} | ${s(pct(start, 90))} | ${start.map(s).join(', ')} | ${s(pct(stop, 50))} |`;
}

const rows: string[] = [];
if (hasTestJupyter) rows.push(await series('JupyterLab (`jupyter lab`, venv)', testJupyter, 'lab', false));
else console.error(`skipped JupyterLab: ${testJupyter} missing`);
if (hasLegacyJupyter) rows.push(await series('Notebook 6 (Debian `jupyter-notebook`)', legacyJupyter, 'notebook', true));
else console.error(`skipped Notebook 6: ${legacyJupyter} missing`);

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}\n`);
console.log('| server | runs | start median (s) | start p90 (s) | all starts (s) | stop median (s) |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);
