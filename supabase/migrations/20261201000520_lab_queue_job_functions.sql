-- The job functions, with the queue features: submit takes priority, retries and --after; the claim
-- takes ready jobs only (dependencies met, inside their sweep's limit, retry delay over, host not
-- drained), higher priority first, then in queue order; a failed run with retries left goes back to
-- pending with its reason; the agent's view of its work says what else is due (sweep emails,
-- schedules) and when to look again.

create or replace function lab_private.check_job_options(p_spec jsonb) returns void
  language plpgsql immutable set search_path = '' as $$
begin
  if (p_spec ->> 'retries')::int not between 0 and 100 then
    raise exception 'lab: retries must be between 0 and 100 (got %)', p_spec ->> 'retries' using errcode = '22023';
  end if;
  if (p_spec ->> 'retry_delay_s')::int not between 1 and 86400 then
    raise exception 'lab: the retry delay must be between 1 second and 1 day (got % s)', p_spec ->> 'retry_delay_s' using errcode = '22023';
  end if;
  if (p_spec ->> 'timeout_s')::int <= 0 then
    raise exception 'lab: the timeout must be positive (got % s)', p_spec ->> 'timeout_s' using errcode = '22023';
  end if;
end
$$;

create or replace function lab_private.after_list(p_uid uuid, p_after jsonb) returns jsonb
  language sql set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(a)), '[]'::jsonb) from lab_private.resolve_after(p_uid, p_after) a
$$;

-- public.job_submit takes the queue options (priority, retries, --after) in one definition with the
-- GPU and Slurm requests: 20261201000710_lab_slurm_submit.sql.

-- public.job_claim takes the ready jobs (priority, retries, drained hosts) and places GPU jobs, in one
-- definition: 20261201000610_lab_gpu_claim.sql.

-- An attempt ended. A failed one with retries left (and no cancel asked for) goes back to pending:
-- attempt + 1, not before now + retry_delay_s * 2^(attempt - 1) (at most a day), its outcome kept
-- in `attempts`, the run's own columns cleared for the next one. Otherwise the job ends as p_status.
create or replace function lab_private.end_attempt(j public.jobs, p_status text, p_error text, p_retcode int,
  p_signal text, p_stdout_tail text, p_stderr_tail text, p_ended_at timestamptz, p_result jsonb, p_retry boolean,
  p_detail jsonb) returns public.jobs
  language plpgsql set search_path = '' as $$
declare
  v_end timestamptz := coalesce(p_ended_at, now());
  v_entry jsonb := jsonb_build_object('attempt', j.attempt, 'status', p_status, 'run_host', j.run_host,
    'started_at', j.started_at, 'ended_at', v_end, 'retcode', p_retcode, 'signal', p_signal, 'error', p_error,
    'log_dir', j.log_dir, 'result', p_result);
  v_at timestamptz;
