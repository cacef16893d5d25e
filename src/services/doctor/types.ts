// What a doctor check reports: one line a person can act on, and the same as JSON.

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found, in one line. */
  detail: string;
  /** What to do about it (fail and warn). */
  fix?: string;
  data?: Record<string, unknown>;
}

export const result = (id: string, title: string, status: CheckStatus, detail: string, fix?: string, data?: Record<string, unknown>): CheckResult => ({
  id, title, status, detail, ...(fix ? { fix } : {}), ...(data ? { data } : {}),
});

/** Rejects with a clear message when `p` takes longer than ms (a hung server must not hang doctor). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${Math.round(ms / 1000)} s`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** `~/x` for paths under home: shorter lines. */
export function tildify(path: string, home: string): string {
  return path === home ? '~' : path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}
