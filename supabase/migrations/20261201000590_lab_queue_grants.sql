-- Execute rights for the queue functions: a signed-in member and the service key, never anon or
-- PUBLIC (a function is executable by PUBLIC when created). The lab-wide drain is the database
-- administrator's only.
do $$
declare f record;
begin
  for f in
    select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname in (
      'job_submit', 'job_claim', 'job_finish', 'job_fail', 'job_release', 'jobs_for_agent', 'jupyter_claim',
      'user_set_time_zone',
      'sweep_submit', 'sweep_get', 'sweeps_list', 'sweep_request_cancel', 'sweep_notify_begin',
      'sweep_mark_notified', 'sweep_notify_failed',
      'schedule_add', 'schedules_list', 'schedule_remove', 'schedule_pause', 'schedule_resume', 'schedule_fire',
      'host_drain', 'host_resume', 'host_drains_list')
  loop
    execute format('revoke all on function %s from public, anon', f.sig);
    execute format('grant execute on function %s to authenticated, service_role', f.sig);
  end loop;
end
$$;
revoke all on all functions in schema lab_private from public, anon;
grant execute on all functions in schema lab_private to authenticated, service_role;
revoke all on function lab_private.host_drain_lab(text, boolean, text) from authenticated, service_role;
-- As before (20261201000100): members never call these themselves.
revoke all on function lab_private.wake_channel_of(uuid), lab_private.member_add(text, text, text, text, text, uuid),
  lab_private.member_remove(text) from authenticated, service_role;
