// Where the package is installed and which version it is. Found from this module's own location,
// so it holds for the sources (src/), the compiled files (dist/) and the bundles (dist/*.cjs).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pkg from '../../package.json' with { type: 'json' };

/** The agent's version, as package.json says (recorded in the agents table). */
export const AGENT_VERSION: string = pkg.version;

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return `${dir}/`;
}

/** The package's folder, ending in '/' (migrations, the web page and the bootstrap SQL live under it). */
export const packageRoot = findPackageRoot();
