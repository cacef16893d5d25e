-- Issue 17 / 16, session 3: GPU requests for sweeps and schedules, what the supervisor needs to wake
-- at the next due time by itself, and drains in the hosts view.
--   * sweeps and schedules keep the GPU request (gpus, gpu_mem_mib, gpu_model) their jobs ask for;
--     new_job takes it from the spec, so every cell of a sweep and every fired job asks the same way
--     as job_submit (checked by the same lab_private.check_gpu_request);
--   * jobs_for_agent says the database's clock (db_now) and a next_wake_at strictly in the future
--     (a schedule due now is in schedules_due and fired by the pass reading it): the supervisor waits
--     min(poll interval, next_wake_at - db_now) without trusting this host's clock;
--   * a new or resumed schedule (or one moved earlier) wakes the member's agents (NOTIFY), so one
--     added while the supervisor sleeps on a long poll interval is not late;
--   * hosts_list says, per host, whether it is drained for the caller (their own drain or the lab's;
--     never another member's).

-- GPU requests on sweeps and schedules ---------------------------------------------------------------
alter table public.sweeps
  add column if not exists gpus int not null default 0,
  add column if not exists gpu_mem_mib int,
  add column if not exists gpu_model text;
alter table public.schedules
  add column if not exists gpus int not null default 0,
  add column if not exists gpu_mem_mib int,
  add column if not exists gpu_model text;

do $$
declare t text;
begin
  foreach t in array array['sweeps', 'schedules'] loop
    if not exists (select 1 from pg_constraint where conname = t || '_gpu_request_check') then
      execute format('alter table public.%I add constraint %I check (gpus between 0 and 64
        and (gpu_mem_mib is null or gpu_mem_mib between 1 and 16777216)
        and (gpu_model is null or length(gpu_model) between 1 and 100))', t, t || '_gpu_request_check');
    end if;
  end loop;
end
$$;

-- As in 20261201000510, and the job's GPU request from the spec (gpus, gpu_mem_mib, gpu_model):
-- checked by the insert trigger lab_jobs_check_gpus.
create or replace function lab_private.new_job(p_uid uuid, p_spec jsonb, p_deps jsonb default '[]',
  p_after_any boolean default false) returns public.jobs
  language plpgsql set search_path = '' as $$
declare
  j public.jobs;
  v_bad record;
  v_left int;
begin
  if coalesce(p_spec ->> 'script_path', '') = '' and p_spec ->> 'script_id' is null then
    raise exception 'lab: a job needs a script path or a script id' using errcode = '22023';
  end if;
  select count(distinct d.after_job_id) filter (where not lab_private.is_ended(d.status)) into v_left
    from jsonb_to_recordset(coalesce(p_deps, '[]')) as d(after_job_id uuid, via_sweep_id uuid, status text, error text);
  insert into public.jobs (user_id, script_id, script_path, args, host, timeout_s, priority, retries, retry_delay_s,
      deps_left, after_any, held, sweep_id, sweep_index, sweep_params, schedule_id, scheduled_for,
      gpus, gpu_mem_mib, gpu_model)
    values (p_uid, (p_spec ->> 'script_id')::bigint, p_spec ->> 'script_path', p_spec ->> 'args', p_spec ->> 'host',
      (p_spec ->> 'timeout_s')::int, coalesce((p_spec ->> 'priority')::int, 0), (p_spec ->> 'retries')::int,
      (p_spec ->> 'retry_delay_s')::int, v_left, coalesce(p_after_any, false), coalesce((p_spec ->> 'held')::boolean, false),
      (p_spec ->> 'sweep_id')::uuid, (p_spec ->> 'sweep_index')::int, p_spec -> 'sweep_params',
      (p_spec ->> 'schedule_id')::uuid, (p_spec ->> 'scheduled_for')::timestamptz,
      coalesce((p_spec ->> 'gpus')::int, 0), (p_spec ->> 'gpu_mem_mib')::int, p_spec ->> 'gpu_model')
    returning * into j;
  if jsonb_array_length(coalesce(p_deps, '[]')) > 0 then
    insert into public.job_deps (job_id, after_job_id, user_id, via_sweep_id)
      select distinct on (d.after_job_id) j.job_id, d.after_job_id, p_uid, d.via_sweep_id
      from jsonb_to_recordset(p_deps) as d(after_job_id uuid, via_sweep_id uuid, status text, error text);
    if not p_after_any then
      select d.after_job_id, d.status, d.error into v_bad
        from jsonb_to_recordset(p_deps) as d(after_job_id uuid, via_sweep_id uuid, status text, error text)
        where d.status in ('failed', 'cancelled') limit 1;
      if found then
        perform lab_private.set_event_detail(jsonb_build_object('reason', 'dependency', 'after', v_bad.after_job_id));
        update public.jobs set status = 'cancelled', finished_at = now(),
          error = format('cancelled: job %s, which it waits for, %s', left(v_bad.after_job_id::text, 8),
            case v_bad.status when 'failed' then 'failed (' || coalesce(left(v_bad.error, 200), 'failed') || ')' else 'was cancelled' end)
          where job_id = j.job_id returning * into j;
        perform lab_private.set_event_detail(null);
        return j;
      end if;
    end if;
  end if;
  if j.deps_left > 0 or j.held or j.host is not null then
    update public.jobs set pending_reason = lab_private.pending_reason_of(j) where job_id = j.job_id returning * into j;
  end if;
  return j;
end
$$;

-- A sweep's cells ask for the sweep's GPUs (the parameters after p_user_id: calls by position keep
-- their meaning).
drop function if exists public.sweep_submit(text, jsonb, text, jsonb, int, text, int, bigint, int, int, int, jsonb, boolean, boolean, uuid);
create or replace function public.sweep_submit(p_script_path text, p_cells jsonb, p_args text default null,
  p_axes jsonb default null, p_max_parallel int default null, p_host text default null, p_timeout_s int default null,
  p_script_id bigint default null, p_priority int default 0, p_retries int default null, p_retry_delay_s int default null,
  p_after jsonb default null, p_after_any boolean default false, p_notify_each boolean default false,
  p_user_id uuid default null, p_gpus int default 0, p_gpu_mem_mib int default null, p_gpu_model text default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := lab_private.acting_user(p_user_id);
  v_path text := p_script_path;
  v_base jsonb := jsonb_build_object('script_path', p_script_path, 'host', p_host, 'timeout_s', p_timeout_s,
    'script_id', p_script_id, 'priority', p_priority, 'retries', p_retries, 'retry_delay_s', p_retry_delay_s,
    'gpus', coalesce(p_gpus, 0), 'gpu_mem_mib', p_gpu_mem_mib, 'gpu_model', p_gpu_model);
  v_deps jsonb;
  v_cell jsonb;
  v_i int;
  s public.sweeps;
begin
  perform lab_private.check_job_options(v_base);
  perform lab_private.check_gpu_request(p_gpus, p_gpu_mem_mib, p_gpu_model);
  if jsonb_typeof(p_cells) is distinct from 'array' or jsonb_array_length(p_cells) = 0 then
    raise exception 'lab: a sweep needs at least one cell' using errcode = '22023';
  end if;
  if jsonb_array_length(p_cells) > 10000 then
    raise exception 'lab: a sweep has at most 10000 cells (this one has %)', jsonb_array_length(p_cells) using errcode = '22023';
  end if;
  if p_max_parallel is not null and p_max_parallel < 1 then
    raise exception 'lab: max-parallel must be at least 1 (got %)', p_max_parallel using errcode = '22023';
  end if;
  if p_axes is not null and jsonb_typeof(p_axes) <> 'array' then
    raise exception 'lab: the sweep''s axes must be a list' using errcode = '22023';
  end if;
  if coalesce(v_path, '') = '' and p_script_id is not null then
    select sc.path into v_path from public.scripts sc where sc.script_id = p_script_id and sc.user_id = v_uid;
  end if;
  if coalesce(v_path, '') = '' then
    raise exception 'lab: a sweep needs a script path or one of your script ids' using errcode = '22023';
  end if;
  v_deps := lab_private.after_list(v_uid, p_after);
  insert into public.sweeps (user_id, script_path, args, axes, cells, max_parallel, notify_each, gpus, gpu_mem_mib, gpu_model)
    values (v_uid, v_path, p_args, coalesce(p_axes, '[]'::jsonb), jsonb_array_length(p_cells), p_max_parallel,
            coalesce(p_notify_each, false), coalesce(p_gpus, 0), p_gpu_mem_mib, p_gpu_model)
    returning * into s;
  for v_cell, v_i in select e.value, e.ordinality - 1 from jsonb_array_elements(p_cells) with ordinality e loop
    if jsonb_typeof(v_cell) <> 'object' or jsonb_typeof(coalesce(v_cell -> 'params', '{}')) <> 'object'
       or jsonb_typeof(coalesce(v_cell -> 'args', 'null')) not in ('string', 'null') then
      raise exception 'lab: sweep cell % must be {"args": text, "params": {…}}', v_i + 1 using errcode = '22023';
    end if;
    perform lab_private.new_job(v_uid, v_base || jsonb_build_object('args', v_cell ->> 'args', 'sweep_id', s.sweep_id,
      'sweep_index', v_i, 'sweep_params', coalesce(v_cell -> 'params', '{}'::jsonb),
      'held', p_max_parallel is not null and v_i >= p_max_parallel), v_deps, p_after_any);
  end loop;
  return lab_private.sweep_view(v_uid, s.sweep_id);
end
$$;

-- A schedule keeps the GPU request each job it fires asks for.
drop function if exists public.schedule_add(text, text, timestamptz, text, text, text, int, int, int, int, int, uuid);
create or replace function public.schedule_add(p_cron text, p_script_path text, p_next_due_at timestamptz,
  p_time_zone text default null, p_args text default null, p_host text default null, p_timeout_s int default null,
  p_priority int default 0, p_retries int default null, p_retry_delay_s int default null, p_catch_up int default 1,
  p_user_id uuid default null, p_gpus int default 0, p_gpu_mem_mib int default null, p_gpu_model text default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v_tz text := p_time_zone; s public.schedules;
begin
  perform lab_private.check_cron(p_cron);
  if coalesce(p_script_path, '') = '' then
    raise exception 'lab: a schedule needs a script path' using errcode = '22023';
  end if;
  perform lab_private.check_job_options(jsonb_build_object('retries', p_retries, 'retry_delay_s', p_retry_delay_s, 'timeout_s', p_timeout_s));
  perform lab_private.check_gpu_request(p_gpus, p_gpu_mem_mib, p_gpu_model);
  if v_tz is null then
    select u.time_zone into v_tz from public.users u where u.user_id = v_uid;
  end if;
  perform lab_private.check_time_zone(v_tz);
  if coalesce(p_catch_up, 1) not between 0 and 100 then
    raise exception 'lab: catch-up must be between 0 and 100 missed runs (got %)', p_catch_up using errcode = '22023';
  end if;
  if p_next_due_at is null or p_next_due_at <= now() then
    raise exception 'lab: the first due time must be in the future (got %)', p_next_due_at using errcode = '22023';
  end if;
  insert into public.schedules (user_id, cron, time_zone, script_path, args, host, timeout_s, priority, retries,
      retry_delay_s, catch_up, next_due_at, gpus, gpu_mem_mib, gpu_model)
    values (v_uid, btrim(p_cron), v_tz, p_script_path, p_args, p_host, p_timeout_s, coalesce(p_priority, 0), p_retries,
      p_retry_delay_s, coalesce(p_catch_up, 1), p_next_due_at, coalesce(p_gpus, 0), p_gpu_mem_mib, p_gpu_model)
    returning * into s;
  return to_jsonb(s);
end
$$;

-- As in 20261201000540; each job it makes asks for the schedule's GPUs.
create or replace function public.schedule_fire(p_schedule_id uuid, p_due_at timestamptz, p_due_times jsonb,
  p_next_due_at timestamptz, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := lab_private.acting_user(p_user_id);
  s public.schedules;
  v_times timestamptz[];
  v_run timestamptz[];
  v_t timestamptz;
  v_jobs jsonb := '[]'::jsonb;
  j public.jobs;
begin
  s := lab_private.locked_schedule(p_schedule_id, v_uid);
  if s.paused_at is not null or s.next_due_at is distinct from p_due_at or s.next_due_at > now() then
    return jsonb_build_object('fired', false, 'jobs', '[]'::jsonb, 'next_due_at', s.next_due_at,
      'reason', case when s.paused_at is not null then 'paused'
                     when s.next_due_at is distinct from p_due_at then 'fired by another agent' else 'not due' end);
  end if;
  if jsonb_typeof(p_due_times) is distinct from 'array' then
    raise exception 'lab: the due times must be a list' using errcode = '22023';
  end if;
  select array_agg(distinct t order by t) into v_times
    from (select (jsonb_array_elements_text(p_due_times))::timestamptz as t) x;
  if v_times is null or v_times[1] < s.next_due_at or v_times[cardinality(v_times)] > now() then
    raise exception 'lab: due times must lie between the schedule''s next due time % and now', s.next_due_at using errcode = '22023';
  end if;
  if p_next_due_at is null or p_next_due_at <= now() then
    raise exception 'lab: the next due time must be in the future (got %)', p_next_due_at using errcode = '22023';
  end if;
  -- On time: within the grace. Missed: the latest catch_up of the older ones.
  select array_agg(t order by t) into v_run from (
    select t from unnest(v_times) t where t >= now() - lab_private.schedule_grace()
    union
    select t from (select t from unnest(v_times) t where t < now() - lab_private.schedule_grace()
                   order by t desc limit s.catch_up) m) r;
  foreach v_t in array coalesce(v_run, '{}') loop
    perform lab_private.set_event_detail(jsonb_build_object('schedule_id', s.schedule_id, 'scheduled_for', v_t));
    j := lab_private.new_job(v_uid, jsonb_build_object('script_path', s.script_path, 'args', s.args, 'host', s.host,
      'timeout_s', s.timeout_s, 'priority', s.priority, 'retries', s.retries, 'retry_delay_s', s.retry_delay_s,
      'schedule_id', s.schedule_id, 'scheduled_for', v_t, 'gpus', s.gpus, 'gpu_mem_mib', s.gpu_mem_mib, 'gpu_model', s.gpu_model));
    v_jobs := v_jobs || to_jsonb(j);
  end loop;
  perform lab_private.set_event_detail(null);
  update public.schedules set next_due_at = p_next_due_at, last_fired_at = now(),
    last_job_id = coalesce(j.job_id, last_job_id), runs = runs + coalesce(cardinality(v_run), 0),
    skipped = skipped + cardinality(v_times) - coalesce(cardinality(v_run), 0)
    where schedule_id = p_schedule_id returning * into s;
  return jsonb_build_object('fired', true, 'jobs', v_jobs, 'skipped', cardinality(v_times) - coalesce(cardinality(v_run), 0),
    'next_due_at', s.next_due_at);
end
$$;

-- Waking the supervisor at the next due time ---------------------------------------------------------
-- The agents' wake-up for "something may have become due" (a resume, a schedule): action "wake".
create or replace function lab_private.wake_member(p_uid uuid) returns void
  language sql set search_path = '' as $$
  select pg_notify(lab_private.wake_channel_of(p_uid), '{"subject":"job","action":"wake"}')
$$;

-- A schedule that is new, resumed, or due earlier than before: the member's agents look again now
-- (and from then on wait until its due time). A schedule that fires moves later: no wake-up.
create or replace function lab_private.wake_on_schedule() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if new.paused_at is null and (tg_op = 'INSERT' or old.paused_at is not null or new.next_due_at < old.next_due_at) then
    perform lab_private.wake_member(new.user_id);
  end if;
  return null;
end
$$;
drop trigger if exists lab_schedules_wake on public.schedules;
create trigger lab_schedules_wake after insert or update of next_due_at, paused_at on public.schedules
  for each row execute function lab_private.wake_on_schedule();

-- As in 20261201000520, with db_now (the database's clock) and a next_wake_at strictly after it.
create or replace function public.jobs_for_agent(p_host text, p_user_id uuid default null) returns jsonb
  language plpgsql stable security invoker set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v_drained boolean := lab_private.is_drained(v_uid, p_host);
begin
  return jsonb_build_object(
    'active', coalesce((select jsonb_agg(to_jsonb(j) order by j.created_at) from public.jobs j
       where j.user_id = v_uid and j.status in ('claimed', 'running') and j.run_host = p_host), '[]'::jsonb),
    'notify_due', coalesce((select jsonb_agg(to_jsonb(j) order by j.finished_at) from public.jobs j
       where j.user_id = v_uid and j.status in ('finished', 'failed', 'cancelled')
         and j.notified_at is null and (j.run_host = p_host or j.run_host is null)
         and (j.notify_next_at is null or j.notify_next_at <= now())
         and (j.notify_lease_until is null or j.notify_lease_until < now())), '[]'::jsonb),
    'pending', case when v_drained then 0 else (select count(*) from (select 1 from public.jobs j
       where j.user_id = v_uid and j.status = 'pending' and j.deps_left = 0 and not j.held
         and (j.host is null or j.host = p_host) and (j.not_before is null or j.not_before <= now())
       limit 10000) r) end,
    'drained', v_drained,
    'sweeps_notify_due', coalesce((select jsonb_agg(to_jsonb(s) order by s.finished_at) from (
       select * from public.sweeps s where s.user_id = v_uid and s.finished_at is not null and s.notified_at is null
         and (s.notify_next_at is null or s.notify_next_at <= now())
         and (s.notify_lease_until is null or s.notify_lease_until < now())
       order by s.finished_at limit 20) s), '[]'::jsonb),
    'schedules_due', coalesce((select jsonb_agg(to_jsonb(s) order by s.next_due_at) from (
       select * from public.schedules s where s.user_id = v_uid and s.paused_at is null and s.next_due_at <= now()
       order by s.next_due_at limit 50) s), '[]'::jsonb),
    'db_now', now(),
    'next_wake_at', (select min(t) from (
       select min(j.not_before) as t from public.jobs j
         where j.user_id = v_uid and j.status = 'pending' and j.not_before > now() and (j.host is null or j.host = p_host)
       union all
       select min(s.next_due_at) from public.schedules s
         where s.user_id = v_uid and s.paused_at is null and s.next_due_at > now()) w));
end
$$;

-- Drains in the hosts view -----------------------------------------------------------------------------
-- The drain that holds p_host for p_uid: the lab's (it applies to everyone) before the member's own.
create or replace function lab_private.host_drain_of(p_uid uuid, p_host text) returns jsonb
  language sql stable set search_path = '' as $$
  select jsonb_build_object('by', case when d.user_id is null then 'lab' else 'you' end, 'note', d.note, 'drained_at', d.drained_at)
  from public.host_drains d
  where d.host = p_host and (d.user_id = p_uid or d.user_id is null)
  order by d.user_id nulls first limit 1
$$;

-- As in 20261201000620, and per host `drain`: null, or {by: 'you' | 'lab', note, drained_at} (the
-- lab's drain first). `lab-agent drain --list` also names drained hosts that have published nothing.
create or replace function public.hosts_list(p_history boolean default false, p_user_id uuid default null)
  returns jsonb language plpgsql stable security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id);  -- members and the service key only
begin
  return coalesce((select jsonb_agg(to_jsonb(h) || jsonb_build_object(
      'seconds_since_update', floor(extract(epoch from now() - h.updated_at)),
      'gpus', (select coalesce(jsonb_agg(g || jsonb_build_object(
          'leased', exists (select 1 from public.gpu_leases l where l.host = h.host and l.gpu_uuid = g ->> 'uuid'),
          'free', g ->> 'unusable' is null and coalesce((g ->> 'processes')::int, 0) = 0
                  and not exists (select 1 from public.gpu_leases l where l.host = h.host and l.gpu_uuid = g ->> 'uuid'))
          || case when p_history then jsonb_build_object('history', (
               select coalesce(jsonb_agg(jsonb_build_array(s.at, s.utilization_pct) order by s.at), '[]'::jsonb)
               from public.host_gpu_samples s
               where s.host = h.host and s.gpu_uuid = g ->> 'uuid' and s.at > now() - interval '1 hour'))
             else '{}'::jsonb end
          order by (g ->> 'index')::int), '[]'::jsonb) from jsonb_array_elements(h.gpus) g),
      'drain', lab_private.host_drain_of(v_uid, h.host))
      order by h.host) from public.host_resources h), '[]'::jsonb);
end
$$;

-- Grants: as every queue function (20261201000590).
do $$
declare f record;
begin
  for f in
    select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname in ('sweep_submit', 'schedule_add', 'schedule_fire', 'jobs_for_agent', 'hosts_list')
  loop
    execute format('revoke all on function %s from public, anon', f.sig);
    execute format('grant execute on function %s to authenticated, service_role', f.sig);
  end loop;
end
$$;
revoke all on function lab_private.new_job(uuid, jsonb, jsonb, boolean), lab_private.wake_member(uuid),
  lab_private.wake_on_schedule(), lab_private.host_drain_of(uuid, text) from public, anon;
grant execute on function lab_private.new_job(uuid, jsonb, jsonb, boolean), lab_private.wake_member(uuid),
  lab_private.wake_on_schedule(), lab_private.host_drain_of(uuid, text) to authenticated, service_role;
