-- A status change can be reached along more than one path of the job machine (claimed → failed:
-- bad input while starting, or the agent giving up after failed starts). The agent names the
-- machine state that made the change (p_via); it goes into the event's detail, so the
-- visualizer draws the path the job really took. Old signatures are dropped: with an added
-- defaulted parameter, calls by name would be ambiguous.

drop function if exists public.job_fail(uuid, text, text, text, int, text, uuid);
create function public.job_fail(p_job_id uuid, p_error text, p_stdout_tail text default null,
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

drop function if exists public.job_release(uuid, text, int, uuid);
create function public.job_release(p_job_id uuid, p_reason text, p_max_claims int default 3,
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

revoke all on function public.job_fail(uuid, text, text, text, int, text, uuid, text) from public, anon;
grant execute on function public.job_fail(uuid, text, text, text, int, text, uuid, text) to authenticated, service_role;
revoke all on function public.job_release(uuid, text, int, uuid, text) from public, anon;
grant execute on function public.job_release(uuid, text, int, uuid, text) to authenticated, service_role;
