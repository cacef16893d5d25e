-- The queue's rules that every job function shares: why a pending job waits, how a job is made
-- (with its dependencies and its place in a sweep), and what follows when a job ends (dependents
-- released or cancelled, the sweep's next cell released, the sweep finished).

create or replace function lab_private.is_ended(p_status text) returns boolean
  language sql immutable as $$
  select p_status in ('finished', 'failed', 'cancelled')
$$;

-- A moment as the member reads it: their time zone (users.time_zone) or UTC, said so; the date
-- only when it is not today.
create or replace function lab_private.member_time(p_uid uuid, p_at timestamptz) returns text
  language plpgsql stable set search_path = '' as $$
declare v_tz text; v_local timestamp;
begin
  select u.time_zone into v_tz from public.users u where u.user_id = p_uid;
  v_local := p_at at time zone coalesce(v_tz, 'UTC');
  return to_char(v_local, case when v_local::date = (now() at time zone coalesce(v_tz, 'UTC'))::date
                               then 'HH24:MI' else 'YYYY-MM-DD HH24:MI' end)
    || case when v_tz is null then ' UTC' else '' end;
end
$$;

create or replace function lab_private.retry_reason(p_uid uuid, p_attempt int, p_retries int, p_at timestamptz,
  p_error text) returns text
  language sql stable set search_path = '' as $$
  select format('retry %s of %s at %s', p_attempt - 1, greatest(p_retries, p_attempt - 1), lab_private.member_time(p_uid, p_at))
    || coalesce(' after ' || left(p_error, 200), '')
$$;

create or replace function lab_private.is_drained(p_uid uuid, p_host text) returns boolean
  language sql stable set search_path = '' as $$
  select p_host is not null and exists (select 1 from public.host_drains d
    where d.host = p_host and (d.user_id = p_uid or d.user_id is null))
$$;

-- Why a pending job does not start yet, from what the row and its neighbours say now; null when
-- nothing holds it (it waits for a free slot of an agent only). Written into pending_reason at
-- each change that can alter it, so every reader (the CLI, the dashboard, Realtime) sees it.
create or replace function lab_private.pending_reason_of(j public.jobs) returns text
  language plpgsql stable set search_path = '' as $$
declare v_dep record; v_left int; v_total int; v_limit int;
begin
  if j.status <> 'pending' then
    return null;
  end if;
  if j.deps_left > 0 then
    select d.after_job_id, d.via_sweep_id into v_dep
      from public.job_deps d join public.jobs p on p.job_id = d.after_job_id
      where d.job_id = j.job_id and not lab_private.is_ended(p.status)
      order by p.seq limit 1;
    if v_dep.via_sweep_id is not null then
      select count(*) filter (where not lab_private.is_ended(c.status)), count(*) into v_left, v_total
        from public.jobs c where c.sweep_id = v_dep.via_sweep_id;
      return format('waiting for sweep %s to finish (%s of %s jobs left)', left(v_dep.via_sweep_id::text, 8), v_left, v_total);
    end if;
    return format('waiting for job %s to finish', left(v_dep.after_job_id::text, 8))
      || case when j.deps_left > 1 then format(' (and %s more)', j.deps_left - 1) else '' end;
  end if;
  if j.held then
    select s.max_parallel into v_limit from public.sweeps s where s.sweep_id = j.sweep_id;
    return format('sweep %s at its limit of %s running', left(j.sweep_id::text, 8), v_limit);
  end if;
  if j.not_before is not null and j.not_before > now() then
    return lab_private.retry_reason(j.user_id, j.attempt, j.retries, j.not_before, j.error);
  end if;
  if lab_private.is_drained(j.user_id, j.host) then
    return format('host %s is drained (lab-agent resume --host %s)', j.host, j.host);
  end if;
  return null;
end
$$;

-- The jobs an --after list names: each entry a job id or a sweep id (every cell of it), the
-- member's own only. They are locked (FOR SHARE) until the caller commits, so none can end
-- between here and the dependency rows becoming visible: the end would not see them.
create or replace function lab_private.resolve_after(p_uid uuid, p_after jsonb)
  returns table (after_job_id uuid, via_sweep_id uuid, status text, error text)
  language plpgsql set search_path = '' as $$
declare v_item text; v_id uuid;
begin
  if p_after is null or jsonb_typeof(p_after) = 'null' then
    return;
  end if;
  if jsonb_typeof(p_after) <> 'array' then
    raise exception 'lab: --after takes a list of job or sweep ids' using errcode = '22023';
  end if;
  for v_item in select jsonb_array_elements_text(p_after) loop
    begin
      v_id := v_item::uuid;
    exception when invalid_text_representation then
      raise exception 'lab: % is not a job or sweep id (a full id is needed here)', v_item using errcode = '22023';
    end;
    if exists (select 1 from public.jobs j where j.job_id = v_id and j.user_id = p_uid) then
      return query select j.job_id, null::uuid, j.status, j.error from public.jobs j
        where j.job_id = v_id for share;
    elsif exists (select 1 from public.sweeps s where s.sweep_id = v_id and s.user_id = p_uid) then
      return query select j.job_id, v_id, j.status, j.error from public.jobs j
        where j.sweep_id = v_id and j.user_id = p_uid order by j.seq for share;
    else
      raise exception 'lab: no job or sweep % among yours', v_id using errcode = 'P0002';
    end if;
  end loop;
end
$$;

-- How a job ended, for the reasons of those that waited on it.
create or replace function lab_private.ended_how(j public.jobs) returns text
  language sql immutable as $$
  select case j.status when 'failed' then 'failed (' || coalesce(left(j.error, 200), 'failed') || ')'
                       when 'cancelled' then 'was cancelled' else j.status end
$$;

-- A new job, the one way every function makes them. p_deps: the resolved --after list (its jobs
-- locked). A dependency that already failed or was cancelled cancels the job at once (unless
-- after_any); only the ones still running or waiting count in deps_left.
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
      deps_left, after_any, held, sweep_id, sweep_index, sweep_params, schedule_id, scheduled_for)
    values (p_uid, (p_spec ->> 'script_id')::bigint, p_spec ->> 'script_path', p_spec ->> 'args', p_spec ->> 'host',
      (p_spec ->> 'timeout_s')::int, coalesce((p_spec ->> 'priority')::int, 0), (p_spec ->> 'retries')::int,
      (p_spec ->> 'retry_delay_s')::int, v_left, coalesce(p_after_any, false), coalesce((p_spec ->> 'held')::boolean, false),
      (p_spec ->> 'sweep_id')::uuid, (p_spec ->> 'sweep_index')::int, p_spec -> 'sweep_params',
      (p_spec ->> 'schedule_id')::uuid, (p_spec ->> 'scheduled_for')::timestamptz)
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

