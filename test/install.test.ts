// install_agent.sh for real: new Linux users (useradd), Debian's crontab, the installer run as them
// against a repository holding the working tree, without a terminal (--yes) and typed into a real
// one (tmux); then doctor, a job finished by the cron line run with cron's bare environment,
// --systemd, --uninstall and --purge. Needs root (CI runs as root); on a laptop it skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';
import { commitTo, InstallWorld, nodeDir, which, type TestUser } from './helpers/install-env.js';
import { repoRoot, requirePart, requireRoot } from './helpers/required.js';
import { readMail, startSmtp, type TestSmtp } from './helpers/smtp.js';

const skip = requireRoot('the installer suite creates Linux users and their crontabs') || requirePart(
  'useradd, runuser, crontab and tmux',
  ['useradd', 'userdel', 'runuser', 'crontab', 'tmux', 'git'].every(which),
  'Debian\'s cron and tmux packages (as .ci/run installs them)',
);

const MARKER = '# lab-job-agent';
const USER_CRON = 'MAILTO=""\n# my own jobs\n17 3 * * * /usr/bin/true nightly-backup\n*/5 * * * * cd ~/lab_job_agent && python3 agent.py >> agent.log 2>&1\n';
const OLD_PREFIX = '# disabled by install_agent.sh (the original Python agent; lab-agent tick replaces it): ';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const ourLines = (tab: string) => tab.split('\n').filter((l) => l.includes(MARKER));

