// Which Python or Jupyter runs a job: LAB_PYTHON / LAB_JUPYTER, a venv near the script, the login PATH.
import { dirname, join, resolve, relative, isAbsolute } from 'node:path';
import { isExecutableFile, whichIn } from '../host/executables.js';
import { JobInputError } from './errors.js';

type InterpreterSource = 'LAB_PYTHON' | 'LAB_JUPYTER' | 'venv' | 'login PATH' | '~/.local/bin';

export interface FoundInterpreter {
  path: string;
  source: InterpreterSource;
}

export interface FindOptions {
  /** The user's home: the venv search stops there. */
  home: string;
  /** The environment whose PATH is searched: the user's login environment, not cron's. */
  env: Record<string, string | undefined>;
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * `<dir>/.venv/bin/<exe>` or `<dir>/venv/bin/<exe>` in the start folder or any parent up to and
 * including home. The venv path is returned unresolved: a venv's python is usually a symlink to
 * the system one, and only the venv path activates the venv's site-packages.
 */
function findVenvExecutable(startDir: string, home: string, exe: string): string | null {
  const top = resolve(home);
  let dir = resolve(startDir);
  if (!isInside(dir, top)) return null;
  for (;;) {
    for (const venv of ['.venv', 'venv']) {
      const candidate = join(dir, venv, 'bin', exe);
      if (isExecutableFile(candidate)) return candidate;
    }
    if (dir === top) return null;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function explicit(value: string, varName: 'LAB_PYTHON' | 'LAB_JUPYTER'): FoundInterpreter {
  if (!isAbsolute(value)) {
    throw new JobInputError(`${varName} must be an absolute path; it is "${value}". Set it in the agent's .env to e.g. /home/you/miniconda3/bin/${varName === 'LAB_PYTHON' ? 'python' : 'jupyter'}.`);
  }
  if (!isExecutableFile(value)) {
    throw new JobInputError(`${varName} is set to ${value}, which does not exist or is not executable. Fix or remove ${varName} in the agent's .env.`);
  }
  return { path: value, source: varName };
}

/** LAB_PYTHON, else a venv beside the script or above it (up to home), else python3 on the login PATH. */
export function findPython(scriptPath: string, opts: FindOptions & { labPython?: string | undefined }): FoundInterpreter {
  if (opts.labPython) return explicit(opts.labPython, 'LAB_PYTHON');
  const venv = findVenvExecutable(dirname(scriptPath), opts.home, 'python');
  if (venv) return { path: venv, source: 'venv' };
  const onPath = whichIn('python3', opts.env.PATH);
  if (onPath) return { path: onPath, source: 'login PATH' };
  throw new JobInputError(
    `No Python found for ${scriptPath}: no .venv/ or venv/ beside it or in a parent folder up to your home, ` +
      `and no python3 on your login shell's PATH. Set LAB_PYTHON=/path/to/python in the agent's .env, ` +
      `create a venv (python3 -m venv .venv) next to the script, or ask your admin to install python3.`,
  );
}

/** LAB_JUPYTER, else a venv's jupyter near the notebook, else jupyter on the login PATH or in ~/.local/bin. */
export function findJupyter(nearPath: string, opts: FindOptions & { labJupyter?: string | undefined }): FoundInterpreter {
  if (opts.labJupyter) return explicit(opts.labJupyter, 'LAB_JUPYTER');
  const venv = findVenvExecutable(dirname(nearPath), opts.home, 'jupyter');
  if (venv) return { path: venv, source: 'venv' };
  const onPath = whichIn('jupyter', opts.env.PATH);
  if (onPath) return { path: onPath, source: 'login PATH' };
  // pip install --user puts it here, and ~/.profile adds it to PATH only if it existed at login
  const userBin = join(opts.home, '.local', 'bin', 'jupyter');
  if (isExecutableFile(userBin)) return { path: userBin, source: '~/.local/bin' };
  throw new JobInputError(
    `No Jupyter found to run ${nearPath}: none in a .venv/ or venv/ near it, on your login shell's PATH, or in ~/.local/bin. ` +
      `Install it with: python3 -m pip install --user jupyterlab nbconvert ipykernel ` +
      `(or into the notebook's venv), or set LAB_JUPYTER=/path/to/jupyter in the agent's .env.`,
  );
}
