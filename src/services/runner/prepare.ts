import { realpathSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile, rename, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { JobInputError } from './errors.js';
import { parseJobArgs } from './args.js';
import { checkExecSize, checkJobArguments, checkNotebookArguments } from './exec-limits.js';
import { findJupyter, findPython } from './interpreter.js';
import { inspectJupyter, missingMessage } from '../jupyter/installed.js';
import { findParametersCell, injectParameters, isPythonNotebook, parseNotebook, parseNotebookParams } from './notebook-params.js';
import { wrapperArgv } from './wrapper.js';

export interface JobInput {
  jobId: string;
  /** As the user wrote it: absolute, `~/...`, or relative to home. */
  scriptPath: string;
  args: string | null;
  home: string;
  /** Usually ~/lab_job_logs; the job's logs go to <logRoot>/<jobId>. */
  logRoot: string;
  /** Where this attempt's logs go, when not <logRoot>/<jobId> (a retry's attempt-<n> folder). */
  logDir?: string;
  /** The user's login environment (loginEnvironment()); the job runs with it. */
  env: Record<string, string>;
  labPython?: string | undefined;
  labJupyter?: string | undefined;
}

export interface PreparedJob {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  logDir: string;
  /** The python or jupyter executable used. */
  interpreter: string;
  kind: 'py' | 'ipynb';
  /** Lines for the job's log: what was decided and why (interpreter source, argument handling). */
  notes: string[];
  /** A notebook's private folder (0700) for its kernel's sockets: remove it once the job has ended. */
  tempDir?: string;
}

/** Name of the notebook copy with injected parameters, inside the log dir. */
const PARAMETERIZED_NOTEBOOK = 'input.ipynb';
/** The executed notebook, inside the log dir. */
export const OUTPUT_NOTEBOOK = 'output.ipynb';

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Turns a job request into the command to launch. Throws JobInputError, with a message meant for
 * the lab member, for anything wrong with the request. May write the parameterized notebook copy
 * into the log dir (creating it, mode 0700); starts nothing.
 */
export async function prepareJob(input: JobInput): Promise<PreparedJob> {
  if (!JOB_ID.test(input.jobId) || input.jobId.includes('..')) throw new Error(`prepareJob: unsafe job id "${input.jobId}"`);
  const home = realpathOrSelf(input.home);
  const script = resolveScript(input.scriptPath, input.home, home);
  const logDir = input.logDir ?? join(input.logRoot, input.jobId);
  const env: Record<string, string> = { ...input.env, LAB_JOB_ID: input.jobId, LAB_JOB_LOG_DIR: logDir };
  const notes: string[] = [];
  const kind = script.endsWith('.py') ? 'py' : 'ipynb';
  const cwd = dirname(script);

  if (kind === 'py') {
    const args = parseJobArgs(input.args);
    checkJobArguments(args);
    const py = findPython(script, { home, env: input.env, labPython: input.labPython });
    notes.push(`python: ${py.path} (from ${py.source})`);
    const argv = [py.path, script, ...args];
    checkExecSize(wrapperArgv(input.jobId, logDir, argv), env, args);
    return { argv, cwd, env, logDir, interpreter: py.path, kind, notes };
  }
  if ((input.args ?? '').trim() !== '') checkNotebookArguments('LAB_JOB_ARGS', input.args!.trim());

  const jupyter = findJupyter(script, { home, env: input.env, labJupyter: input.labJupyter });
  notes.push(`jupyter: ${jupyter.path} (from ${jupyter.source})`);
  // Without it `jupyter nbconvert` prints its usage and exits 1: say what to install instead.
  const noNbconvert = missingMessage(inspectJupyter(jupyter.path, input.env.PATH), ['nbconvert'], 'the notebook cannot be run');
  if (noNbconvert) throw new JobInputError(noNbconvert);
  let notebook = script;
  const extra: string[] = [];
  if ((input.args ?? '').trim() !== '') {
    env.LAB_JOB_ARGS = input.args!.trim();
    const nb = parseNotebook(await readFile(script, 'utf8'), script);
    if (findParametersCell(nb) >= 0 && isPythonNotebook(nb)) {
      const params = parseNotebookParams(input.args);
      notebook = join(logDir, PARAMETERIZED_NOTEBOOK);
      await mkdir(logDir, { recursive: true, mode: 0o700 });
      await chmod(logDir, 0o700);
      await writeAtomic(notebook, JSON.stringify(injectParameters(nb, params), null, 1) + '\n');
      // nbconvert starts the kernel in the folder of the notebook it runs, here the log dir:
      // move the kernel back to the notebook's own folder before any cell runs.
      extra.push(kernelChdirOption(cwd));
      notes.push(`parameters injected after the "parameters" cell: ${Object.keys(params).join(', ') || '(none)'}; running the copy ${notebook}`);
    } else {
      notes.push(
        findParametersCell(nb) >= 0
          ? `the notebook's kernel is not Python, so the arguments were not injected; they are in the environment variable LAB_JOB_ARGS`
          : `the notebook has no cell tagged "parameters", so the arguments were not injected; they are in the environment variable LAB_JOB_ARGS (tag a cell "parameters" to have them assigned as variables)`,
      );
    }
  }
  const tempDir = await kernelSocketsDir();
  if (tempDir) extra.push('--KernelManager.transport=ipc', `--KernelManager.ip=${join(tempDir, 'kernel')}`);
  const argv = [jupyter.path, 'nbconvert', '--to', 'notebook', '--execute', notebook, '--output', OUTPUT_NOTEBOOK, '--output-dir', logDir, ...extra];
  checkExecSize(wrapperArgv(input.jobId, logDir, argv), env, []);
  return { argv, cwd, env, logDir, interpreter: jupyter.path, kind, notes, ...(tempDir ? { tempDir } : {}) };
}

/**
 * A private folder for the kernel's IPC sockets. Over TCP (the default), jupyter_client picks
 * free ports and closes them before the kernel binds them, so kernels starting at the same time
 * anywhere on the server can take the same port ("Address already in use", kernel died). Unix
 * sockets in a folder of our own cannot collide, and no other user can reach them.
 * Local /tmp, not the log dir: homes are often NFS. null (stay on TCP) if the path would be too
 * long for a socket name (108 bytes).
 */
async function kernelSocketsDir(): Promise<string | null> {
  if (join(tmpdir(), 'lab-kernel-XXXXXX', 'kernel-99').length > 100) return null;
  try {
    return await mkdtemp(join(tmpdir(), 'lab-kernel-')); // mode 0700
  } catch {
    return null;
  }
}

function realpathOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The script's real path, checked: under home (after symlinks), existing, a .py or .ipynb file. */
function resolveScript(asWritten: string, homeAsGiven: string, home: string): string {
  const trimmed = asWritten.trim();
  if (trimmed === '') throw new JobInputError('No script path was given.');
  const expanded = trimmed === '~' || trimmed.startsWith('~/') ? join(homeAsGiven, trimmed.slice(1)) : trimmed;
  const full = isAbsolute(expanded) ? expanded : join(homeAsGiven, expanded);
  let real: string;
  try {
    real = realpathSync(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new JobInputError(`Script not found: ${full}. Check the path (it is relative to your home unless it starts with /).`);
    if (code === 'EACCES') throw new JobInputError(`Script ${full} cannot be read: permission denied.`);
    throw e;
  }
  if (!isInside(real, home)) {
    const via = real === full ? '' : ` (it resolves to ${real})`;
    throw new JobInputError(`Script ${full} is outside your home ${home}${via}: only scripts under your home can be run.`);
  }
  if (!statSync(real).isFile() || !/\.(py|ipynb)$/.test(real)) {
    throw new JobInputError(`${full} is not a .py or .ipynb file${real === full ? '' : ` (it resolves to ${basename(real)})`}: only Python scripts and notebooks can be run.`);
  }
  return real;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp.${process.pid}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * An nbconvert option that makes an IPython kernel chdir at startup (IPKernelApp exec_lines,
 * passed through ExecutePreprocessor.extra_arguments). Each level is a Python literal list, and
 * a JSON string literal is a valid Python string literal.
 */
function kernelChdirOption(dir: string): string {
  const code = `import os as _lab_os; _lab_os.chdir(${JSON.stringify(dir)}); del _lab_os`;
  const kernelArg = `--InteractiveShellApp.exec_lines=[${JSON.stringify(code)}]`;
  return `--ExecutePreprocessor.extra_arguments=[${JSON.stringify(kernelArg)}]`;
}
