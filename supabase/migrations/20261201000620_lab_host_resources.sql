-- GPUs (issue 16), part 3: each agent's heartbeat publishes its host's resources (GPUs, CPU load,
-- memory) into a table every lab member may read for any host; nothing in it names a member or a
-- job. A utilisation sample per GPU at most every 50 s, kept two hours, feeds the dashboard's
-- sparklines (the last hour).

create table if not exists public.host_resources (
  host text primary key,
  updated_at timestamptz not null default now(),
  gpu_status text,            -- the probe's status: ok, no-nvidia-smi, driver-error, ...
  gpu_problem text,           -- one line when something is wrong with the GPUs
  gpus jsonb not null default '[]'::jsonb,   -- [{ index, uuid, model, memory_total_mib, memory_used_mib,
                                             --    utilization_pct, temperature_c, processes, unusable }]
  cpu_count int,
  load_1m real,
  mem_total_mib bigint,
  mem_free_mib bigint
);

create table if not exists public.host_gpu_samples (
  host text not null,
  gpu_uuid text not null,
  at timestamptz not null default now(),
  utilization_pct real,
  memory_used_mib int,
  primary key (host, gpu_uuid, at)
);

alter table public.host_resources enable row level security;
alter table public.host_gpu_samples enable row level security;
revoke all on public.host_resources, public.host_gpu_samples from public, anon, authenticated;
grant all on public.host_resources, public.host_gpu_samples to service_role;
-- Every signed-in member reads every host (the hosts are shared); writes go through host_publish.
drop policy if exists lab_hosts_read on public.host_resources;
create policy lab_hosts_read on public.host_resources for select to authenticated using (true);
drop policy if exists lab_host_samples_read on public.host_gpu_samples;
create policy lab_host_samples_read on public.host_gpu_samples for select to authenticated using (true);
grant select on public.host_resources, public.host_gpu_samples to authenticated;

-- An agent publishes its host: only a member with an agent registered on that host may (a member
-- could still describe a host they run on wrongly: the table is for people, the claim never reads it).
create or replace function public.host_publish(p_agent_id uuid, p_host text, p_resources jsonb,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); h public.host_resources;
begin
  if not exists (select 1 from public.agents where agent_id = p_agent_id and user_id = v_uid and host = p_host) then
    raise exception 'lab: no agent % of yours is registered on %', p_agent_id, p_host using errcode = '42501';
  end if;
  if jsonb_typeof(coalesce(p_resources -> 'gpus', '[]'::jsonb)) <> 'array' or jsonb_array_length(coalesce(p_resources -> 'gpus', '[]'::jsonb)) > 64
     or length(p_resources::text) > 200000 then
    raise exception 'lab: host resources must hold at most 64 GPUs' using errcode = '22023';
  end if;
  insert into public.host_resources as r (host, updated_at, gpu_status, gpu_problem, gpus, cpu_count, load_1m, mem_total_mib, mem_free_mib)
    values (p_host, now(), p_resources ->> 'gpu_status', left(p_resources ->> 'gpu_problem', 2000),
      coalesce(p_resources -> 'gpus', '[]'::jsonb), (p_resources ->> 'cpu_count')::int, (p_resources ->> 'load_1m')::real,
      (p_resources ->> 'mem_total_mib')::bigint, (p_resources ->> 'mem_free_mib')::bigint)
  on conflict (host) do update set updated_at = excluded.updated_at, gpu_status = excluded.gpu_status,
    gpu_problem = excluded.gpu_problem, gpus = excluded.gpus, cpu_count = excluded.cpu_count,
    load_1m = excluded.load_1m, mem_total_mib = excluded.mem_total_mib, mem_free_mib = excluded.mem_free_mib
  returning * into h;
  insert into public.host_gpu_samples (host, gpu_uuid, at, utilization_pct, memory_used_mib)
    select p_host, g ->> 'uuid', now(), (g ->> 'utilization_pct')::real, (g ->> 'memory_used_mib')::int
    from jsonb_array_elements(h.gpus) g
    where g ->> 'uuid' is not null and not exists (
      select 1 from public.host_gpu_samples s where s.host = p_host and s.gpu_uuid = g ->> 'uuid'
        and s.at > now() - interval '50 seconds');
  delete from public.host_gpu_samples where host = p_host and at < now() - interval '2 hours';
  return to_jsonb(h);
end
$$;

-- Every host with its resources; per GPU whether it is free now (usable, no process, no lease),
-- and with p_history the last hour's utilisation samples (for sparklines).
create or replace function public.hosts_list(p_history boolean default false, p_user_id uuid default null)
  returns jsonb language plpgsql stable security definer set search_path = '' as $$
begin
  perform lab_private.acting_user(p_user_id);  -- members and the service key only
  return coalesce((select jsonb_agg(to_jsonb(h) || jsonb_build_object(
      'seconds_since_update', floor(extract(epoch from now() - h.updated_at)),
      'gpus', (select coalesce(jsonb_agg(g || jsonb_build_object(
          'leased', exists (select 1 from public.gpu_leases l where l.host = h.host and l.gpu_uuid = g ->> 'uuid'),
          'free', g ->> 'unusable' is null and coalesce((g ->> 'processes')::int, 0) = 0
                  and not exists (select 1 from public.gpu_leases l where l.host = h.host and l.gpu_uuid = g ->> 'uuid'))
          || case when p_history then jsonb_build_object('history', (
               select coalesce(jsonb_agg(jsonb_build_array(s.at, s.utilization_pct) order by s.at), '[]'::jsonb)
               from public.host_gpu_samples s
               where s.host = h.host and s.gpu_uuid = g ->> 'uuid' and s.at > now() - interval '1 hour'))
             else '{}'::jsonb end
          order by (g ->> 'index')::int), '[]'::jsonb) from jsonb_array_elements(h.gpus) g))
      order by h.host) from public.host_resources h), '[]'::jsonb);
end
$$;

revoke all on function public.host_publish(uuid, text, jsonb, uuid), public.hosts_list(boolean, uuid) from public, anon;
grant execute on function public.host_publish(uuid, text, jsonb, uuid), public.hosts_list(boolean, uuid) to authenticated, service_role;
