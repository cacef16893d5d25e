-- Trust boundaries (issue 10): who a call acts for comes from proof, never from a column another
-- account can write or from claims the client sets itself.
--
-- * On a lab's own PostgreSQL each member may get a LOGIN role (`lab-agent db add-member`),
--   recorded here as role -> user id. A connection made with such a role acts for that member
--   whatever request.jwt.claims it sets: identity comes from the authenticated database role
--   (session_user, which neither SET ROLE nor a function's owner changes).
-- * Everywhere else (Supabase, local mode, one shared URL) identity is auth.uid() as before. A
--   claimed service_role is honoured only when the role really is service_role.
-- * users.linux_user is a label: its unique key goes, and a per-host binding records which Linux
--   account an agent of the member runs as on which host.
-- * Wake-ups (NOTIFY) go to a per-member channel with an unguessable name and carry no ids.

-- who is calling -------------------------------------------------------------------------------
create table if not exists lab_private.member_roles (
  role_name text primary key,
  user_id uuid not null,
  created_at timestamptz not null default now()
);
revoke all on lab_private.member_roles from public, anon, authenticated, service_role;

-- The member a call acts for: the mapped login role, else the JWT subject (PostgREST, the pg
-- transport over a shared URL). security definer: members may not read the mapping itself.
create or replace function lab_private.current_member() returns uuid
  language sql stable security definer set search_path = '' as $$
  select coalesce(
    (select m.user_id from lab_private.member_roles m where m.role_name = session_user::text),
    auth.uid())
$$;

-- Who is acting: the member (above); with the service key (no member, role really service_role),
-- the p_user_id the caller names, as the original agent did. current_setting('role') is the role
-- SET ROLE chose (PostgREST sets it from the key's claims); a claim alone proves nothing, and a
-- security definer function's owner does not show there.
create or replace function lab_private.acting_user(p_user_id uuid default null) returns uuid
  language plpgsql stable set search_path = '' as $$
declare v uuid := lab_private.current_member();
begin
  if v is not null then
    if p_user_id is not null and p_user_id <> v then
      raise exception 'lab: signed in as %, cannot act as %', v, p_user_id using errcode = '42501';
    end if;
    return v;
  end if;
  if p_user_id is not null and auth.role() = 'service_role' and current_setting('role', true) = 'service_role' then
    return p_user_id;
  end if;
  raise exception 'lab: not signed in (no user id in the request)' using errcode = '42501';
end
$$;

-- Row-level security on the member, not on the raw claim: every lab policy is replaced.
do $$
declare p record;
begin
  for p in
    select policyname, tablename from pg_policies
    where schemaname = 'public' and policyname like 'lab\_%'
      and tablename in ('users', 'scripts', 'jobs', 'jupyter_sessions', 'agents', 'lifecycle_events')
  loop
    execute format('drop policy %I on public.%I', p.policyname, p.tablename);
  end loop;
end
$$;
create policy lab_users_own_select on public.users for select to authenticated
  using ((select lab_private.current_member()) = user_id);
create policy lab_users_own_insert on public.users for insert to authenticated
  with check ((select lab_private.current_member()) = user_id);
create policy lab_users_own_update on public.users for update to authenticated
  using ((select lab_private.current_member()) = user_id) with check ((select lab_private.current_member()) = user_id);
create policy lab_scripts_own_select on public.scripts for select to authenticated
  using ((select lab_private.current_member()) = user_id);
create policy lab_jobs_own_select on public.jobs for select to authenticated
  using ((select lab_private.current_member()) = user_id);
create policy lab_jobs_own_insert on public.jobs for insert to authenticated
  with check ((select lab_private.current_member()) = user_id);
create policy lab_jupyter_own_select on public.jupyter_sessions for select to authenticated
  using ((select lab_private.current_member()) = user_id);
create policy lab_jupyter_own_insert on public.jupyter_sessions for insert to authenticated
  with check ((select lab_private.current_member()) = user_id);
create policy lab_agents_own_select on public.agents for select to authenticated
  using ((select lab_private.current_member()) = user_id);
create policy lab_events_own_select on public.lifecycle_events for select to authenticated
  using ((select lab_private.current_member()) = user_id);
alter table public.jobs alter column user_id set default lab_private.current_member();
alter table public.jupyter_sessions alter column user_id set default lab_private.current_member();

-- linux_user is a label --------------------------------------------------------------------------
-- Any unique key on users.linux_user alone (ours, or the original's `linux_user text unique`):
-- with it, an account that wrote a name first blocked its owner from registering.
do $$
declare i record;
begin
  for i in
    select c.relname as index_name, con.conname
    from pg_index x
    join pg_class c on c.oid = x.indexrelid
    left join pg_constraint con on con.conindid = x.indexrelid and con.conrelid = x.indrelid
    where x.indrelid = 'public.users'::regclass and x.indisunique and not x.indisprimary
      and x.indnatts = 1
      and x.indkey[0] = (select attnum from pg_attribute where attrelid = 'public.users'::regclass and attname = 'linux_user')
  loop
    if i.conname is not null then
      execute format('alter table public.users drop constraint %I', i.conname);
    else
      execute format('drop index public.%I', i.index_name);
    end if;
  end loop;
end
$$;

-- Which Linux account an agent of the member runs as, per host: written by that agent.
create table if not exists public.user_hosts (
  user_id uuid not null references public.users (user_id) on delete cascade,
  host text not null,
  linux_user text not null,
  updated_at timestamptz not null default now(),
  primary key (user_id, host)
);
alter table public.user_hosts enable row level security;
revoke all on public.user_hosts from public, anon, authenticated;
grant select on public.user_hosts to authenticated;
grant all on public.user_hosts to service_role;
drop policy if exists lab_user_hosts_own_select on public.user_hosts;
create policy lab_user_hosts_own_select on public.user_hosts for select to authenticated
  using ((select lab_private.current_member()) = user_id);

-- The caller's own users row, and this host's binding when p_host is given. No key but user_id:
-- nothing another account writes can make it fail.
drop function if exists public.user_ensure(text, text, uuid);
create or replace function public.user_ensure(p_linux_user text, p_email text default null,
  p_host text default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); u public.users;
begin
  -- Written only when something changed: every agent start and CLI call ensures its row.
  insert into public.users (user_id, linux_user, email) values (v_uid, p_linux_user, p_email)
  on conflict (user_id) do update set linux_user = excluded.linux_user,
    email = coalesce(excluded.email, public.users.email)
    where public.users.linux_user is distinct from excluded.linux_user
       or (excluded.email is not null and public.users.email is distinct from excluded.email)
  returning * into u;
  if u.user_id is null then
    select * into u from public.users where user_id = v_uid;
  end if;
  if coalesce(p_host, '') <> '' and coalesce(p_linux_user, '') <> '' then
    insert into public.user_hosts (user_id, host, linux_user) values (v_uid, p_host, p_linux_user)
    on conflict (user_id, host) do update set linux_user = excluded.linux_user, updated_at = now()
      where public.user_hosts.linux_user is distinct from excluded.linux_user;
  end if;
  return to_jsonb(u);
end
$$;

-- wake-ups ---------------------------------------------------------------------------------------
-- PostgreSQL lets any role LISTEN on any channel: a member's channel name is a secret known to
-- that member's calls only, and what is sent on it names no row.
create table if not exists lab_private.wake_channels (
  user_id uuid primary key,
  channel text not null unique
);
revoke all on lab_private.wake_channels from public, anon, authenticated, service_role;

create or replace function lab_private.wake_channel_of(p_uid uuid) returns text
  language plpgsql security definer set search_path = '' as $$
declare c text;
begin
  select w.channel into c from lab_private.wake_channels w where w.user_id = p_uid;
  if c is null then
    -- gen_random_uuid() draws from a strong random source: 122 random bits per name.
    insert into lab_private.wake_channels (user_id, channel)
      values (p_uid, 'lab_agent_' || replace(gen_random_uuid()::text, '-', ''))
      on conflict (user_id) do nothing;
    select w.channel into c from lab_private.wake_channels w where w.user_id = p_uid;
  end if;
  return c;
end
$$;

create or replace function public.agent_wake_channel(p_user_id uuid default null) returns text
  language plpgsql security definer set search_path = '' as $$
begin
  return lab_private.wake_channel_of(lab_private.acting_user(p_user_id));
end
$$;

-- As in 20261129000300, with the NOTIFY going to the member's secret channel, carrying only what
-- kind of thing happened (the agent reads the rows itself).
create or replace function lab_private.record_transition() returns trigger
  language plpgsql security definer set search_path = '' as $$
declare
  v_new jsonb := to_jsonb(new);
  v_old jsonb := case when tg_op = 'UPDATE' then to_jsonb(old) else null end;
  v_id uuid := (v_new ->> tg_argv[1])::uuid;
  v_detail jsonb := lab_private.event_detail();
  v_changed boolean := false;
  v_action text;
begin
  if tg_op = 'INSERT' then
    insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
      values (new.user_id, tg_argv[0], v_id, null, new.status, v_detail || '{"action":"created"}');
    v_changed := true;
    v_action := 'created';
  else
    if new.status is distinct from old.status then
      insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
        values (new.user_id, tg_argv[0], v_id, old.status, new.status, v_detail);
      v_changed := true;
      v_action := 'status';
    end if;
    if v_old ->> tg_argv[2] is null and v_new ->> tg_argv[2] is not null then
      insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
        values (new.user_id, tg_argv[0], v_id, new.status, new.status,
                v_detail || jsonb_build_object('action', tg_argv[2]));
      v_changed := true;
      v_action := 'request';
    end if;
    if v_old ->> 'notified_at' is null and v_new ->> 'notified_at' is not null then
      insert into public.lifecycle_events (user_id, subject, subject_id, from_status, to_status, detail)
        values (new.user_id, tg_argv[0], v_id, new.status, 'notified', v_detail);
    end if;
  end if;
  if v_changed then
    -- action: created | status | request (a cancel or stop was asked for).
    perform pg_notify(lab_private.wake_channel_of(new.user_id),
      jsonb_build_object('subject', tg_argv[0], 'action', v_action)::text);
  end if;
  return null;
end
$$;

-- identity as the agent and doctor see it -----------------------------------------------------------
-- The connecting role and, when it is a member role, whose: how the agent learns it acts for a
-- member without being told (the role itself is the proof).
create or replace function public.db_connection_identity() returns jsonb
  language sql stable security definer set search_path = '' as $$
  select jsonb_build_object('role', session_user::text,
    'member_user_id', (select m.user_id from lab_private.member_roles m where m.role_name = session_user::text))
$$;

-- The acting member's email as the authority over accounts recorded it: Supabase Auth (only once
-- confirmed), or on plain PostgreSQL the database administrator (`db add-member --email`).
create or replace function public.user_verified_email(p_user_id uuid default null) returns text
  language plpgsql stable security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); u jsonb;
begin
  select to_jsonb(a) into u from auth.users a where a.id = v_uid;
  if u is null or (u ? 'email_confirmed_at' and u ->> 'email_confirmed_at' is null) then
    return null;
  end if;
  return nullif(u ->> 'email', '');
end
$$;

-- Jupyter: the tunnel a loopback-bound server is reached through ------------------------------------
alter table public.jupyter_sessions add column if not exists tunnel text;
drop function if exists public.jupyter_mark_running(uuid, int, text, int, text, text, text, text, uuid);
create or replace function public.jupyter_mark_running(p_session_id uuid, p_port int, p_token text, p_pid int,
  p_pid_start text, p_url text, p_log_path text default null, p_app text default null,
  p_tunnel text default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status <> 'starting' then
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'mark running', 'starting');
  end if;
  -- The token never goes into the event detail: events are for dashboards and logs.
  perform lab_private.set_event_detail(jsonb_build_object('pid', p_pid, 'port', p_port));
  update public.jupyter_sessions set status = 'running', port = p_port, token = p_token, pid = p_pid,
    pid_start = p_pid_start, url = p_url, log_path = coalesce(p_log_path, log_path), app = coalesce(p_app, app),
    tunnel = p_tunnel, started_at = now()
    where session_id = p_session_id returning * into s;
  perform lab_private.set_event_detail(null);
  return to_jsonb(s);
end
$$;

-- member roles (run by the database administrator) ---------------------------------------------
-- p_password_verifier: a SCRAM-SHA-256 verifier made by the client, so the password itself never
-- reaches the server or its logs. Returns {role, user_id, created}.
create or replace function lab_private.member_add(p_role text, p_password_verifier text, p_linux_user text,
  p_host text default null, p_email text default null, p_user_id uuid default null) returns jsonb
  language plpgsql set search_path = '' as $$
declare v_mapped uuid; v_exists boolean; v_uid uuid; v_found uuid[];
begin
  if p_role !~ '^lab_[a-z0-9_]{1,59}$' then
    raise exception 'lab: % is not a member role name (lab_ followed by a-z, 0-9, _)', p_role using errcode = '22023';
  end if;
  if p_password_verifier !~ '^SCRAM-SHA-256\$' then
    raise exception 'lab: the password must come as a SCRAM-SHA-256 verifier' using errcode = '22023';
  end if;
  select m.user_id into v_mapped from lab_private.member_roles m where m.role_name = p_role;
  v_exists := exists (select 1 from pg_catalog.pg_roles r where r.rolname = p_role);
  if v_exists and v_mapped is null then
    raise exception 'lab: role % exists and is not a lab member role; drop it or choose another name', p_role using errcode = '42710';
  end if;
  if v_mapped is not null and p_user_id is not null and p_user_id <> v_mapped then
    raise exception 'lab: role % already acts for user %', p_role, v_mapped using errcode = '42710';
  end if;
  if v_mapped is null and p_user_id is null and coalesce(p_email, '') <> '' then
    select array_agg(a.id) into v_found from auth.users a where lower(a.email) = lower(p_email);
    if cardinality(v_found) > 1 then
      raise exception 'lab: % accounts have the email %: name the one with --user-id', cardinality(v_found), p_email using errcode = '21000';
    end if;
  end if;
  v_uid := coalesce(v_mapped, p_user_id, v_found[1], gen_random_uuid());
  if v_exists then
    execute format('alter role %I with login password %L', p_role, p_password_verifier);
  else
    execute format('create role %I with login inherit password %L in role authenticated', p_role, p_password_verifier);
    insert into lab_private.member_roles (role_name, user_id) values (p_role, v_uid);
  end if;
  -- The bootstrap's minimal auth.users (never Supabase's, which is GoTrue's): the email the
  -- administrator vouches for is what doctor compares LAB_EMAIL with.
  if not exists (select 1 from information_schema.columns
                 where table_schema = 'auth' and table_name = 'users' and column_name = 'email_confirmed_at') then
    insert into auth.users (id, email) values (v_uid, nullif(p_email, ''))
      on conflict (id) do update set email = coalesce(excluded.email, auth.users.email);
  end if;
  insert into public.users (user_id, linux_user, email) values (v_uid, p_linux_user, nullif(p_email, ''))
    on conflict (user_id) do update set linux_user = excluded.linux_user,
      email = coalesce(excluded.email, public.users.email);
  if coalesce(p_host, '') <> '' then
    insert into public.user_hosts (user_id, host, linux_user) values (v_uid, p_host, p_linux_user)
      on conflict (user_id, host) do update set linux_user = excluded.linux_user, updated_at = now();
  end if;
  return jsonb_build_object('role', p_role, 'user_id', v_uid, 'created', not v_exists);
end
$$;

-- The role goes (its open connections are ended); the member's rows stay.
create or replace function lab_private.member_remove(p_role text) returns jsonb
  language plpgsql set search_path = '' as $$
declare v_uid uuid; v_ended int := 0; v_pid int;
begin
  delete from lab_private.member_roles m where m.role_name = p_role returning m.user_id into v_uid;
  if v_uid is null then
    raise exception 'lab: % is not a lab member role', p_role using errcode = 'P0002';
  end if;
  -- One by one (a WHERE clause may call the terminate before it filters on the role).
  for v_pid in select a.pid from pg_catalog.pg_stat_activity a where a.usename = p_role loop
    begin
      if pg_catalog.pg_terminate_backend(v_pid) then v_ended := v_ended + 1; end if;
    exception when insufficient_privilege then
      null;
    end;
  end loop;
  execute format('drop owned by %I', p_role);
  execute format('drop role %I', p_role);
  return jsonb_build_object('role', p_role, 'user_id', v_uid, 'connections_ended', v_ended);
end
$$;

-- grants -----------------------------------------------------------------------------------------
-- A function is executable by PUBLIC when created: take that back everywhere, then grant.
revoke all on function lab_private.current_member(), lab_private.acting_user(uuid), lab_private.record_transition(),
  lab_private.wake_channel_of(uuid), lab_private.member_add(text, text, text, text, text, uuid),
  lab_private.member_remove(text) from public, anon;
revoke all on function lab_private.wake_channel_of(uuid), lab_private.member_add(text, text, text, text, text, uuid),
  lab_private.member_remove(text) from authenticated, service_role;
grant execute on function lab_private.current_member(), lab_private.acting_user(uuid) to authenticated, service_role;
do $$
declare f record;
begin
  for f in
    select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname in (
      'user_ensure', 'agent_wake_channel', 'db_connection_identity', 'user_verified_email', 'jupyter_mark_running')
  loop
    execute format('revoke all on function %s from public, anon', f.sig);
    execute format('grant execute on function %s to authenticated, service_role', f.sig);
  end loop;
end
$$;
-- A member role checks the schema version before it starts (nothing secret: version numbers).
grant select on lab_private.schema_migrations to authenticated, service_role;
