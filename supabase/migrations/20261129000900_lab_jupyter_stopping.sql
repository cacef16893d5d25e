-- Stopping a Jupyter server is SIGTERM, then SIGKILL after a grace. The moment the stop began lives
-- in the row, so whichever agent process runs the next tick (cron starts a new one each minute)
-- knows how much of the grace is left, rather than starting it again.

alter table public.jupyter_sessions add column if not exists stopping_at timestamptz;

create or replace function public.jupyter_begin_stop(p_session_id uuid, p_reason text default null,
  p_user_id uuid default null) returns jsonb
  language plpgsql security definer set search_path = '' as $$
declare v_uid uuid := lab_private.acting_user(p_user_id); s public.jupyter_sessions;
begin
  s := lab_private.locked_session(p_session_id, v_uid);
  if s.status not in ('starting', 'running') then
    perform lab_private.wrong_state('Jupyter session', p_session_id, s.status, 'begin stopping', 'starting or running');
  end if;
  perform lab_private.set_event_detail(jsonb_build_object('reason', p_reason));
  update public.jupyter_sessions set status = 'stopping', stopping_at = coalesce(stopping_at, now())
    where session_id = p_session_id returning * into s;
  perform lab_private.set_event_detail(null);
  return to_jsonb(s);
end
$$;

revoke all on function public.jupyter_begin_stop(uuid, text, uuid) from public, anon;
grant execute on function public.jupyter_begin_stop(uuid, text, uuid) to authenticated, service_role;
