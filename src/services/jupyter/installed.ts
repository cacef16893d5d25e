// What a Jupyter installation has, found without starting Python (`jupyter --version` imports
// everything and takes seconds to minutes on a busy server): the `jupyter-<sub>` entry points that
// `jupyter <sub>` would run, and the Notebook's major version from its entry script (Notebook 6
// is the NotebookApp, 7 runs on Jupyter Server). And the install command that fits where this
// jupyter lives: a venv, a conda environment, or the member's ~/.local (pip --user).
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isExecutableFile, whichIn } from '../host/executables.js';
import { JupyterError } from './errors.js';
import type { JupyterAppKind } from './launch.js';

export interface JupyterInstall {
  jupyterPath: string;
  /** `jupyter-<sub>` executables `jupyter <sub>` would run (next to jupyter first, then PATH); null = none. */
  entryPoint(sub: string): string | null;
  /** The classic Notebook's major version (6 = NotebookApp, 7 = on Jupyter Server); null when unknown or absent. */
  notebookMajor: number | null;
}

/** `jupyter <sub>` runs jupyter-<sub> from its own folder, else from PATH; a `jupyter-<sub>` path is itself. */
export function findEntryPoint(jupyterPath: string, sub: string, pathVar: string | undefined): string | null {
  if (basename(jupyterPath) === `jupyter-${sub}`) return jupyterPath;
  const beside = join(dirname(jupyterPath), `jupyter-${sub}`);
  if (isExecutableFile(beside)) return beside;
  return whichIn(`jupyter-${sub}`, pathVar);
}

function head(file: string, bytes = 4096): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(bytes);
      return buf.subarray(0, readSync(fd, buf, 0, bytes, 0)).toString('latin1');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** From the entry script: pip's `from notebook.notebookapp import main` (6) / `notebook.app` (7), or setuptools' `notebook==6.4.12`. */
export function notebookMajorOf(entryScript: string): number | null {
  const text = head(entryScript);
  const pinned = /notebook==(\d+)\./.exec(text);
  if (pinned) return Number(pinned[1]);
  if (/from notebook\.notebookapp import/.test(text)) return 6;
  if (/from notebook\.app import/.test(text)) return 7;
  return null;
}

export function inspectJupyter(jupyterPath: string, pathVar: string | undefined): JupyterInstall {
  const entryPoint = (sub: string) => findEntryPoint(jupyterPath, sub, pathVar);
  const nb = entryPoint('notebook');
  return { jupyterPath, entryPoint, notebookMajor: nb ? notebookMajorOf(nb) : null };
}

/** Whether the app runs as the classic NotebookApp (true) or on Jupyter Server (false). */
export function detectLegacy(install: JupyterInstall, app: JupyterAppKind): boolean {
  if (app !== 'notebook') return false;
  if (install.notebookMajor !== null) return install.notebookMajor < 7;
  // Unknown Notebook: without Jupyter Server beside it, it can only be the classic one.
  return install.entryPoint('server') === null;
}

/** The command that installs `packages` where this jupyter lives. */
export function installCommand(jupyterPath: string, packages: string[]): string {
  const prefix = dirname(dirname(jupyterPath));
  const pkgs = packages.map((p) => (/[<>=]/.test(p) ? `'${p}'` : p)).join(' ');
  if (existsSync(join(prefix, 'pyvenv.cfg'))) return `${join(prefix, 'bin', 'python')} -m pip install ${pkgs}`;
  if (existsSync(join(prefix, 'conda-meta'))) return `conda install -p ${prefix} -c conda-forge ${pkgs}`;
  return `python3 -m pip install --user ${pkgs}`;
}

const PACKAGE_OF: Record<string, string> = { lab: 'jupyterlab', notebook: 'notebook', server: 'jupyter_server', nbconvert: 'nbconvert' };

/**
 * The subcommands missing from this installation, as one message with the install command, or
 * null when all are there.
 */
export function missingMessage(install: JupyterInstall, subs: string[], purpose: string): string | null {
  const missing = subs.filter((s) => install.entryPoint(s) === null);
  if (!missing.length) return null;
  const names = missing.map((s) => `jupyter-${s}`).join(' and ');
  const packages = missing.map((s) => PACKAGE_OF[s] ?? s);
  if (packages.includes('nbconvert')) packages.push('ipykernel');
  return `${names} not found next to ${install.jupyterPath} or on your PATH, so ${purpose}. ` +
    `Install it with: ${installCommand(install.jupyterPath, packages)}` +
    ` (or set LAB_JUPYTER=/path/to/a/jupyter that has it in the agent's .env).`;
}

/** For a Jupyter server: the app must be installed; the NotebookApp/ServerApp choice follows what is. */
export function jupyterForApp(jupyterPath: string, app: JupyterAppKind, legacyOverride: boolean | null, pathVar: string | undefined): { legacy: boolean } {
  const install = inspectJupyter(jupyterPath, pathVar);
  const missing = missingMessage(install, [app], `a Jupyter ${app} server cannot start`);
  if (missing) {
    const other = app === 'lab' && install.entryPoint('notebook') ? ' Or ask for the classic Notebook that is installed: jupyter start --app notebook.' : '';
    throw new JupyterError('not-found', missing + other);
  }
  return { legacy: legacyOverride ?? detectLegacy(install, app) };
}
