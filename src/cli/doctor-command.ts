// `lab-agent doctor`: what is wrong with this installation, one line per check with the fix.
import { hostname, userInfo } from 'node:os';
import type { DoctorReport } from '../services/doctor/doctor.js';
import type { CheckStatus } from '../services/doctor/types.js';
import { defineCommand, type Command } from './command.js';

const MARK: Record<CheckStatus, string> = { ok: '✔', fail: '✖', warn: '!', skip: '-' };

function renderReport(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.title.length));
  const lines = [`lab-agent doctor: ${userInfo().username}@${hostname()}${r.mode ? `, ${r.mode} mode` : ''}`];
  for (const c of r.checks) {
    lines.push(`${MARK[c.status]} ${c.title.padEnd(width)}  ${c.detail}`);
    if (c.fix && c.status !== 'ok') lines.push(`  ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  const fails = r.checks.filter((c) => c.status === 'fail').length;
  const warns = r.checks.filter((c) => c.status === 'warn').length;
  lines.push(fails ? `${fails} problem(s)${warns ? `, ${warns} warning(s)` : ''}: fix the ✖ lines above` : `all checks passed${warns ? ` (${warns} warning(s))` : ''}`);
  return lines.join('\n');
}

export const doctorCommand = defineCommand({
  name: 'doctor',
  summary: 'check this installation (config, database, identity, Python, Jupyter, SMTP, cron, ports, logs)',
  usage: 'lab-agent doctor [--json]',
  json: true,
  async run({ env, out }) {
    const { runDoctor } = await import('../services/doctor/doctor.js');
    // Only errors on stderr: every finding is in the report itself.
    const { createLogger } = await import('../services/logger.js');
    const report = await runDoctor(env, createLogger({ level: 'error' }));
    out.data(report, renderReport);
    return report.ok ? 0 : 1;
  },
});
