// The link to a Jupyter server names an address the server really listens on. A loopback bind
// (JUPYTER_IP=127.0.0.1) gets http://127.0.0.1:<port>/… and the SSH tunnel that makes it work from
// the member's computer: the server's host name would point at an address Jupyter does not listen
// on, where any other local user could listen on the predictable port and receive the token. A
// wildcard bind (0.0.0.0, ::) gets the public host name; a specific address, that address.
import { isLoopback, isWildcard } from '../host/address.js';
import type { JupyterAppKind } from './launch.js';

export interface LinkOptions {
  /** JUPYTER_IP: what the server binds. */
  ip: string;
  /** LAB_PUBLIC_HOST: this server's name for people. */
  publicHost: string;
  port: number;
  token: string;
  app: JupyterAppKind;
  /** The Linux account, for the tunnel command. */
  linuxUser: string;
}

export interface JupyterLink {
  url: string;
  /** `ssh -N -L …` for a loopback bind; null when the URL is reachable as it is. */
  tunnel: string | null;
}


const bracket = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

export function jupyterLink(o: LinkOptions): JupyterLink {
  const path = o.app === 'lab' ? '/lab' : o.app === 'notebook' ? '/tree' : '/';
  const address = o.ip === 'localhost' ? '127.0.0.1' : o.ip;
  const host = isWildcard(o.ip) ? o.publicHost : address;
  const url = `http://${bracket(host)}:${o.port}${path}?token=${encodeURIComponent(o.token)}`;
  const tunnel = isLoopback(o.ip) ? `ssh -N -L ${o.port}:${bracket(address)}:${o.port} ${o.linuxUser}@${o.publicHost}` : null;
  return { url, tunnel };
}

/**
 * A server on a cluster's compute node (Slurm): the link names the node, which the login node and
 * the cluster's network reach; from outside the cluster, the tunnel goes through the login node
 * (loginHost) to the node's port.
 */
export function nodeLink(o: { node: string; loginHost: string; port: number; token: string; app: JupyterAppKind; linuxUser: string }): JupyterLink {
  const { url } = jupyterLink({ ip: '0.0.0.0', publicHost: o.node, port: o.port, token: o.token, app: o.app, linuxUser: o.linuxUser });
  return { url, tunnel: `ssh -N -L ${o.port}:${bracket(o.node)}:${o.port} ${o.linuxUser}@${o.loginHost}` };
}