-- An ended job's dependents: those that needed it to finish and it did not are cancelled with the
-- reason, and so are theirs, in one statement (no trigger recursion however long the chain); the
-- others have one dependency less to wait for.
create or replace function lab_private.settle_dependents(j public.jobs) returns void
  language plpgsql set search_path = '' as $$
declare v_prev text := current_setting('lab.event_detail', true); v_ids uuid[];
begin
  if not exists (select 1 from public.job_deps d where d.after_job_id = j.job_id) then
    return;
  end if;
  if j.status <> 'finished' then
    perform lab_private.set_event_detail(jsonb_build_object('reason', 'dependency', 'after', j.job_id, 'via', 'dependency'));
    with recursive doomed (job_id, via) as (
      select d.job_id, j.job_id from public.job_deps d join public.jobs c on c.job_id = d.job_id
        where d.after_job_id = j.job_id and not c.after_any and c.status = 'pending'
      union
      select d.job_id, x.job_id from doomed x
        join public.job_deps d on d.after_job_id = x.job_id
        join public.jobs c on c.job_id = d.job_id
        where not c.after_any and c.status = 'pending'
    )
    update public.jobs c set status = 'cancelled', finished_at = now(), pending_reason = null,
      error = case when x.via = j.job_id
        then format('cancelled: job %s, which it waits for, %s', left(j.job_id::text, 8), lab_private.ended_how(j))
        else format('cancelled: job %s, which it waits for, was cancelled because job %s %s',
                    left(x.via::text, 8), left(j.job_id::text, 8), lab_private.ended_how(j)) end
      from (select distinct on (job_id) job_id, via from doomed order by job_id, via) x
      where c.job_id = x.job_id and c.status = 'pending';
    perform set_config('lab.event_detail', coalesce(v_prev, ''), true);
  end if;
  with d as (
    update public.jobs c set deps_left = c.deps_left - 1
      from public.job_deps e
      where e.after_job_id = j.job_id and c.job_id = e.job_id and c.status = 'pending' and c.deps_left > 0
      returning c.job_id
  )
  select array_agg(job_id) into v_ids from d;
  update public.jobs c set pending_reason = lab_private.pending_reason_of(c) where c.job_id = any (v_ids);
