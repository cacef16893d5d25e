-- Row-level security, grants, and the triggers that record every transition and wake agents.

-- Every policy is replaced: the original's were created by hand under unknown names.
do $$
declare p record;
begin
  for p in
    select policyname, tablename from pg_policies
    where schemaname = 'public'
      and tablename in ('users', 'scripts', 'jobs', 'jupyter_sessions', 'agents', 'lifecycle_events')
  loop
    execute format('drop policy %I on public.%I', p.policyname, p.tablename);
  end loop;
end
$$;

alter table public.users enable row level security;
alter table public.scripts enable row level security;
alter table public.jobs enable row level security;
alter table public.jupyter_sessions enable row level security;
alter table public.agents enable row level security;
alter table public.lifecycle_events enable row level security;

-- (select auth.uid()) is evaluated once per statement instead of once per row.
create policy lab_users_own_select on public.users for select to authenticated
  using ((select auth.uid()) = user_id);
create policy lab_users_own_insert on public.users for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy lab_users_own_update on public.users for update to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy lab_scripts_own_select on public.scripts for select to authenticated
  using ((select auth.uid()) = user_id);
create policy lab_jobs_own_select on public.jobs for select to authenticated
  using ((select auth.uid()) = user_id);
create policy lab_jobs_own_insert on public.jobs for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy lab_jupyter_own_select on public.jupyter_sessions for select to authenticated
  using ((select auth.uid()) = user_id);
create policy lab_jupyter_own_insert on public.jupyter_sessions for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy lab_agents_own_select on public.agents for select to authenticated
  using ((select auth.uid()) = user_id);
create policy lab_events_own_select on public.lifecycle_events for select to authenticated
  using ((select auth.uid()) = user_id);

-- New public tables are granted to anon and authenticated by default on Supabase: take all back,
-- then grant what a signed-in member needs. Changes of state go through the functions only.
revoke all on public.users, public.scripts, public.jobs, public.jupyter_sessions, public.agents,
  public.lifecycle_events from public, anon, authenticated;
revoke all on all sequences in schema public from anon;
grant select on public.users, public.scripts, public.jobs, public.jupyter_sessions, public.agents,
  public.lifecycle_events to authenticated;
grant insert (user_id, linux_user, email) on public.users to authenticated;
grant update (linux_user, email) on public.users to authenticated;
grant insert (job_id, user_id, script_id, script_path, args, host, timeout_s) on public.jobs to authenticated;
grant insert (session_id, user_id, host, dir, app) on public.jupyter_sessions to authenticated;
grant all on public.users, public.scripts, public.jobs, public.jupyter_sessions, public.agents,
  public.lifecycle_events to service_role;
grant usage, select on all sequences in schema public to service_role;
grant usage on schema lab_private to authenticated, service_role;

create or replace function lab_private.touch_updated_at() returns trigger
  language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- A row inserted directly (UI, Studio) gets its script_path from its script, which must be the
-- inserter's own; status always starts pending.
create or replace function lab_private.prepare_new_job() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  new.status := 'pending';
  if new.script_id is not null then
    select coalesce(new.script_path, s.path) into new.script_path
      from public.scripts s where s.script_id = new.script_id and s.user_id = new.user_id;
    if not found then
      raise exception 'lab: script % is not one of your scripts', new.script_id using errcode = '23503';
    end if;
  end if;
  return new;
end
$$;

-- Detail for the event comes from the calling function through a transaction-local setting.
create or replace function lab_private.event_detail() returns jsonb
  language sql stable set search_path = '' as $$
  select coalesce(nullif(current_setting('lab.event_detail', true), ''), '{}')::jsonb
$$;

create or replace function lab_private.set_event_detail(p_detail jsonb) returns void
  language sql set search_path = '' as $$
  select set_config('lab.event_detail', coalesce(p_detail, '{}'::jsonb)::text, true);
$$;

-- tg_argv: [0] subject ('job'|'jupyter'), [1] id column, [2] request column (cancel/stop).
create or replace function lab_private.record_transition() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  v_new jsonb := to_jsonb(new);
  v_old jsonb := case when tg_op = 'UPDATE' then to_jsonb(old) else null end;
  v_id uuid := (v_new ->> tg_argv[1])::uuid;
  v_detail jsonb := lab_private.event_detail();
  v_changed boolean := false;
  v_action text;
begin
  if tg_op = 'INSERT' then
    insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
      values (new.user_id, tg_argv[0], v_id, null, new.status, v_detail || '{"action":"created"}');
    v_changed := true;
    v_action := 'created';
  else
    if new.status is distinct from old.status then
      insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
        values (new.user_id, tg_argv[0], v_id, old.status, new.status, v_detail);
      v_changed := true;
      v_action := 'status';
    end if;
    if v_old ->> tg_argv[2] is null and v_new ->> tg_argv[2] is not null then
      insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
        values (new.user_id, tg_argv[0], v_id, new.status, new.status,
                v_detail || jsonb_build_object('action', tg_argv[2]));
      v_changed := true;
      v_action := 'request';
    end if;
    if v_old ->> 'notified_at' is null and v_new ->> 'notified_at' is not null then
      insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
        values (new.user_id, tg_argv[0], v_id, new.status, 'notified', v_detail);
    end if;
  end if;
  if v_changed then
    -- One channel per user: an agent hears only its own user's rows (Postgres transport).
    -- action: created | status | request (a cancel or stop was asked for).
    perform pg_notify('lab_agent:' || new.user_id::text,
      jsonb_build_object('subject', tg_argv[0], 'id', v_id, 'status', new.status, 'action', v_action)::text);
  end if;
  return null;
end
$$;

drop trigger if exists lab_jobs_touch on public.jobs;
create trigger lab_jobs_touch before update on public.jobs
  for each row execute function lab_private.touch_updated_at();
drop trigger if exists lab_jupyter_touch on public.jupyter_sessions;
create trigger lab_jupyter_touch before update on public.jupyter_sessions
  for each row execute function lab_private.touch_updated_at();
drop trigger if exists lab_jobs_prepare on public.jobs;
create trigger lab_jobs_prepare before insert on public.jobs
  for each row execute function lab_private.prepare_new_job();
drop trigger if exists lab_jobs_transition on public.jobs;
create trigger lab_jobs_transition after insert or update on public.jobs
  for each row execute function lab_private.record_transition('job', 'job_id', 'cancel_requested_at');
drop trigger if exists lab_jupyter_transition on public.jupyter_sessions;
create trigger lab_jupyter_transition after insert or update on public.jupyter_sessions
  for each row execute function lab_private.record_transition('jupyter', 'session_id', 'stop_requested_at');

revoke all on all functions in schema lab_private from public, anon;
grant execute on all functions in schema lab_private to authenticated, service_role;

-- Realtime wake-ups on Supabase: the tables join its publication when it exists.
do $$
declare t text;
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    foreach t in array array['jobs', 'jupyter_sessions'] loop
      if not exists (select 1 from pg_publication_tables
                     where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = t) then
        execute format('alter publication supabase_realtime add table public.%I', t);
      end if;
    end loop;
  end if;
end
$$;
