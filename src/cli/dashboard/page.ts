/** The dashboard's page: static markup only; src/cli/dashboard/script.ts fills it from the agent's endpoints. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swimring agent</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>swimring <span id="agent-name"></span></h1>
  <span id="conn" class="conn" data-state="connecting">connecting</span>
  <span id="notice"></span>
</header>
<main>
  <section id="health-panel" class="panel">
    <h2>Health</h2>
    <dl id="health"></dl>
    <p id="agreement" class="agreement"></p>
  </section>
  <section id="ring-panel" class="panel">
    <h2>Ring <span id="ring-summary" class="muted"></span></h2>
    <form id="route-form" autocomplete="off">
      <select id="ring-view" aria-label="what the picture shows">
        <option value="owners">owners</option>
        <option value="member">holdings of one member</option>
        <option value="handoff" id="handoff-view">handoff state</option>
      </select>
      <input id="route-key" placeholder="route a key" aria-label="key to route">
      <button type="submit">Route</button>
      <span id="route-result"></span>
    </form>
    <div id="ring-wrap">
      <canvas id="ring" aria-label="partitions coloured by primary owner"></canvas>
      <div id="tip" hidden></div>
    </div>
    <div id="legend"></div>
    <p id="ring-key" class="muted key"></p>
    <div id="partition-detail"></div>
  </section>
  <section id="members-panel" class="panel">
    <h2>Members <span id="member-count" class="muted"></span></h2>
    <input id="member-filter" placeholder="filter by name, address, status or tag" aria-label="filter members">
    <table id="members">
      <thead><tr><th>name</th><th>address</th><th>status</th><th>inc.</th><th>partitions</th><th>tags</th><th>ring tags</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="member-more" class="muted"></p>
  </section>
  <section id="feed-panel" class="panel">
    <h2>Events</h2>
    <ol id="feed"></ol>
  </section>
</main>
</body>
</html>
`;
