-- Issue 12, every CLI command's cost: user_ensure (run when a command opens the store) read the
-- member's row through `insert ... on conflict do update ... where <changed>`. Its `where` kept
-- unchanged rows unwritten, but ON CONFLICT DO UPDATE locks the conflicting row before it looks
-- at the `where`: the lock sets the row's xmax, so every command's call took a transaction id and
-- its commit waited for a WAL flush (fdatasync), ~10 ms of each `lab-agent ls` or `sync`.
-- The rows are now read first, and written only when something in them changes; a call that
-- changes nothing is read-only (test/user-ensure-read-only.test.ts).
create or replace function public.user_ensure(p_linux_user text, p_email text default null,
  p_host text default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); u public.users;
begin
  select * into u from public.users where user_id = v_uid;
  if u.user_id is null or u.linux_user is distinct from p_linux_user
     or (p_email is not null and u.email is distinct from p_email) then
    insert into public.users (user_id, linux_user, email) values (v_uid, p_linux_user, p_email)
    on conflict (user_id) do update set linux_user = excluded.linux_user,
      email = coalesce(excluded.email, public.users.email)
      where public.users.linux_user is distinct from excluded.linux_user
         or (excluded.email is not null and public.users.email is distinct from excluded.email)
    returning * into u;
    if u.user_id is null then -- written meanwhile by another call, as this one would have
      select * into u from public.users where user_id = v_uid;
    end if;
  end if;
  if coalesce(p_host, '') <> '' and coalesce(p_linux_user, '') <> '' and not exists (
      select 1 from public.user_hosts h where h.user_id = v_uid and h.host = p_host and h.linux_user = p_linux_user) then
    insert into public.user_hosts (user_id, host, linux_user) values (v_uid, p_host, p_linux_user)
    on conflict (user_id, host) do update set linux_user = excluded.linux_user, updated_at = now()
      where public.user_hosts.linux_user is distinct from excluded.linux_user;
  end if;
  return to_jsonb(u);
end
$$;
