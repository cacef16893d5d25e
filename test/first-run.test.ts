// The next step `supervise` prints names the command the member can type in any folder: `lab-agent`
// when that is this build on their PATH (the README's link, or install_agent.sh's wrapper), else
// node with the full path, never a bare `npx lab-agent` that would ask the npm registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliInvocation } from '../src/services/agent/first-run.js';
import { packageRoot } from '../src/services/package-info.js';

const root = mkdtempSync(join(tmpdir(), 'lab-first-run-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const ours = join(packageRoot, 'dist', 'index.js');

function binWith(name: string, make: (path: string) => void): string {
  const bin = join(root, name);
  mkdirSync(bin);
  make(join(bin, 'lab-agent'));
  return bin;
}

test('lab-agent on PATH is this build (link or wrapper): `lab-agent`; anything else: node and the path', () => {
  chmodSync(ours, 0o755); // as npm's bin linking leaves it
  assert.equal(cliInvocation(binWith('link', (p) => symlinkSync(ours, p))), 'lab-agent');
  assert.equal(cliInvocation(binWith('wrapper', (p) => {
    writeFileSync(p, `#!/bin/sh\nexec '/usr/bin/node' '${ours}' "$@"\n`);
    chmodSync(p, 0o755);
  })), 'lab-agent');
  assert.equal(cliInvocation(binWith('other', (p) => {
    writeFileSync(p, '#!/bin/sh\necho someone else\n');
    chmodSync(p, 0o755);
  })), `node ${ours}`);
  assert.equal(cliInvocation('/nonexistent'), `node ${ours}`);
});
