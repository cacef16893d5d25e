// What an address or host name means for who can reach it: loopback (this machine only) or a
// wildcard bind (every network). One rule for the SMTP check, the Jupyter link and the dashboard.
import { isIP } from 'node:net';

/** localhost, 127.x.x.x, ::1 (bracketed or not, any case). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h.startsWith('::ffff:127.');
}

/** A bind address that listens on every network. */
export const isWildcard = (ip: string): boolean => ip === '0.0.0.0' || ip === '::' || ip === '*' || ip === '';
