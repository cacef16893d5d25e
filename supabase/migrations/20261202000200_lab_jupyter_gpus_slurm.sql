-- Jupyter sessions ask for GPUs the way jobs do (issue 16), and run as Slurm batch jobs on a Slurm
-- agent (issue 18).
--
-- GPUs: a session asks for `gpus` (a count), optionally a minimum free memory per GPU and a model
-- pattern (jupyter start --gpus 2 --gpu-mem 40G --gpu-model 'A100*'). On a local agent the claim
-- leases them exactly as job_claim does (same free GPUs, same host lock, same reservation of a host
-- by a GPU job that has waited long enough), in the same gpu_leases table: a lease is a job's or a
-- session's. A session whose GPUs are not free stays pending with its reason. The lease ends when
-- the session is stopped or failed. On a Slurm agent (p_gpus = {"placement": "scheduler"}) Slurm
-- places them (--gres): nothing is leased.
--
-- Slurm: the claim records which executor runs the session (so a restarted agent with another
-- LAB_EXECUTOR never starts it a second time elsewhere); jupyter_slurm_update keeps the Slurm job
-- id, what Slurm last said (PENDING (Resources) …) and the compute node on the row.

alter table public.jupyter_sessions
  add column if not exists gpus int not null default 0,
  add column if not exists gpu_mem_mib int,
  add column if not exists gpu_model text,
  add column if not exists gpu_uuids text[],
  add column if not exists cuda_visible_devices text,
  add column if not exists pending_reason text,
  add column if not exists executor text,
  add column if not exists slurm_job_id text,
  add column if not exists slurm_state text,
  add column if not exists slurm_reason text,
  add column if not exists slurm_node text;

alter table public.jupyter_sessions drop constraint if exists lab_jupyter_gpu_request_check;
alter table public.jupyter_sessions add constraint lab_jupyter_gpu_request_check check (
  gpus between 0 and 64
  and (gpu_mem_mib is null or gpu_mem_mib between 1 and 16777216)
  and (gpu_model is null or length(gpu_model) between 1 and 100));
alter table public.jupyter_sessions drop constraint if exists lab_jupyter_executor_check;
alter table public.jupyter_sessions add constraint lab_jupyter_executor_check check (executor is null or executor in ('local', 'slurm'));
alter table public.jupyter_sessions drop constraint if exists lab_jupyter_slurm_id_check;
alter table public.jupyter_sessions add constraint lab_jupyter_slurm_id_check check (slurm_job_id is null or slurm_job_id ~ '^[0-9]+(_[0-9]+)?$');

-- Rows written directly (a dashboard, Studio) ask the same way, with the same checks and never with
-- GPUs of their own choosing (the trigger function is the jobs' one: it reads the same columns).
grant insert (gpus, gpu_mem_mib, gpu_model) on public.jupyter_sessions to authenticated;
drop trigger if exists lab_jupyter_check_gpus on public.jupyter_sessions;
create trigger lab_jupyter_check_gpus before insert on public.jupyter_sessions
  for each row execute function lab_private.check_new_job_gpus();

-- A lease belongs to a job or to a session.
alter table public.gpu_leases alter column job_id drop not null;
alter table public.gpu_leases add column if not exists session_id uuid references public.jupyter_sessions (session_id) on delete cascade;
alter table public.gpu_leases drop constraint if exists lab_gpu_leases_holder_check;
alter table public.gpu_leases add constraint lab_gpu_leases_holder_check check (num_nonnulls(job_id, session_id) = 1);
create index if not exists gpu_leases_session_idx on public.gpu_leases (session_id) where session_id is not null;

-- A session that has ended gives its GPUs back, whichever function ended it.
create or replace function lab_private.release_session_gpu_leases() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if new.status in ('stopped', 'failed', 'pending') and old.status in ('starting', 'running', 'stopping') then
    delete from public.gpu_leases where session_id = new.session_id;
  end if;
  return null;
end
$$;
drop trigger if exists lab_jupyter_release_gpus on public.jupyter_sessions;
create trigger lab_jupyter_release_gpus after update of status on public.jupyter_sessions
  for each row execute function lab_private.release_session_gpu_leases();

-- As 20261201000610's free_gpus, with sessions' leases: one is taken back only when its session's
-- agent has been silent p_stale_s too (and the GPU shows no process).
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
          and greatest(j.heartbeat_at, j.claimed_at, a.heartbeat_at) > now() - make_interval(secs => p_stale_s))
      and not exists (
        select 1 from public.jupyter_sessions s left join public.agents a on a.agent_id = s.agent_id
        where s.session_id = l.session_id and s.status in ('starting', 'running', 'stopping')
          and greatest(s.updated_at, a.heartbeat_at) > now() - make_interval(secs => p_stale_s));
  select coalesce(jsonb_agg(g order by (g ->> 'index')::int), '[]'::jsonb) into v
    from jsonb_array_elements(coalesce(p_view -> 'gpus', '[]'::jsonb)) g
    where coalesce((g ->> 'usable')::boolean, false) and not coalesce((g ->> 'busy')::boolean, true)
      and not exists (select 1 from public.gpu_leases l where l.host = p_host and l.gpu_uuid = g ->> 'uuid');
  return v;
