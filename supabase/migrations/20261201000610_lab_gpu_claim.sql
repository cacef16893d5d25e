-- GPUs (issue 16), part 2: submit takes the request; the claim places GPU jobs on the GPUs the
-- agent's probe saw free and leases them in the same transaction.
--
-- Placement rule (README, "GPUs"): jobs are taken in queue order; a job whose GPUs are not free
-- stays pending with its reason and does not block the jobs behind it (a CPU job, a smaller GPU job
-- that fits: backfill). No starvation: once a GPU job has waited p_gpu_reserve_after_s on a host, it
-- reserves that host: no other GPU job starts there (any member's) until it has started, so the GPUs
-- that free up go to it. Of such jobs the one queued first holds it; CPU jobs are never held back.

-- public.job_submit takes the GPU request (checked by lab_private.check_gpu_request, 20261201000600) in one
-- definition with the queue options and the Slurm request: 20261201000710_lab_slurm_submit.sql.

-- The GPUs of p_view (the agent's probe: { gpus: [{ uuid, index, model, memory_free_mib, busy,
-- usable }], problem }) that a job may get now: usable, no compute process on them, not leased.
-- Leases whose job's agent has been silent p_stale_s and whose GPU shows no process are taken back
-- first (the agent and the process are gone).
create or replace function lab_private.free_gpus(p_host text, p_view jsonb, p_stale_s int) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v jsonb;
begin
  delete from public.gpu_leases l
    using jsonb_array_elements(coalesce(p_view -> 'gpus', '[]'::jsonb)) g
    where l.host = p_host and l.gpu_uuid = g ->> 'uuid' and not coalesce((g ->> 'busy')::boolean, true)
      and not exists (
        select 1 from public.jobs j left join public.agents a on a.agent_id = j.agent_id
        where j.job_id = l.job_id and j.status in ('claimed', 'running')
          and greatest(j.heartbeat_at, j.claimed_at, a.heartbeat_at) > now() - make_interval(secs => p_stale_s));
  select coalesce(jsonb_agg(g order by (g ->> 'index')::int), '[]'::jsonb) into v
    from jsonb_array_elements(coalesce(p_view -> 'gpus', '[]'::jsonb)) g
    where coalesce((g ->> 'usable')::boolean, false) and not coalesce((g ->> 'busy')::boolean, true)
      and not exists (select 1 from public.gpu_leases l where l.host = p_host and l.gpu_uuid = g ->> 'uuid');
  return v;
end
$$;

-- The GPUs of p_gpus that fit job j's memory and model.
create or replace function lab_private.gpus_matching(j public.jobs, p_gpus jsonb) returns jsonb
  language sql stable set search_path = '' as $$
  select coalesce(jsonb_agg(g order by (g ->> 'index')::int), '[]'::jsonb)
  from jsonb_array_elements(coalesce(p_gpus, '[]'::jsonb)) g
  where (j.gpu_mem_mib is null or coalesce((g ->> 'memory_free_mib')::int, 0) >= j.gpu_mem_mib)
    and (j.gpu_model is null or g ->> 'model' like lab_private.gpu_model_like(j.gpu_model))
$$;

-- How many of the host's usable GPUs (busy or not) fit job j: fewer than it asks for, and it can
-- never start there (it waits with that reason, and never reserves the host).
create or replace function lab_private.gpus_fitting_host(j public.jobs, p_view jsonb) returns int
  language sql stable set search_path = '' as $$
  select jsonb_array_length(lab_private.gpus_matching(j, (select coalesce(jsonb_agg(g), '[]'::jsonb)
    from jsonb_array_elements(coalesce(p_view -> 'gpus', '[]'::jsonb)) g where coalesce((g ->> 'usable')::boolean, false))))
$$;

-- Why job j waits for GPUs on p_host, in the member's words.
create or replace function lab_private.gpu_wait_reason(j public.jobs, p_host text, p_view jsonb, p_free int,
  p_held_by timestamptz) returns text
  language plpgsql stable set search_path = '' as $$
