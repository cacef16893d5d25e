-- Bring rows of the original agent to the new lifecycle, then put the constraints in place.

-- The original could store args as jsonb; the agent reads text (a JSON array/object is still parsed).
do $$
begin
  if (select data_type from information_schema.columns
      where table_schema = 'public' and table_name = 'jobs' and column_name = 'args') = 'jsonb' then
    alter table public.jobs alter column args type text using (args #>> '{}');
  end if;
end
$$;

-- Drop every old check constraint on the status columns and on scripts.type: their names are
-- not known (each lab created them by hand), and ours replace them below.
do $$
declare c record;
begin
  for c in
    select con.conname, rel.relname
    from pg_constraint con
    join pg_class rel on rel.oid = con.conrelid
    join pg_namespace n on n.oid = rel.relnamespace
    where n.nspname = 'public' and con.contype = 'c'
      and rel.relname in ('jobs', 'jupyter_sessions', 'scripts')
      and (pg_get_constraintdef(con.oid) ilike '%status%' or pg_get_constraintdef(con.oid) ilike '%type%')
      and con.conname not like 'lab\_%'
  loop
    execute format('alter table public.%I drop constraint %I', c.relname, c.conname);
  end loop;
end
$$;

-- Finished rows of the original agent were emailed by it already: never email them again.
update public.jobs set notified_at = coalesce(finished_at, now())
  where status in ('done', 'error') and notified_at is null;
update public.jobs set status = 'finished' where status = 'done';
update public.jobs set status = 'failed', error = coalesce(error, 'failed (recorded by the original agent)')
  where status = 'error';
update public.jobs set status = 'failed', error = 'status was empty before the upgrade', notified_at = now()
  where status is null;
update public.jupyter_sessions set status = 'failed' where status = 'error';
update public.jupyter_sessions set status = 'failed', error_message = 'status was empty before the upgrade'
  where status is null;

-- The original kept no path on the job: copy it from the script while the link still exists.
update public.jobs j set script_path = s.path
  from public.scripts s
  where j.script_id = s.script_id and j.script_path is null;

-- scripts are keyed by (user_id, path). Merge duplicates the original may have left, keeping the
-- oldest id and pointing jobs at it, so the unique index can be created.
with ranked as (
  select script_id, min(script_id) over (partition by user_id, path) as keep_id
  from public.scripts
), moved as (
  update public.jobs j set script_id = r.keep_id
  from ranked r where j.script_id = r.script_id and r.script_id <> r.keep_id
  returning j.job_id
)
delete from public.scripts s using ranked r
  where s.script_id = r.script_id and r.script_id <> r.keep_id;
create unique index if not exists scripts_user_path_key on public.scripts (user_id, path);

-- jobs.script_id: on delete set null, whatever the original declared.
do $$
declare c record;
begin
  for c in
    select con.conname from pg_constraint con
    where con.conrelid = 'public.jobs'::regclass and con.contype = 'f'
      and con.confrelid = 'public.scripts'::regclass
  loop
    execute format('alter table public.jobs drop constraint %I', c.conname);
  end loop;
end
$$;
alter table public.jobs drop constraint if exists lab_jobs_script_fk;
alter table public.jobs add constraint lab_jobs_script_fk
  foreign key (script_id) references public.scripts (script_id) on delete set null;

alter table public.jobs alter column status set default 'pending';
alter table public.jobs alter column status set not null;
alter table public.jobs drop constraint if exists lab_jobs_status_check;
alter table public.jobs add constraint lab_jobs_status_check
  check (status in ('pending', 'claimed', 'running', 'finished', 'failed', 'cancelled'));
alter table public.jobs drop constraint if exists lab_jobs_timeout_check;
alter table public.jobs add constraint lab_jobs_timeout_check check (timeout_s is null or timeout_s > 0);
alter table public.jupyter_sessions alter column status set default 'pending';
alter table public.jupyter_sessions alter column status set not null;
alter table public.jupyter_sessions drop constraint if exists lab_jupyter_status_check;
alter table public.jupyter_sessions add constraint lab_jupyter_status_check
  check (status in ('pending', 'starting', 'running', 'stopping', 'stopped', 'failed'));
alter table public.jupyter_sessions drop constraint if exists lab_jupyter_app_check;
alter table public.jupyter_sessions add constraint lab_jupyter_app_check
  check (app is null or app in ('lab', 'notebook', 'server'));
alter table public.scripts drop constraint if exists lab_scripts_type_check;
alter table public.scripts add constraint lab_scripts_type_check check (type in ('py', 'ipynb'));

-- A row inserted from a UI or Studio belongs to whoever is signed in.
alter table public.jobs alter column user_id set default auth.uid();
alter table public.jupyter_sessions alter column user_id set default auth.uid();
alter table public.jobs alter column job_id set default gen_random_uuid();
alter table public.jupyter_sessions alter column session_id set default gen_random_uuid();

-- Indexes for the policies (user_id) and the queue (FIFO per user).
create index if not exists jobs_user_status_created_idx on public.jobs (user_id, status, created_at);
create index if not exists jobs_user_created_idx on public.jobs (user_id, created_at desc);
create index if not exists jupyter_user_status_idx on public.jupyter_sessions (user_id, status, created_at);
create index if not exists scripts_user_idx on public.scripts (user_id);
create index if not exists agents_user_idx on public.agents (user_id);
create index if not exists lifecycle_events_subject_idx on public.lifecycle_events (subject_id, event_id);
create index if not exists lifecycle_events_user_idx on public.lifecycle_events (user_id);
