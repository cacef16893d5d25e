-- Local development seed (`supabase db reset`): nothing is needed. Lab members sign in with
-- `lab-agent login`, and the agent creates their users row itself.
select 1;
