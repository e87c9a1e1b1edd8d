/**
 * The agent's dashboard (GET /): one page, its script and its style, written by hand and served
 * from memory; nothing is fetched from elsewhere. The Content-Security-Policy allows only this
 * origin's script, style and requests, so even markup that slipped into the page could not run.
 */
import { DASHBOARD_HTML } from './page.js';
import { DASHBOARD_JS } from './script.js';
import { DASHBOARD_CSS } from './style.js';

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface DashboardAsset {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

function asset(type: string, text: string): DashboardAsset {
  const body = Buffer.from(text, 'utf8');
  return {
    body,
    headers: {
      'content-type': type,
      'content-length': String(body.length),
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    },
  };
}

const ASSETS: ReadonlyMap<string, DashboardAsset> = new Map([
  ['/', asset('text/html; charset=utf-8', DASHBOARD_HTML)],
  ['/dashboard.js', asset('text/javascript; charset=utf-8', DASHBOARD_JS)],
  ['/dashboard.css', asset('text/css; charset=utf-8', DASHBOARD_CSS)],
]);

/** The dashboard file at `path`, or undefined. */
export function dashboardAsset(path: string): DashboardAsset | undefined {
  return ASSETS.get(path);
}
