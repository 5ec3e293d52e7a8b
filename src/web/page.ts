/**
 * The status page: one HTML document with a little inline JavaScript (no build step, nothing downloaded). It
 * asks the control API for points, players and the server every refresh and draws what it gets: points with
 * their state, protection and URLs (mmsh, rtsp, .asx), players with their bitrates, and a sparkline of the bytes
 * per second sent. Every value goes in through textContent, never as markup.
 */

const STYLE = `
  :root { color-scheme: light dark; --muted: #888; --line: #8884; --accent: #2a7ae2; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
  .muted { color: var(--muted); } .bad { color: #c33; } .ok { color: #2a2; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { display: inline-block; padding: 0 .4rem; border-radius: .6rem; font-size: .8rem; border: 1px solid currentColor; }
  .urls a, .urls div { display: block; font-family: ui-monospace, monospace; font-size: .8rem; }
  #tp { display: flex; align-items: center; gap: 1rem; } #spark { width: 320px; height: 48px; border: 1px solid var(--line); }
  #spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
`;

/** the page's script; it reads its settings from data attributes of <body> */
const SCRIPT = `
(() => {
  const refreshMs = Number(document.body.dataset.refreshMs) || 2000;
  const samples = [];
  let last = null;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const kbps = (bps) => bps > 0 ? (bps >= 1e6 ? (bps / 1e6).toFixed(2) + ' Mbit/s' : (bps / 1e3).toFixed(0) + ' kbit/s') : '-';
  const bytes = (n) => n >= 1e9 ? (n / 1e9).toFixed(2) + ' GB' : n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB' : n >= 1e3 ? (n / 1e3).toFixed(0) + ' kB' : n + ' B';
  const since = (iso) => { const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)); return s < 60 ? s + ' s' : s < 3600 ? Math.floor(s / 60) + ' min' : Math.floor(s / 3600) + ' h'; };
  async function get(path) {
    const res = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
    if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
    return res.json();
  }
  function link(href, label) { const a = el('a', label || href); a.href = href; return a; }
  function drawPoints(points) {
    const body = $('points'); body.replaceChildren();
    for (const p of points) {
      const s = p.status || {};
      const tr = document.createElement('tr');
      tr.dataset.point = p.name;
      const name = el('td'); name.append(el('strong', p.name));
      if (s.protected) { name.append(' '); name.append(el('span', 'protected', 'badge')); }
      const state = s.state || (p.type === 'ondemand' ? 'ready' : (s.broadcasting ? 'broadcasting' : 'idle'));
      const urls = el('td', null, 'urls');
      for (const [k, v] of Object.entries(p.urls || {})) urls.append(p.type === 'ondemand' ? el('div', k + ': ' + v) : link(v, k + ': ' + v));
      tr.append(name, el('td', p.type), el('td', state, state === 'broadcasting' || state === 'ready' ? 'ok' : state === 'stopped' ? 'bad' : 'muted'), el('td', s.players ?? 0, 'num'), el('td', kbps(s.bitrate || 0), 'num'), el('td', bytes(s.bytesSent || 0), 'num'), urls);
      body.append(tr);
    }
    if (!points.length) { const tr = document.createElement('tr'); const td = el('td', 'no publishing points', 'muted'); td.colSpan = 7; tr.append(td); body.append(tr); }
  }
  function drawPlayers(players) {
    const body = $('players'); body.replaceChildren();
    for (const p of players) {
      const tr = document.createElement('tr');
      tr.append(el('td', p.id, 'num'), el('td', p.point), el('td', p.protocol + (p.role === 'relay' ? ' (relay)' : '')), el('td', p.remote), el('td', p.userAgent || '-'), el('td', kbps(p.bitrate), 'num'), el('td', bytes(p.bytesSent), 'num'), el('td', since(p.startedAt), 'num'));
      body.append(tr);
    }
    $('player-count').textContent = String(players.length);
    if (!players.length) { const tr = document.createElement('tr'); const td = el('td', 'nobody is playing', 'muted'); td.colSpan = 8; tr.append(td); body.append(tr); }
  }
  function drawSpark(points) {
    const total = points.reduce((a, p) => a + ((p.status && p.status.bytesSent) || 0), 0);
    const now = performance.now();
    if (last) samples.push(Math.max(0, (total - last.total) * 8000 / (now - last.at)));
    last = { total, at: now };
    while (samples.length > 60) samples.shift();
    const max = Math.max(1, ...samples);
    const line = $('spark-line');
    const step = 320 / Math.max(1, samples.length - 1);
    line.setAttribute('points', samples.map((v, i) => (i * step).toFixed(1) + ',' + (46 - (v / max) * 44).toFixed(1)).join(' '));
    line.dataset.samples = String(samples.length);
    $('throughput').textContent = samples.length ? kbps(samples[samples.length - 1]) : 'measuring…';
  }
  async function refresh() {
    try {
      const [points, players, server] = await Promise.all([get('/api/v1/points'), get('/api/v1/players'), get('/api/v1/server')]);
      drawPoints(points); drawPlayers(players); drawSpark(points);
      $('server').textContent = 'mss ' + server.version + ' · up ' + since(new Date(Date.now() - server.uptimeSec * 1000).toISOString()) + ' · ' + server.players.current + ' / ' + server.limits.maxPlayers + ' players · health ' + server.health.status;
      $('server').className = server.health.status === 'failing' ? 'bad' : 'muted';
      $('updated').textContent = new Date().toLocaleTimeString();
      $('updated').dataset.count = String(Number($('updated').dataset.count || 0) + 1);
      $('error').textContent = '';
    } catch (err) {
      $('error').textContent = String(err.message || err);
    } finally {
      setTimeout(refresh, refreshMs);
    }
  }
  refresh();
})();
`;

function escapeAttr(s: string): string {
  return s.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c]!);
}

export function statusPage(opts: { refreshMs: number; nonce: string; title?: string }): string {
  const title = escapeAttr(opts.title ?? 'mss status');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>${title}</title><style nonce="${escapeAttr(opts.nonce)}">${STYLE}</style></head>
<body data-refresh-ms="${opts.refreshMs}">
<h1>${title}</h1><div id="server" class="muted">loading…</div><div id="error" class="bad"></div>
<h2>Throughput</h2><div id="tp"><svg id="spark" viewBox="0 0 320 48" role="img" aria-label="bytes per second sent"><polyline id="spark-line" points="" data-samples="0"></polyline></svg><span id="throughput">measuring…</span></div>
<h2>Publishing points</h2>
<table><thead><tr><th>point</th><th>type</th><th>state</th><th>players</th><th>bitrate</th><th>sent</th><th>URLs</th></tr></thead><tbody id="points"></tbody></table>
<h2>Players (<span id="player-count">0</span>)</h2>
<table><thead><tr><th>#</th><th>point</th><th>protocol</th><th>address</th><th>user agent</th><th>bitrate</th><th>sent</th><th>for</th></tr></thead><tbody id="players"></tbody></table>
<p class="muted">updated <span id="updated" data-count="0">never</span> · <a href="/api/v1/openapi.json">API</a> · <a href="/metrics">metrics</a></p>
<script nonce="${escapeAttr(opts.nonce)}">${SCRIPT}</script>
</body></html>
`;
}
