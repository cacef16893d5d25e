// A Jupyter session as a Slurm batch job, the way Open OnDemand starts one: the batch script picks
// a free port on the compute node, writes where the server listens (node and port) into the
// session's private folder (homes are shared between the login and the compute nodes, as the job
// executor already relies on), then runs Jupyter with the session's config file (the token is
// never on a command line). When Jupyter exits, the script writes its exit code beside it, so the
// agent learns of a server that died while it waited for it without asking squeue again.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { jupyterCommand, type JupyterAppKind } from '../jupyter/launch.js';
import { shq } from '../runner/wrapper.js';

/** Written by the batch script once it has a port: { node, port, job }. */
const CONNECTION_FILE = 'connection.json';
/** Written by the batch script when Jupyter has exited: its exit code. */
const ENDED_FILE = 'ended';
/** The batch script's name in the session's folder. */
export const JUPYTER_BATCH_FILE = 'slurm-jupyter.sh';

export interface JupyterBatch {
  sessionId: string;
  jupyterPath: string;
  app: JupyterAppKind;
  legacy: boolean;
  /** The folder the server opens in (and its working folder). */
  dir: string;
  /** The session's config (token, idle limits), in `runtimeDir`. */
  configFile: string;
  /** The session's private folder (0700): the connection and end files go here. */
  runtimeDir: string;
  /** The member's umask for what the server writes (octal digits), or null for Slurm's. */
  umask: string | null;
}

export interface Connection {
  node: string;
  port: number;
}

/** The session's name in squeue: lab-jupyter-<the first 8 characters of its id>. */
export const slurmSessionName = (sessionId: string): string => `lab-jupyter-${sessionId.slice(0, 8)}`;

/** Where the server of a session listens, once its batch script has said so; null before. */
export function readConnection(runtimeDir: string): Connection | null {
  try {
    const c = JSON.parse(readFileSync(join(runtimeDir, CONNECTION_FILE), 'utf8')) as Partial<Connection>;
    const ok = typeof c.node === 'string' && /^[A-Za-z0-9._-]{1,253}$/.test(c.node) && Number.isInteger(c.port) && c.port! > 0 && c.port! < 65536;
    return ok ? { node: c.node!, port: c.port! } : null;
  } catch {
    return null;
  }
}

/** Jupyter has exited on the compute node (the batch script wrote its exit code). */
export const serverEnded = (runtimeDir: string): boolean => existsSync(join(runtimeDir, ENDED_FILE));

/** A free port is asked of the compute node's kernel through the Python that runs Jupyter. */
function pythonOf(jupyterPath: string): string {
  const beside = join(dirname(jupyterPath), 'python3');
  return existsSync(beside) ? beside : 'python3';
}

/**
 * The batch script. It binds every address of the node (the agent on the login node and the
 * member's tunnel reach it by the node's name); the token guards it, as with OnDemand. The shell
 * outlives a SIGTERM meant for Jupyter (scancel --signal=TERM --full) to write the end file.
 */
export function jupyterBatchScript(b: JupyterBatch): string {
  const { command, args } = jupyterCommand({ jupyterPath: b.jupyterPath, app: b.app, legacy: b.legacy, port: 0, ip: '0.0.0.0', dir: b.dir }, b.configFile);
  const argv = [command, ...args].map((a) => (a === '--port=0' ? '--port="$port"' : shq(a))).join(' ');
  const dir = shq(b.runtimeDir);
  return [
    '#!/bin/sh',
    `# lab-job-agent: Jupyter session ${b.sessionId}, submitted with sbatch. It writes where the server`,
    `# listens into ${CONNECTION_FILE} and, when Jupyter exits, its exit code into ${ENDED_FILE}.`,
    'trap : HUP INT TERM',
    'umask 077',
    `dir=${dir}`,
    `port=$(${shq(pythonOf(b.jupyterPath))} -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')`,
    'case $port in "" | *[!0-9]*) echo "lab-job-agent: no free port on $(hostname)" >&2; echo 1 > "$dir/ended"; exit 1 ;; esac',
    'node=${SLURMD_NODENAME:-$(hostname -s)}',
    `printf '{"node":"%s","port":%s,"job":"%s"}\\n' "$node" "$port" "$SLURM_JOB_ID" > "$dir/${CONNECTION_FILE}.tmp" && mv -f "$dir/${CONNECTION_FILE}.tmp" "$dir/${CONNECTION_FILE}"`,
    ...(b.umask ? [`umask ${b.umask}`] : []),
    'unset JUPYTER_TOKEN JUPYTER_TOKEN_FILE',
    'export PYTHONUNBUFFERED=1',
    `echo "[lab-job-agent $(date -u +%Y-%m-%dT%H:%M:%SZ)] Slurm job $SLURM_JOB_ID: starting Jupyter on $node port $port (${b.app})"`,
    `${argv} </dev/null`,
    'code=$?',
    `echo "$code" > "$dir/${ENDED_FILE}"`,
    'exit "$code"',
    '',
  ].join('\n');
}
