-- A member asks a job for Slurm resources at submit time (lab-agent submit --partition --cpus --mem
-- --time --gpus); each overrides the agent's LAB_SLURM_* setting. The checks are the table's
-- (lab_jobs_slurm_request_check, lab_jobs_gpus_check in 20261201000700_lab_slurm.sql). The new
-- parameters come after p_user_id, so that calls by position keep their meaning.
drop function if exists public.job_submit(text, text, text, int, bigint, uuid);

create or replace function public.job_submit(p_script_path text, p_args text default null,
  p_host text default null, p_timeout_s int default null, p_script_id bigint default null,
  p_user_id uuid default null, p_slurm_partition text default null, p_cpus int default null,
  p_mem_mb int default null, p_time_limit_min int default null, p_gpus int default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); j public.jobs;
begin
  if p_script_path is null and p_script_id is null then
    raise exception 'lab: a job needs a script path or a script id' using errcode = '22023';
  end if;
  insert into public.jobs (user_id, script_id, script_path, args, host, timeout_s, slurm_partition, cpus, mem_mb, time_limit_min, gpus)
    values (v_uid, p_script_id, p_script_path, p_args, p_host, p_timeout_s, p_slurm_partition, p_cpus, p_mem_mb, p_time_limit_min, p_gpus)
    returning * into j;
  return to_jsonb(j);
end
$$;

revoke all on function public.job_submit(text, text, text, int, bigint, uuid, text, int, int, int, int) from public, anon;
grant execute on function public.job_submit(text, text, text, int, bigint, uuid, text, int, int, int, int) to authenticated, service_role;
