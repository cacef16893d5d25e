-- Issue 12, the inventory sync's read in pieces: scripts_for_sync_pieces returns the rows the sync
-- compares as a set of json arrays of up to 128 rows each; scripts_for_sync, which returned them
-- as one json array, goes.
-- Why: one value of 1,600 rows (~165 kB) made the server build it in a buffer that doubles as it
-- grows, copy it for output and again into the protocol message, and the client merge it from
-- socket reads into one buffer and decode it as one string. Each of those is fresh memory, and
-- on the machines measured a first touch of a page costs ~16 µs: the server took ~325 page faults
-- for the call in a new backend (~210 on every later call), the pieces ~135 (~50 later), and a
-- fresh process reads them ~4 ms sooner (BENCHMARKS.md, "sixth round").
-- Each row is [path, size, mtime as whole epoch milliseconds, kernel], as before, in no order.
-- A new name, not a new return type under the old one: every migration must apply again over a
-- newer schema (supabase-cli.test.ts), and 20261203000100's `create or replace` of a json function
-- cannot replace a set-returning one.
-- security invoker: row-level security applies; the explicit user filter serves the service key.
drop function if exists public.scripts_for_sync(uuid);
create or replace function public.scripts_for_sync_pieces(p_user_id uuid default null) returns setof json
  language sql stable security invoker set search_path = '' as $$
  select json_agg(json_build_array(f.path, f.size, f.mtime_ms, f.kernel))
  from (select s.path, s.size, floor(extract(epoch from s.mtime) * 1000)::bigint as mtime_ms, s.kernel,
               (row_number() over ()) / 128 as piece
        from public.scripts s where s.user_id = lab_private.acting_user(p_user_id)) f
  group by f.piece
$$;

-- Execute rights as scripts_list's: never anon or public; a signed-in member and the service key only.
revoke all on function public.scripts_for_sync_pieces(uuid) from public, anon;
grant execute on function public.scripts_for_sync_pieces(uuid) to authenticated, service_role;
