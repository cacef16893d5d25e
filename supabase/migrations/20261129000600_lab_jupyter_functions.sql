-- Jupyter-session transitions: pending -> starting -> running -> stopping -> stopped | failed.

create or replace function lab_private.locked_session(p_session_id uuid, p_uid uuid) returns public.jupyter_sessions
  language plpgsql set search_path = '' as $$
declare s public.jupyter_sessions;
begin
  select * into s from public.jupyter_sessions where session_id = p_session_id and user_id = p_uid for update;
  if not found then
    raise exception 'lab: no Jupyter session % among your sessions', p_session_id using errcode = 'P0002';
  end if;
  return s;
end
$$;

create or replace function public.jupyter_request(p_dir text default null, p_host text default null,
  p_app text default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  insert into public.jupyter_sessions (user_id, status, dir, host, app)
    values (v_uid, 'pending', p_dir, p_host, p_app) returning * into s;
  return to_jsonb(s);
end
$$;

create or replace function public.jupyter_claim(p_agent_id uuid, p_host text, p_limit int default 1,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v jsonb;
begin
  perform lab_private.set_event_detail(jsonb_build_object('agent_id', p_agent_id, 'host', p_host));
  with picked as (
    select session_id from public.jupyter_sessions
    where user_id = v_uid and status = 'pending' and (host is null or host = p_host)
    order by created_at, session_id limit greatest(p_limit, 0)
    for update skip locked
  ), claimed as (
    update public.jupyter_sessions s set status = 'starting', agent_id = p_agent_id, run_host = p_host
    from picked where s.session_id = picked.session_id returning s.*
  )
  select coalesce(jsonb_agg(to_jsonb(c) order by c.created_at), '[]'::jsonb) into v from claimed c;
  perform lab_private.set_event_detail(null);
  return v;
end
$$;

create or replace function public.jupyter_mark_running(p_session_id uuid, p_port int, p_token text, p_pid int,
  p_pid_start text, p_url text, p_log_path text default null, p_app text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status <> 'starting' then
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'mark running', 'starting');
  end if;
  -- The token never goes into the event detail: events are for dashboards and logs.
  perform lab_private.set_event_detail(jsonb_build_object('pid', p_pid, 'port', p_port));
  update public.jupyter_sessions set status = 'running', port = p_port, token = p_token, pid = p_pid,
    pid_start = p_pid_start, url = p_url, log_path = coalesce(p_log_path, log_path), app = coalesce(p_app, app),
    started_at = now()
    where session_id = p_session_id returning * into s;
  perform lab_private.set_event_detail(null);
  return to_jsonb(s);
end
$$;

create or replace function public.jupyter_request_stop(p_session_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status = 'pending' then
    perform lab_private.set_event_detail('{"reason":"stopped before it started"}');
    update public.jupyter_sessions set status = 'stopped', stop_requested_at = now(), stopped_at = now()
      where session_id = p_session_id returning * into s;
    perform lab_private.set_event_detail(null);
  elsif s.status in ('starting', 'running', 'stopping') then
    if s.stop_requested_at is null then
      update public.jupyter_sessions set stop_requested_at = now() where session_id = p_session_id returning * into s;
    end if;
  else
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'stop', 'pending, starting or running');
  end if;
  return to_jsonb(s);
end
$$;

create or replace function public.jupyter_begin_stop(p_session_id uuid, p_reason text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status not in ('starting', 'running') then
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'begin stopping', 'starting or running');
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('reason', p_reason));
  update public.jupyter_sessions set status = 'stopping', stopping_at = coalesce(stopping_at, now())
    where session_id = p_session_id returning * into s;
  perform lab_private.set_event_detail(null);
  return to_jsonb(s);
end
$$;

create or replace function public.jupyter_mark_stopped(p_session_id uuid, p_reason text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status not in ('starting', 'running', 'stopping') then
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'mark stopped', 'starting, running or stopping');
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('reason', p_reason));
  update public.jupyter_sessions set status = 'stopped', stopped_at = now()
    where session_id = p_session_id returning * into s;
  perform lab_private.set_event_detail(null);
  return to_jsonb(s);
end
$$;

create or replace function public.jupyter_fail(p_session_id uuid, p_error text, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  if coalesce(p_error, '') = '' then
    raise exception 'lab: a failure needs a reason' using errcode = '22023';
  end if;
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status not in ('pending', 'starting', 'running', 'stopping') then
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'fail', 'pending, starting, running or stopping');
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('error', p_error));
  update public.jupyter_sessions set status = 'failed', error_message = p_error, stopped_at = now()
    where session_id = p_session_id returning * into s;
  perform lab_private.set_event_detail(null);
  return to_jsonb(s);
end
$$;

create or replace function public.jupyter_mark_notified(p_session_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.notified_at is not null then
    raise exception 'lab: Jupyter session % was already notified', p_session_id using errcode = '55000';
  end if;
  update public.jupyter_sessions set notified_at = now() where session_id = p_session_id returning * into s;
  return to_jsonb(s);
end
$$;
