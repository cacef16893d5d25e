// Is something going to run the agent? install_agent.sh writes a cron line ending in CRON_MARKER
// and, with --systemd, a user unit; these names must stay the same as in install_agent.sh.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importPackage } from '../import-package.js';
import type { Config } from '../config.js';
import { agentLockHolder } from '../agent/agent-process.js';
import { isExecutableFile } from '../host/executables.js';
import { packageRoot } from '../package-info.js';
import { result, tildify, type CheckResult } from './types.js';

const CRON_MARKER = '# lab-job-agent';
const UNIT_NAME = 'lab-agent.service';

function unitPath(home: string, env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'systemd', 'user', UNIT_NAME);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Exit code 127 when the command is missing or timed out, as a shell would say. */
async function run(cmd: string, args: string[], timeoutMs = 5000): Promise<Run> {
  const { execa } = await importPackage<typeof import('execa')>('execa');
  const r = await execa(cmd, args, { timeout: timeoutMs, reject: false, stdin: 'ignore' });
  return { code: r.exitCode ?? 127, stdout: r.stdout, stderr: r.stderr };
}

/** The user's crontab lines; null when there is no crontab command. */
async function readCrontab(): Promise<string[] | null> {
  const r = await run('crontab', ['-l']);
  if (r.code === 127) return null;
  return r.code === 0 ? r.stdout.split('\n') : []; // exit 1: "no crontab for <user>"
}

/** A cron daemon is running on this machine (any user's process named cron or crond). */
function cronDaemonRunning(): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (/^(cron|crond|cronie|busybox-crond)$/.test(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) return true;
    } catch {
      /* gone, or hidden */
    }
  }
  return false;
}

/** The command of our cron line: its first word is the lab-agent wrapper. */
const cronCommand = (line: string) => line.trim().split(/\s+/).slice(5).join(' ');

export async function checkScheduler(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const home = config.home;
  const notes: string[] = [];
  const crontab = await readCrontab();
  const active = (crontab ?? []).filter((l) => l.trim() && !l.trim().startsWith('#'));
  const ours = active.filter((l) => l.includes(CRON_MARKER));
  // The original Python agent's cron line (or any other agent run from the agent folder).
  const foreign = active.filter((l) => !l.includes(CRON_MARKER) && /lab_job_agent|lab-agent/.test(l));
  let cronOk = false;
  if (crontab === null) notes.push('no crontab command');
  else if (ours.length) {
    const exe = cronCommand(ours[0]!).split(/\s+/)[0] ?? '';
    if (!isExecutableFile(exe)) notes.push(`cron line runs ${exe}, which is missing`);
    else {
      cronOk = cronDaemonRunning();
      notes.push(cronOk ? 'cron line present' : 'cron line present, but no cron daemon is running on this machine');
    }
  } else notes.push('no cron line');

  const unit = unitPath(home, env);
  let unitOk = false;
  let unitState: string | null = null;
  if (existsSync(unit)) {
    const r = await run('systemctl', ['--user', 'is-active', UNIT_NAME]);
    unitState = r.code === 127 ? 'systemctl missing' : r.stdout.trim() || r.stderr.trim().split('\n')[0] || 'unknown';
    unitOk = unitState === 'active';
    notes.push(`systemd unit ${tildify(unit, home)} (${unitState})`);
  }
  const holder = agentLockHolder(config);
  if (holder) notes.push(`an agent is running now (pid ${holder})`);

  const data = { cronLines: ours, otherAgentLines: foreign, unit: existsSync(unit) ? unit : null, unitState, runningPid: holder };
  const detail = notes.join('; ');
  if (ours.length > 1) return result('scheduler', 'cron / systemd', 'warn', detail, `${ours.length} lab-agent cron lines: run install_agent.sh again to leave one`, data);
  if (foreign.length) {
    return result('scheduler', 'cron / systemd', 'warn', `${detail}; another cron line runs an agent: ${foreign[0]!.trim()}`,
      'remove that line with `crontab -e` (two agents would both take your jobs); install_agent.sh comments out the original agent\'s line', data);
  }
  if (cronOk || unitOk) return result('scheduler', 'cron / systemd', 'ok', detail, undefined, data);
  if (ours.length || unitState) {
    return result('scheduler', 'cron / systemd', 'warn', detail,
      unitState ? '`systemctl --user enable --now lab-agent`, and `loginctl enable-linger` to keep it after logout' : 'ask your admin to run the cron daemon, or use `install_agent.sh --systemd`', data);
  }
  if (holder) {
    // `npm start` / `lab-agent supervise` running now serves the member: only a reboot or logout ends it.
    return result('scheduler', 'cron / systemd', 'warn', `${detail}: it serves your jobs until it stops (logout, reboot)`,
      `to have the agent come back after a reboot, add this line with \`crontab -e\`: ${suggestedCronLine(config)} (install_agent.sh adds it), or run \`install_agent.sh --systemd\``, data);
  }
  return result('scheduler', 'cron / systemd', 'fail', detail, 'run install_agent.sh (adds the cron line), or `install_agent.sh --systemd` for a user unit', data);
}

/** The cron line install_agent.sh writes, or, for a clone it has not set up, one that runs this clone's tick entry point. */
function suggestedCronLine(config: Config): string {
  const wrapper = join(config.agentDir, 'bin', 'lab-agent');
  const command = isExecutableFile(wrapper) ? `${wrapper} tick` : `${process.execPath} ${join(packageRoot, 'dist', 'tick.cjs')}`;
  return `* * * * * ${command} >/dev/null 2>&1 ${CRON_MARKER}`;
}
