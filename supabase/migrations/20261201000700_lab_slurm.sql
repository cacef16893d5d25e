-- Slurm: an agent with LAB_EXECUTOR=slurm hands its jobs to a cluster with
-- sbatch. The row keeps which executor runs it, the Slurm job id, what Slurm last said of it
-- (state and reason: a job Slurm keeps waiting shows "PENDING (Resources)" while it stays
-- claimed) and the compute node; a member may ask a job for a partition, CPUs, memory, a time
-- limit and GPUs. The Slurm job id also goes into every lifecycle event of its row.

alter table public.jobs
  add column if not exists executor text,
  add column if not exists slurm_job_id text,
  add column if not exists slurm_state text,
  add column if not exists slurm_reason text,
  add column if not exists slurm_node text,
  -- per-job requests (the agent's LAB_SLURM_* settings otherwise)
  add column if not exists slurm_partition text,
  add column if not exists cpus int,
  add column if not exists mem_mb int,
  add column if not exists time_limit_min int,
  add column if not exists gpus int;

alter table public.jobs drop constraint if exists lab_jobs_executor_check;
alter table public.jobs add constraint lab_jobs_executor_check check (executor is null or executor in ('local', 'slurm'));
alter table public.jobs drop constraint if exists lab_jobs_slurm_request_check;
alter table public.jobs add constraint lab_jobs_slurm_request_check check (
  (slurm_partition is null or slurm_partition ~ '^[A-Za-z0-9_.-]{1,64}$')
  and (cpus is null or cpus between 1 and 100000)
  and (mem_mb is null or mem_mb between 1 and 1000000000)
  and (time_limit_min is null or time_limit_min between 1 and 5256000)
);
alter table public.jobs drop constraint if exists lab_jobs_gpus_check;
alter table public.jobs add constraint lab_jobs_gpus_check check (gpus is null or gpus between 0 and 1024);
-- Squeue's answer is looked up by id: only digits (and an array task's _n) ever come back from sbatch.
alter table public.jobs drop constraint if exists lab_jobs_slurm_id_check;
alter table public.jobs add constraint lab_jobs_slurm_id_check check (slurm_job_id is null or slurm_job_id ~ '^[0-9]+(_[0-9]+)?$');

-- Members may give the requests when they insert a job row themselves (Studio, a web form).
grant insert (slurm_partition, cpus, mem_mb, time_limit_min, gpus) on public.jobs to authenticated;

create index if not exists jobs_slurm_job_id_idx on public.jobs (user_id, slurm_job_id) where slurm_job_id is not null;

-- What Slurm says of a claimed or running job: the executor (set before sbatch, so a restarted
-- agent with another LAB_EXECUTOR never starts it a second time), the Slurm job id (once known,
-- never replaced by another), the state, the reason and the node. Not a change of status: an
-- event (running → running, action 'slurm') is written when the id, the state or the reason change.
create or replace function public.job_slurm_update(p_job_id uuid, p_slurm_job_id text default null,
  p_state text default null, p_reason text default null, p_node text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  j := lab_private.locked_job(p_job_id, v_uid);
  if j.status not in ('claimed', 'running') then
    perform lab_private.wrong_state('job', p_job_id, j.status, 'update the Slurm state of', 'claimed or running');
  end if;
  if j.slurm_job_id is not null and p_slurm_job_id is not null and p_slurm_job_id <> j.slurm_job_id then
    raise exception 'lab: job % is Slurm job %, not %', p_job_id, j.slurm_job_id, p_slurm_job_id using errcode = '55000';
  end if;
  if j.executor is not distinct from 'slurm' and p_slurm_job_id is not distinct from j.slurm_job_id
     and p_state is not distinct from j.slurm_state and p_reason is not distinct from j.slurm_reason
     and (p_node is null or p_node is not distinct from j.slurm_node) then
    return to_jsonb(j);
  end if;
  insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
    values (j.user_id, 'job', j.job_id, j.status, j.status, jsonb_strip_nulls(jsonb_build_object(
      'action', 'slurm', 'slurm_job_id', coalesce(p_slurm_job_id, j.slurm_job_id), 'state', p_state, 'reason', p_reason, 'node', p_node)));
  update public.jobs set executor = 'slurm', slurm_job_id = coalesce(p_slurm_job_id, slurm_job_id),
    slurm_state = p_state, slurm_reason = p_reason, slurm_node = coalesce(p_node, slurm_node)
    where job_id = p_job_id returning * into j;
  return to_jsonb(j);
end
$$;

-- Every event of a row that Slurm runs names the Slurm job: its start, its end, its email.
create or replace function lab_private.add_slurm_job_id() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare v_id text;
begin
  if new.subject <> 'job' or new.detail ? 'slurm_job_id' then return new; end if;
  select slurm_job_id into v_id from public.jobs where job_id = new.subject_id;
  if v_id is not null then new.detail := new.detail || jsonb_build_object('slurm_job_id', v_id); end if;
  return new;
end
$$;

drop trigger if exists lab_events_slurm_job_id on public.lifecycle_events;
create trigger lab_events_slurm_job_id before insert on public.lifecycle_events
  for each row execute function lab_private.add_slurm_job_id();

revoke all on function public.job_slurm_update(uuid, text, text, text, text, uuid) from public, anon;
grant execute on function public.job_slurm_update(uuid, text, text, text, text, uuid) to authenticated, service_role;
revoke all on function lab_private.add_slurm_job_id() from public, anon, authenticated;
