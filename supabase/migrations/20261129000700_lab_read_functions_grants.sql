-- Reads an agent and the CLI need, as functions so both transports are one rpc() each.
-- security invoker: row-level security applies; the explicit user filter serves the service key.

create or replace function public.job_get(p_job_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql stable security invoker set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v jsonb;
begin
  select to_jsonb(j) into v from public.jobs j where j.job_id = p_job_id and j.user_id = v_uid;
  if v is null then
    raise exception 'lab: no job % among your jobs', p_job_id using errcode = 'P0002';
  end if;
  return v;
end
$$;

create or replace function public.jobs_list(p_limit int default 50, p_status text default null,
  p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(j) order by j.created_at desc, j.job_id), '[]'::jsonb)
  from (select * from public.jobs
        where user_id = lab_private.acting_user(p_user_id) and (p_status is null or status = p_status)
        order by created_at desc, job_id limit greatest(p_limit, 0)) j
$$;

-- What an agent on p_host has to look after: its claimed and running jobs, and finished jobs whose
-- email is due (jobs cancelled before any agent claimed them are due on every host).
create or replace function public.jobs_for_agent(p_host text, p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select jsonb_build_object(
    'active', coalesce((select jsonb_agg(to_jsonb(j) order by j.created_at) from public.jobs j
       where j.user_id = lab_private.acting_user(p_user_id) and j.status in ('claimed', 'running')
         and j.run_host = p_host), '[]'::jsonb),
    'notify_due', coalesce((select jsonb_agg(to_jsonb(j) order by j.finished_at) from public.jobs j
       where j.user_id = lab_private.acting_user(p_user_id) and j.status in ('finished', 'failed', 'cancelled')
         and j.notified_at is null and (j.run_host = p_host or j.run_host is null)
         and (j.notify_next_at is null or j.notify_next_at <= now())
         and (j.notify_lease_until is null or j.notify_lease_until < now())), '[]'::jsonb),
    'pending', (select count(*) from public.jobs j
       where j.user_id = lab_private.acting_user(p_user_id) and j.status = 'pending'
         and (j.host is null or j.host = p_host)))
$$;

create or replace function public.lifecycle_history(p_subject_id uuid, p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(e) order by e.event_id), '[]'::jsonb)
  from public.lifecycle_events e
  where e.subject_id = p_subject_id and e.user_id = lab_private.acting_user(p_user_id)
$$;

create or replace function public.jupyter_get(p_session_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql stable security invoker set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v jsonb;
begin
  select to_jsonb(s) into v from public.jupyter_sessions s where s.session_id = p_session_id and s.user_id = v_uid;
  if v is null then
    raise exception 'lab: no Jupyter session % among your sessions', p_session_id using errcode = 'P0002';
  end if;
  return v;
end
$$;

create or replace function public.jupyter_list(p_limit int default 50, p_active_only boolean default false,
  p_host text default null, p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(s) order by s.created_at desc), '[]'::jsonb)
  from (select * from public.jupyter_sessions
        where user_id = lab_private.acting_user(p_user_id)
          and (not p_active_only or status in ('pending', 'starting', 'running', 'stopping'))
          and (p_host is null or run_host = p_host or (run_host is null and (host is null or host = p_host)))
        order by created_at desc limit greatest(p_limit, 0)) s
$$;

create or replace function public.scripts_list(p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(jsonb_build_object('script_id', s.script_id, 'path', s.path, 'type', s.type,
           'size', s.size, 'mtime', s.mtime, 'kernel', s.kernel, 'updated_at', s.updated_at) order by s.path), '[]'::jsonb)
  from public.scripts s where s.user_id = lab_private.acting_user(p_user_id)
$$;

create or replace function public.user_whoami(p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select jsonb_build_object('user_id', lab_private.acting_user(p_user_id),
    'user', (select to_jsonb(u) from public.users u where u.user_id = lab_private.acting_user(p_user_id)))
$$;

create or replace function public.lab_schema_version(p_user_id uuid default null) returns text
  language sql stable security definer set search_path = '' as $$
  select max(version) from lab_private.schema_migrations
$$;

-- Execute rights: never anon or public; a signed-in member and the service key only.
do $$
declare f record;
begin
  for f in
    select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname in (
      'job_submit', 'job_claim', 'job_start', 'job_heartbeat', 'job_finish', 'job_fail', 'job_request_cancel',
      'job_mark_cancelled', 'job_mark_stopping', 'job_release', 'job_notify_begin', 'job_mark_notified', 'job_notify_failed',
      'agent_register', 'agent_heartbeat', 'user_ensure', 'scripts_sync',
      'jupyter_request', 'jupyter_claim', 'jupyter_mark_running', 'jupyter_request_stop', 'jupyter_begin_stop',
      'jupyter_mark_stopped', 'jupyter_fail', 'jupyter_mark_notified',
      'job_get', 'jobs_list', 'jobs_for_agent', 'lifecycle_history', 'jupyter_get', 'jupyter_list',
      'scripts_list', 'user_whoami', 'lab_schema_version')
  loop
    execute format('revoke all on function %s from public, anon', f.sig);
    execute format('grant execute on function %s to authenticated, service_role', f.sig);
  end loop;
end
$$;
revoke all on all functions in schema lab_private from public, anon;
grant execute on all functions in schema lab_private to authenticated, service_role;
