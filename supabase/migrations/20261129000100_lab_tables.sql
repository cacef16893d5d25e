-- lab-job-agent tables. Applies to an empty project, and upgrades the original Python agent's
-- schema (users, scripts, jobs, jupyter_sessions) in place with every row kept.

create schema if not exists lab_private;
revoke all on schema lab_private from public;

create table if not exists lab_private.schema_migrations (
  version text primary key,
  applied_at timestamptz not null default now()
);

-- users ---------------------------------------------------------------------------------------
create table if not exists public.users (
  user_id uuid primary key,
  linux_user text,
  email text
);
alter table public.users
  add column if not exists linux_user text,
  add column if not exists email text,
  add column if not exists created_at timestamptz not null default now();
create unique index if not exists users_linux_user_key on public.users (linux_user);

-- scripts -------------------------------------------------------------------------------------
create table if not exists public.scripts (
  script_id bigserial primary key,
  user_id uuid not null references public.users (user_id) on delete cascade,
  path text not null,
  type text not null,
  updated_at timestamptz not null default now()
);
alter table public.scripts
  add column if not exists size bigint,
  add column if not exists mtime timestamptz,
  add column if not exists kernel text,
  add column if not exists created_at timestamptz not null default now();

-- jobs ----------------------------------------------------------------------------------------
create table if not exists public.jobs (
  job_id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (user_id) on delete cascade,
  script_id bigint,
  script_path text,
  args text,
  status text not null default 'pending',
  stdout_path text,
  stderr_path text,
  retcode int,
  stdout_tail text,
  stderr_tail text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
alter table public.jobs
  add column if not exists script_path text,
  add column if not exists host text,              -- target host; null = any of my agents
  add column if not exists run_host text,          -- where it was claimed
  add column if not exists agent_id uuid,
  add column if not exists claimed_at timestamptz,
  add column if not exists claim_count int not null default 0,
  add column if not exists pid int,
  add column if not exists pid_start text,         -- /proc start time: a reused pid is not this job
  add column if not exists interpreter text,
  add column if not exists command jsonb,
  add column if not exists log_dir text,
  add column if not exists heartbeat_at timestamptz,
  add column if not exists cancel_requested_at timestamptz,
  -- Stopping (cancel or timeout) is SIGTERM, then SIGKILL after a grace: when the SIGTERM went and
  -- why live in the row, so whichever agent process runs the next tick knows when the grace ends.
  add column if not exists kill_sent_at timestamptz,
  add column if not exists stop_reason text,
  add column if not exists timeout_s int,
  add column if not exists signal text,
  add column if not exists error text,
  add column if not exists notified_at timestamptz,
  add column if not exists notify_attempts int not null default 0,
  add column if not exists notify_error text,
  add column if not exists notify_next_at timestamptz,
  add column if not exists notify_lease_until timestamptz,
  add column if not exists updated_at timestamptz not null default now();

-- jupyter_sessions ----------------------------------------------------------------------------
create table if not exists public.jupyter_sessions (
  session_id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (user_id) on delete cascade,
  status text not null default 'pending',
  port int,
  token text,
  pid int,
  error_message text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.jupyter_sessions
  add column if not exists host text,
  add column if not exists run_host text,
  add column if not exists agent_id uuid,
  add column if not exists dir text,
  add column if not exists app text,
  add column if not exists url text,
  add column if not exists pid_start text,
  add column if not exists log_path text,
  add column if not exists stop_requested_at timestamptz,
  add column if not exists stopping_at timestamptz,           -- when the SIGTERM went (grace counts from here)
  add column if not exists started_at timestamptz,
  add column if not exists stopped_at timestamptz,
  add column if not exists notified_at timestamptz;

-- agents and the transition history -------------------------------------------------------------
create table if not exists public.agents (
  agent_id uuid primary key,
  user_id uuid not null references public.users (user_id) on delete cascade,
  host text not null,
  version text,
  mode text,
  pid int,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  stopped_at timestamptz
);

create table if not exists public.lifecycle_events (
  event_id bigserial primary key,
  user_id uuid not null,
  subject text not null check (subject in ('job', 'jupyter')),
  subject_id uuid not null,
  from_status text,
  to_status text not null,
  at timestamptz not null default clock_timestamp(),
  detail jsonb not null default '{}'::jsonb
);
