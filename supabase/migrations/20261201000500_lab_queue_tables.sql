-- Queue features (issue 17): sweeps, dependencies, retries, priorities, drain, schedules. This file
-- holds the columns, tables, indexes and row-level security; the rules are functions in the files
-- that follow. A job that waits (on a dependency, a retry's delay, its sweep's limit, a drained
-- host) stays `pending`, and says why in pending_reason.

-- The member's time zone (IANA name): schedules default to it, and times in reasons are shown in it.
alter table public.users add column if not exists time_zone text;

-- sweeps: one submission, one job per cell of a parameter grid --------------------------------------
create table if not exists public.sweeps (
  sweep_id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (user_id) on delete cascade,
  script_path text not null,
  args text,                                  -- the arguments every cell shares (after `--`)
  axes jsonb not null default '[]',           -- [{"name": "lr", "values": ["0.1", "0.01"]}, ...] as given
  cells int not null check (cells > 0),
  max_parallel int check (max_parallel is null or max_parallel > 0),
  notify_each boolean not null default false, -- one email per cell too (the sweep's own email always goes)
  created_at timestamptz not null default now(),
  finished_at timestamptz,                    -- when its last cell ended
  notified_at timestamptz,
  notify_attempts int not null default 0,
  notify_error text,
  notify_next_at timestamptz,
  notify_lease_until timestamptz
);
create index if not exists sweeps_user_created_idx on public.sweeps (user_id, created_at desc);
create index if not exists sweeps_notify_due_idx on public.sweeps (user_id)
  where finished_at is not null and notified_at is null;

-- schedules: cron lines that make a job at each due time ---------------------------------------------
-- next_due_at is the one source of truth for "what fires next": an agent that fires a schedule moves
-- it forward in the same statement that checks it (schedule_fire), so of several agents racing, one
-- wins, and a due time makes one job. The agent computes due times from `cron` (the croner library),
-- the database decides which of them make a job (catch_up) and guarantees one job per due time.
create table if not exists public.schedules (
  schedule_id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (user_id) on delete cascade,
  cron text not null,
  time_zone text not null,
  script_path text not null,
  args text,
  host text,
  timeout_s int check (timeout_s is null or timeout_s > 0),
  priority int not null default 0,
  retries int check (retries is null or retries between 0 and 100),
  retry_delay_s int check (retry_delay_s is null or retry_delay_s > 0),
  -- Due times missed by more than the grace (the agent was down): how many of the latest to run.
  catch_up int not null default 1 check (catch_up between 0 and 100),
  next_due_at timestamptz not null,
  paused_at timestamptz,
  last_fired_at timestamptz,
  last_job_id uuid,
  runs int not null default 0,
  skipped int not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists schedules_user_due_idx on public.schedules (user_id, next_due_at) where paused_at is null;

-- host drains: an agent on a drained host claims nothing new -----------------------------------------
-- user_id null: the whole lab's agents on that host (the database administrator's drain).
create table if not exists public.host_drains (
  drain_id bigint generated always as identity primary key,
  user_id uuid references public.users (user_id) on delete cascade,
  host text not null,
  note text,
  drained_at timestamptz not null default now(),
  unique nulls not distinct (user_id, host)
);
create index if not exists host_drains_host_idx on public.host_drains (host);

-- jobs: the new columns ------------------------------------------------------------------------------
alter table public.jobs
  add column if not exists priority int not null default 0,
  add column if not exists retries int,                 -- null until claimed: then the agent's LAB_JOB_RETRIES
  add column if not exists retry_delay_s int,           -- the first retry's delay; it doubles each time
  add column if not exists attempt int not null default 1,
  add column if not exists attempts jsonb not null default '[]', -- each ended attempt, once there was a retry
  add column if not exists not_before timestamptz,      -- a retry waits until then
  add column if not exists deps_left int not null default 0, -- dependencies that have not ended yet
  add column if not exists after_any boolean not null default false, -- start when they ended, however
  add column if not exists held boolean not null default false, -- a sweep cell beyond its max_parallel
  add column if not exists sweep_id uuid references public.sweeps (sweep_id) on delete set null,
  add column if not exists sweep_index int,
  add column if not exists sweep_params jsonb,
  add column if not exists schedule_id uuid references public.schedules (schedule_id) on delete set null,
  add column if not exists scheduled_for timestamptz,
  add column if not exists result jsonb,                -- the last `LAB_RESULT {json}` line of stdout
  add column if not exists pending_reason text;
alter table public.jobs drop constraint if exists lab_jobs_retries_check;
alter table public.jobs add constraint lab_jobs_retries_check check (retries is null or retries between 0 and 100);
alter table public.jobs drop constraint if exists lab_jobs_retry_delay_check;
alter table public.jobs add constraint lab_jobs_retry_delay_check check (retry_delay_s is null or retry_delay_s between 1 and 86400);
alter table public.jobs drop constraint if exists lab_jobs_result_size_check;
alter table public.jobs add constraint lab_jobs_result_size_check check (result is null or pg_column_size(result) <= 65536);

-- The queue's order: higher priority first, then the order jobs were queued in. created_at alone
-- cannot say it (every cell of a sweep has its transaction's now()); seq can. Rows already there
-- are numbered by age, so an upgrade keeps their order.
do $$
begin
  if not exists (select 1 from information_schema.columns
                 where table_schema = 'public' and table_name = 'jobs' and column_name = 'seq') then
    alter table public.jobs add column seq bigint generated by default as identity;
    update public.jobs j set seq = o.n
      from (select job_id, row_number() over (order by created_at, job_id) as n from public.jobs) o
      where j.job_id = o.job_id;
    perform setval(pg_get_serial_sequence('public.jobs', 'seq'), coalesce((select max(seq) from public.jobs), 0) + 1, false);
    alter table public.jobs alter column seq set not null;
  end if;
end
$$;

create table if not exists public.job_deps (
  job_id uuid not null references public.jobs (job_id) on delete cascade,
  after_job_id uuid not null references public.jobs (job_id) on delete cascade,
  user_id uuid not null references public.users (user_id) on delete cascade,
  via_sweep_id uuid,                          -- the sweep that was named (--after <sweep>)
  primary key (job_id, after_job_id)
);
create index if not exists job_deps_after_idx on public.job_deps (after_job_id);
create index if not exists job_deps_user_idx on public.job_deps (user_id);

-- What a claim reads: only jobs that can start (dependencies met, inside their sweep's limit), in
-- queue order. Jobs that wait on something are not in it, however many there are.
create index if not exists jobs_ready_idx on public.jobs (user_id, priority desc, seq)
  where status = 'pending' and deps_left = 0 and not held;
create index if not exists jobs_sweep_idx on public.jobs (sweep_id, priority desc, seq) where sweep_id is not null;
create unique index if not exists jobs_schedule_due_key on public.jobs (schedule_id, scheduled_for)
  where schedule_id is not null;
create index if not exists jobs_retry_wait_idx on public.jobs (user_id, not_before)
  where status = 'pending' and not_before is not null;

-- row-level security and grants ----------------------------------------------------------------------
alter table public.sweeps enable row level security;
alter table public.schedules enable row level security;
alter table public.host_drains enable row level security;
alter table public.job_deps enable row level security;
drop policy if exists lab_sweeps_own_select on public.sweeps;
create policy lab_sweeps_own_select on public.sweeps for select to authenticated
  using ((select lab_private.current_member()) = user_id);
drop policy if exists lab_schedules_own_select on public.schedules;
create policy lab_schedules_own_select on public.schedules for select to authenticated
  using ((select lab_private.current_member()) = user_id);
drop policy if exists lab_job_deps_own_select on public.job_deps;
create policy lab_job_deps_own_select on public.job_deps for select to authenticated
  using ((select lab_private.current_member()) = user_id);
-- A lab-wide drain (user_id null) is for every member to see: it stops their agents on that host too.
drop policy if exists lab_host_drains_select on public.host_drains;
create policy lab_host_drains_select on public.host_drains for select to authenticated
  using (user_id is null or (select lab_private.current_member()) = user_id);

-- Changes go through the functions only (they keep the counters and the reasons true).
revoke all on public.sweeps, public.schedules, public.host_drains, public.job_deps from public, anon, authenticated;
grant select on public.sweeps, public.schedules, public.host_drains, public.job_deps to authenticated;
grant all on public.sweeps, public.schedules, public.host_drains, public.job_deps to service_role;
-- A row written straight into jobs (a UI, Studio) may set its priority and retries too.
grant insert (priority, retries, retry_delay_s) on public.jobs to authenticated;

drop trigger if exists lab_schedules_touch on public.schedules;
create trigger lab_schedules_touch before update on public.schedules
  for each row execute function lab_private.touch_updated_at();
