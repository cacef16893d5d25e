-- Reads for the web dashboard (issue 14). The page calls these through either transport: the
-- agent's own API (`lab-agent web`, pg) or supabase-js rpc() from the static build, so the rules
-- (whose rows, which filters) are written once, here. security invoker: row-level security applies;
-- the explicit user filter serves the service key, as in the other read functions.

-- A job as a list shows it: the row less its bulky or internal columns (tails, argv, leases).
-- Columns added later (GPUs ...) pass through on their own. No `set search_path`: it names no
-- table, and a SET clause stops the planner from inlining it (it cost 0.7 ms a row in jobs_page).
create or replace function lab_private.job_list_item(j public.jobs) returns jsonb
  language sql immutable as $$
  select to_jsonb(j) - 'stdout_tail' - 'stderr_tail' - 'command' - 'pid_start' - 'notify_lease_until'
    || jsonb_build_object('error', left(j.error, 300))
$$;

-- The list's filters but status, in one place: a plain SQL expression the planner inlines into
-- both queries of jobs_page (so no search_path is set on it: it names no table or function).
-- p_q is lower case already; strpos takes it as plain text (no wildcards to escape), and is the
-- quickest of the ways tried (ILIKE, one concatenated column) over 10,000 rows.
create or replace function lab_private.job_matches(j public.jobs, p_host text, p_script text, p_q text)
  returns boolean language sql immutable as $$
  select (p_host is null or coalesce(j.run_host, j.host) = p_host)
     and (p_script is null or j.script_path = p_script)
     and (p_q is null or strpos(lower(j.script_path), p_q) > 0 or strpos(lower(j.args), p_q) > 0
          or strpos(lower(j.error), p_q) > 0 or starts_with(j.job_id::text, p_q))
$$;

-- One page of my jobs, newest first, with filters, for 10,000 jobs and more:
--   p_statuses  a JSON array of statuses to show (null = all); jsonb, as every transport sends it
--   p_host      where it ran, or was asked to run when it has not yet
--   p_script    exactly this script path
--   p_q         text anywhere in the script path, arguments or error, or the start of the job id
--   p_before_created / p_before_id: keyset cursor, the last row of the previous page (older rows follow)
-- Returns { jobs, has_more, total (rows matching), counts (per status, other filters applied) }.
-- Two queries, each on the table itself: the page walks the (user_id, created_at, job_id) index
-- and stops after p_limit + 1 rows; the counts read only the status of the matching rows.
create or replace function public.jobs_page(p_limit int default 50, p_statuses jsonb default null,
  p_host text default null, p_script text default null, p_q text default null,
  p_before_created timestamptz default null, p_before_id uuid default null, p_user_id uuid default null)
  returns jsonb
  language plpgsql stable security invoker set search_path = '' as $$
declare
  v_uid uuid := lab_private.acting_user(p_user_id);
  v_limit int := least(greatest(coalesce(p_limit, 50), 1), 500);
  v_q text := lower(nullif(btrim(coalesce(p_q, '')), ''));
  v_statuses text[] := case when jsonb_typeof(p_statuses) = 'array'
    then array(select jsonb_array_elements_text(p_statuses)) end;
  v_rows jsonb;
  v_more boolean;
  v_counts jsonb;
begin
  select jsonb_object_agg(c.status, c.n) into v_counts
  from (select j.status, count(*) as n from public.jobs j
        where j.user_id = v_uid and lab_private.job_matches(j, p_host, p_script, v_q)
        group by j.status) c;
  select coalesce(jsonb_agg(lab_private.job_list_item(p) order by p.created_at desc, p.job_id desc), '[]'::jsonb) into v_rows
  from (select j.* from public.jobs j
        where j.user_id = v_uid and lab_private.job_matches(j, p_host, p_script, v_q)
          and (v_statuses is null or j.status = any (v_statuses))
          and (p_before_created is null
               or (j.created_at, j.job_id) < (p_before_created, coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)))
        order by j.created_at desc, j.job_id desc
        limit v_limit + 1) p;
  v_more := jsonb_array_length(v_rows) > v_limit;
  if v_more then
    v_rows := v_rows - v_limit;
  end if;
  return jsonb_build_object(
    'jobs', v_rows,
    'has_more', v_more,
    'counts', coalesce(v_counts, '{}'::jsonb),
    'total', (select coalesce(sum(value::bigint), 0) from jsonb_each_text(coalesce(v_counts, '{}'::jsonb))
              where v_statuses is null or key = any (v_statuses)));
end
$$;

