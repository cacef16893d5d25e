// The one small interface the page depends on. Two implementations: the agent's own API
// (`lab-agent web`) and Supabase directly (the static build). Both reach the same SQL functions
// through rpc(); what only a server on the lab machine can give (full logs, the executed
// notebook, a notebook's parameters) is optional, and `caps` says whether it is there.
import type { JobRow, LogChunk, NotebookParam, SessionRow } from '../types.js';

export type LiveEvent =
  | { type: 'job'; row: Partial<JobRow> & { job_id: string }; partial?: boolean }
  | { type: 'session'; row: Partial<SessionRow> & { session_id: string } }
  | { type: 'resync' };

export interface Identity {
  userId: string;
  /** What the header shows: the Linux user, or the signed-in email. */
  label: string;
  mode: string;
  /** The lab server the page is served from (agent only). */
  host?: string;
  version?: string;
  linuxUser?: string;
  jupyterIp?: string;
  publicHost?: string;
}

interface Capabilities {
  fullLogs: boolean;
  notebook: boolean;
  notebookParams: boolean;
}

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly code: string | null = null) {
    super(message);
  }
}

interface EmailAuth {
  sendCode(email: string): Promise<void>;
  verifyCode(email: string, code: string): Promise<void>;
  password(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

export interface DataSource {
  readonly kind: 'agent' | 'supabase';
  readonly caps: Capabilities;
  /** Calls public.<fn>(args) as the signed-in member. */
  rpc<T>(fn: string, args?: Record<string, unknown>): Promise<T>;
  /** Who the page acts for; null when not signed in. */
  identity(): Promise<Identity | null>;
  /** Live changes; `connected` reports whether the live channel is up. Returns the unsubscribe. */
  subscribe(on: (e: LiveEvent) => void, connected: (up: boolean) => void): () => void;
  log?(jobId: string, stream: 'stdout' | 'stderr', at: { from?: number; max?: number; tail?: number }): Promise<LogChunk>;
  notebookUrl?(jobId: string, dark: boolean): string;
  notebookParams?(scriptId: number): Promise<NotebookParam[]>;
  /** Sign-in by email (Supabase); the agent's page signs in with its link instead. */
  auth?: EmailAuth;
}
