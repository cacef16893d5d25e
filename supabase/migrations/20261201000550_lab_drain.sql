-- Drain and resume: the member's agent on a drained host claims no new job or Jupyter server and lets
-- what runs finish; jobs that name "any host" go to the member's other hosts; jobs pinned to the
-- host wait, saying so. The database administrator can drain a host for the whole lab (maintenance).

-- The member's pending jobs pinned to p_host (all members' when p_uid is null) say again why they wait.
create or replace function lab_private.refresh_host_reasons(p_uid uuid, p_host text) returns void
  language sql set search_path = '' as $$
  update public.jobs j set pending_reason = lab_private.pending_reason_of(j)
    where j.status = 'pending' and j.host = p_host and (p_uid is null or j.user_id = p_uid)
      and j.pending_reason is distinct from lab_private.pending_reason_of(j)
$$;

-- Agents hear of a resume at once (nothing else changes status then).
create or replace function lab_private.wake_member(p_uid uuid) returns void
  language sql set search_path = '' as $$
  select pg_notify(lab_private.wake_channel_of(p_uid), '{"subject":"job","action":"resumed"}')
$$;

create or replace function public.host_drain(p_host text, p_note text default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); d public.host_drains;
begin
  if coalesce(btrim(p_host), '') = '' then
    raise exception 'lab: name the host to drain' using errcode = '22023';
  end if;
  insert into public.host_drains (user_id, host, note) values (v_uid, p_host, p_note)
    on conflict (user_id, host) do update set note = coalesce(excluded.note, public.host_drains.note)
    returning * into d;
  perform lab_private.refresh_host_reasons(v_uid, p_host);
  return to_jsonb(d);
end
$$;

-- Returns {host, resumed (a drain of mine was lifted), lab_drained (the lab's drain still holds)}.
create or replace function public.host_resume(p_host text, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v_n int;
begin
  delete from public.host_drains where user_id = v_uid and host = p_host;
  get diagnostics v_n = row_count;
  perform lab_private.refresh_host_reasons(v_uid, p_host);
  perform lab_private.wake_member(v_uid);
  return jsonb_build_object('host', p_host, 'resumed', v_n > 0,
    'lab_drained', exists (select 1 from public.host_drains where user_id is null and host = p_host));
end
$$;

-- Drains that apply to me: my own and the lab's.
create or replace function public.host_drains_list(p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(d) || jsonb_build_object('lab_wide', d.user_id is null) order by d.host, d.user_id nulls first), '[]'::jsonb)
  from public.host_drains d
  where d.user_id = lab_private.acting_user(p_user_id) or d.user_id is null
$$;

-- The database administrator's drain of a host for every member (p_on = false lifts it).
create or replace function lab_private.host_drain_lab(p_host text, p_on boolean, p_note text default null) returns jsonb
  language plpgsql set search_path = '' as $$
declare d public.host_drains; v_uid uuid;
begin
  if coalesce(btrim(p_host), '') = '' then
    raise exception 'lab: name the host to drain' using errcode = '22023';
  end if;
  if p_on then
    insert into public.host_drains (user_id, host, note) values (null, p_host, p_note)
      on conflict (user_id, host) do update set note = coalesce(excluded.note, public.host_drains.note)
      returning * into d;
  else
    delete from public.host_drains where user_id is null and host = p_host returning * into d;
  end if;
  perform lab_private.refresh_host_reasons(null, p_host);
  if not p_on then
    for v_uid in select distinct a.user_id from public.agents a where a.host = p_host loop
      perform lab_private.wake_member(v_uid);
    end loop;
  end if;
  return jsonb_build_object('host', p_host, 'drained', p_on, 'row', to_jsonb(d));
end
$$;