end
$$;

-- A session's GPU request in the shape the jobs' placement helpers read (gpus_matching,
-- gpus_fitting_host, gpu_wait_reason): one rule for both.
create or replace function lab_private.session_gpu_request(s public.jupyter_sessions) returns public.jobs
  language sql stable set search_path = '' as $$
  select jsonb_populate_record(null::public.jobs, jsonb_build_object(
    'gpus', s.gpus, 'gpu_mem_mib', s.gpu_mem_mib, 'gpu_model', s.gpu_model, 'host', s.host))
$$;

drop function if exists public.jupyter_request(text, text, text, uuid);
create or replace function public.jupyter_request(p_dir text default null, p_host text default null,
  p_app text default null, p_user_id uuid default null, p_gpus int default 0, p_gpu_mem_mib int default null,
  p_gpu_model text default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  perform lab_private.check_gpu_request(p_gpus, p_gpu_mem_mib, p_gpu_model);
  insert into public.jupyter_sessions (user_id, status, dir, host, app, gpus, gpu_mem_mib, gpu_model)
    values (v_uid, 'pending', p_dir, p_host, p_app, coalesce(p_gpus, 0), p_gpu_mem_mib, p_gpu_model) returning * into s;
  return to_jsonb(s);
end
$$;

-- As 20261201000520's jupyter_claim (drained hosts start nothing), placing GPU sessions as job_claim
-- places GPU jobs, and recording the executor (p_executor: 'local' or 'slurm').
drop function if exists public.jupyter_claim(uuid, text, int, uuid);
create or replace function public.jupyter_claim(p_agent_id uuid, p_host text, p_limit int default 1,
  p_user_id uuid default null, p_executor text default null, p_gpus jsonb default null,
  p_gpu_reserve_after_s int default 600, p_gpu_lease_stale_s int default 600) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := lab_private.acting_user(p_user_id);
  v_out jsonb := '[]'::jsonb;
  v_free jsonb;
  v_fit jsonb;
  v_take text[];
  v_held public.jobs;
  v_want public.jobs;
  v_reason text;
  v_id uuid;
  s public.jupyter_sessions;
begin
  if p_executor is not null and p_executor not in ('local', 'slurm') then
    raise exception 'lab: unknown executor % (local or slurm)', p_executor using errcode = '22023';
  end if;
  if lab_private.is_drained(v_uid, p_host) then
    return '[]'::jsonb;
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('agent_id', p_agent_id, 'host', p_host));
  for v_id in
    select session_id from public.jupyter_sessions
    where user_id = v_uid and status = 'pending' and (host is null or host = p_host)
    order by created_at, session_id
  loop
    exit when jsonb_array_length(v_out) >= greatest(p_limit, 0);
    select * into s from public.jupyter_sessions where session_id = v_id and status = 'pending' for update skip locked;
    continue when not found;
    if s.gpus > 0 and (p_gpus ->> 'placement') is distinct from 'scheduler' then
      v_want := lab_private.session_gpu_request(s);
      if v_free is null then
        perform pg_advisory_xact_lock(hashtext('lab-gpu-host:' || p_host));
        v_free := lab_private.free_gpus(p_host, p_gpus, greatest(coalesce(p_gpu_lease_stale_s, 600), 300));
        v_held := lab_private.gpu_reservation(p_host, greatest(coalesce(p_gpu_reserve_after_s, 600), 0),
          greatest(coalesce(p_gpu_lease_stale_s, 600), 300));
      end if;
      v_fit := lab_private.gpus_matching(v_want, v_free);
      -- A GPU job that has waited long enough holds the host: a session waits behind it too.
      if jsonb_array_length(v_fit) < s.gpus or v_held.job_id is not null then
        v_reason := lab_private.gpu_wait_reason(v_want, p_host, p_gpus, jsonb_array_length(v_fit), v_held.gpu_wait_since);
        update public.jupyter_sessions set pending_reason = v_reason
          where session_id = s.session_id and pending_reason is distinct from v_reason;
        continue;
      end if;
      select array_agg(g ->> 'uuid' order by (g ->> 'index')::int) into v_take
        from (select g from jsonb_array_elements(v_fit) g limit s.gpus) t;
      insert into public.gpu_leases (host, gpu_uuid, session_id, user_id, agent_id)
        select p_host, u, s.session_id, v_uid, p_agent_id from unnest(v_take) u;
      select coalesce(jsonb_agg(g), '[]'::jsonb) into v_free from jsonb_array_elements(v_free) g
        where not (g ->> 'uuid' = any (v_take));
    end if;
    update public.jupyter_sessions set status = 'starting', agent_id = p_agent_id, run_host = p_host,
      executor = p_executor, gpu_uuids = v_take, cuda_visible_devices = array_to_string(v_take, ','),
      pending_reason = null
      where session_id = s.session_id returning * into s;
    v_out := v_out || jsonb_build_array(to_jsonb(s));
    v_take := null;
  end loop;
  perform lab_private.set_event_detail(null);
  return v_out;
