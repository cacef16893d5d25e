// Issue 12: every command that opens the store calls user_ensure. When nothing about the member
// changed, the call must not write: ON CONFLICT DO UPDATE locks the row even when its `where`
// keeps it unchanged, and a lock is a write (a transaction id, a WAL flush at commit). Each case
// runs the call in a transaction and asks txid_current_if_assigned(), which is null only when the
// transaction wrote nothing; a change must still be written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AgentEnv } from './helpers/agent-env.js';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { openAs } from './helpers/queue.js';

const db = await useFreshDatabase();

interface Outcome { row: { user_id: string; linux_user: string; email: string | null }; wrote: boolean }

/** user_ensure as the signed-in member, as PostgREST makes the call; whether it took a transaction id. */
async function ensureAs(userId: string, args: [string, string | null, string | null]): Promise<Outcome> {
  const c = await openAs(db, userId);
  try {
    const row = (await c.query('select public.user_ensure($1, $2, $3) as r', args)).rows[0].r;
    const xid = (await c.query('select txid_current_if_assigned() as x')).rows[0].x;
    await c.query('commit');
    return { row, wrote: xid !== null };
  } finally {
    await c.end(); // uncommitted (a failed call): rolled back with the connection
  }
}

async function member(): Promise<string> {
  const id = randomUUID();
  await db.admin.query('insert into auth.users (id, email) values ($1, $2)', [id, `${id}@lab.example`]);
  return id;
}

const hostBinding = async (userId: string, host: string) =>
  (await db.admin.query('select linux_user from public.user_hosts where user_id = $1 and host = $2', [userId, host])).rows[0]?.linux_user;

test('the first call creates the row and the host binding', async () => {
  const id = await member();
  const first = await ensureAs(id, ['alice', 'alice@lab.example', 'gpu1']);
  assert.equal(first.wrote, true);
  assert.deepEqual([first.row.user_id, first.row.linux_user, first.row.email], [id, 'alice', 'alice@lab.example']);
  assert.equal(await hostBinding(id, 'gpu1'), 'alice');
});

test('a call that changes nothing writes nothing and returns the row', async () => {
  const id = await member();
  await ensureAs(id, ['bob', 'bob@lab.example', 'gpu1']);
  const before = (await db.admin.query('select xmin::text, xmax::text from public.users where user_id = $1', [id])).rows[0];
  for (const args of [['bob', 'bob@lab.example', 'gpu1'], ['bob', null, 'gpu1'], ['bob', null, null]] as [string, string | null, string | null][]) {
    const again = await ensureAs(id, args);
    assert.equal(again.wrote, false, `user_ensure(${args.join(', ')}) wrote although nothing changed`);
    assert.deepEqual([again.row.user_id, again.row.linux_user, again.row.email], [id, 'bob', 'bob@lab.example']);
  }
  // Not even a row lock: the row version and its xmax are as they were.
  const after = (await db.admin.query('select xmin::text, xmax::text from public.users where user_id = $1', [id])).rows[0];
  assert.deepEqual(after, before);
});

test('a change is written: a new e-mail, a new Linux name, a new host, a host\'s new Linux name', async () => {
  const id = await member();
  await ensureAs(id, ['carol', 'carol@lab.example', 'gpu1']);

  const email = await ensureAs(id, ['carol', 'carol@new.example', 'gpu1']);
  assert.equal(email.wrote, true);
  assert.equal(email.row.email, 'carol@new.example');

  const renamed = await ensureAs(id, ['carol2', null, null]);
  assert.equal(renamed.wrote, true);
  assert.deepEqual([renamed.row.linux_user, renamed.row.email], ['carol2', 'carol@new.example']);

  const host = await ensureAs(id, ['carol2', null, 'gpu2']);
  assert.equal(host.wrote, true);
  assert.equal(await hostBinding(id, 'gpu2'), 'carol2');
  assert.equal(await hostBinding(id, 'gpu1'), 'carol', 'another host\'s binding is left as it was');

  const rebound = await ensureAs(id, ['carol3', null, 'gpu1']);
  assert.equal(rebound.wrote, true);
  assert.equal(await hostBinding(id, 'gpu1'), 'carol3');
});

test('read-only commands leave the member\'s rows as they were (each one opens the store, so each calls user_ensure)', async () => {
  const a = new AgentEnv(db, `ro${process.pid}`);
  const first = await a.cli(['ls']); // the first command makes the rows
  assert.equal(first.code, 0, first.stderr);
  const versions = async () => (await db.admin.query(
    `select (select xmin::text || '/' || xmax::text from public.users where linux_user = $1) as users,
            (select string_agg(xmin::text || '/' || xmax::text, ',') from public.user_hosts where linux_user = $1) as hosts`, [a.env.LAB_USER])).rows[0];
  const before = await versions();
  assert.ok(before.users && before.hosts, 'the first command made the users row and the host binding');
  for (const args of [['ls'], ['scripts'], ['jupyter', 'ls'], ['sync', '--dry-run']]) {
    const r = await a.cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(await versions(), before, `lab-agent ${args.join(' ')} wrote or locked the member's rows`);
  }
});
