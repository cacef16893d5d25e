// supabase-js keeps its session in memory in Node unless given a storage: this one keeps it in a
// JSON file with mode 0600, so the agent's daemon refreshes one session and never signs in again.
// The file is shared by every agent process of the member: before auth-js removes the session (a
// refresh refused for good, or a sign-out), a copy goes to <file>.bak, so what ended it can be
// told and, when the refusal was passing (a rate limit), the session restored.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config.js';

/** Where a member's signed-in Supabase session is kept (mode 0600). */
export const sessionFile = (config: Config): string => join(config.dataDir, 'supabase-session.json');

export interface SessionBackup {
  removedAt: string;
  key: string;
  value: string;
}

export const backupPath = (sessionFile: string) => `${sessionFile}.bak`;

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path); // atomic: a crash never leaves half a session
}

export function readSessionBackup(sessionFile: string): SessionBackup | null {
  try {
    return JSON.parse(readFileSync(backupPath(sessionFile), 'utf8')) as SessionBackup;
  } catch {
    return null;
  }
}

export const dropSessionBackup = (sessionFile: string) => rmSync(backupPath(sessionFile), { force: true });

export class FileSessionStorage {
  constructor(readonly path: string) {}

  private read(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  private write(data: Record<string, string>): void {
    writeAtomic(this.path, JSON.stringify(data));
  }

  getItem(key: string): string | null {
    return this.read()[key] ?? null;
  }

  setItem(key: string, value: string): void {
    this.write({ ...this.read(), [key]: value });
  }

  removeItem(key: string): void {
    const data = this.read();
    if (!(key in data)) return;
    if (data[key]!.includes('refresh_token')) {
      const backup: SessionBackup = { removedAt: new Date().toISOString(), key, value: data[key]! };
      writeAtomic(backupPath(this.path), JSON.stringify(backup));
    }
    delete data[key];
    this.write(data);
  }
}