end
$$;

-- What Slurm says of a session's batch job: its id (once known, never replaced), state, reason and
-- compute node. An event (starting → starting, action 'slurm') when one of them changes.
create or replace function public.jupyter_slurm_update(p_session_id uuid, p_slurm_job_id text default null,
  p_state text default null, p_reason text default null, p_node text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status not in ('starting', 'running', 'stopping') then
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'update the Slurm state of', 'starting, running or stopping');
  end if;
  if s.slurm_job_id is not null and p_slurm_job_id is not null and p_slurm_job_id <> s.slurm_job_id then
    raise exception 'lab: Jupyter session % is Slurm job %, not %', p_session_id, s.slurm_job_id, p_slurm_job_id using errcode = '55000';
  end if;
  if s.executor is not distinct from 'slurm' and p_slurm_job_id is not distinct from s.slurm_job_id
     and p_state is not distinct from s.slurm_state and p_reason is not distinct from s.slurm_reason
     and (p_node is null or p_node is not distinct from s.slurm_node) then
    return to_jsonb(s);
  end if;
  insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
    values (s.user_id, 'jupyter', s.session_id, s.status, s.status, jsonb_strip_nulls(jsonb_build_object(
      'action', 'slurm', 'slurm_job_id', coalesce(p_slurm_job_id, s.slurm_job_id), 'state', p_state, 'reason', p_reason, 'node', p_node)));
  update public.jupyter_sessions set executor = 'slurm', slurm_job_id = coalesce(p_slurm_job_id, slurm_job_id),
    slurm_state = p_state, slurm_reason = p_reason, slurm_node = coalesce(p_node, slurm_node)
    where session_id = p_session_id returning * into s;
  return to_jsonb(s);
end
$$;

revoke all on function public.jupyter_request(text, text, text, uuid, int, int, text) from public, anon;
grant execute on function public.jupyter_request(text, text, text, uuid, int, int, text) to authenticated, service_role;
revoke all on function public.jupyter_claim(uuid, text, int, uuid, text, jsonb, int, int) from public, anon;
grant execute on function public.jupyter_claim(uuid, text, int, uuid, text, jsonb, int, int) to authenticated, service_role;
revoke all on function public.jupyter_slurm_update(uuid, text, text, text, text, uuid) from public, anon;
grant execute on function public.jupyter_slurm_update(uuid, text, text, text, text, uuid) to authenticated, service_role;
-- Called by the functions above only (a member calling free_gpus could end another's lease).
revoke all on function lab_private.release_session_gpu_leases(), lab_private.free_gpus(text, jsonb, int),
  lab_private.session_gpu_request(public.jupyter_sessions) from public, anon, authenticated;
