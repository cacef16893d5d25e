-- Sweeps: one submission makes a job per cell of a parameter grid. The client expands the grid
-- (it knows how arguments are written for a script or a notebook) and sends each cell's arguments
-- and parameters; the database keeps them together under one sweep id, runs at most max_parallel of
-- them at once (cells beyond it are `held` and released one by one as others end), and marks the
-- sweep finished when its last cell ends, for one email with the whole grid.

create or replace function lab_private.sweep_cell(c public.jobs) returns jsonb
  language sql immutable as $$
  select jsonb_build_object('job_id', c.job_id, 'sweep_index', c.sweep_index, 'params', c.sweep_params,
    'args', c.args, 'status', c.status, 'retcode', c.retcode, 'signal', c.signal, 'error', left(c.error, 300),
    'result', c.result, 'attempt', c.attempt, 'retries', c.retries, 'pending_reason', c.pending_reason,
    'run_host', c.run_host, 'started_at', c.started_at, 'finished_at', c.finished_at, 'notified_at', c.notified_at)
$$;

-- The sweep row and how many of its cells are in each state.
create or replace function lab_private.sweep_summary(s public.sweeps) returns jsonb
  language sql stable set search_path = '' as $$
  select to_jsonb(s) || jsonb_build_object('counts', coalesce((
    select jsonb_object_agg(x.status, x.n) from (
      select c.status, count(*) as n from public.jobs c where c.sweep_id = s.sweep_id group by c.status) x), '{}'::jsonb))
$$;

create or replace function lab_private.sweep_view(p_uid uuid, p_sweep_id uuid) returns jsonb
  language plpgsql stable set search_path = '' as $$
declare s public.sweeps;
begin
  select * into s from public.sweeps where sweep_id = p_sweep_id and user_id = p_uid;
  if not found then
    raise exception 'lab: no sweep % among your sweeps', p_sweep_id using errcode = 'P0002';
  end if;
  return jsonb_build_object('sweep', lab_private.sweep_summary(s),
    'jobs', coalesce((select jsonb_agg(lab_private.sweep_cell(c) order by c.sweep_index) from public.jobs c
                      where c.sweep_id = p_sweep_id), '[]'::jsonb));
end
$$;