-- The values the filters offer: hosts and scripts my jobs used (most used first).
create or replace function public.jobs_facets(p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select jsonb_build_object(
    'hosts', coalesce((select jsonb_agg(h order by n desc, h) from (
        select coalesce(run_host, host) as h, count(*) as n from public.jobs
        where user_id = lab_private.acting_user(p_user_id) and coalesce(run_host, host) is not null
        group by 1 order by 2 desc limit 50) x), '[]'::jsonb),
    'scripts', coalesce((select jsonb_agg(s order by n desc, s) from (
        select script_path as s, count(*) as n from public.jobs
        where user_id = lab_private.acting_user(p_user_id) and script_path is not null
        group by 1 order by 2 desc limit 100) y), '[]'::jsonb))
$$;

-- Search my script inventory as I type: a match in the file name first, then in the folder; the
-- most recently changed first. p_script_id: that one script (for the parameters form).
create or replace function public.scripts_search(p_q text default null, p_limit int default 20,
  p_script_id bigint default null, p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  with q as (
    select nullif(btrim(coalesce(p_q, '')), '') as text
  ), hits as (
    select s.*, (select text from q) as qt,
      position(lower((select text from q)) in lower(regexp_replace(s.path, '^.*/', ''))) > 0 as in_name
    from public.scripts s
    where s.user_id = lab_private.acting_user(p_user_id)
      and (p_script_id is null or s.script_id = p_script_id)
      and ((select text from q) is null
           or strpos(lower(s.path), lower((select text from q))) > 0)
  )
  select coalesce(jsonb_agg(jsonb_build_object('script_id', h.script_id, 'path', h.path, 'type', h.type,
           'size', h.size, 'mtime', h.mtime, 'kernel', h.kernel, 'updated_at', h.updated_at)
           order by h.in_name desc nulls last, h.mtime desc nulls last, h.path), '[]'::jsonb)
  from (select * from hits order by in_name desc nulls last, mtime desc nulls last, path
        limit least(greatest(coalesce(p_limit, 20), 1), 200)) h
$$;

-- My agents: where they run, their version and mode, and whether they are alive. A supervisor
-- heartbeats every 30 s; a cron agent (mode 'tick') stops after each pass and runs once a minute.
create or replace function public.agents_list(p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(a) || jsonb_build_object(
      'alive', case when a.mode = 'tick' then a.heartbeat_at > now() - interval '150 seconds'
                    else a.stopped_at is null and a.heartbeat_at > now() - interval '90 seconds' end,
      'seconds_since_heartbeat', floor(extract(epoch from now() - a.heartbeat_at)))
      order by a.heartbeat_at desc), '[]'::jsonb)
  from public.agents a where a.user_id = lab_private.acting_user(p_user_id)
$$;

-- What changed since a moment: the fallback behind NOTIFY / Realtime for live pages.
-- Returns { now, jobs: [list items], sessions: [rows] } updated after p_since (at most 200 each).
create or replace function public.dashboard_changes(p_since timestamptz, p_user_id uuid default null)
  returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select jsonb_build_object('now', now(),
    'jobs', coalesce((select jsonb_agg(lab_private.job_list_item(j) order by j.updated_at) from (
        select * from public.jobs where user_id = lab_private.acting_user(p_user_id) and updated_at > p_since
        order by updated_at desc limit 200) j), '[]'::jsonb),
    'sessions', coalesce((select jsonb_agg(to_jsonb(s) order by s.updated_at) from (
        select * from public.jupyter_sessions where user_id = lab_private.acting_user(p_user_id) and updated_at > p_since
        order by updated_at desc limit 200) s), '[]'::jsonb))
$$;

-- Indexes for the pages: keyset order, the host filter, the script filter, changes since.
create index if not exists jobs_user_created_id_idx on public.jobs (user_id, created_at desc, job_id desc);
create index if not exists jobs_user_host_created_idx on public.jobs (user_id, (coalesce(run_host, host)), created_at desc);
create index if not exists jobs_user_script_created_idx on public.jobs (user_id, script_path, created_at desc);
create index if not exists jobs_user_updated_idx on public.jobs (user_id, updated_at);
create index if not exists jupyter_user_updated_idx on public.jupyter_sessions (user_id, updated_at);

-- Execute rights: a signed-in member and the service key only, never anon or public.
revoke all on function public.jobs_page(int, jsonb, text, text, text, timestamptz, uuid, uuid),
  public.jobs_facets(uuid), public.scripts_search(text, int, bigint, uuid), public.agents_list(uuid),
  public.dashboard_changes(timestamptz, uuid), lab_private.job_list_item(public.jobs),
  lab_private.job_matches(public.jobs, text, text, text) from public, anon;
grant execute on function public.jobs_page(int, jsonb, text, text, text, timestamptz, uuid, uuid),
  public.jobs_facets(uuid), public.scripts_search(text, int, bigint, uuid), public.agents_list(uuid),
  public.dashboard_changes(timestamptz, uuid), lab_private.job_list_item(public.jobs),
  lab_private.job_matches(public.jobs, text, text, text) to authenticated, service_role;
