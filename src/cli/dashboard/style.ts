/** The dashboard's style sheet. */
export const DASHBOARD_CSS = `:root { --bg: #f6f7f9; --panel: #fff; --ink: #1d2430; --muted: #6b7585; --line: #dde1e7;
  --alive: #1f8f4e; --leaving: #b7791f; --left: #6b7585; --failed: #c53030; --suspect: #d69e2e; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 8px 16px; background: #1d2430; color: #fff; }
h1 { font-size: 16px; margin: 0; font-weight: 600; }
h1 span { font-weight: 400; opacity: .85; }
h2 { font-size: 14px; margin: 0 0 8px; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; padding: 12px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
#ring-panel { grid-column: 1; grid-row: 1 / span 2; }
#health-panel { grid-column: 2; }
#members-panel { grid-column: 1 / span 2; }
#feed-panel { grid-column: 2; grid-row: 2; }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } #ring-panel, #health-panel, #members-panel, #feed-panel { grid-column: 1; grid-row: auto; } }
.muted { color: var(--muted); font-weight: 400; }
.key { font-size: 11px; margin: 4px 0; }
.conn { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #4a5568; }
.conn[data-state="live"] { background: var(--alive); }
.conn[data-state="down"] { background: var(--failed); }
#notice { font-size: 12px; color: #fbd38d; }
dl#health { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dl#health dt { color: var(--muted); }
dl#health dd { margin: 0; font-variant-numeric: tabular-nums; }
.agreement { margin: 8px 0 0; }
.agreement[data-ok="true"] { color: var(--alive); }
.agreement[data-ok="false"] { color: var(--failed); }
#ring-wrap { position: relative; margin: 8px 0; }
canvas#ring { display: block; width: 100%; cursor: crosshair; }
#tip { position: absolute; pointer-events: none; background: rgba(29, 36, 48, .95); color: #fff; padding: 4px 8px; border-radius: 4px;
  font-size: 12px; max-width: 360px; white-space: pre-line; z-index: 2; overflow-wrap: anywhere; }
#legend { display: flex; flex-wrap: wrap; gap: 4px 14px; }
#legend .item { display: inline-flex; align-items: center; gap: 4px; max-width: 100%; overflow-wrap: anywhere; text-align: left;
  font: inherit; color: inherit; background: none; border: 1px solid transparent; border-radius: 4px; padding: 1px 4px; cursor: pointer; }
#legend .item:hover { border-color: var(--line); }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; flex: none; }
#partition-detail { margin-top: 6px; overflow-wrap: anywhere; }
#route-form { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
#route-form input { flex: 0 1 240px; padding: 3px 6px; }
#route-result { overflow-wrap: anywhere; }
#member-filter { width: 100%; max-width: 360px; padding: 3px 6px; margin-bottom: 6px; }
table { border-collapse: collapse; width: 100%; table-layout: auto; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 500; }
td.num, td.addr { font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.routed { background: #fefcbf; }
tr.self td:first-child { font-weight: 600; }
.status { white-space: nowrap; font-weight: 500; }
.status[data-status="alive"] { color: var(--alive); }
.status[data-status="suspect"] { color: var(--leaving); font-weight: 600; }
.status[data-status="leaving"] { color: var(--leaving); }
.status[data-status="left"] { color: var(--left); }
.status[data-status="failed"] { color: var(--failed); }
.tag { display: inline-block; background: #edf2f7; border-radius: 3px; padding: 0 4px; margin: 1px 4px 1px 0; font-family: ui-monospace, monospace; font-size: 12px; }
.ringtag { background: #e9e3f5; }
ol#feed { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow-y: auto; font-family: ui-monospace, monospace; font-size: 12px; }
ol#feed li { padding: 1px 0; border-bottom: 1px dotted var(--line); overflow-wrap: anywhere; }
ol#feed time { color: var(--muted); margin-right: 6px; }
.ev { font-weight: 600; margin-right: 6px; }
.ev[data-kind="failed"], .ev[data-kind="dropped"] { color: var(--failed); }
.ev[data-kind="join"], .ev[data-kind="acquire"] { color: var(--alive); }
.ev[data-kind="leave"], .ev[data-kind="release"] { color: var(--leaving); }
`;
