-- Rows the original agent left running (it ran jobs inside its cron run and never took a claim:
-- no agent_id) have no process this agent can watch, so they would stay running for ever. They
-- end as failed, with the reason in the row and its history; the member gets the usual email.
-- Rows of this agent always carry agent_id, so re-running this changes nothing.
select lab_private.set_event_detail('{"reason": "interrupted by the upgrade", "via": "upgrade"}');

update public.jobs
   set status = 'failed', finished_at = coalesce(finished_at, now()),
       error = 'interrupted by the upgrade: the original agent was running it, and nothing watches it any more; submit it again if it did not finish'
 where status = 'running' and agent_id is null;

-- Its Jupyter servers likewise: never stopped by it, unknown to this agent.
update public.jupyter_sessions
   set status = 'failed', updated_at = now(),
       error_message = 'interrupted by the upgrade: the original agent started this server; stop it by hand if it still runs, and request a new one'
 where status in ('starting', 'running') and agent_id is null;

select lab_private.set_event_detail(null);
