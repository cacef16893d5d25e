-- Notification bookkeeping, agent registration, the user's own row, and the script inventory.

-- Take the right to send a job's email for a short lease: of two agents only one sends, and an
-- agent that dies mid-send frees the job for a later try. Returns null when not due.
create or replace function public.job_notify_begin(p_job_id uuid, p_agent_id uuid, p_lease_s int default 120,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  update public.jobs set notify_lease_until = now() + make_interval(secs => p_lease_s), agent_id = coalesce(agent_id, p_agent_id)
    where job_id = p_job_id and user_id = v_uid
      and status in ('finished', 'failed', 'cancelled') and notified_at is null
      and (notify_next_at is null or notify_next_at <= now())
      and (notify_lease_until is null or notify_lease_until < now())
    returning * into j;
  if not found then return null; end if;
  return to_jsonb(j);
end
$$;

create or replace function public.job_mark_notified(p_job_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status not in ('finished', 'failed', 'cancelled') then
    perform lab_private.wrong_state('job', p_job_id, j.status, 'mark notified', 'finished, failed or cancelled');
  end if;
  if j.notified_at is not null then
    raise exception 'lab: job % was already notified at %', p_job_id, j.notified_at using errcode = '55000';
  end if;
  update public.jobs set notified_at = now(), notify_lease_until = null, notify_error = null
    where job_id = p_job_id returning * into j;
  return to_jsonb(j);
end
$$;

-- A failed send: retry at p_retry_at, or never (null) once the agent gives up.
create or replace function public.job_notify_failed(p_job_id uuid, p_error text, p_retry_at timestamptz,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.notified_at is not null then
    raise exception 'lab: job % was already notified', p_job_id using errcode = '55000';
  end if;
  update public.jobs set notify_attempts = notify_attempts + 1, notify_error = p_error,
    notify_next_at = coalesce(p_retry_at, 'infinity'::timestamptz), notify_lease_until = null
    where job_id = p_job_id returning * into j;
  return to_jsonb(j);
end
$$;

create or replace function public.agent_register(p_agent_id uuid, p_host text, p_version text, p_mode text,
  p_pid int default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); a public.agents;
begin
  insert into public.agents (agent_id, user_id, host, version, mode, pid)
    values (p_agent_id, v_uid, p_host, p_version, p_mode, p_pid)
  on conflict (agent_id) do update set host = excluded.host, version = excluded.version, mode = excluded.mode,
    pid = excluded.pid, started_at = now(), heartbeat_at = now(), stopped_at = null
    where public.agents.user_id = v_uid
  returning * into a;
  if not found then
    raise exception 'lab: agent % belongs to another user', p_agent_id using errcode = '42501';
  end if;
  return to_jsonb(a);
end
$$;

create or replace function public.agent_heartbeat(p_agent_id uuid, p_stopped boolean default false,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); a public.agents;
begin
  update public.agents set heartbeat_at = now(), stopped_at = case when p_stopped then now() end
    where agent_id = p_agent_id and user_id = v_uid returning * into a;
  if not found then
    raise exception 'lab: no agent % of yours is registered', p_agent_id using errcode = 'P0002';
  end if;
  return to_jsonb(a);
end
$$;

-- The caller's own users row (a signed-in agent upserts it: user_id, linux_user, email).
create or replace function public.user_ensure(p_linux_user text, p_email text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); u public.users;
begin
  insert into public.users (user_id, linux_user, email) values (v_uid, p_linux_user, p_email)
  on conflict (user_id) do update set linux_user = excluded.linux_user,
    email = coalesce(excluded.email, public.users.email)
  returning * into u;
  return to_jsonb(u);
end
$$;

-- Apply an inventory difference in one call. p_upserts: [{path,type,size,mtime,kernel}], inserted
-- or updated only where something changed, so the script_id of a kept path never changes.
-- p_deletes: [path]. A deleted script's jobs keep their script_path (script_id becomes null).
create or replace function public.scripts_sync(p_upserts jsonb, p_deletes jsonb default '[]',
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v_ins int := 0; v_upd int := 0; v_del int := 0;
begin
  with src as (
    select x.path, x.type, x.size, x.mtime, x.kernel
    from jsonb_to_recordset(coalesce(p_upserts, '[]'::jsonb))
      as x(path text, type text, size bigint, mtime timestamptz, kernel text)
  ), up as (
    insert into public.scripts as s (user_id, path, type, size, mtime, kernel, updated_at)
      select v_uid, path, type, size, mtime, kernel, now() from src
    on conflict (user_id, path) do update
      set type = excluded.type, size = excluded.size, mtime = excluded.mtime, kernel = excluded.kernel,
          updated_at = now()
      where (s.type, s.size, s.mtime, s.kernel) is distinct from
            (excluded.type, excluded.size, excluded.mtime, excluded.kernel)
    returning (xmax = 0) as inserted
  )
  select count(*) filter (where inserted), count(*) filter (where not inserted) into v_ins, v_upd from up;
  delete from public.scripts where user_id = v_uid
    and path in (select jsonb_array_elements_text(coalesce(p_deletes, '[]'::jsonb)));
  get diagnostics v_del = row_count;
  return jsonb_build_object('inserted', v_ins, 'updated', v_upd, 'deleted', v_del);
end
$$;