declare
  v_what text := format('%s free GPU%s', j.gpus, case when j.gpus = 1 then '' else 's' end)
    || case when j.gpu_model is null then '' else format(' matching %s', j.gpu_model) end
    || case when j.gpu_mem_mib is null then '' else format(' with %s MiB free', j.gpu_mem_mib) end;
  v_all int := lab_private.gpus_fitting_host(j, p_view);
begin
  if p_view is null or jsonb_array_length(coalesce(p_view -> 'gpus', '[]'::jsonb)) = 0 then
    return format('waiting for %s on %s: the agent there sees no GPU (%s)', v_what, p_host,
      coalesce(p_view ->> 'problem', 'no GPU information'));
  end if;
  if v_all < j.gpus then
    return format('waiting for %s: %s has only %s usable GPU%s that fit%s', v_what, p_host, v_all,
      case when v_all = 1 then '' else 's' end, case when j.host is null then ' (another host may)' else '' end);
  end if;
  if p_held_by is not null then
    return format('waiting for %s on %s: %s free, held for a GPU job waiting since %s', v_what, p_host, p_free,
      to_char(p_held_by at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
  end if;
  return format('waiting for %s on %s: %s free', v_what, p_host, p_free);
end
$$;

-- The job holding p_host's reservation: of the GPU jobs (any member's) that have waited p_after_s
-- there and whose agent still tries them (seen within p_stale_s), the one queued first. (Queue
-- order, not the start of the wait: jobs queued behind a full host all start waiting at once.)
create or replace function lab_private.gpu_reservation(p_host text, p_after_s int, p_stale_s int)
  returns public.jobs language sql stable security definer set search_path = '' as $$
  select * from public.jobs
  where status = 'pending' and gpus > 0 and gpu_wait_host = p_host
    and gpu_wait_since <= now() - make_interval(secs => p_after_s)
    and gpu_wait_seen > now() - make_interval(secs => p_stale_s)
  order by created_at, job_id limit 1
$$;

-- The claim (issue 17): ready jobs only (dependencies met, inside their sweep's limit, retry delay
-- over, host not drained), higher priority first, then FIFO per member; capacity of a sweep was
-- reserved when its cells were released (held = false), so the claim needs no look at sweeps.
-- p_default_retries: this agent's LAB_JOB_RETRIES, for jobs that did not say. Placing GPU jobs
-- (issue 16): SKIP LOCKED hands each ready row to one claimer only; a GPU job is claimed only with
-- its leases, which one transaction per host takes at a time (the advisory lock), so two members'
-- agents never lease one GPU. p_gpus: null when the agent did not look (then GPU jobs wait);
-- {"placement": "scheduler"} on a Slurm agent (then Slurm places them).
drop function if exists public.job_claim(uuid, text, int, uuid);
create or replace function public.job_claim(p_agent_id uuid, p_host text, p_limit int default 1,
  p_default_retries int default 0, p_gpus jsonb default null, p_gpu_reserve_after_s int default 600,
  p_gpu_lease_stale_s int default 600, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := lab_private.acting_user(p_user_id);
  v_out jsonb := '[]'::jsonb;
  v_free jsonb;
  v_fit jsonb;
  v_take text[];
  v_held public.jobs;
  v_reason text;
  v_id uuid;
  j public.jobs;
begin
  if lab_private.is_drained(v_uid, p_host) then
    return '[]'::jsonb;
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('agent_id', p_agent_id, 'host', p_host));
  -- The queue is read without locks and each row locked as it is taken: a cursor FOR UPDATE would
  -- lock the rows it fetches ahead, and concurrent claimers would skip them out of queue order.
  for v_id in
    select job_id from public.jobs
    where user_id = v_uid and status = 'pending' and deps_left = 0 and not held
      and (host is null or host = p_host) and (not_before is null or not_before <= now())
    order by priority desc, seq
  loop
    exit when jsonb_array_length(v_out) >= greatest(p_limit, 0);
    select * into j from public.jobs where job_id = v_id and status = 'pending' and deps_left = 0 and not held
      for update skip locked;
    continue when not found;
    -- An agent whose jobs a cluster scheduler places (LAB_EXECUTOR=slurm) says so in p_gpus
    -- ({"placement": "scheduler"}): the GPUs are the scheduler's to give, no host lease is taken.
    if j.gpus > 0 and (p_gpus ->> 'placement') is distinct from 'scheduler' then
      if v_free is null then
        perform pg_advisory_xact_lock(hashtext('lab-gpu-host:' || p_host));
        -- At least 5 minutes, whatever the caller says: a member's agent cannot take back the lease
        -- of another's job whose agent is merely between two cron ticks.
        v_free := lab_private.free_gpus(p_host, p_gpus, greatest(coalesce(p_gpu_lease_stale_s, 600), 300));
        v_held := lab_private.gpu_reservation(p_host, greatest(coalesce(p_gpu_reserve_after_s, 600), 0),
          greatest(coalesce(p_gpu_lease_stale_s, 600), 300));
      end if;
      v_fit := lab_private.gpus_matching(j, v_free);
      if jsonb_array_length(v_fit) < j.gpus or (v_held.job_id is not null and v_held.job_id <> j.job_id) then
        v_reason := lab_private.gpu_wait_reason(j, p_host, p_gpus, jsonb_array_length(v_fit),
          case when v_held.job_id <> j.job_id then v_held.gpu_wait_since end);
        if lab_private.gpus_fitting_host(j, p_gpus) < j.gpus then
          update public.jobs set pending_reason = v_reason where job_id = j.job_id and pending_reason is distinct from v_reason;
        else
          update public.jobs set pending_reason = v_reason, gpu_wait_seen = now(),
            gpu_wait_since = case when gpu_wait_host = p_host then coalesce(gpu_wait_since, now()) else now() end,
            gpu_wait_host = p_host
            where job_id = j.job_id;
        end if;
        continue;
      end if;
      select array_agg(g ->> 'uuid' order by (g ->> 'index')::int) into v_take
        from (select g from jsonb_array_elements(v_fit) g limit j.gpus) s;
      insert into public.gpu_leases (host, gpu_uuid, job_id, user_id, agent_id)
        select p_host, u, j.job_id, v_uid, p_agent_id from unnest(v_take) u;
      select coalesce(jsonb_agg(g), '[]'::jsonb) into v_free from jsonb_array_elements(v_free) g
        where not (g ->> 'uuid' = any (v_take));
      v_held := null;  -- it was this job's reservation (or there was none)
    end if;
    update public.jobs set status = 'claimed', claimed_at = now(), agent_id = p_agent_id,
      run_host = p_host, claim_count = claim_count + 1,
      retries = coalesce(retries, least(greatest(coalesce(p_default_retries, 0), 0), 100)),
      gpu_uuids = v_take, cuda_visible_devices = array_to_string(v_take, ','),
      pending_reason = null, gpu_wait_host = null, gpu_wait_since = null, gpu_wait_seen = null
      where job_id = j.job_id returning * into j;
    v_out := v_out || jsonb_build_array(to_jsonb(j));
    v_take := null;
  end loop;
  perform lab_private.set_event_detail(null);
  return v_out;
end
$$;

-- Execute rights: a signed-in member and the service key only, never anon or public.
revoke all on function public.job_claim(uuid, text, int, int, jsonb, int, int, uuid) from public, anon;
grant execute on function public.job_claim(uuid, text, int, int, jsonb, int, int, uuid) to authenticated, service_role;
-- The helpers are called by the functions above only: a member calling free_gpus directly could
-- end another member's lease.
revoke all on function lab_private.release_gpu_leases(), lab_private.check_new_job_gpus(),
  lab_private.check_gpu_request(int, int, text), lab_private.gpu_model_like(text),
  lab_private.free_gpus(text, jsonb, int), lab_private.gpus_matching(public.jobs, jsonb),
  lab_private.gpus_fitting_host(public.jobs, jsonb), lab_private.gpu_wait_reason(public.jobs, text, jsonb, int, timestamptz),
  lab_private.gpu_reservation(text, int, int) from public, anon, authenticated;
