// The first screen's data inside index.html: who the member is and the first page of their jobs,
// so that opening the dashboard waits for no API round trip after the script has loaded (issue 14:
// token link → job list ≤ 1 s). The page's head goes out at once (the browser fetches the script
// and style meanwhile), the data follows when the query returns. Only for a request holding the
// session cookie; never cached.
import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';

/** The element's id, and the page size both the page and the boot data use. */
export const BOOT_ELEMENT_ID = 'lab-boot';
export const JOBS_PAGE_SIZE = 50;

/** JSON that cannot end its <script type="application/json"> element early: no "<" at all. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * Sends index.html with the boot data before </body>. A failing query sends the page without
 * it (the page then asks the API itself, and shows that error where the member sees it).
 */
export async function sendBootPage(html: string, res: ServerResponse, load: () => Promise<unknown>, log: Logger): Promise<void> {
  const at = html.lastIndexOf('</body>');
  if (at < 0) throw new Error('index.html has no </body>');
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.write(html.slice(0, at));
  let data: unknown = null;
  try {
    data = await load();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'the page\'s first data could not be read; the page will ask again');
  }
  const boot = data === null ? '' : `<script type="application/json" id="${BOOT_ELEMENT_ID}">${scriptJson(data)}</script>\n`;
  res.end(`${boot}${html.slice(at)}`);
}
