-- The schema's history, whichever way it was applied: `lab-agent db migrate` records versions in
-- lab_private.schema_migrations (and, since this agent version, in the CLI's table too);
-- `supabase db push` records them in supabase_migrations.schema_migrations only. Both are read,
-- so doctor can tell a migration that is missing after `db push`. Safe to re-run.

-- Every applied version, oldest first. The CLI's table may not exist (plain PostgreSQL, or a
-- project migrated only by the agent): it is read only when it does.
create or replace function lab_private.applied_versions() returns text[]
  language plpgsql stable security definer set search_path = '' as $$
declare v text[];
begin
  select coalesce(array_agg(version order by version), '{}') into v from lab_private.schema_migrations;
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    execute 'select coalesce(array_agg(distinct x order by x), ''{}'') from unnest($1 || array(select version::text from supabase_migrations.schema_migrations)) as x'
      into v using v;
  end if;
  return v;
end
$$;
revoke all on function lab_private.applied_versions() from public, anon;
grant execute on function lab_private.applied_versions() to authenticated, service_role;

create or replace function public.lab_schema_version(p_user_id uuid default null) returns text
  language sql stable security definer set search_path = '' as $$
  select (lab_private.applied_versions())[cardinality(lab_private.applied_versions())]
$$;

-- The versions themselves: a gap (one migration skipped) shows here, not in the newest version.
create or replace function public.lab_schema_applied(p_user_id uuid default null) returns jsonb
  language sql stable security definer set search_path = '' as $$
  select to_jsonb(lab_private.applied_versions())
$$;

revoke all on function public.lab_schema_version(uuid), public.lab_schema_applied(uuid) from public, anon;
grant execute on function public.lab_schema_version(uuid), public.lab_schema_applied(uuid) to authenticated, service_role;