end
$$;

-- A cell of a sweep ended: release held cells into the freed places, and mark the sweep finished
-- when nothing of it is left. The sweep row is locked, so two cells ending at once count right.
-- Held cells are taken SKIP LOCKED: one being cancelled right now is not waited for (its own end
-- comes here next and releases again).
create or replace function lab_private.sweep_cell_ended(p_sweep_id uuid) returns void
  language plpgsql set search_path = '' as $$
declare s public.sweeps; v_room int; v_ids uuid[];
begin
  select * into s from public.sweeps where sweep_id = p_sweep_id for update;
  if not found then
    return;
  end if;
  if s.max_parallel is not null then
    select s.max_parallel - count(*) into v_room from public.jobs c
      where c.sweep_id = p_sweep_id and not c.held and c.status in ('pending', 'claimed', 'running');
    if v_room > 0 then
      with next as (
        select c.job_id from public.jobs c
          where c.sweep_id = p_sweep_id and c.held and c.status = 'pending'
          order by c.priority desc, c.seq limit v_room for update skip locked
      ), released as (
        update public.jobs c set held = false from next where c.job_id = next.job_id returning c.job_id
      )
      select array_agg(job_id) into v_ids from released;
      update public.jobs c set pending_reason = lab_private.pending_reason_of(c) where c.job_id = any (v_ids);
    end if;
  end if;
  if s.finished_at is null and not exists (select 1 from public.jobs c
      where c.sweep_id = p_sweep_id and not lab_private.is_ended(c.status)) then
    update public.sweeps set finished_at = now() where sweep_id = p_sweep_id;
  end if;
end
$$;

create or replace function lab_private.job_ended_trigger() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if lab_private.is_ended(new.status) and not lab_private.is_ended(old.status) then
    perform lab_private.settle_dependents(new);
    if new.sweep_id is not null then
      perform lab_private.sweep_cell_ended(new.sweep_id);
    end if;
  end if;
  return null;
end
$$;

-- A cell of a sweep without per-cell emails is marked notified as it ends: the sweep's one email
-- covers it.
create or replace function lab_private.job_ending_trigger() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if new.sweep_id is not null and new.notified_at is null and lab_private.is_ended(new.status)
     and not lab_private.is_ended(old.status)
     and not coalesce((select s.notify_each from public.sweeps s where s.sweep_id = new.sweep_id), true) then
    new.notified_at := now();
  end if;
  if new.status <> 'pending' then
    new.pending_reason := null;
  end if;
  return new;
end
$$;

-- Triggers fire in name order: lab_jobs_transition records a job's own change before
-- lab_jobs_unblock changes its dependents, so a cause's event comes before its effects'.
drop trigger if exists lab_jobs_unblock on public.jobs;
create trigger lab_jobs_unblock after update of status on public.jobs
  for each row when (old.status is distinct from new.status) execute function lab_private.job_ended_trigger();
drop trigger if exists lab_jobs_ending on public.jobs;
create trigger lab_jobs_ending before update of status on public.jobs
  for each row when (old.status is distinct from new.status) execute function lab_private.job_ending_trigger();
