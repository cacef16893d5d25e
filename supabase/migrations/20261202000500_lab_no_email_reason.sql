-- Whether a job's end-of-run email went, as the agent that ended the job knows it (issue 15).
-- `lab-agent status` may run on another machine with another LAB_EMAIL than that agent's, so it
-- reads the answer from the row: notified_at with no_email_reason null = an email was sent then;
-- no_email_reason set = none was, and why (the agent's LAB_EMAIL is empty; the sweep's one email
-- covers this cell).

alter table public.jobs add column if not exists no_email_reason text;

-- p_no_email_reason: why no email was sent (null: one was). A new parameter is a new signature, so
-- the old one goes first (else a call with two arguments would match both).
drop function if exists public.job_mark_notified(uuid, uuid);
create or replace function public.job_mark_notified(p_job_id uuid, p_user_id uuid default null,
  p_no_email_reason text default null) returns jsonb
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
  update public.jobs set notified_at = now(), notify_lease_until = null, notify_error = null,
    no_email_reason = nullif(left(btrim(p_no_email_reason), 200), '')
    where job_id = p_job_id returning * into j;
  return to_jsonb(j);
end
$$;
revoke all on function public.job_mark_notified(uuid, uuid, text) from public, anon;
grant execute on function public.job_mark_notified(uuid, uuid, text) to authenticated, service_role;

-- A cell of a sweep without per-cell emails is marked notified as it ends (lab_jobs_ending): say
-- so on the row. Runs after lab_jobs_ending (before-triggers fire in name order) and only then.
create or replace function lab_private.job_sweep_cell_no_email() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  new.no_email_reason := 'the sweep''s one email covers this cell';
  return new;
end
$$;
drop trigger if exists lab_jobs_no_email on public.jobs;
create trigger lab_jobs_no_email before update on public.jobs
  for each row when (old.notified_at is null and new.notified_at is not null and new.sweep_id is not null
    and new.no_email_reason is null and old.status is distinct from new.status)
  execute function lab_private.job_sweep_cell_no_email();
revoke all on function lab_private.job_sweep_cell_no_email() from public, anon;
grant execute on function lab_private.job_sweep_cell_no_email() to authenticated, service_role;