describe('install_agent.sh', { skip, timeout: 15 * 60_000 }, () => {
  let world: InstallWorld;
  let smtp: TestSmtp;
  let a: TestUser;
  const dir = () => join(a.home, 'lab_job_agent');
  const wrapper = () => join(dir(), 'bin', 'lab-agent');
  const install = (u: TestUser, args: string[], extra: Record<string, string> = {}) =>
    world.runAs(u, ['bash', join(u.repo, 'install_agent.sh'), ...args], world.env(u, { LAB_AGENT_REPO: u.repo, ...extra }));
  const agent = (u: TestUser, args: string[]) => world.runAs(u, [join(u.home, 'lab_job_agent', 'bin', 'lab-agent'), ...args], world.env(u), '', 120_000);
  const envA = () => ({ LAB_EMAIL: `${a.name}@lab.example`, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), JUPYTER_IP: '127.0.0.1' });

  before(async () => {
    world = new InstallWorld();
    smtp = await startSmtp();
    a = world.makeUser('a');
    world.setCrontab(a, USER_CRON);
  });
  after(async () => {
    await world?.cleanup();
  });

  test('refuses root, and refuses to ask questions with no terminal, before touching anything', async () => {
    const asRoot = await new Promise<string>((resolve) => {
      execFile('bash', [join(a.repo, 'install_agent.sh'), '--yes'], (_err, stdout, stderr) => resolve(stdout + stderr));
    });
    assert.match(asRoot, /not as root/);
    const r = await install(a, []);
    assert.equal(r.code, 1);
    assert.match(r.out, /no terminal to ask questions on: run with --yes/);
    // No Node.js on the PATH: said plainly, with ways to get it without root.
    const bin = join(a.cache, 'path-without-node');
    // A system without Node: every command of /usr/bin except node and npm.
    await world.runAs(a, ['sh', '-c', `mkdir -p ${bin} && for t in /usr/bin/*; do case "\${t##*/}" in node|nodejs|npm|npx|corepack) ;; *) ln -sf "$t" ${bin}/; esac; done`], world.env(a));
    const noNode = await world.runAs(a, ['/bin/bash', join(a.repo, 'install_agent.sh'), '--yes'], world.env(a, { PATH: bin }));
    assert.equal(noNode.code, 1);
    assert.match(noNode.out, /Node\.js is not on your PATH/);
    assert.match(noNode.out, /without root:[\s\S]*nvm install 20[\s\S]*nodejs\.org[\s\S]*conda/);
    // A Node.js that is too old: a `node` that reports version 18, first on the PATH.
    const old = join(a.cache, 'path-old-node');
    await world.runAs(a, ['sh', '-c', `mkdir -p ${old} && printf '#!/bin/sh\\ncase "$1" in -p) echo 18;; -v|--version) echo v18.19.0;; esac\\n' > ${old}/node && chmod +x ${old}/node && ln -sf $(command -v npm) ${old}/npm`], world.env(a));
    const oldNode = await world.runAs(a, ['/bin/bash', join(a.repo, 'install_agent.sh'), '--yes'], world.env(a, { PATH: `${old}:${bin}` }));
    assert.equal(oldNode.code, 1, oldNode.out);
    assert.match(oldNode.out, /Node\.js v18\.19\.0 at .* is too old: 20 or newer is needed/);
    assert.match(oldNode.out, /nvm install 20/);
    assert.ok(!existsSync(dir()), 'nothing cloned');
    assert.equal(world.crontab(a), USER_CRON, 'crontab untouched');
  });

  test('--yes: clones, runs npm ci and the build, writes a private .env and one cron line', async () => {
    // An agent folder holding only a log (an earlier version's `npm start` from a clone elsewhere): kept, not moved aside.
    await world.runAs(a, ['sh', '-c', 'mkdir -p ~/lab_job_agent && echo "{\\"msg\\":\\"an earlier run\\"}" > ~/lab_job_agent/agent.log'], world.env(a));
    const r = await install(a, ['--yes', '--set', 'LAB_MAX_PARALLEL=2'], envA());
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /moved the existing/);
    assert.deepEqual(readdirSync(a.home).filter((f) => f.startsWith('lab_job_agent.old-')), []);
    assert.match(readFileSync(join(dir(), 'agent.log'), 'utf8'), /an earlier run/);
    assert.match(r.out, /✔ npm ci/);
    assert.match(r.out, /Next:\n.*lab-agent doctor/);
    assert.ok(existsSync(join(dir(), '.git')) && existsSync(join(dir(), 'dist', 'index.js')));
    assert.equal(statSync(dir()).uid, a.uid);
    // The command cron runs names node by its absolute path: cron's PATH has no node.
    assert.equal(mode(wrapper()), '755');
    // `tick` (the cron line's command) runs the tick's own entry point; every other command the CLI.
    const script = readFileSync(wrapper(), 'utf8');
    assert.match(script, new RegExp(`if \\[ "\\$\\{1:-\\}" = tick \\]; then shift; exec '${nodeDir}/node' '${dir()}/dist/tick.cjs' "\\$@"; fi`));
    assert.match(script, new RegExp(`\nexec '${nodeDir}/node' '${dir()}/dist/index.cjs' "\\$@"\n`));
    assert.equal(readlinkSync(join(a.home, '.local', 'bin', 'lab-agent')), wrapper());

    const envFile = join(dir(), '.env');
    assert.equal(mode(envFile), '600');
    assert.equal(statSync(envFile).uid, a.uid);
    const env = readFileSync(envFile, 'utf8');
    for (const line of [`LAB_EMAIL=${a.name}@lab.example`, 'SMTP_HOST=127.0.0.1', `SMTP_PORT=${smtp.port}`, 'JUPYTER_IP=127.0.0.1', 'LAB_MAX_PARALLEL=2']) {
      assert.ok(env.split('\n').includes(line), `.env has ${line}:\n${env}`);
    }
    assert.match(env, /# Where run results are emailed; empty = no email\nLAB_EMAIL=/, 'each key with its explanation');
    assert.ok(!/LAB_AGENT_REPO|npm_config|LAB_AGENT_DIR/.test(env), 'nothing of the installer\'s own environment');

    const tab = world.crontab(a);
    assert.deepEqual(ourLines(tab), [`* * * * * ${wrapper()} tick >/dev/null 2>&1 ${MARKER}`]);
    const others = tab.split('\n').filter((l) => l && !l.includes(MARKER));
    assert.deepEqual(others, ['MAILTO=""', '# my own jobs', '17 3 * * * /usr/bin/true nightly-backup', `${OLD_PREFIX}*/5 * * * * cd ~/lab_job_agent && python3 agent.py >> agent.log 2>&1`]);
    assert.match(r.out, /original Python agent's cron line is now commented out/);
  });

  test('a second run fast-forwards the code, keeps .env, and still leaves exactly one cron line', async () => {
    const envBefore = readFileSync(join(dir(), '.env'), 'utf8');
    const tabBefore = world.crontab(a);
    const head = commitTo(a, 'NEWS', 'a newer version');
    const r = await install(a, ['--yes'], { ...envA(), LAB_EMAIL: 'someone-else@lab.example' });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /code fast-forwarded [0-9a-f]{7} → [0-9a-f]{7}/);
    assert.match(r.out, /packages already installed/);
    assert.match(r.out, /kept the existing \.env/);
    assert.match(r.out, /cron line already present/);
    assert.equal(readFileSync(join(dir(), 'NEWS'), 'utf8'), 'a newer version\n');
    const got = await world.runAs(a, ['git', '-C', dir(), 'rev-parse', 'HEAD'], world.env(a));
    assert.equal(got.out.trim(), head);
    assert.equal(readFileSync(join(dir(), '.env'), 'utf8'), envBefore);
    assert.equal(world.crontab(a), tabBefore);
    assert.equal(ourLines(world.crontab(a)).length, 1);
  });

  test('doctor --json on the installed agent: local database, identity, Python, SMTP, cron line, ports, logs', async () => {
    const r = await agent(a, ['doctor', '--json']);
    const report = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { ok: boolean; mode: string; checks: { id: string; status: string; detail: string; data?: Record<string, unknown> }[] };
    const by = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    assert.equal(report.mode, 'local');
    for (const id of ['config', 'account', 'database', 'identity', 'credentials', 'python', 'smtp', 'ports', 'logs', 'jupyter-ip']) {
      assert.equal(by[id]!.status, 'ok', `${id}: ${by[id]!.detail}`);
    }
    assert.equal(by.identity!.data!.linuxUser, a.name);
    assert.match(by.config!.detail, /mode 600/);
    // The cron line is found; whether a cron daemon runs in this container decides ok or warn.
    assert.notEqual(by.scheduler!.status, 'fail', by.scheduler!.detail);
    assert.equal((by.scheduler!.data!.cronLines as string[]).length, 1);
    assert.equal(report.ok, true, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.equal(r.code, 0);
  });

  test('a job submitted by the member is finished by the cron line, run with cron\'s bare environment', async () => {
    await world.runAs(a, ['sh', '-c', 'printf "import sys\\nprint(\\"hello from cron\\", sys.argv[1:])\\n" > "$HOME/hello.py"'], world.env(a));
    const submitted = await agent(a, ['submit', join(a.home, 'hello.py'), '--json', '--', '--n', '3']);
    assert.equal(submitted.code, 0, submitted.out);
    const jobId = (JSON.parse(submitted.out) as { job_id: string }).job_id;
    const command = ourLines(world.crontab(a))[0]!.split(' ').slice(5).join(' ');
    const cronEnv = [`HOME=${a.home}`, 'PATH=/usr/bin:/bin', 'SHELL=/bin/sh', `LOGNAME=${a.name}`, `USER=${a.name}`];
    let status = '';
    for (let i = 0; i < 15 && !(status === 'finished' && smtp.received.length); i++) {
      const tick = await world.runAs(a, ['/bin/sh', '-c', command], cronEnv);
      assert.equal(tick.code, 0, tick.out);
      const s = await agent(a, ['status', jobId, '--json']);
      status = (JSON.parse(s.out) as { status: string }).status;
      await sleep(1000);
    }
    assert.equal(status, 'finished');
    assert.equal(readFileSync(join(a.home, 'lab_job_logs', jobId, 'stdout.log'), 'utf8'), "hello from cron ['--n', '3']\n");
    const mail = smtp.received.find((m) => m.rcptTo.includes(`${a.name}@lab.example`));
    assert.ok(mail, 'the member got the email');
    assert.match(readMail(mail).subject, /hello\.py/);
    assert.ok(existsSync(join(dir(), 'agent.log')));
  });

  test('--systemd writes a user unit running supervise, says lingering is needed, keeps one cron line', async () => {
    const r = await install(a, ['--yes', '--systemd']);
    assert.equal(r.code, 0, r.out);
    const unit = readFileSync(join(a.home, '.config', 'systemd', 'user', 'lab-agent.service'), 'utf8');
    assert.match(unit, new RegExp(`^ExecStart=${wrapper()} supervise$`, 'm'));
    assert.match(unit, /^KillMode=process$/m, 'stopping the agent leaves jobs running');
    assert.match(unit, /^WantedBy=default\.target$/m);
    assert.match(r.out, /loginctl enable-linger/);
    assert.match(r.out, /systemctl --user (status|daemon-reload)/);
    assert.equal(ourLines(world.crontab(a)).length, 1);
  });

  test('--uninstall removes the cron line, the unit and the link; .env, logs and data stay', async () => {
    const r = await install(a, ['--uninstall']);
    assert.equal(r.code, 0, r.out);
    const tab = world.crontab(a);
    assert.equal(ourLines(tab).length, 0);
    assert.ok(tab.includes('17 3 * * * /usr/bin/true nightly-backup'), 'the member\'s own lines stay');
    assert.ok(!existsSync(join(a.home, '.config', 'systemd', 'user', 'lab-agent.service')));
    assert.ok(!existsSync(join(a.home, '.local', 'bin', 'lab-agent')));
    assert.ok(existsSync(join(dir(), '.env')));
    assert.ok(existsSync(join(a.home, 'lab_job_logs')));
    assert.ok(existsSync(join(a.home, '.local', 'share', 'lab-job-agent')));
    assert.match(r.out, /--uninstall --purge/);
  });

  test('--purge also stops the local database and deletes the agent folder, its data, the job logs and the code cache', async () => {
    assert.ok(existsSync(join(a.home, '.cache', 'lab-job-agent')), 'the commands run so far kept their compiled code');
    const r = await install(a, ['--uninstall', '--purge']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /stopped the local database/);
    for (const gone of [dir(), join(a.home, 'lab_job_logs'), join(a.home, '.local', 'share', 'lab-job-agent'), join(a.home, '.cache', 'lab-job-agent')]) assert.ok(!existsSync(gone), `${gone} deleted`);
    // A zombie (stat Z) has already exited; only its reaping by init may lag behind in a container.
    const ps = await world.runAs(a, ['ps', '-u', a.name, '-o', 'stat=,args='], world.env(a));
    const alive = ps.out.split('\n').filter((l) => /postgres/.test(l) && !/^\s*Z/.test(l));
    assert.deepEqual(alive, [], 'no database left running');
    assert.ok(world.crontab(a).includes('nightly-backup'));
    assert.ok(existsSync(join(a.home, 'hello.py')), 'the member\'s own files stay');
  });
});