begin
  if p_retry and p_status = 'failed' and j.cancel_requested_at is null and j.attempt <= coalesce(j.retries, 0) then
    v_at := now() + make_interval(secs => least(coalesce(j.retry_delay_s, 60)::float8 * power(2, j.attempt - 1), 86400));
    perform lab_private.set_event_detail(p_detail || jsonb_build_object('retry', j.attempt, 'of', j.retries, 'at', v_at, 'error', p_error));
    update public.jobs set status = 'pending', attempt = attempt + 1, attempts = attempts || v_entry, not_before = v_at,
      error = p_error, retcode = null, signal = null, result = null,
      stdout_tail = coalesce(p_stdout_tail, stdout_tail), stderr_tail = coalesce(p_stderr_tail, stderr_tail),
      pid = null, pid_start = null, agent_id = null, run_host = null, claimed_at = null, started_at = null,
      heartbeat_at = null, kill_sent_at = null, stop_reason = null, claim_count = 0, finished_at = null,
      -- The next attempt gets a log folder of its own (this one's is in `attempts`).
      log_dir = null, stdout_path = null, stderr_path = null, interpreter = null, command = null,
      pending_reason = lab_private.retry_reason(j.user_id, j.attempt + 1, j.retries, v_at, p_error)
      where job_id = j.job_id returning * into j;
  else
    perform lab_private.set_event_detail(p_detail);
    update public.jobs set status = p_status, error = p_error, finished_at = v_end,
      retcode = coalesce(p_retcode, retcode), signal = coalesce(p_signal, signal), result = p_result,
      attempts = case when j.attempt > 1 then attempts || v_entry else attempts end,
      stdout_tail = coalesce(p_stdout_tail, stdout_tail), stderr_tail = coalesce(p_stderr_tail, stderr_tail)
      where job_id = j.job_id returning * into j;
  end if;
  perform lab_private.set_event_detail(null);
  return j;
end
$$;

-- The process ended: finished on exit 0; cancelled when a cancel was requested; failed otherwise
-- (retried while retries are left). p_result: the run's last LAB_RESULT line, as JSON.
drop function if exists public.job_finish(uuid, int, text, text, text, timestamptz, uuid);
create or replace function public.job_finish(p_job_id uuid, p_retcode int, p_signal text default null,
  p_stdout_tail text default null, p_stderr_tail text default null, p_finished_at timestamptz default null,
  p_result jsonb default null, p_user_id uuid default null) returns jsonb
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
  j := lab_private.end_attempt(j, v_status, v_error, p_retcode, p_signal, p_stdout_tail, p_stderr_tail,
    p_finished_at, p_result, true, jsonb_build_object('retcode', p_retcode, 'signal', p_signal));
  return to_jsonb(j);
end
$$;

-- p_via: the machine state that made the change. p_retry: a failure of the run itself (lost,
-- timeout, full disk), retried while retries are left; never for bad input (the default).
drop function if exists public.job_fail(uuid, text, text, text, int, text, uuid, text);
create or replace function public.job_fail(p_job_id uuid, p_error text, p_stdout_tail text default null,
  p_stderr_tail text default null, p_retcode int default null, p_signal text default null,
  p_user_id uuid default null, p_via text default null, p_retry boolean default false,
  p_result jsonb default null) returns jsonb
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
  j := lab_private.end_attempt(j, 'failed', p_error, p_retcode, p_signal, p_stdout_tail, p_stderr_tail, null, p_result,
    coalesce(p_retry, false) and j.status in ('claimed', 'running'),
    jsonb_strip_nulls(jsonb_build_object('error', p_error, 'retcode', p_retcode, 'signal', p_signal, 'via', p_via)));
  return to_jsonb(j);
end
$$;

-- As before, and a job back in the queue says why it did not start.
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
    update public.jobs set status = 'pending', agent_id = null, run_host = null, claimed_at = null,
      pending_reason = format('could not start on %s (try %s of %s): %s', j.run_host, j.claim_count, p_max_claims, left(p_reason, 200))
      where job_id = p_job_id returning * into j;
  end if;
  perform lab_private.set_event_detail(null);
  return to_jsonb(j);
end
$$;

-- What an agent on p_host has to look after: its claimed and running jobs, finished jobs whose email
-- is due, how many could start here now (0 on a drained host), finished sweeps whose email is due,
-- schedules that are due, and the next moment something becomes due by itself (a retry, a schedule).
create or replace function public.jobs_for_agent(p_host text, p_user_id uuid default null) returns jsonb
  language plpgsql stable security invoker set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v_drained boolean := lab_private.is_drained(v_uid, p_host);
begin
  return jsonb_build_object(
    'active', coalesce((select jsonb_agg(to_jsonb(j) order by j.created_at) from public.jobs j
       where j.user_id = v_uid and j.status in ('claimed', 'running') and j.run_host = p_host), '[]'::jsonb),
    'notify_due', coalesce((select jsonb_agg(to_jsonb(j) order by j.finished_at) from public.jobs j
       where j.user_id = v_uid and j.status in ('finished', 'failed', 'cancelled')
         and j.notified_at is null and (j.run_host = p_host or j.run_host is null)
         and (j.notify_next_at is null or j.notify_next_at <= now())
         and (j.notify_lease_until is null or j.notify_lease_until < now())), '[]'::jsonb),
    'pending', case when v_drained then 0 else (select count(*) from (select 1 from public.jobs j
       where j.user_id = v_uid and j.status = 'pending' and j.deps_left = 0 and not j.held
         and (j.host is null or j.host = p_host) and (j.not_before is null or j.not_before <= now())
       limit 10000) r) end,
    'drained', v_drained,
    'sweeps_notify_due', coalesce((select jsonb_agg(to_jsonb(s) order by s.finished_at) from (
       select * from public.sweeps s where s.user_id = v_uid and s.finished_at is not null and s.notified_at is null
         and (s.notify_next_at is null or s.notify_next_at <= now())
         and (s.notify_lease_until is null or s.notify_lease_until < now())
       order by s.finished_at limit 20) s), '[]'::jsonb),
    'schedules_due', coalesce((select jsonb_agg(to_jsonb(s) order by s.next_due_at) from (
       select * from public.schedules s where s.user_id = v_uid and s.paused_at is null and s.next_due_at <= now()
       order by s.next_due_at limit 50) s), '[]'::jsonb),
    'next_wake_at', (select min(t) from (
       select min(j.not_before) as t from public.jobs j
         where j.user_id = v_uid and j.status = 'pending' and j.not_before > now() and (j.host is null or j.host = p_host)
       union all
       select min(s.next_due_at) from public.schedules s where s.user_id = v_uid and s.paused_at is null) w));
end
$$;

-- A drained host starts no Jupyter server either.
create or replace function public.jupyter_claim(p_agent_id uuid, p_host text, p_limit int default 1,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v jsonb;
begin
  if lab_private.is_drained(v_uid, p_host) then
    return '[]'::jsonb;
  end if;
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

create or replace function lab_private.check_time_zone(p_time_zone text) returns void
  language plpgsql stable set search_path = '' as $$
begin
  if p_time_zone is null or not exists (select 1 from pg_catalog.pg_timezone_names z where z.name = p_time_zone) then
    raise exception 'lab: % is not a time zone name (an IANA name such as Asia/Tokyo or Europe/Berlin)', coalesce(p_time_zone, 'null')
      using errcode = '22023';
  end if;
end
$$;

-- The member's time zone, for schedules and the times shown in reasons.
create or replace function public.user_set_time_zone(p_time_zone text, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); u public.users;
begin
  perform lab_private.check_time_zone(p_time_zone);
  update public.users set time_zone = p_time_zone where user_id = v_uid returning * into u;
  if not found then
    raise exception 'lab: no user row yet: run the agent or the CLI once first' using errcode = 'P0002';
  end if;
  return to_jsonb(u);
end
$$;