-- p_cells: [{"args": "--lr 0.1 --seed 1", "params": {"lr": "0.1", "seed": "1"}}, ...] in grid order.
-- p_axes: the grid as the member wrote it ([{"name": "lr", "values": [...]}, ...]), for display.
-- The other options are job_submit's, and apply to every cell. Returns {sweep, jobs}.
create or replace function public.sweep_submit(p_script_path text, p_cells jsonb, p_args text default null,
  p_axes jsonb default null, p_max_parallel int default null, p_host text default null, p_timeout_s int default null,
  p_script_id bigint default null, p_priority int default 0, p_retries int default null, p_retry_delay_s int default null,
  p_after jsonb default null, p_after_any boolean default false, p_notify_each boolean default false,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := lab_private.acting_user(p_user_id);
  v_path text := p_script_path;
  v_base jsonb := jsonb_build_object('script_path', p_script_path, 'host', p_host, 'timeout_s', p_timeout_s,
    'script_id', p_script_id, 'priority', p_priority, 'retries', p_retries, 'retry_delay_s', p_retry_delay_s);
  v_deps jsonb;
  v_cell jsonb;
  v_i int;
  s public.sweeps;
begin
  perform lab_private.check_job_options(v_base);
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
  insert into public.sweeps (user_id, script_path, args, axes, cells, max_parallel, notify_each)
    values (v_uid, v_path, p_args, coalesce(p_axes, '[]'::jsonb), jsonb_array_length(p_cells), p_max_parallel,
            coalesce(p_notify_each, false))
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

create or replace function public.sweep_get(p_sweep_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql stable security invoker set search_path = '' as $$
begin
  return lab_private.sweep_view(lab_private.acting_user(p_user_id), p_sweep_id);
end
$$;

create or replace function public.sweeps_list(p_limit int default 20, p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(lab_private.sweep_summary(s) order by s.created_at desc, s.sweep_id), '[]'::jsonb)
  from (select * from public.sweeps where user_id = lab_private.acting_user(p_user_id)
        order by created_at desc, sweep_id limit least(greatest(coalesce(p_limit, 20), 1), 500)) s
$$;

-- Cancels what has not ended: running and claimed cells are asked to stop first (no status change,
-- so no lock on the sweep row is held while waiting for a cell an agent is ending), then the
-- pending ones end at once.
create or replace function public.sweep_request_cancel(p_sweep_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id);
begin
  if not exists (select 1 from public.sweeps where sweep_id = p_sweep_id and user_id = v_uid) then
    raise exception 'lab: no sweep % among your sweeps', p_sweep_id using errcode = 'P0002';
  end if;
  update public.jobs set cancel_requested_at = now()
    where sweep_id = p_sweep_id and user_id = v_uid and status in ('claimed', 'running') and cancel_requested_at is null;
  perform lab_private.set_event_detail('{"reason": "sweep cancelled"}');
  update public.jobs set status = 'cancelled', cancel_requested_at = now(), finished_at = now(),
    error = 'cancelled with its sweep before it started'
    where sweep_id = p_sweep_id and user_id = v_uid and status = 'pending';
  perform lab_private.set_event_detail(null);
  return lab_private.sweep_view(v_uid, p_sweep_id);
end
$$;

-- The sweep's one email, with the same lease rules as a job's: of two agents only one sends.
-- Returns {sweep, jobs} (the grid for the email), or null when not due.
create or replace function public.sweep_notify_begin(p_sweep_id uuid, p_agent_id uuid, p_lease_s int default 120,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id);
begin
  -- The lease is an agent's, as job_notify_begin's (the sweeps table keeps no agent column).
  if p_agent_id is null then
    raise exception 'lab: a sweep email lease needs the agent id' using errcode = '22023';
  end if;
  update public.sweeps set notify_lease_until = now() + make_interval(secs => p_lease_s)
    where sweep_id = p_sweep_id and user_id = v_uid and finished_at is not null and notified_at is null
      and (notify_next_at is null or notify_next_at <= now())
      and (notify_lease_until is null or notify_lease_until < now());
  if not found then
    return null;
  end if;
  return lab_private.sweep_view(v_uid, p_sweep_id);
end
$$;

create or replace function public.sweep_mark_notified(p_sweep_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.sweeps;
begin
  select * into s from public.sweeps where sweep_id = p_sweep_id and user_id = v_uid for update;
  if not found then
    raise exception 'lab: no sweep % among your sweeps', p_sweep_id using errcode = 'P0002';
  end if;
  if s.finished_at is null then
    raise exception 'lab: sweep % has not finished', p_sweep_id using errcode = '55000';
  end if;
  if s.notified_at is not null then
    raise exception 'lab: sweep % was already notified at %', p_sweep_id, s.notified_at using errcode = '55000';
  end if;
  update public.sweeps set notified_at = now(), notify_lease_until = null, notify_error = null
    where sweep_id = p_sweep_id returning * into s;
  return to_jsonb(s);
end
$$;

create or replace function public.sweep_notify_failed(p_sweep_id uuid, p_error text, p_retry_at timestamptz,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.sweeps;
begin
  update public.sweeps set notify_attempts = notify_attempts + 1, notify_error = p_error,
    notify_next_at = coalesce(p_retry_at, 'infinity'::timestamptz), notify_lease_until = null
    where sweep_id = p_sweep_id and user_id = v_uid and notified_at is null returning * into s;
  if not found then
    raise exception 'lab: no sweep % of yours is waiting for its email', p_sweep_id using errcode = 'P0002';
  end if;
  return to_jsonb(s);
end
$$;
