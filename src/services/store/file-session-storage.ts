// supabase-js keeps its session in memory in Node unless given a storage: this one keeps it in a
// JSON file with mode 0600, so the agent's daemon refreshes one session and never signs in again.
import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';

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
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path); // atomic: a crash never leaves half a session
  }

  getItem(key: string): string | null {
    return this.read()[key] ?? null;
  }

  setItem(key: string, value: string): void {
    this.write({ ...this.read(), [key]: value });
  }

  removeItem(key: string): void {
    const data = this.read();
    delete data[key];
    this.write(data);
  }
}
