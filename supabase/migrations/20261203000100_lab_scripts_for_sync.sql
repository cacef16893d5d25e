-- Issue 12, the inventory sync's read: the stored scripts as the sync compares them, compact. Each
-- row is [path, size, mtime as whole epoch milliseconds, kernel]: json arrays (no keys, no jsonb
-- build) in no order (the sync compares through a map by path) take the server about a quarter
-- of scripts_list's time, and the agent compares numbers instead of parsing a timestamp per row.
-- scripts_list stays as it is for `lab-agent ls` and the dashboard.
-- security invoker: row-level security applies; the explicit user filter serves the service key.
create or replace function public.scripts_for_sync(p_user_id uuid default null) returns json
  language sql stable security invoker set search_path = '' as $$
  select coalesce(json_agg(json_build_array(s.path, s.size, floor(extract(epoch from s.mtime) * 1000)::bigint, s.kernel)), '[]'::json)
  from public.scripts s where s.user_id = lab_private.acting_user(p_user_id)
$$;

-- Execute rights as scripts_list's: never anon or public; a signed-in member and the service key only.
revoke all on function public.scripts_for_sync(uuid) from public, anon;
grant execute on function public.scripts_for_sync(uuid) to authenticated, service_role;
