// The line that ends a stopped job's stderr tail: who stopped it and when, after the job's own
// output, so a member reading the row (or the email) sees why the output stops where it does.
// Only the job's owner can ask for a cancel (row-level security: the member's account, or a key
// that acts for them), so "who" is that member; a timeout is the agent's own decision.
import type { JobRow } from '../store/types.js';
import { formatTime } from '../time-format.js';

// In the zone of the agent, which runs as the member (TZ, else the system's), like its emails.
const at = (iso: string | null): string => (iso ? formatTime(iso) : 'an unknown time');

function stopNote(job: Pick<JobRow, 'cancel_requested_at' | 'kill_sent_at' | 'stop_reason'>, member: string): string | null {
  if (job.cancel_requested_at && (job.stop_reason === null || job.stop_reason === 'cancel')) {
    const signal = job.kill_sent_at ? `; the agent sent SIGTERM at ${at(job.kill_sent_at)}` : '; it had not started yet';
    return `[lab-job-agent] cancelled by ${member || 'its owner'} (cancel requested at ${at(job.cancel_requested_at)})${signal}`;
  }
  if (job.kill_sent_at) return `[lab-job-agent] stopped by the agent at ${at(job.kill_sent_at)}: ${job.stop_reason ?? 'stop'}`;
  return null;
}

/** The stderr tail with the stop note as its last line (once, however often it is computed). */
export function withStopNote(tail: string, job: Pick<JobRow, 'cancel_requested_at' | 'kill_sent_at' | 'stop_reason'>, member: string): string {
  const note = stopNote(job, member);
  if (!note || tail.endsWith(note)) return tail;
  return tail ? `${tail.replace(/\n$/, '')}\n${note}` : note;
}
