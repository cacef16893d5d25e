-- Every job transition as a function. Each one checks the current state, changes the row, and
-- (through the trigger) appends an event; a call that does not fit the state raises and changes
-- nothing. security definer with an explicit owner check, so that members need no UPDATE grant:
-- these functions are the only way a job changes. Each returns jsonb, identical over pg and PostgREST.

-- Who is acting: the signed-in user; with the service key (role service_role, no user), the
-- p_user_id the caller names, as the original agent did.
create or replace function lab_private.acting_user(p_user_id uuid default null) returns uuid
  language plpgsql stable set search_path = '' as $$
declare v uuid := auth.uid();
begin
  if v is not null then
    if p_user_id is not null and p_user_id <> v then
      raise exception 'lab: signed in as %, cannot act as %', v, p_user_id using errcode = '42501';
    end if;
    return v;
  end if;
  if p_user_id is not null and auth.role() = 'service_role' then
    return p_user_id;
  end if;
  raise exception 'lab: not signed in (no user id in the request)' using errcode = '42501';
end
$$;

create or replace function lab_private.locked_job(p_job_id uuid, p_uid uuid) returns public.jobs
  language plpgsql set search_path = '' as $$
declare j public.jobs;
begin
  select * into j from public.jobs where job_id = p_job_id and user_id = p_uid for update;
  if not found then
    raise exception 'lab: no job % among your jobs', p_job_id using errcode = 'P0002';
  end if;
  return j;
end
$$;

create or replace function lab_private.wrong_state(p_what text, p_id uuid, p_status text, p_action text, p_expected text)
  returns void language plpgsql set search_path = '' as $$
begin
  raise exception 'lab: cannot % % %: it is %, expected %', p_action, p_what, p_id, p_status, p_expected
    using errcode = '55000';
end
$$;

