-- A member asks a job for Slurm resources at submit time (lab-agent submit --partition --cpus --mem
-- --time); each overrides the agent's LAB_SLURM_* setting. A GPU count is the job's own `gpus`
-- (20261201000600): on a Slurm agent it becomes --gres=gpu:N. The checks are the table's
-- (lab_jobs_slurm_request_check in 20261201000700_lab_slurm.sql). The one job_submit of the queue
-- (issue 17: priority, retries, --after), GPUs (issue 16) and Slurm (issue 18); the Slurm parameters
-- come after p_user_id, so that calls by position keep their meaning.
drop function if exists public.job_submit(text, text, text, int, bigint, uuid);

create or replace function public.job_submit(p_script_path text, p_args text default null,
  p_host text default null, p_timeout_s int default null, p_script_id bigint default null,
  p_priority int default 0, p_retries int default null, p_retry_delay_s int default null,
  p_after jsonb default null, p_after_any boolean default false,
  p_gpus int default 0, p_gpu_mem_mib int default null, p_gpu_model text default null,
  p_user_id uuid default null, p_slurm_partition text default null, p_cpus int default null,
  p_mem_mb int default null, p_time_limit_min int default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := lab_private.acting_user(p_user_id);
  v_spec jsonb := jsonb_build_object('script_path', p_script_path, 'args', p_args, 'host', p_host,
    'timeout_s', p_timeout_s, 'script_id', p_script_id, 'priority', p_priority, 'retries', p_retries,
    'retry_delay_s', p_retry_delay_s);
  j public.jobs;
begin
  perform lab_private.check_job_options(v_spec);
  perform lab_private.check_gpu_request(p_gpus, p_gpu_mem_mib, p_gpu_model);
  j := lab_private.new_job(v_uid, v_spec, lab_private.after_list(v_uid, p_after), p_after_any);
  -- Written in the transaction that makes the job: no agent sees it without its requests.
  if coalesce(p_gpus, 0) > 0 or num_nonnulls(p_slurm_partition, p_cpus, p_mem_mb, p_time_limit_min) > 0 then
    update public.jobs set gpus = coalesce(p_gpus, 0), gpu_mem_mib = p_gpu_mem_mib, gpu_model = p_gpu_model,
      slurm_partition = p_slurm_partition, cpus = p_cpus, mem_mb = p_mem_mb, time_limit_min = p_time_limit_min
      where job_id = j.job_id returning * into j;
  end if;
  return to_jsonb(j);
end
$$;

revoke all on function public.job_submit(text, text, text, int, bigint, int, int, int, jsonb, boolean, int, int, text, uuid, text, int, int, int) from public, anon;
grant execute on function public.job_submit(text, text, text, int, bigint, int, int, int, jsonb, boolean, int, int, text, uuid, text, int, int, int) to authenticated, service_role;
