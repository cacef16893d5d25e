// A link to one job's or Jupyter session's page on the member's dashboard (LAB_DASHBOARD_URL:
// `lab-agent web` behind a tunnel, or the static page). The page routes by the URL's fragment,
// so the link works on any static host.
export function dashboardLink(base: string | null | undefined, kind: 'job' | 'session', id: string): string | null {
  if (!base) return null;
  const root = base.replace(/#.*$/, '');
  return `${root}#/${kind === 'job' ? 'jobs' : 'jupyter'}/${id}`;
}
