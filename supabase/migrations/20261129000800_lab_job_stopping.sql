-- Stopping a running job (cancel or timeout) is two steps apart in time: SIGTERM, then SIGKILL
-- after a grace. The moment and reason of the SIGTERM live in the row, so whichever agent process
-- runs the next tick (cron starts a new one each minute) knows when the grace ends and why.

alter table public.jobs
  add column if not exists kill_sent_at timestamptz,
  add column if not exists stop_reason text;

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

revoke all on function public.job_mark_stopping(uuid, text, uuid) from public, anon;
grant execute on function public.job_mark_stopping(uuid, text, uuid) to authenticated, service_role;
