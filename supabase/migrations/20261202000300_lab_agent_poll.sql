-- Issue 13, load on a hosted project: an agent's "anything for me?" is one request. agent_poll
-- records the agent's heartbeat (registering it when its row is new or another process of it
-- starts), keeps the member's users row and host binding (user_ensure, written only on change),
-- publishes the host's resources when the agent sends them, and answers with everything the pass
-- needs: jobs_for_agent's work (running and claimed jobs, due emails, pending count, drain, due
-- schedules and sweep emails, the next wake-up) plus the host's active Jupyter sessions. It
-- replaces user_ensure + agent_register + jobs_for_agent + jupyter_list + host_publish +
-- agent_heartbeat on every pass (6 requests → 1).

-- How often the agent promises to heartbeat (its poll interval): liveness waits for 2.5 of them.
alter table public.agents add column if not exists heartbeat_every_s int;

create or replace function public.agent_poll(p_agent_id uuid, p_host text, p_version text, p_mode text,
  p_pid int default null, p_heartbeat_every_s int default null, p_linux_user text default null,
  p_email text default null, p_resources jsonb default null, p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); v_publish_error text;
begin
  if p_linux_user is not null then
    perform public.user_ensure(p_linux_user, p_email, p_host, p_user_id);
  end if;
  insert into public.agents as g (agent_id, user_id, host, version, mode, pid, heartbeat_every_s)
    values (p_agent_id, v_uid, p_host, p_version, p_mode, p_pid, p_heartbeat_every_s)
  on conflict (agent_id) do update set host = excluded.host, version = excluded.version, mode = excluded.mode,
    pid = excluded.pid, heartbeat_every_s = excluded.heartbeat_every_s, heartbeat_at = now(), stopped_at = null,
    -- a new process of this agent (a supervisor restarted, each cron tick) starts again
    started_at = case when g.pid is distinct from excluded.pid or g.stopped_at is not null then now() else g.started_at end
    where g.user_id = v_uid;
  if not found then -- the row is another member's: the update's where refused it
    raise exception 'lab: agent % belongs to another user', p_agent_id using errcode = '42501';
  end if;
  -- Resources the host cannot publish (too many GPUs ...) are said in the answer; the work still comes.
  if p_resources is not null then
    begin
      perform public.host_publish(p_agent_id, p_host, p_resources, p_user_id);
    exception when others then
      v_publish_error := sqlerrm;
    end;
  end if;
  return public.jobs_for_agent(p_host, p_user_id)
    || jsonb_build_object('sessions', public.jupyter_list(200, true, p_host, p_user_id), 'publish_error', v_publish_error);
end
$$;

-- Alive: a supervisor heartbeats with every poll (LAB_POLL_INTERVAL_S, told as heartbeat_every_s;
-- 30 s for agents that do not say); a cron agent (mode 'tick') stops after each pass and runs once a minute.
create or replace function public.agents_list(p_user_id uuid default null) returns jsonb
  language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(to_jsonb(a) || jsonb_build_object(
      'alive', case when a.mode = 'tick' then a.heartbeat_at > now() - interval '150 seconds'
                    else a.stopped_at is null
                      and a.heartbeat_at > now() - make_interval(secs => greatest(90, 2.5 * coalesce(a.heartbeat_every_s, 30))) end,
      'seconds_since_heartbeat', floor(extract(epoch from now() - a.heartbeat_at)))
      order by a.heartbeat_at desc), '[]'::jsonb)
  from public.agents a where a.user_id = lab_private.acting_user(p_user_id)
$$;

revoke all on function public.agent_poll(uuid, text, text, text, int, int, text, text, jsonb, uuid) from public, anon;
grant execute on function public.agent_poll(uuid, text, text, text, int, int, text, text, jsonb, uuid) to authenticated, service_role;
