-- Whether a job's end-of-run email went, as the agent that ended the job knows it (issue 15).
-- `lab-agent status` may run on another machine with another LAB_EMAIL than that agent's, so it
-- reads the answer from the row: notified_at with no_email_reason null = an email was sent then;
-- no_email_reason set = none was, and why (the agent's LAB_EMAIL is empty; the sweep's one email
-- covers this cell).

alter table public.jobs add column if not exists no_email_reason text;

-- An agent with no email to send: the job is marked notified by job_mark_notified (its checks: the
-- caller's own ended job, once), and the row says why no email went.
create or replace function public.job_mark_not_emailed(p_job_id uuid, p_reason text, p_user_id uuid default null)
  returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  if nullif(btrim(p_reason), '') is null then
    raise exception 'lab: say why no email was sent for job %', p_job_id using errcode = '22023';
  end if;
  perform public.job_mark_notified(p_job_id, p_user_id);
  update public.jobs set no_email_reason = left(btrim(p_reason), 200)
    where job_id = p_job_id and user_id = v_uid returning * into j;
  return to_jsonb(j);
end
$$;
revoke all on function public.job_mark_not_emailed(uuid, text, uuid) from public, anon;
grant execute on function public.job_mark_not_emailed(uuid, text, uuid) to authenticated, service_role;

-- A cell of a sweep without per-cell emails is marked notified as it ends (lab_jobs_ending): say
-- so on the row. Runs after lab_jobs_ending (before-triggers fire in name order) and only then.
create or replace function lab_private.job_sweep_cell_no_email() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  new.no_email_reason := 'the sweep''s one email covers this cell';
  return new;
end
$$;
revoke all on function lab_private.job_sweep_cell_no_email() from public, anon;
grant execute on function lab_private.job_sweep_cell_no_email() to authenticated, service_role;
drop trigger if exists lab_jobs_no_email on public.jobs;
create trigger lab_jobs_no_email before update on public.jobs
  for each row when (old.notified_at is null and new.notified_at is not null and new.sweep_id is not null
    and new.no_email_reason is null and old.status is distinct from new.status)
  execute function lab_private.job_sweep_cell_no_email();
