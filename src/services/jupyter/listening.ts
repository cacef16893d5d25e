// Which addresses a process listens on, from /proc: its socket inodes (/proc/<pid>/fd) matched with
// the LISTEN entries of /proc/net/tcp and tcp6. Doctor uses it to make sure a Jupyter link points
// at the session's own server before it sends the token there.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isIPv4 } from 'node:net';

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes; // gone, or not ours
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

/** An address as /proc/net/tcp{,6} writes it: 32-bit words in host (little-endian) byte order. */
function decodeAddress(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(word.slice(b, b + 2), 16));
  }
  if (bytes.length === 4) return bytes.join('.');
  const v6 = canonical(Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(':'));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (mapped) return mapped[1]!;
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (hexMapped) {
    const hi = parseInt(hexMapped[1]!, 16);
    const lo = parseInt(hexMapped[2]!, 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return v6;
}

/** The one spelling of an address (IPv6 compressed, lower case). */
export function canonical(address: string): string {
  return isIPv4(address) ? address : new URL(`http://[${address.replace(/^\[|\]$/g, '')}]/`).hostname.slice(1, -1);
}

/** The local addresses `pid` listens on at `port` (0.0.0.0 and :: for wildcards). */
export function listeningAddresses(pid: number, port: number): string[] {
  const inodes = socketInodes(pid);
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[] = [];
    try {
      lines = readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]!)) continue;
      const [addr, portHex] = f[1]!.split(':');
      if (parseInt(portHex!, 16) === port) out.push(decodeAddress(addr!));
    }
  }
  return out;
}

/** Does a socket listening on `listen` receive connections made to `address`? */
export function receives(listen: string, address: string): boolean {
  const a = canonical(address);
  if (listen === a) return true;
  if (listen === '0.0.0.0') return isIPv4(a);
  return listen === '::'; // a dual-stack wildcard (the Linux default) takes both families
}
