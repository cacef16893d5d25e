// Writing one key of the agent's .env (LAB_USER_ID after `lab-agent login` found it): the other
// lines stay as they are, the file stays private (0600 from its first byte), replaced atomically.
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** KEY=value in `file`: replaced where the key is set, appended otherwise. */
export function setEnvValue(file: string, key: string, value: string): void {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(key) || /[\s'"\\#]/.test(value)) throw new Error(`cannot write ${key}=${value} to ${file}`);
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (lines.at(-1) === '') lines.pop();
  const line = `${key}=${value}`;
  const at = lines.findIndex((l) => new RegExp(`^\\s*(export\\s+)?${key}\\s*=`).test(l));
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