create or replace function public.job_submit(p_script_path text, p_args text default null,
  p_host text default null, p_timeout_s int default null, p_script_id bigint default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  if p_script_path is null and p_script_id is null then
    raise exception 'lab: a job needs a script path or a script id' using errcode = '22023';
  end if;
  insert into public.jobs (user_id, script_id, script_path, args, host, timeout_s)
    values (v_uid, p_script_id, p_script_path, p_args, p_host, p_timeout_s) returning * into j;
  return to_jsonb(j);
end
$$;

-- FIFO per user, atomic between agents: SKIP LOCKED hands each pending row to one claimer only.
create or replace function public.job_claim(p_agent_id uuid, p_host text, p_limit int default 1,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v jsonb;
begin
  perform lab_private.set_event_detail(jsonb_build_object('agent_id', p_agent_id, 'host', p_host));
  with picked as (
    select job_id from public.jobs
    where user_id = v_uid and status = 'pending' and (host is null or host = p_host)
    order by created_at, job_id
    limit greatest(p_limit, 0)
    for update skip locked
  ), claimed as (
    update public.jobs j set status = 'claimed', claimed_at = now(), agent_id = p_agent_id,
      run_host = p_host, claim_count = j.claim_count + 1
    from picked where j.job_id = picked.job_id
    returning j.*
  )
  select coalesce(jsonb_agg(to_jsonb(c) order by c.created_at, c.job_id), '[]'::jsonb) into v from claimed c;
  perform lab_private.set_event_detail(null);
  return v;
end
$$;

create or replace function public.job_start(p_job_id uuid, p_agent_id uuid, p_pid int, p_pid_start text,
  p_interpreter text, p_command jsonb, p_log_dir text, p_stdout_path text, p_stderr_path text,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status <> 'claimed' then perform lab_private.wrong_state('job', p_job_id, j.status, 'start', 'claimed'); end if;
  perform lab_private.set_event_detail(jsonb_build_object('pid', p_pid, 'interpreter', p_interpreter));
  update public.jobs set status = 'running', started_at = now(), heartbeat_at = now(), agent_id = p_agent_id,
    pid = p_pid, pid_start = p_pid_start, interpreter = p_interpreter, command = p_command,
    log_dir = p_log_dir, stdout_path = p_stdout_path, stderr_path = p_stderr_path
    where job_id = p_job_id returning * into j;
  perform lab_private.set_event_detail(null);
  return to_jsonb(j);
end
$$;

-- Tails are written only when given (the agent sends them only when they changed).
create or replace function public.job_heartbeat(p_job_id uuid, p_stdout_tail text default null,
  p_stderr_tail text default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status <> 'running' then perform lab_private.wrong_state('job', p_job_id, j.status, 'heartbeat', 'running'); end if;
  update public.jobs set heartbeat_at = now(),
    stdout_tail = coalesce(p_stdout_tail, stdout_tail), stderr_tail = coalesce(p_stderr_tail, stderr_tail)
    where job_id = p_job_id returning * into j;
  return to_jsonb(j);
end
$$;

-- The process ended: finished on exit 0; cancelled when a cancel was requested; failed otherwise.
create or replace function public.job_finish(p_job_id uuid, p_retcode int, p_signal text default null,
  p_stdout_tail text default null, p_stderr_tail text default null, p_finished_at timestamptz default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs; v_status text; v_error text;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status <> 'running' then perform lab_private.wrong_state('job', p_job_id, j.status, 'finish', 'running'); end if;
  if p_retcode = 0 and p_signal is null then
    v_status := 'finished';
  elsif j.cancel_requested_at is not null then
    v_status := 'cancelled'; v_error := 'cancelled by request';
  else
    v_status := 'failed';
    v_error := case when p_signal is not null then 'killed by ' || p_signal else 'exit code ' || p_retcode end;
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('retcode', p_retcode, 'signal', p_signal));
  update public.jobs set status = v_status, retcode = p_retcode, signal = p_signal, error = v_error,
    finished_at = coalesce(p_finished_at, now()),
    stdout_tail = coalesce(p_stdout_tail, stdout_tail), stderr_tail = coalesce(p_stderr_tail, stderr_tail)
    where job_id = p_job_id returning * into j;
  perform lab_private.set_event_detail(null);
  return to_jsonb(j);
end
$$;

-- p_via (here and in job_release): the machine state that made the change (claimed → failed
-- can come from bad input while starting or from the agent giving up), kept in the event's detail
-- so the visualizer draws the path the job really took.
create or replace function public.job_fail(p_job_id uuid, p_error text, p_stdout_tail text default null,
  p_stderr_tail text default null, p_retcode int default null, p_signal text default null,
  p_user_id uuid default null, p_via text default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  if coalesce(p_error, '') = '' then
    raise exception 'lab: a failure needs a reason' using errcode = '22023';
  end if;
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status not in ('pending', 'claimed', 'running') then
    perform lab_private.wrong_state('job', p_job_id, j.status, 'fail', 'pending, claimed or running');
  end if;
  perform lab_private.set_event_detail(jsonb_strip_nulls(jsonb_build_object(
    'error', p_error, 'retcode', p_retcode, 'signal', p_signal, 'via', p_via)));
  update public.jobs set status = 'failed', error = p_error, finished_at = now(),
    retcode = coalesce(p_retcode, retcode), signal = coalesce(p_signal, signal),
    stdout_tail = coalesce(p_stdout_tail, stdout_tail), stderr_tail = coalesce(p_stderr_tail, stderr_tail)
    where job_id = p_job_id returning * into j;
  perform lab_private.set_event_detail(null);
  return to_jsonb(j);
end
$$;

-- A pending job is cancelled at once; a claimed or running one is marked for the agent to stop.
create or replace function public.job_request_cancel(p_job_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status = 'pending' then
    perform lab_private.set_event_detail('{"reason":"cancelled before it started"}');
    update public.jobs set status = 'cancelled', cancel_requested_at = now(), finished_at = now(),
      error = 'cancelled before it started' where job_id = p_job_id returning * into j;
    perform lab_private.set_event_detail(null);
  elsif j.status in ('claimed', 'running') then
    if j.cancel_requested_at is null then
      update public.jobs set cancel_requested_at = now() where job_id = p_job_id returning * into j;
    end if;
  else
    perform lab_private.wrong_state('job', p_job_id, j.status, 'cancel', 'pending, claimed or running');
  end if;
  return to_jsonb(j);
end
$$;

create or replace function public.job_mark_cancelled(p_job_id uuid, p_retcode int default null,
  p_signal text default null, p_stdout_tail text default null, p_stderr_tail text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status not in ('claimed', 'running') then
    perform lab_private.wrong_state('job', p_job_id, j.status, 'mark cancelled', 'claimed or running');
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('retcode', p_retcode, 'signal', p_signal));
  update public.jobs set status = 'cancelled', error = 'cancelled by request', finished_at = now(),
    retcode = p_retcode, signal = p_signal,
    stdout_tail = coalesce(p_stdout_tail, stdout_tail), stderr_tail = coalesce(p_stderr_tail, stderr_tail)
    where job_id = p_job_id returning * into j;
  perform lab_private.set_event_detail(null);
  return to_jsonb(j);
end
$$;

-- Cancel or timeout of a running job: records that SIGTERM went (once), not a change of status.
create or replace function public.job_mark_stopping(p_job_id uuid, p_reason text, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  if coalesce(p_reason, '') = '' then
    raise exception 'lab: stopping a job needs a reason' using errcode = '22023';
  end if;
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status <> 'running' then perform lab_private.wrong_state('job', p_job_id, j.status, 'stop', 'running'); end if;
  if j.kill_sent_at is null then
    -- Not a change of status: the event is written here rather than by the trigger.
    insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
      values (j.user_id, 'job', j.job_id, 'running', 'running', jsonb_build_object('action', 'stopping', 'reason', p_reason));
    update public.jobs set kill_sent_at = now(), stop_reason = p_reason where job_id = p_job_id returning * into j;
  end if;
  return to_jsonb(j);
end
$$;

-- Recovery of a claim that never started: back to the queue, or failed after p_max_claims tries.
create or replace function public.job_release(p_job_id uuid, p_reason text, p_max_claims int default 3,
  p_user_id uuid default null, p_via text default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status <> 'claimed' then perform lab_private.wrong_state('job', p_job_id, j.status, 'release', 'claimed'); end if;
  perform lab_private.set_event_detail(jsonb_strip_nulls(jsonb_build_object('reason', p_reason, 'claims', j.claim_count, 'via', p_via)));
  if j.claim_count >= p_max_claims then
    update public.jobs set status = 'failed', finished_at = now(),
      error = format('could not be started after %s tries: %s', j.claim_count, p_reason)
      where job_id = p_job_id returning * into j;
  else
    update public.jobs set status = 'pending', agent_id = null, run_host = null, claimed_at = null
      where job_id = p_job_id returning * into j;
  end if;
  perform lab_private.set_event_detail(null);
  return to_jsonb(j);
end
$$;