describe('install_agent.sh source', () => {
  const hasShellcheck = which('shellcheck');
  test('passes shellcheck', { skip: requirePart('shellcheck', hasShellcheck, 'apt-get install shellcheck') }, () => {
    execFileSync('shellcheck', [join(repoRoot, 'install_agent.sh')], { stdio: 'pipe' });
  });
});

describe('install_agent.sh in a terminal', { skip, timeout: 10 * 60_000 }, () => {
  let world: InstallWorld;
  let layer: SupabaseLayer;
  let db: TestDb;
  let smtp: TestSmtp;
  before(async () => {
    world = new InstallWorld();
    smtp = await startSmtp();
    db = await freshDatabase();
    layer = await startSupabaseLayer({ connection: db.connection });
  });
  after(async () => {
    await world?.cleanup();
    await layer?.close();
    await db?.drop();
  });

  test('answers typed at the prompts (each with its default and explanation, bad ones refused), then login with the emailed code', async () => {
    const b = world.makeUser('b');
    const email = `${b.name}@lab.example`;
    await layer.createUser(email);
    // The README's way: clone into ~/lab_job_agent and run the installer from there (no LAB_AGENT_REPO).
    const agentDir = join(b.home, 'lab_job_agent');
    const cloned = await world.runAs(b, ['git', 'clone', '--quiet', b.repo, agentDir], world.env(b));
    assert.equal(cloned.code, 0, cloned.out);
    const env = world.env(b, { TERM: 'screen' }).map((kv) => `'${kv}'`).join(' ');
    const term = world.tmux(`runuser -u ${b.name} -- env -i ${env} bash ${join(agentDir, 'install_agent.sh')}; echo INSTALLER-EXIT=$?; sleep 600`);
    const waitFor = async (re: RegExp, ms = 240_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const screen = term.screen();
        if (re.test(screen)) return screen;
        if (/INSTALLER-EXIT=/.test(screen) && !re.test(screen)) assert.fail(`the installer ended before ${re}:\n${screen}`);
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${re}:\n${screen}`);
        await sleep(250);
      }
    };
    let screen = await waitFor(/LAB_EMAIL \[empty\]: $/m);
    assert.match(screen, /code already up to date/, 'installed in place, in the clone the script came with');
    assert.match(screen, /LAB_EMAIL: Where run results are emailed; empty = no email/);
    term.type('not-an-email');
    await waitFor(/✖ LAB_EMAIL=not-an-email is not an email address/);
    term.type(email);
    screen = await waitFor(/SUPABASE_URL \[empty\]: $/m);
    assert.match(screen, /SUPABASE_URL: Supabase project URL; set = Supabase mode/);
    term.type(layer.url);
    await waitFor(/SUPABASE_ANON_KEY \[empty\]: $/m);
    term.type(layer.anonKey);
    await waitFor(/SMTP_HOST \[localhost\]: $/m);
    term.type('127.0.0.1');
    await waitFor(/SMTP_PORT \[25\]: $/m);
    term.type('99999');
    await waitFor(/✖ SMTP_PORT=99999 is above 65535/);
    term.type(String(smtp.port));
    await waitFor(/JUPYTER_IP \[0\.0\.0\.0\]: $/m);
    term.type(''); // Enter keeps the default
    await waitFor(/Sign in to Supabase now.*\[Y\/n\] $/m);
    term.type('');
    await waitFor(/Code from the email \(or paste its link\): $/m);
    term.type(layer.mail.find((m) => m.to === email)!.code!);
    screen = await waitFor(/INSTALLER-EXIT=\d+/);
    assert.match(screen, /INSTALLER-EXIT=0/, screen);
    assert.match(screen, /signed in as .*@lab\.example/);

    const envText = readFileSync(join(agentDir, '.env'), 'utf8');
    assert.equal(mode(join(agentDir, '.env')), '600');
    for (const line of [`LAB_EMAIL=${email}`, `SUPABASE_URL=${layer.url}`, `SUPABASE_ANON_KEY=${layer.anonKey}`, 'SMTP_HOST=127.0.0.1', `SMTP_PORT=${smtp.port}`, 'JUPYTER_IP=0.0.0.0']) {
      assert.ok(envText.split('\n').includes(line), `.env has ${line}:\n${envText}`);
    }
    const session = join(b.home, '.local', 'share', 'lab-job-agent', 'supabase-session.json');
    assert.equal(mode(session), '600');
    assert.equal(statSync(session).uid, b.uid);
    assert.equal(layer.requests.filter((r) => r.name === 'otp').length, 1);
    assert.equal(layer.requests.filter((r) => r.name === 'verify').length, 1);
    assert.ok(layer.requests.some((r) => r.name === 'user_ensure' && r.role === 'authenticated' && r.status === 200));
    const row = (await db.admin.query('select u.linux_user, u.email from public.users u join auth.users a on a.id = u.user_id where a.email = $1', [email])).rows;
    assert.deepEqual(row, [{ linux_user: b.name, email }]);
    // The Linux name is bound per host, by the agent that runs as that Linux user.
    const binding = (await db.admin.query('select h.host, h.linux_user from public.user_hosts h join auth.users a on a.id = h.user_id where a.email = $1', [email])).rows;
    assert.deepEqual(binding, [{ host: hostname(), linux_user: b.name }]);
    assert.equal(ourLines(world.crontab(b)).length, 1);
  });
});
