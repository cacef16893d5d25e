// A member with many jobs and a running `lab-agent web`, for the dashboard benchmarks.
import { freshDatabase, type TestDb } from '../../test/helpers/db.js';
import { AgentEnv } from '../../test/helpers/agent-env.js';
import { startWeb, type RunningWeb } from '../../test/helpers/web-env.js';

export interface WebFixture {
  db: TestDb;
  a: AgentEnv;
  web: RunningWeb;
  userId: string;
  /** The session cookie, as the link's redirect sets it. */
  cookie: string;
  close(): Promise<void>;
}

/**
 * `jobs` jobs over 8 scripts and 4 hosts, one minute apart, with every status; the newest
 * `pending` of them left pending (the rest end in finished, failed or cancelled).
 */
export async function webFixture(jobs: number, pending = 0): Promise<WebFixture> {
  const db = await freshDatabase();
  const a = new AgentEnv(db, 'benchweb', { LAB_LOG_LEVEL: 'warn' });
  await a.cli(['scripts']); // creates the member's users row
  const userId = (await db.admin.query("select user_id from public.users where linux_user = 'benchweb'")).rows[0].user_id as string;
  await db.admin.query(
    `insert into public.jobs (user_id, script_path, args, host, run_host, created_at)
     select $1, '/home/benchweb/exp' || (i % 8) || '/train_' || (i % 8) || '.py', '--seed ' || i || ' --lr 0.0' || (i % 9 + 1),
            null, 'gpu' || (i % 4), now() - (i || ' minutes')::interval
     from generate_series(1, $2::int) i`,
    [userId, jobs],
  );
  await db.admin.query(
    `update public.jobs set status = (array['finished','finished','finished','failed','cancelled'])[1 + (abs(hashtext(job_id::text)) % 5)],
       started_at = created_at + interval '5 seconds', finished_at = created_at + interval '50 seconds',
       retcode = case when abs(hashtext(job_id::text)) % 5 = 3 then 1 else 0 end,
       error = case when abs(hashtext(job_id::text)) % 5 = 3 then 'exit code 1: CUDA out of memory' end
     where job_id not in (select job_id from public.jobs order by created_at desc limit $1)`,
    [pending],
  );
  await db.admin.query('analyze public.jobs');
  const web = await startWeb(a);
  const res = await fetch(web.link, { redirect: 'manual' });
  const cookie = String(res.headers.get('set-cookie')).split(';')[0]!;
  return {
    db, a, web, userId, cookie,
    async close() {
      await web.stop();
      await db.drop();
    },
  };
}
