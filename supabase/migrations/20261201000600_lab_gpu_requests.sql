-- GPUs (issue 16), part 1: what a job asks for, the leases the claim takes, and their release.
-- A job asks for `gpus` (a count), optionally a minimum free memory per GPU and a model pattern.
-- The claim (20261201000610) leases whole GPUs per host and GPU UUID; a lease ends with its job's
-- claim or run (any status but claimed/running), or is reclaimed when its agent and process are gone.

alter table public.jobs
  add column if not exists gpus int not null default 0,
  add column if not exists gpu_mem_mib int,              -- minimum free memory on each GPU
  add column if not exists gpu_model text,               -- glob on the model name: 'A100*', '*H200*'
  add column if not exists gpu_uuids text[],             -- the GPUs the claim leased, in index order
  add column if not exists cuda_visible_devices text,    -- what the job's process got
  add column if not exists pending_reason text,          -- why a pending job waits, for the member
  add column if not exists gpu_wait_host text,           -- where it last waited for GPUs,
  add column if not exists gpu_wait_since timestamptz,   --   since when (the reservation counts from here),
  add column if not exists gpu_wait_seen timestamptz;    --   and when an agent last tried it

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'jobs_gpu_request_check') then
    alter table public.jobs add constraint jobs_gpu_request_check check (
      gpus between 0 and 64
      and (gpu_mem_mib is null or gpu_mem_mib between 1 and 16777216)
      and (gpu_model is null or length(gpu_model) between 1 and 100));
  end if;
end
$$;

-- Rows written directly (a dashboard, Supabase Studio) ask the same way.
grant insert (gpus, gpu_mem_mib, gpu_model) on public.jobs to authenticated;

create table if not exists public.gpu_leases (
  host text not null,
  gpu_uuid text not null,
  job_id uuid not null references public.jobs (job_id) on delete cascade,
  user_id uuid not null references public.users (user_id) on delete cascade,
  agent_id uuid,
  leased_at timestamptz not null default now(),
  primary key (host, gpu_uuid)
);
create index if not exists gpu_leases_job_idx on public.gpu_leases (job_id);
-- Nobody reads or writes leases directly: the claim takes them, the trigger below ends them, and
-- hosts_list tells every member which GPUs are leased (never by whose job).
alter table public.gpu_leases enable row level security;
revoke all on public.gpu_leases from public, anon, authenticated;
grant all on public.gpu_leases to service_role;

-- A job that leaves claimed/running gives its GPUs back (finished, failed, cancelled, released to
-- pending, retried): whichever function moved it, in the same transaction.
create or replace function lab_private.release_gpu_leases() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if new.status not in ('claimed', 'running') and old.status in ('claimed', 'running') then
    delete from public.gpu_leases where job_id = new.job_id;
  end if;
  return null;
end
$$;
drop trigger if exists lab_jobs_release_gpus on public.jobs;
create trigger lab_jobs_release_gpus after update of status on public.jobs
  for each row execute function lab_private.release_gpu_leases();

-- The member-facing checks of a request, shared by job_submit and direct inserts (the constraint
-- above is the last line; this gives the words).
create or replace function lab_private.check_gpu_request(p_gpus int, p_gpu_mem_mib int, p_gpu_model text)
  returns void language plpgsql immutable set search_path = '' as $$
begin
  if coalesce(p_gpus, 0) not between 0 and 64 then
    raise exception 'lab: gpus must be between 0 and 64 (got %)', p_gpus using errcode = '22023';
  end if;
  if p_gpu_mem_mib is not null and p_gpu_mem_mib not between 1 and 16777216 then
    raise exception 'lab: the GPU memory must be between 1 MiB and 16 TiB (got % MiB)', p_gpu_mem_mib using errcode = '22023';
  end if;
  if p_gpu_model is not null and (length(p_gpu_model) not between 1 and 100 or p_gpu_model ~ '[[:cntrl:]]') then
    raise exception 'lab: the GPU model pattern must be 1 to 100 printable characters' using errcode = '22023';
  end if;
  if coalesce(p_gpus, 0) = 0 and (p_gpu_mem_mib is not null or p_gpu_model is not null) then
    raise exception 'lab: a GPU memory or model was given without a GPU count (--gpus N)' using errcode = '22023';
  end if;
end
$$;

create or replace function lab_private.check_new_job_gpus() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  perform lab_private.check_gpu_request(new.gpus, new.gpu_mem_mib, new.gpu_model);
  new.gpu_uuids := null;
  new.cuda_visible_devices := null;
  return new;
end
$$;
drop trigger if exists lab_jobs_check_gpus on public.jobs;
create trigger lab_jobs_check_gpus before insert on public.jobs
  for each row execute function lab_private.check_new_job_gpus();

-- A model pattern as the member writes it (shell glob: * and ?) to a LIKE pattern.
create or replace function lab_private.gpu_model_like(p_glob text) returns text
  language sql immutable set search_path = '' as $$
  select replace(replace(replace(replace(replace(p_glob, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_')
$$;
