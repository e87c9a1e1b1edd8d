/**
 * The dashboard's script (plain ES2020, no framework, served as /dashboard.js). Everything from
 * the network (member names, addresses, tags, event names and payloads) is untrusted: the DOM
 * is built with createElement and textContent only, never HTML parsing, and network strings key
 * only Maps. State comes from GET /members?since=true and GET /ring on each (re)connection of
 * GET /events, then from the events; /ring is fetched again (at most twice a second) when
 * membership changes, and the picture, table and feed are redrawn at most a few times a second.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var MEMBER_EVENTS = ['member-join', 'member-update', 'member-leave', 'member-failed', 'member-reap'];
  var PARTITION_EVENTS = ['acquire', 'release', 'promote', 'demote'];
  var KIND = new Map([['member-join', 'join'], ['member-update', 'update'], ['member-leave', 'leave'], ['member-failed', 'failed'],
    ['member-reap', 'reap'], ['acquire', 'acquire'], ['release', 'release'], ['promote', 'promote'], ['demote', 'demote'],
    ['user-event', 'user'], ['hello', 'hello'], ['dropped', 'dropped'], ['closing', 'closing']]);
  var STATUSES = new Set(['alive', 'suspect', 'leaving', 'left', 'failed']);
  var PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#72b7b2', '#eeca3b', '#9d755d', '#ff9da6', '#79706e', '#d67195'];
  var MAX_DRAWN_PARTITIONS = 65536;
  var MAX_ROWS = 1000;
  var MAX_FEED = 300;
  var MAX_LEGEND = 64;
  var MAX_BUFFERED = 20000;
  var READY_TAG = 'swr';
  var DRAIN_TAG = 'swd';

  var S = {
    name: '', hello: null, ring: null, flags: null, counts: new Map(), members: new Map(), colors: new Map(),
    focus: '', suspects: new Map(), healthAt: 0, health: null, prevHealth: null, firstHealth: null, selected: -1, routed: null, filter: '', buffered: null, resync: false,
    grid: null
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function str(v) { return typeof v === 'string' ? v : ''; }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : 0; }
  function parse(text) { try { var v = JSON.parse(text); return isObj(v) ? v : null; } catch (e) { return null; } }
  function tagsOf(v) {
    var out = [];
    if (!isObj(v)) return out;
    Object.keys(v).forEach(function (k) { if (typeof v[k] === 'string') out.push([k, v[k]]); });
    out.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
    return out;
  }
  function color(name) {
    var c = S.colors.get(name);
    if (c) return c;
    var i = S.colors.size;
    c = i < PALETTE.length ? PALETTE[i] : 'hsl(' + Math.round((i * 137.508) % 360) + ', 55%, 55%)';
    S.colors.set(name, c);
    return c;
  }
  function swatch(name) {
    var s = el('span', 'swatch');
    s.style.background = color(name);
    return s;
  }
  function dur(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }
  function rate(v, unit) {
    if (!isFinite(v)) return '-';
    if (unit === 'B') {
      if (v >= 1048576) return (v / 1048576).toFixed(1) + ' MiB/s';
      if (v >= 1024) return (v / 1024).toFixed(1) + ' KiB/s';
      return v.toFixed(0) + ' B/s';
    }
    return v.toFixed(v < 10 ? 1 : 0) + '/s';
  }
  function later(fn, ms) {
    var timer = 0;
    return function () { if (!timer) timer = setTimeout(function () { timer = 0; fn(); }, ms); };
  }
  function notice(text) { $('notice').textContent = text; }
  function setConn(state, text) { var c = $('conn'); c.dataset.state = state; c.textContent = text; }

  // --- the event stream ---
  var source = null;
  function connect() {
    setConn('connecting', 'connecting');
    source = new EventSource('/events');
    source.addEventListener('hello', onHello);
    MEMBER_EVENTS.concat(PARTITION_EVENTS, ['user-event']).forEach(function (t) { source.addEventListener(t, onEvent); });
    source.addEventListener('health', function (e) { var d = parse(e.data); if (d) onHealth(d); });
    source.addEventListener('dropped', function (e) {
      notice('the agent dropped this page\'s event stream (it fell behind); reconnecting');
      var d = parse(e.data); if (d) feed(d);
    });
    source.addEventListener('closing', function (e) { notice('the agent is stopping'); var d = parse(e.data); if (d) feed(d); });
    source.onerror = function () {
      setConn('down', 'disconnected');
      if (source.readyState === 2) {
        // Refused (503: the agent serves a limited number of streams) or gone: try again later.
        notice('event stream unavailable; retrying');
        source.close();
        setTimeout(connect, 5000);
      }
    };
  }

  function onHello(e) {
    var d = parse(e.data);
    if (!d) return;
    S.hello = d;
    S.name = str(d.name);
    $('agent-name').textContent = S.name;
    document.title = 'swimring ' + S.name;
    setConn('live', 'live');
    notice('');
    feed(d);
    sync();
  }

  /** Snapshot after subscribing; events that arrive meanwhile are replayed on it, in order. */
  var syncs = 0;
  function sync() {
    var gen = ++syncs, started = Date.now();
    S.buffered = [];
    S.resync = false;
    fetch('/members?since=true').then(function (r) { return r.json(); }).then(function (list) {
      if (gen !== syncs) return;
      if (!Array.isArray(list)) throw new Error('bad /members');
      var members = new Map();
      var suspects = new Map();
      list.forEach(function (m) {
        var v = member(m, num(m && m.statusSince));
        if (!v) return;
        members.set(v.name, v);
        if (m.suspect === true) suspects.set(v.name, S.suspects.get(v.name) || Date.now());
      });
      S.members = members;
      S.suspects = suspects;
      // A health sample that came while the snapshot was on its way is as fresh as it.
      if (S.health && S.healthAt >= started) applySuspects(S.health.suspects, Date.now());
      var buffered = S.buffered || [];
      S.buffered = null;
      buffered.forEach(apply);
      if (S.resync) return sync();
      renderMembers();
      fetchRing();
    }).catch(function () { if (gen === syncs) { S.buffered = null; setTimeout(sync, 2000); } });
  }

  function member(d, since) {
    if (!isObj(d) || typeof d.name !== 'string') return null;
    return { name: d.name, address: str(d.address), status: str(d.status), incarnation: num(d.incarnation), tags: tagsOf(d.tags), since: since };
  }

  function onEvent(e) {
    var d = parse(e.data);
    if (!d) return;
    feed(d);
    if (S.buffered) {
      if (S.buffered.length < MAX_BUFFERED) S.buffered.push(d);
      else S.resync = true;
      return;
    }
    apply(d);
  }

  function apply(d) {
    var ev = str(d.event);
    if (MEMBER_EVENTS.indexOf(ev) >= 0) {
      if (ev === 'member-reap') S.members.delete(str(d.name));
      else {
        var prev = S.members.get(str(d.name));
        var m = member(d, prev && prev.status === d.status ? prev.since : num(d.time) || Date.now());
        if (m) S.members.set(m.name, m);
      }
      renderMembersSoon();
    }
    // Membership changes the table; with handoff, readiness (tags) and releases change who serves.
    if (ev !== 'user-event') scheduleRing();
  }

  // --- the ring ---
  var ringBusy = false, ringAgain = false, ringLastMs = 0, ringTimer = 0;
  function ringWanted() {
    return S.hello && S.hello.ring === true && num(S.hello.partitions) <= MAX_DRAWN_PARTITIONS;
  }
  function scheduleRing() {
    if (!ringWanted()) return;
    if (ringBusy) { ringAgain = true; return; }
    if (ringTimer) return;
    ringTimer = setTimeout(fetchRing, Math.max(0, ringLastMs + 500 - Date.now()));
  }
  function fetchRing() {
    clearTimeout(ringTimer);
    ringTimer = 0;
    if (!S.hello) return;
    if (!ringWanted()) { noRing(); return; }
    ringBusy = true;
    ringLastMs = Date.now();
    // A failed fetch is retried on the next event or health sample whose checksum differs.
    fetch('/ring').then(function (r) { return r.json(); }).then(setRing).catch(function () {})
      .then(function () { ringBusy = false; if (ringAgain) { ringAgain = false; scheduleRing(); } });
  }
  function noRing() {
    var h = S.hello;
    $('ring-summary').textContent = h && h.ring ? num(h.partitions) + ' partitions: too many to draw (routing still works)' : 'none: start the agent with --partitions';
    $('ring').hidden = true;
  }

  function setRing(r) {
    if (!isObj(r) || !Array.isArray(r.owners) || typeof r.partitions !== 'number' || r.owners.length !== r.partitions) return;
    var P = r.partitions, local = str(r.name), ready = Array.isArray(r.ready) ? r.ready : null;
    var flags = new Uint8Array(P), counts = new Map();
    (Array.isArray(r.members) ? r.members : []).forEach(function (n) { if (typeof n === 'string') { counts.set(n, [0, 0]); color(n); } });
    for (var p = 0; p < P; p++) {
      var owners = Array.isArray(r.owners[p]) ? r.owners[p] : [];
      for (var i = 0; i < owners.length; i++) {
        var c = counts.get(owners[i]);
        if (c) c[i === 0 ? 0 : 1]++;
        if (owners[i] === local) flags[p] |= i === 0 ? 1 : 2;
      }
      if (ready && Array.isArray(ready[p])) {
        var rp = ready[p];
        for (i = 0; i < owners.length; i++) if (rp.indexOf(owners[i]) < 0) flags[p] |= 4;
        for (i = 0; i < rp.length; i++) if (owners.indexOf(rp[i]) < 0) flags[p] |= 8;
      }
    }
    S.ring = r;
    S.flags = flags;
    S.counts = counts;
    $('ring').hidden = false;
    $('handoff-view').disabled = !ready;
    $('ring-summary').textContent = P + ' partitions, ' + num(r.replicas) + ' replica' + (r.replicas === 1 ? '' : 's') + ', ' +
      str(r.hash) + ', ' + str(r.placement) + ', ' + counts.size + ' owner' + (counts.size === 1 ? '' : 's') +
      (r.joining ? ', joining' : '') + (r.handoff ? ', handoff' : '') + ' · checksum ' + str(r.checksum).slice(0, 8);
    drawRing();
    renderLegend();
    renderDetail();
    renderMembersSoon();
    renderAgreement();
  }

  /** The picture's mode: 'owners' (colour: primary, band: replicas), 'member' (one member's holdings) or 'handoff'. */
  function view() { return $('ring-view').value; }
  var KEYS = {
    owners: 'Colour: primary owner; lower band: replicas. Large cells: a dark dot where this agent is primary, a white ring where it is a replica.',
    member: 'Solid: primary; light: replica; grey: not held. Click a member below to show its holdings.',
    handoff: 'Green: every owner ready; amber: an owner still loading; blue: still served by a previous holder; grey: no owner.'
  };

  function drawRing() {
    var r = S.ring, canvas = $('ring');
    if (!r) return;
    var P = r.partitions, width = canvas.parentNode.clientWidth || 600;
    var cols = Math.max(1, Math.ceil(Math.sqrt(P * 2)));
    var cell = Math.min(40, Math.floor(width / cols));
    if (cell < 2) { cell = 2; cols = Math.max(1, Math.floor(width / 2)); }
    var rows = Math.ceil(P / cols);
    S.grid = { cols: cols, cell: cell };
    var dpr = window.devicePixelRatio || 1;
    canvas.style.width = cols * cell + 'px';
    canvas.style.height = rows * cell + 'px';
    canvas.width = Math.round(cols * cell * dpr);
    canvas.height = Math.round(rows * cell * dpr);
    var g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cols * cell, rows * cell);
    var mode = view(), focus = S.focus || S.name;
    if (mode === 'handoff' && !r.ready) mode = 'owners';
    $('ring-key').textContent = KEYS[mode] + (mode === 'member' ? ' Showing: ' + focus + '.' : '');
    var gap = cell >= 6 ? 1 : 0, s = cell - gap;
    for (var p = 0; p < P; p++) {
      var x = (p % cols) * cell, y = Math.floor(p / cols) * cell;
      var owners = Array.isArray(r.owners[p]) ? r.owners[p] : [];
      if (mode === 'member') {
        var at = owners.indexOf(focus);
        g.fillStyle = at < 0 ? '#e2e8f0' : color(focus);
        g.fillRect(x, y, s, s);
        if (at > 0) { g.fillStyle = 'rgba(255,255,255,0.6)'; g.fillRect(x, y, s, s); }
        continue;
      }
      if (mode === 'handoff') {
        var f = S.flags[p];
        g.fillStyle = !owners.length ? '#cbd5e0' : f & 8 ? '#63b3ed' : f & 4 ? '#f6ad55' : '#68d391';
        g.fillRect(x, y, s, s);
        continue;
      }
      g.fillStyle = owners.length ? color(owners[0]) : '#cbd5e0';
      g.fillRect(x, y, s, s);
      if (cell >= 8 && owners.length > 1) {
        var band = Math.max(2, Math.floor(s / 4)), w = s / (owners.length - 1);
        for (var i = 1; i < owners.length; i++) {
          g.fillStyle = color(owners[i]);
          g.fillRect(x + (i - 1) * w, y + s - band, w, band);
        }
      }
      if (cell >= 14 && S.flags[p] & 3) {
        g.beginPath();
        g.arc(x + s / 2, y + s / 2 - (owners.length > 1 ? s / 8 : 0), s / 6, 0, Math.PI * 2);
        if (S.flags[p] & 1) { g.fillStyle = '#1d2430'; g.fill(); g.lineWidth = 1.5; g.strokeStyle = '#fff'; g.stroke(); }
        else { g.lineWidth = 2; g.strokeStyle = '#fff'; g.stroke(); }
      }
    }
    // The selected and the routed partition: a dark frame with a light one inside, visible on any colour.
    [S.selected, S.routed ? S.routed.partition : -1].forEach(function (sel) {
      if (sel < 0 || sel >= P) return;
      var x = (sel % cols) * cell, y = Math.floor(sel / cols) * cell, m = Math.max(2, Math.min(4, cell / 4));
      g.lineWidth = m;
      g.strokeStyle = '#1d2430';
      g.strokeRect(x - m / 2, y - m / 2, s + m, s + m);
      g.lineWidth = 1;
      g.strokeStyle = '#fff';
      g.strokeRect(x + 0.5, y + 0.5, s - 1, s - 1);
    });
  }

  function partitionAt(ev) {
    var r = S.ring, grid = S.grid;
    if (!r || !grid) return -1;
    var rect = $('ring').getBoundingClientRect();
    var col = Math.floor((ev.clientX - rect.left) / grid.cell), row = Math.floor((ev.clientY - rect.top) / grid.cell);
    if (col < 0 || col >= grid.cols || row < 0) return -1;
    var p = row * grid.cols + col;
    return p < r.partitions ? p : -1;
  }
  function describe(p) {
    var r = S.ring, owners = Array.isArray(r.owners[p]) ? r.owners[p] : [], lines = [];
    var ready = Array.isArray(r.ready) && Array.isArray(r.ready[p]) ? r.ready[p] : null;
    owners.forEach(function (n, i) {
      lines.push({ name: n, text: (i === 0 ? 'primary' : 'replica ' + i) + (ready ? (ready.indexOf(n) >= 0 ? ', ready' : ', loading') : '') });
    });
    if (ready) ready.forEach(function (n) { if (owners.indexOf(n) < 0) lines.push({ name: n, text: 'still serving it (previous holder)' }); });
    return lines;
  }
  function tip(ev) {
    var p = partitionAt(ev), t = $('tip');
    if (p < 0) { t.hidden = true; return; }
    var text = 'partition ' + p;
    var lines = describe(p);
    if (!lines.length) text += '\nno owner';
    lines.forEach(function (l) { text += '\n' + l.name + ': ' + l.text; });
    t.textContent = text;
    t.hidden = false;
    var wrap = $('ring-wrap').getBoundingClientRect();
    var left = ev.clientX - wrap.left + 14, top = ev.clientY - wrap.top + 14;
    if (left + t.offsetWidth > wrap.width) left = Math.max(0, ev.clientX - wrap.left - t.offsetWidth - 14);
    t.style.left = left + 'px';
    t.style.top = top + 'px';
  }

  function renderDetail() {
    var box = $('partition-detail');
    box.textContent = '';
    var p = S.selected;
    if (!S.ring || p < 0 || p >= S.ring.partitions) return;
    box.appendChild(el('strong', '', 'Partition ' + p + ': '));
    var lines = describe(p);
    if (!lines.length) box.appendChild(el('span', 'muted', 'no owner'));
    lines.forEach(function (l, i) {
      if (i) box.appendChild(document.createTextNode('; '));
      box.appendChild(swatch(l.name));
      box.appendChild(document.createTextNode(' ' + l.name + ' (' + l.text + ')'));
    });
  }

  function renderLegend() {
    var box = $('legend');
    box.textContent = '';
    var names = Array.from(S.counts.keys()).sort();
    if (names.length > MAX_LEGEND) {
      box.appendChild(el('span', 'muted', names.length + ' owners; the first ' + MAX_LEGEND + ' by name (all in the members table):'));
      names = names.slice(0, MAX_LEGEND);
    }
    names.forEach(function (n) {
      var c = S.counts.get(n), item = el('button', 'item');
      item.type = 'button';
      item.title = 'show the partitions of ' + n;
      item.appendChild(swatch(n));
      item.appendChild(document.createTextNode(n + (n === S.name ? ' (this agent)' : '') + ': ' + c[0] + ' primary, ' + c[1] + ' replica'));
      item.addEventListener('click', function () { S.focus = n; $('ring-view').value = 'member'; drawRing(); });
      box.appendChild(item);
    });
  }

  // --- members ---
  var statusCells = [];
  var renderMembersSoon = later(renderMembers, 250);
  function renderMembers() {
    var body = $('members').tBodies[0];
    var filter = S.filter.toLowerCase();
    var all = Array.from(S.members.values());
    var tally = new Map();
    all.forEach(function (m) { tally.set(m.status, (tally.get(m.status) || 0) + 1); });
    var list = all.filter(function (m) {
      if (!filter) return true;
      var hay = (m.name + ' ' + m.address + ' ' + m.status + ' ' + m.tags.map(function (t) { return t[0] + '=' + t[1]; }).join(' ')).toLowerCase();
      return hay.indexOf(filter) >= 0;
    });
    list.sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; });
    var routed = S.routed ? S.routed.owners : [];
    var frag = document.createDocumentFragment();
    statusCells = [];
    var local = S.ring ? str(S.ring.checksum).slice(0, 8) : '';
    list.slice(0, MAX_ROWS).forEach(function (m) {
      var tr = el('tr');
      tr.dataset.member = m.name;
      if (m.name === S.name) tr.classList.add('self');
      if (routed.indexOf(m.name) >= 0) tr.classList.add('routed');
      var name = el('td', 'name');
      if (S.counts.has(m.name)) { name.appendChild(swatch(m.name)); name.appendChild(document.createTextNode(' ')); }
      name.appendChild(el('span', 'member-name', m.name));
      if (m.name === S.name) name.appendChild(el('span', 'muted', ' (this agent)'));
      tr.appendChild(name);
      tr.appendChild(el('td', 'addr', m.address));
      var st = el('span', 'status');
      var shown = shownStatus(m);
      st.dataset.status = STATUSES.has(shown) ? shown : 'unknown';
      statusCells.push({ node: st, m: m });
      var std = el('td');
      std.appendChild(st);
      tr.appendChild(std);
      tr.appendChild(el('td', 'num', m.incarnation));
      var c = S.counts.get(m.name);
      var parts = el('td', 'num partitions', c ? c[0] + ' / ' + c[1] : '-');
      parts.dataset.primaries = String(c ? c[0] : 0);
      parts.dataset.replicas = String(c ? c[1] : 0);
      if (c) parts.title = c[0] + ' as primary, ' + c[1] + ' as replica';
      tr.appendChild(parts);
      var tags = el('td', 'tags'), ringTags = el('td', 'ringtags');
      m.tags.forEach(function (t) {
        if (t[0] === READY_TAG) ringTags.appendChild(el('span', 'tag ringtag', readiness(t[1], c ? local : '')));
        else if (t[0] === DRAIN_TAG) ringTags.appendChild(el('span', 'tag ringtag', 'draining'));
        else tags.appendChild(el('span', 'tag', t[0] + '=' + t[1]));
      });
      tr.appendChild(tags);
      tr.appendChild(ringTags);
      frag.appendChild(tr);
    });
    body.textContent = '';
    body.appendChild(frag);
    tickStatus();
    $('member-count').textContent = all.length + ': ' + Array.from(tally.entries()).map(function (e) { return e[1] + ' ' + e[0]; }).join(', ');
    $('member-more').textContent = list.length > MAX_ROWS ? 'showing ' + MAX_ROWS + ' of ' + list.length + '; filter to narrow' : '';
    renderAgreement();
  }
  function readiness(value, local) {
    var parts = value.split('.');
    if (parts.length !== 4) return 'swr: malformed';
    var text = 'table ' + parts[1];
    if (local) text += parts[1] === local ? ' (agrees)' : ' (differs)';
    if (parts[0] !== parts[1]) text += ', still serving from ' + parts[0];
    return text;
  }
  function tickStatus() {
    var now = Date.now();
    statusCells.forEach(function (c) {
      var shown = shownStatus(c.m), since = shown === 'suspect' ? S.suspects.get(c.m.name) : c.m.since;
      c.node.textContent = shown + (since ? ' \u00b7 ' + dur(now - since) : '');
    });
  }
  /** The suspects a health sample names; true if that changed the set. */
  function applySuspects(list, time) {
    if (!Array.isArray(list)) return false;
    var next = new Map(), changed = list.length !== S.suspects.size;
    list.forEach(function (n) {
      if (typeof n !== 'string') return;
      if (!S.suspects.has(n)) changed = true;
      next.set(n, S.suspects.get(n) || time);
    });
    S.suspects = next;
    return changed;
  }
  /** Serf says alive while the failure detector suspects a member; the health samples name the suspects. */
  function shownStatus(m) {
    return m.status === 'alive' && S.suspects.has(m.name) ? 'suspect' : m.status;
  }

  /** Members publish their table's checksum prefix in the readiness tag (with --handoff). */
  function renderAgreement() {
    var box = $('agreement');
    if (!S.ring) { box.textContent = ''; return; }
    var local = str(S.ring.checksum).slice(0, 8), agree = 0, differ = [], silent = 0;
    S.counts.forEach(function (_, n) {
      var m = S.members.get(n);
      var tag = m && m.tags.filter(function (t) { return t[0] === READY_TAG; })[0];
      if (!tag) { silent++; return; }
      if (tag[1].split('.')[1] === local) agree++;
      else differ.push(n);
    });
    if (agree + differ.length === 0) {
      box.dataset.ok = '';
      box.textContent = 'Table ' + local + ' here; members publish theirs only with --handoff.';
      return;
    }
    box.dataset.ok = String(differ.length === 0);
    box.textContent = differ.length === 0
      ? 'All ' + agree + ' publishing owners agree on table ' + local + (silent ? ' (' + silent + ' publish none)' : '') + '.'
      : differ.length + ' of ' + (agree + differ.length) + ' owners name another table than ' + local + ': ' + differ.slice(0, 5).join(', ') +
        (differ.length > 5 ? ', ...' : '') + ' (for a few seconds after a change, tags lag; longer, the views disagree).';
  }

  // --- health ---
  function onHealth(d) {
    S.prevHealth = S.health;
    S.health = d;
    if (!S.firstHealth) S.firstHealth = d;
    var dl = $('health');
    dl.textContent = '';
    function row(k, v) { dl.appendChild(el('dt', '', k)); dl.appendChild(el('dd', '', v)); }
    var c = isObj(d.counters) ? d.counters : {}, p = S.prevHealth && isObj(S.prevHealth.counters) ? S.prevHealth.counters : null;
    var dt = S.prevHealth ? (num(d.time) - num(S.prevHealth.time)) / 1000 : 0;
    function per(k, unit) { return p && dt > 0 ? rate((num(c[k]) - num(p[k])) / dt, unit) : '-'; }
    var f = isObj(S.firstHealth.counters) ? S.firstHealth.counters : {};
    function since(k) { var n = num(c[k]) - num(f[k]); return num(c[k]) + (n > 0 ? ' (+' + n + ' while watching)' : ''); }
    S.healthAt = Date.now();
    if (applySuspects(d.suspects, num(d.time) || Date.now())) renderMembersSoon();
    row('status', str(d.status));
    row('health score', num(d.healthScore) + (num(d.healthScore) === 0 ? ' (healthy)' : ' (probes time out: slower probing)'));
    row('packets in / out', per('packetsIn') + ' / ' + per('packetsOut'));
    row('bytes in / out', per('bytesIn', 'B') + ' / ' + per('bytesOut', 'B'));
    row('suspicions', since('suspicions'));
    row('refutations', since('refutations'));
    row('probe failures', since('probeFailures') + ' of ' + num(c.probes) + ' probes');
    if (isObj(d.ring)) {
      row('holds', num(d.ring.primaries) + ' primary, ' + num(d.ring.replicas) + ' replica' + (d.ring.joining ? ' (joining)' : ''));
      if (S.ring && str(d.ring.checksum) !== str(S.ring.checksum)) scheduleRing();
    }
  }

  // --- the feed ---
  var pending = [], skipped = 0;
  var flushFeedSoon = later(flushFeed, 200);
  function feed(d) {
    if (pending.length < MAX_FEED * 4) pending.push(d);
    else skipped++;
    flushFeedSoon();
  }
  function flushFeed() {
    var list = $('feed'), items = [], batch = pending;
    pending = [];
    if (skipped) {
      items.push(line({ time: Date.now() }, 'skipped', skipped + ' events not shown (too many at once)'));
      skipped = 0;
    }
    for (var i = 0; i < batch.length; i++) {
      var d = batch[i], ev = str(d.event);
      if (PARTITION_EVENTS.indexOf(ev) >= 0) {
        var j = i;
        while (j + 1 < batch.length && str(batch[j + 1].event) === ev) j++;
        if (j - i >= 3) {
          var ps = batch.slice(i, j + 1).map(function (x) { return num(x.partition); });
          items.push(line(d, ev + ' \u00d7' + ps.length, 'partitions ' + ps.slice(0, 12).join(', ') + (ps.length > 12 ? ', ...' : '')));
          i = j;
          continue;
        }
      }
      items.push(line(d, ev, summary(d, ev)));
    }
    for (i = 0; i < items.length; i++) list.insertBefore(items[i], list.firstChild);
    while (list.childNodes.length > MAX_FEED) list.removeChild(list.lastChild);
  }
  function line(d, label, text) {
    var li = el('li');
    li.appendChild(el('time', '', new Date(num(d.time) || Date.now()).toLocaleTimeString()));
    var b = el('span', 'ev', label);
    b.dataset.kind = KIND.get(str(d.event)) || 'other';
    li.appendChild(b);
    li.appendChild(document.createTextNode(text));
    return li;
  }
  function summary(d, ev) {
    if (MEMBER_EVENTS.indexOf(ev) >= 0) return str(d.name) + ' ' + str(d.address) + ' ' + str(d.status);
    if (ev === 'acquire') return 'partition ' + num(d.partition) + ' as ' + role(d.replica) + (d.from ? ' from ' + str(d.from) : '');
    if (ev === 'release') return 'partition ' + num(d.partition) + ' (was ' + role(d.replica) + ')' + (d.to ? ' to ' + str(d.to) : '');
    if (ev === 'promote' || ev === 'demote') return 'partition ' + num(d.partition) + ': ' + role(d.previousReplica) + ' \u2192 ' + role(d.replica);
    if (ev === 'user-event') {
      var size = typeof d.payload === 'string' ? d.payload.length + ' chars' : typeof d.payloadBase64 === 'string' ? 'binary' : 'empty';
      return str(d.name) + ' (payload ' + size + ')';
    }
    if (ev === 'hello') return 'connected to ' + str(d.name);
    if (ev === 'dropped') return 'this stream fell ' + num(d.bufferedBytes) + ' bytes behind';
    if (ev === 'closing') return str(d.name) + ' is stopping';
    return '';
  }
  function role(r) { return num(r) === 0 ? 'primary' : 'replica ' + num(r); }

  // --- routing a key ---
  function route(ev) {
    ev.preventDefault();
    var key = $('route-key').value, out = $('route-result');
    if (!key) return;
    fetch('/route?key=' + encodeURIComponent(key)).then(function (r) { return r.json(); }).then(function (d) {
      if (!isObj(d)) throw new Error('bad answer');
      if (typeof d.error === 'string') { out.textContent = d.error; return; }
      var names = function (list) { return (Array.isArray(list) ? list : []).map(function (m) { return isObj(m) ? str(m.name) : ''; }); };
      var owners = names(d.members), ready = names(d.ready);
      S.routed = { partition: num(d.partition), owners: owners };
      S.selected = num(d.partition);
      out.textContent = 'partition ' + num(d.partition) + ' \u2192 ' + (owners.length ? owners.join(', ') : 'no owner') +
        (ready.join() !== owners.join() ? ' (can serve now: ' + (ready.join(', ') || 'none') + ')' : '');
      drawRing();
      renderDetail();
      renderMembers();
    }).catch(function (e) { out.textContent = 'route failed: ' + e.message; });
  }

  function start() {
    $('route-form').addEventListener('submit', route);
    var canvas = $('ring');
    canvas.addEventListener('mousemove', tip);
    canvas.addEventListener('mouseleave', function () { $('tip').hidden = true; });
    canvas.addEventListener('click', function (ev) { S.selected = partitionAt(ev); drawRing(); renderDetail(); });
    $('member-filter').addEventListener('input', function (ev) { S.filter = ev.target.value; renderMembersSoon(); });
    $('ring-view').addEventListener('change', drawRing);
    window.addEventListener('resize', later(drawRing, 150));
    setInterval(tickStatus, 1000);
    connect();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
`;
