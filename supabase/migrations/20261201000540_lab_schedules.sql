-- Recurring runs: a cron line in the member's time zone makes a job at each due time. The client
-- computes due times from the cron line (croner, in the schedule's time zone) and names them; this
-- file decides which of them make a job and guarantees one job per due time:
--   * schedule_fire moves next_due_at forward only from the value the caller read, in one locked
--     update: of several agents firing at once one wins, the others get fired = false;
--   * a due time not older than the grace is on time and always runs; of the older ones (the
--     agents were down) the latest `catch_up` run, the rest are counted as skipped;
--   * jobs carry (schedule_id, scheduled_for) under a unique index: a due time can never make two.

create or replace function lab_private.schedule_grace() returns interval
  language sql immutable as $$ select interval '5 minutes' $$;

create or replace function lab_private.check_cron(p_cron text) returns void
  language plpgsql immutable set search_path = '' as $$
begin
  -- Five fields (minute hour day-of-month month day-of-week) or a nickname; the client checks the
  -- values with the cron library before it calls, this keeps other writers to the same shape.
  if p_cron is null or p_cron !~ '^\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*/,?#L-]+(\s+[0-9A-Za-z*/,?#L-]+){4})\s*$' then
    raise exception 'lab: "%" is not a cron line: five fields (minute hour day month weekday) such as "0 3 * * *", or @daily, @hourly …', p_cron
      using errcode = '22023';
  end if;
end
$$;

create or replace function lab_private.locked_schedule(p_schedule_id uuid, p_uid uuid) returns public.schedules
  language plpgsql set search_path = '' as $$
declare s public.schedules;
begin
  select * into s from public.schedules where schedule_id = p_schedule_id and user_id = p_uid for update;
  if not found then
    raise exception 'lab: no schedule % among your schedules', p_schedule_id using errcode = 'P0002';
  end if;
  return s;
end
$$;

-- p_next_due_at: the cron line's first due time after now, computed by the caller in p_time_zone.
create or replace function public.schedule_add(p_cron text, p_script_path text, p_next_due_at timestamptz,
  p_time_zone text default null, p_args text default null, p_host text default null, p_timeout_s int default null,
  p_priority int default 0, p_retries int default null, p_retry_delay_s int default null, p_catch_up int default 1,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v_tz text := p_time_zone; s public.schedules;
begin
  perform lab_private.check_cron(p_cron);
  if coalesce(p_script_path, '') = '' then
    raise exception 'lab: a schedule needs a script path' using errcode = '22023';
  end if;
  perform lab_private.check_job_options(jsonb_build_object('retries', p_retries, 'retry_delay_s', p_retry_delay_s, 'timeout_s', p_timeout_s));
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
      retry_delay_s, catch_up, next_due_at)
    values (v_uid, btrim(p_cron), v_tz, p_script_path, p_args, p_host, p_timeout_s, coalesce(p_priority, 0), p_retries,
      p_retry_delay_s, coalesce(p_catch_up, 1), p_next_due_at)
    returning * into s;
  return to_jsonb(s);
end
$$;

create or replace function public.schedules_list(p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(s) || jsonb_build_object('last_job_status', j.status) order by s.created_at), '[]'::jsonb)
  from public.schedules s left join public.jobs j on j.job_id = s.last_job_id and j.user_id = s.user_id
  where s.user_id = lab_private.acting_user(p_user_id)
$$;

-- Its jobs stay (their schedule_id becomes null).
create or replace function public.schedule_remove(p_schedule_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.schedules;
begin
  s := lab_private.locked_schedule(p_schedule_id, v_uid);
  delete from public.schedules where schedule_id = p_schedule_id;
  return to_jsonb(s);
end
$$;

create or replace function public.schedule_pause(p_schedule_id uuid, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.schedules;
begin
  s := lab_private.locked_schedule(p_schedule_id, v_uid);
  update public.schedules set paused_at = coalesce(paused_at, now()) where schedule_id = p_schedule_id returning * into s;
  return to_jsonb(s);
end
$$;

-- Resuming starts from the next due time after now (computed by the caller): runs that fell due
-- while it was paused are not made up.
create or replace function public.schedule_resume(p_schedule_id uuid, p_next_due_at timestamptz,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.schedules;
begin
  s := lab_private.locked_schedule(p_schedule_id, v_uid);
  if p_next_due_at is null or p_next_due_at <= now() then
    raise exception 'lab: the next due time must be in the future (got %)', p_next_due_at using errcode = '22023';
  end if;
  update public.schedules set paused_at = null, next_due_at = p_next_due_at where schedule_id = p_schedule_id returning * into s;
  return to_jsonb(s);
end
$$;

-- Fire a due schedule. p_due_at: the next_due_at the caller read; p_due_times: the due times from
-- it up to now (the caller may send only the latest catch_up + a few); p_next_due_at: the first
-- due time after now. Returns {fired, jobs, skipped, next_due_at}; fired = false (and no job) when
-- another agent fired it first, it was paused, or it is not due.
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
      'schedule_id', s.schedule_id, 'scheduled_for', v_t));
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
