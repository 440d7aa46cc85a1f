// dnsrecall web UI: plain JavaScript, no framework, no build step, nothing from the internet.
//
// Everything shown comes from DNS traffic, which attackers control. Text reaches the page
// only through textContent, attributes and DOM nodes, never as parsed markup.
// Links are hash links built with URLSearchParams, so a name can never become a URL scheme.
//
// State lives in the URL hash (#view=search&q=...), so the back button and shared links
// work: forms and pivots change the hash, and render() draws whatever the hash says.
'use strict';

(function () {
  const API = '/api/v1';
  const KEY_STORAGE = 'dnsrecall.apiKey';
  const MAX_SHOWN = 512; // characters of one rdata shown in a cell; the full text is in its title
  const FILTERS = ['type', 'after', 'before', 'first_after', 'first_before', 'last_after',
    'last_before', 'sensor'];
  // Filters a pivot keeps: the time window and the sensor, not the type or the paging.
  const PIVOT_KEEP = ['after', 'before', 'first_after', 'first_before', 'last_after',
    'last_before', 'strict', 'sensor', 'limit'];
  // Types whose rdata is (or ends with) a domain name worth following.
  const NAME_TARGET = new Set(['CNAME', 'DNAME', 'NS', 'PTR', 'MX', 'SRV', 'KX', 'AFSDB', 'RT',
    'NAPTR', 'SVCB', 'HTTPS']);
  const VIEWS = ['search', 'clients', 'stats', 'intel'];

  const $ = (id) => document.getElementById(id);
  const view = $('view');
  const status = $('status');

  // ---------- small DOM helpers ----------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  // Bidi overrides and other invisible format characters can make hostile text read
  // differently from what it is; show them as escapes instead.
  const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
  function visible(s) {
    return String(s).replace(INVISIBLE, (c) =>
      '\\u{' + c.codePointAt(0).toString(16).toUpperCase() + '}');
  }

  function shown(s) {
    const v = visible(s);
    return v.length > MAX_SHOWN ? v.slice(0, MAX_SHOWN) + '\u2026' : v;
  }

  // A long name may wrap after each dot (a <wbr>), never inside a label.
  function nameNode(name) {
    const text = visible(name ?? '');
    const frag = document.createDocumentFragment();
    const parts = text.split('.');
    parts.forEach((part, i) => {
      frag.append(i < parts.length - 1 ? part + '.' : part);
      if (i < parts.length - 1) frag.append(document.createElement('wbr'));
    });
    return frag;
  }

  function isoTime(secs) {
    if (typeof secs !== 'number' || !Number.isFinite(secs)) return '';
    const d = new Date(secs * 1000);
    if (Number.isNaN(d.getTime())) return String(secs);
    return d.toISOString().replace('.000Z', 'Z');
  }

  function seen(row, which) {
    const text = row[which === 'first' ? 'first_seen' : 'last_seen'];
    if (typeof text === 'string' && text) return text;
    return isoTime(row[which === 'first' ? 'time_first' : 'time_last']);
  }

  // ---------- state in the hash ----------

  function readState() {
    const p = new URLSearchParams(location.hash.replace(/^#/, ''));
    const st = {};
    for (const [k, v] of p) st[k] = v;
    if (!VIEWS.includes(st.view)) st.view = 'search';
    return st;
  }

  function hashOf(st) {
    const p = new URLSearchParams();
    p.set('view', st.view || 'search');
    for (const [k, v] of Object.entries(st)) {
      if (k === 'view' || v === undefined || v === null || v === '') continue;
      p.set(k, String(v));
    }
    return '#' + p.toString();
  }

  // Same state again (Enter on an unchanged search) asks the server again.
  function go(st) {
    const h = hashOf(st);
    if (h === location.hash) {
      lastData = null;
      render();
    } else {
      location.hash = h;
    }
  }

  // A pivot: a new search keeping the time window and sensor of the current one.
  function pivotHash(viewName, extra) {
    const cur = readState();
    const st = { view: viewName };
    for (const k of PIVOT_KEEP) if (cur[k]) st[k] = cur[k];
    return hashOf(Object.assign(st, extra));
  }

  function link(text, hash, attrs) {
    return el('a', Object.assign({ href: hash }, attrs || {}), text);
  }

  // ---------- the search form ----------

  const form = $('search');
  const FORM_FIELDS = FILTERS.concat(['q']);

  let moreAutoOpened = false;
  $('more').addEventListener('toggle', () => {
    if (!$('more').open) moreAutoOpened = false;
  });

  function syncForm(st) {
    for (const id of FORM_FIELDS) $(id).value = st[id] || '';
    $('mode').value = st.view === 'clients' ? 'clients' : (st.rdata === '1' ? 'rdata' : 'q');
    $('negative').checked = st.negative === '1';
    $('sort').value = st.sort || '';
    $('desc').checked = st.desc === '1';
    $('strict').checked = st.strict === '1';
    const limit = st.limit || '1000';
    if (![...$('limit').options].some((o) => o.value === limit)) {
      $('limit').append(el('option', { value: limit }, limit));
    }
    $('limit').value = limit;
    const advanced = ['first_after', 'first_before', 'last_after', 'last_before', 'sensor', 'sort']
      .some((k) => st[k]) || st.desc === '1' || st.strict === '1' || (st.limit && st.limit !== '1000');
    // Open "More filters" when the state uses them; close it again only if it was opened so.
    if (advanced && !$('more').open) {
      $('more').open = true;
      moreAutoOpened = true;
    } else if (!advanced && moreAutoOpened) {
      $('more').open = false;
      moreAutoOpened = false;
    }
    for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const mode = $('mode').value;
    const st = { view: mode === 'clients' ? 'clients' : 'search' };
    st.q = $('q').value.trim();
    if (mode === 'rdata') st.rdata = '1';
    for (const id of FILTERS) {
      const v = $(id).value.trim();
      if (v) st[id] = id === 'type' ? v.toUpperCase().replace(/\s+/g, '') : v;
    }
    if ($('negative').checked && st.view === 'search') st.negative = '1';
    if ($('sort').value) st.sort = $('sort').value;
    if ($('desc').checked) st.desc = '1';
    if ($('strict').checked) st.strict = '1';
    if ($('limit').value && $('limit').value !== '1000') st.limit = $('limit').value;
    const cur = readState();
    if (cur.order && cur.q === st.q) st.order = cur.order;
    go(st);
  });

  $('mode').addEventListener('change', () => {
    const clients = $('mode').value === 'clients';
    $('negative').disabled = clients;
  });

  // ---------- keyboard ----------

  document.addEventListener('keydown', (ev) => {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t instanceof HTMLElement &&
      (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
    if ($('key-dialog').open) return;
    ev.preventDefault();
    $('q').focus();
    $('q').select();
  });

  // ---------- API access, keys ----------

  function apiKey() {
    try { return localStorage.getItem(KEY_STORAGE) || ''; } catch (_) { return ''; }
  }

  function showKeyStatus() {
    const has = apiKey() !== '';
    $('key-status').textContent = has ? 'API key set' : '';
    $('key-forget').hidden = !has;
  }

  $('key-forget').addEventListener('click', () => {
    try { localStorage.removeItem(KEY_STORAGE); } catch (_) { /* private mode */ }
    showKeyStatus();
    lastData = null;
  });

  let keyPrompt = null;
  // Asks for a key; resolves true when one was given.
  function askKey(why) {
    if (keyPrompt) return keyPrompt;
    const dlg = $('key-dialog');
    $('key-why').textContent = why;
    $('key-input').value = '';
    keyPrompt = new Promise((resolve) => {
      const done = (ok) => {
        dlg.removeEventListener('close', onClose);
        keyPrompt = null;
        resolve(ok);
      };
      const onClose = () => {
        const key = $('key-input').value.trim();
        if (dlg.returnValue === 'ok' && key) {
          try { localStorage.setItem(KEY_STORAGE, key); } catch (_) { /* private mode */ }
          showKeyStatus();
          probeIntel();
          done(true);
        } else {
          done(false);
        }
      };
      dlg.addEventListener('close', onClose);
      dlg.returnValue = '';
      dlg.showModal();
      $('key-input').focus();
    });
    return keyPrompt;
  }
  $('key-cancel').addEventListener('click', () => $('key-dialog').close('cancel'));

  class ApiError extends Error {
    constructor(message, parameter, httpStatus) {
      super(message);
      this.parameter = parameter || '';
      this.httpStatus = httpStatus;
    }
  }

  async function api(path, signal, allowPrompt = true) {
    for (;;) {
      const headers = { Accept: 'application/json' };
      const key = apiKey();
      if (key) headers['X-API-Key'] = key;
      const resp = await fetch(path, { headers, signal, credentials: 'omit' });
      if (resp.status === 401 && allowPrompt) {
        const why = key
          ? 'The server refused the stored API key. Enter another one.'
          : 'This server asks for an API key. It is kept in this browser (localStorage) and sent as X-API-Key.';
        if (await askKey(why)) continue;
        throw new ApiError('An API key is needed for this server.', '', 401);
      }
      let body = null;
      const type = resp.headers.get('Content-Type') || '';
      if (type.includes('json')) {
        try { body = await resp.json(); } catch (_) { body = null; }
      }
      if (resp.ok) {
        if (body === null) throw new ApiError('The server answered something that is not JSON.', '', resp.status);
        return body;
      }
      if (resp.status === 429) {
        const after = resp.headers.get('Retry-After');
        throw new ApiError('Too many requests' + (after ? `: try again in ${after} s.` : '.'), '', 429);
      }
      const msg = body && typeof body.error === 'string' ? body.error : `HTTP ${resp.status}`;
      throw new ApiError(msg, body && typeof body.parameter === 'string' ? body.parameter : '', resp.status);
    }
  }

  // ---------- rendering ----------

  let lastData = null; // { url, data, ms } of the last answer, so re-sorting does not refetch
  let inflight = null;
  let renderSeq = 0;

  function setStatus(kind, text) {
    status.className = kind;
    status.textContent = text;
  }

  // What the page shows, for tests and scripts: the view, pattern and hash drawn, and
  // whether drawing is done.
  function markView(st, state) {
    view.dataset.hash = location.hash;
    view.dataset.view = st.view;
    view.dataset.q = st.q || '';
    view.dataset.state = state;
  }

  function pageTitle(st) {
    const names = { search: 'answers', clients: 'who asked', stats: 'stats', intel: 'intel hits' };
    const what = st.view === 'search' && st.rdata === '1' ? 'pointing to' : names[st.view];
    document.title = st.q ? `${visible(st.q)} (${what}) \u00b7 dnsrecall`
      : st.view === 'search' ? 'dnsrecall' : `${what} \u00b7 dnsrecall`;
  }

  function highlightNav(st) {
    for (const a of document.querySelectorAll('nav a')) {
      if (a.dataset.view === st.view) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  async function render() {
    const st = readState();
    const seq = ++renderSeq;
    syncForm(st);
    highlightNav(st);
    pageTitle(st);
    $('negative').disabled = st.view === 'clients';
    markView(st, 'loading');
    if (inflight) inflight.abort();
    inflight = null;
    try {
      if (st.view === 'stats') await renderStats(st, seq);
      else if (st.view === 'intel') await renderIntel(st, seq);
      else await renderRows(st, seq);
      if (seq === renderSeq) markView(st, 'done');
    } catch (err) {
      if (seq !== renderSeq || (err && err.name === 'AbortError')) return;
      showError(err);
      markView(st, 'error');
    }
  }

  function showError(err) {
    const msg = err instanceof ApiError || err instanceof Error ? err.message : String(err);
    setStatus('error', 'Error: ' + msg);
    view.replaceChildren();
    if (err instanceof ApiError && err.parameter) {
      const id = err.parameter === 'rdata' ? 'q' : err.parameter;
      const field = $(id);
      if (field && form.contains(field)) {
        field.setAttribute('aria-invalid', 'true');
        if (field.closest('#more')) $('more').open = true;
        field.focus();
      }
    }
  }

  function apiUrl(st) {
    const p = new URLSearchParams();
    p.set(st.rdata === '1' && st.view === 'search' ? 'rdata' : 'q', st.q);
    for (const k of FILTERS) if (st[k]) p.set(k, st[k]);
    if (st.limit) p.set('limit', st.limit);
    if (st.offset && st.offset !== '0') p.set('offset', st.offset);
    if (st.sort) p.set('sort', st.sort);
    if (st.desc === '1') p.set('desc', 'true');
    if (st.strict === '1') p.set('strict', 'true');
    if (st.negative === '1' && st.view === 'search') p.set('negative', 'true');
    return `${API}/${st.view === 'clients' ? 'clients' : 'query'}?${p}`;
  }

  async function fetchRows(st, seq) {
    const url = apiUrl(st);
    if (lastData && lastData.url === url) return lastData;
    const ctl = new AbortController();
    inflight = ctl;
    setStatus('busy', 'Searching\u2026');
    const t0 = performance.now();
    const data = await api(url, ctl.signal);
    if (seq !== renderSeq) throw Object.assign(new Error('stale'), { name: 'AbortError' });
    if (!data || !Array.isArray(data.rows)) throw new ApiError('The answer has no rows.', '', 200);
    lastData = { url, data, ms: Math.round(performance.now() - t0) };
    return lastData;
  }

  function renderIntro(st) {
    setStatus('', '');
    const help = $('help').querySelector('table').cloneNode(true);
    const intro = st.view === 'clients'
      ? 'Who asked: type a name pattern to see the clients that asked for it, or a client address or prefix to see what it asked.'
      : 'Type a name or address pattern and press Enter.';
    view.replaceChildren(el('p', { class: 'intro' }, intro), help);
  }

  // Column definitions for the three kinds of rows.
  function columnsFor(kind) {
    if (kind === 'clients') {
      return [
        { id: 'client', label: 'Client', key: (r) => r.client, cmp: cmpAddr },
        { id: 'name', label: 'Query', key: (r) => r.query, cmp: cmpText },
        { id: 'type', label: 'Type', key: (r) => r.qtype, cmp: cmpText },
        { id: 'first', label: 'First seen', key: (r) => r.time_first, cmp: cmpNum },
        { id: 'last', label: 'Last seen', key: (r) => r.time_last, cmp: cmpNum },
        { id: 'count', label: 'Count', key: (r) => r.count, cmp: cmpNum },
      ];
    }
    if (kind === 'negative') {
      return [
        { id: 'name', label: 'Name', key: (r) => r.qname, cmp: cmpText },
        { id: 'type', label: 'Type', key: (r) => r.qtype, cmp: cmpText },
        { id: 'answer', label: 'Answer', key: (r) => r.rcode, cmp: cmpText },
        { id: 'first', label: 'First seen', key: (r) => r.time_first, cmp: cmpNum },
        { id: 'last', label: 'Last seen', key: (r) => r.time_last, cmp: cmpNum },
        { id: 'count', label: 'Count', key: (r) => r.count, cmp: cmpNum },
      ];
    }
    return [
      { id: 'name', label: 'Name', key: (r) => r.rrname, cmp: cmpText },
      { id: 'type', label: 'Type', key: (r) => r.rrtype, cmp: cmpText },
      { id: 'answer', label: 'Answer', key: (r) => r.rdata, cmp: cmpAddr },
      { id: 'first', label: 'First seen', key: (r) => r.time_first, cmp: cmpNum },
      { id: 'last', label: 'Last seen', key: (r) => r.time_last, cmp: cmpNum },
      { id: 'count', label: 'Count', key: (r) => r.count, cmp: cmpNum },
    ];
  }

  function cmpText(a, b) {
    a = a === undefined || a === null ? '' : String(a);
    b = b === undefined || b === null ? '' : String(b);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function cmpNum(a, b) {
    return (Number(a) || 0) - (Number(b) || 0);
  }
  function ipv4Num(s) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(String(s));
    if (!m) return null;
    return ((+m[1] * 256 + +m[2]) * 256 + +m[3]) * 256 + +m[4];
  }
  // Addresses in numeric order, anything else after them as text.
  function cmpAddr(a, b) {
    const x = ipv4Num(a);
    const y = ipv4Num(b);
    if (x !== null && y !== null) return x - y;
    if (x !== null) return -1;
    if (y !== null) return 1;
    return cmpText(a, b);
  }

  // Client-side order: the hash's `order` is a column id, `-id` for descending.
  function sortRows(rows, cols, order) {
    if (!order) return rows;
    const desc = order.startsWith('-');
    const col = cols.find((c) => c.id === order.replace(/^-/, ''));
    if (!col) return rows;
    const name = cols.find((c) => c.id === 'name');
    return rows.map((r, i) => [r, i]).sort(([a, i], [b, j]) => {
      let c = col.cmp(col.key(a), col.key(b));
      if (c === 0 && name && col !== name) c = cmpText(name.key(a), name.key(b));
      if (c === 0) c = i - j;
      return desc ? -c : c;
    }).map(([r]) => r);
  }

  async function renderRows(st, seq) {
    if (!st.q) {
      renderIntro(st);
      return;
    }
    const { data, ms } = await fetchRows(st, seq);
    if (seq !== renderSeq) return;
    const kind = st.view === 'clients' ? 'clients' : (st.negative === '1' ? 'negative' : 'answers');
    const cols = columnsFor(kind);
    const rows = sortRows(data.rows.slice(), cols, st.order);
    const offset = Number(data.offset ?? st.offset ?? 0) || 0;
    const limit = Number(data.limit ?? st.limit ?? 1000) || 1000;

    const what = kind === 'clients' ? 'client sightings'
      : kind === 'negative' ? 'negative answers' : 'answers';
    const range = rows.length ? `rows ${offset + 1}\u2013${offset + rows.length}` : 'no rows';
    setStatus(data.truncated ? 'warn' : 'ok',
      `${what}: ${range}${data.truncated ? ' (more exist)' : ''} \u00b7 ${ms} ms`);

    const parts = [];
    parts.push(titleFor(st, kind));
    // A streamed answer that failed or ran out of time after it began ends with `error`.
    if (typeof data.error === 'string' && data.error) {
      parts.push(el('p', { class: 'truncated', id: 'incomplete-note', role: 'note' },
        `Incomplete answer: ${visible(data.error)}`));
    }
    if (data.truncated) {
      parts.push(el('p', { class: 'truncated', id: 'truncated-note', role: 'note' },
        `Truncated: more results than the ${limit} rows of this page. Use Next, narrow the search, or sort on the server (More filters).`));
    }
    if (!rows.length) {
      parts.push(el('p', { class: 'empty' }, 'No results.'));
    } else {
      if (st.order && (data.truncated || offset > 0)) parts.push(serverSortHint(st));
      parts.push(resultsTable(st, kind, cols, rows));
    }
    parts.push(pager(st, offset, limit, rows.length, !!data.truncated));
    view.replaceChildren(...parts);
  }

  function titleFor(st, kind) {
    let text;
    if (kind === 'clients') text = `Who asked: ${st.q}`;
    else if (st.rdata === '1') text = `Names pointing to ${st.q}`;
    else if (kind === 'negative') text = `Negative answers for ${st.q}`;
    else text = `Answers for ${st.q}`;
    const h = el('h1', { class: 'title' }, visible(text));
    if (st.type) h.append(el('span', { class: 'filter' }, `type ${st.type}`));
    if (kind === 'answers' || kind === 'negative') {
      const other = Object.assign({}, st, { negative: kind === 'answers' ? '1' : '', offset: '' });
      h.append(' ', link(kind === 'answers' ? 'show negative answers' : 'show positive answers',
        hashOf(other), { class: 'minor', id: 'toggle-negative' }));
    }
    if (kind === 'clients') {
      h.append(' ', link('answers', pivotHash('search', { q: st.q }), { class: 'minor', id: 'answers-all' }));
    }
    if (kind !== 'clients' && st.rdata !== '1') {
      h.append(' ', link('who asked', pivotHash('clients', { q: st.q }), { class: 'minor', id: 'who-asked-all' }));
    }
    return h;
  }

  function serverSortHint(st) {
    const id = st.order.replace(/^-/, '');
    const map = { name: 'name', first: 'first', last: 'last', count: 'count' };
    const p = el('p', { class: 'hint' }, 'Sorted within this page only. ');
    if (map[id]) {
      const next = Object.assign({}, st, { sort: map[id], desc: st.order.startsWith('-') ? '1' : '', offset: '', order: '' });
      p.append(link(`Sort all results by ${id} on the server`, hashOf(next)));
    }
    return p;
  }

  function pager(st, offset, limit, n, truncated) {
    const nav = el('nav', { class: 'pager', 'aria-label': 'Pages' });
    const prev = Math.max(0, offset - limit);
    if (offset > 0) {
      nav.append(link('\u2190 Previous', hashOf(Object.assign({}, st, { offset: prev ? String(prev) : '' })), { id: 'page-prev', rel: 'prev' }));
    }
    if (truncated) {
      nav.append(link('Next \u2192', hashOf(Object.assign({}, st, { offset: String(offset + n) })), { id: 'page-next', rel: 'next' }));
    }
    return nav;
  }

  function timeAxis(rows) {
    let lo = Infinity;
    let hi = -Infinity;
    let maxCount = 1;
    for (const r of rows) {
      if (Number.isFinite(r.time_first)) lo = Math.min(lo, r.time_first);
      if (Number.isFinite(r.time_last)) hi = Math.max(hi, r.time_last);
      if (Number.isFinite(r.count)) maxCount = Math.max(maxCount, r.count);
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return null;
    if (hi - lo < 60) { lo -= 30; hi += 30; }
    return { lo, hi, maxCount };
  }

  const TL_W = 160;
  const TL_H = 16;

  function timeline(r, axis) {
    const s = svg('svg', { class: 'timeline', width: TL_W, height: TL_H, viewBox: `0 0 ${TL_W} ${TL_H}`, role: 'img' });
    const label = `seen ${seen(r, 'first')} to ${seen(r, 'last')}, ${r.count} times`;
    s.setAttribute('aria-label', label);
    const title = svg('title');
    title.textContent = label;
    s.append(title, svg('rect', { class: 'tl-bg', x: 0, y: 0, width: TL_W, height: TL_H }));
    if (!axis || !Number.isFinite(r.time_first) || !Number.isFinite(r.time_last)) return s;
    const span = axis.hi - axis.lo;
    const x0 = ((r.time_first - axis.lo) / span) * TL_W;
    const x1 = ((r.time_last - axis.lo) / span) * TL_W;
    // Bar height grows with the log of the count, so busy tuples stand out.
    const h = 4 + Math.round(10 * Math.log1p(r.count || 1) / Math.log1p(axis.maxCount));
    const w = Math.max(2, x1 - x0);
    s.append(svg('rect', {
      class: 'tl-bar', x: Math.min(x0, TL_W - 2).toFixed(1), y: ((TL_H - h) / 2).toFixed(1),
      width: w.toFixed(1), height: h, rx: 1,
    }));
    return s;
  }

  function nameTarget(type, rdata) {
    if (!NAME_TARGET.has(type) || typeof rdata !== 'string') return null;
    const parts = rdata.trim().split(/\s+/);
    let t = type === 'NAPTR' ? parts[parts.length - 1]
      : (type === 'SVCB' || type === 'HTTPS') ? parts[1] : parts[parts.length - 1];
    if (!t || t === '.' || !/^[A-Za-z0-9_*.-]+$/.test(t)) return null;
    return t.replace(/\.$/, '');
  }

  function answerCell(r) {
    const td = el('td', { class: 'c-answer' });
    const t = r.rrtype;
    const text = r.rdata;
    if ((t === 'A' || t === 'AAAA') && typeof text === 'string') {
      td.append(link(text, pivotHash('search', { q: text }), {
        class: 'v pivot-addr', title: `names that resolved to ${text}`,
      }));
      return td;
    }
    const target = nameTarget(t, text);
    if (target) {
      const prefix = text.slice(0, text.length - text.trimEnd().split(/\s+/).pop().length);
      const v = el('span', { class: 'v' });
      if (prefix.trim()) v.append(prefix);
      v.append(link(nameNode(target), pivotHash('search', { q: target }), {
        class: 'pivot-target', title: `follow: answers for ${target}`,
      }));
      td.append(v, ' ', link('\u21a9 refs', pivotHash('search', { q: target, rdata: '1' }), {
        class: 'minor pivot-refs', title: `names whose answers point to ${target}`,
      }));
      return td;
    }
    const span = el('span', { class: 'v' }, shown(text ?? ''));
    if (typeof text === 'string' && shown(text) !== text) span.title = visible(text);
    td.append(span);
    return td;
  }

  function resultsTable(st, kind, cols, rows) {
    const axis = timeAxis(rows);
    const table = el('table', { id: 'results', class: 'results' });
    const tr = el('tr');
    const order = st.order || '';
    for (const c of cols) {
      const dir = order === c.id ? 'ascending' : order === '-' + c.id ? 'descending' : null;
      const next = dir === 'ascending' ? '-' + c.id : c.id;
      const btn = el('button', {
        type: 'button', class: 'sort', 'data-col': c.id,
        title: `sort this page by ${c.label.toLowerCase()}`,
        onclick: () => {
          pendingFocus = `button.sort[data-col="${c.id}"]`;
          go(Object.assign({}, readState(), { order: next }));
        },
      }, c.label, el('span', { class: 'arrow', 'aria-hidden': 'true' },
        dir === 'ascending' ? ' \u25b2' : dir === 'descending' ? ' \u25bc' : ''));
      tr.append(el('th', { scope: 'col', class: `c-${c.id}`, 'aria-sort': dir || 'none' }, btn));
    }
    const tlHead = el('th', { scope: 'col', class: 'c-timeline' }, 'Timeline');
    if (axis) {
      tlHead.append(el('span', { class: 'axis' },
        el('span', null, isoTime(axis.lo).slice(0, 10)),
        el('span', null, isoTime(axis.hi).slice(0, 10))));
    }
    tr.append(tlHead);
    const showSensors = rows.some((r) => Array.isArray(r.sensors) && r.sensors.length);
    if (showSensors) tr.append(el('th', { scope: 'col', class: 'c-sensors' }, 'Sensors'));
    if (kind !== 'clients') tr.append(el('th', { scope: 'col', class: 'c-actions' }, el('span', { class: 'sr' }, 'Pivots')));
    table.append(el('thead', null, tr));

    const body = el('tbody');
    const frag = document.createDocumentFragment();
    for (const r of rows) frag.append(resultRow(kind, r, axis, showSensors));
    body.append(frag);
    table.append(body);
    return el('div', { class: 'table-wrap' }, table);
  }

  function resultRow(kind, r, axis, showSensors) {
    const tr = el('tr');
    if (kind === 'clients') {
      tr.append(
        el('td', { class: 'c-client' }, link(visible(r.client ?? ''), pivotHash('clients', { q: r.client }), {
          class: 'v pivot-client', title: `what ${r.client} asked`,
        })),
        el('td', { class: 'c-name' }, link(nameNode(r.query), pivotHash('search', { q: r.query }), {
          class: 'v pivot-name', title: `answers for ${r.query}`,
        })),
        el('td', { class: 'c-type' }, visible(r.qtype ?? '')),
      );
    } else if (kind === 'negative') {
      tr.append(
        el('td', { class: 'c-name' }, link(nameNode(r.qname), pivotHash('search', { q: r.qname }), {
          class: 'v pivot-name', title: `answers for ${r.qname}`,
        })),
        el('td', { class: 'c-type' }, visible(r.qtype ?? '')),
        el('td', { class: 'c-answer' }, el('span', { class: 'v rcode' }, visible(r.rcode ?? ''))),
      );
    } else {
      tr.append(
        el('td', { class: 'c-name' }, link(nameNode(r.rrname), pivotHash('search', { q: r.rrname }), {
          class: 'v pivot-name', title: `answers for ${r.rrname}`,
        })),
        el('td', { class: 'c-type' }, visible(r.rrtype ?? '')),
        answerCell(r),
      );
    }
    tr.append(
      el('td', { class: 'c-first' }, seen(r, 'first')),
      el('td', { class: 'c-last' }, seen(r, 'last')),
      el('td', { class: 'c-count' }, String(r.count ?? '')),
      el('td', { class: 'c-timeline' }, timeline(r, axis)),
    );
    if (showSensors) {
      tr.append(el('td', { class: 'c-sensors' },
        visible(Array.isArray(r.sensors) ? r.sensors.join(', ') : '')));
    }
    if (kind !== 'clients') {
      const name = kind === 'negative' ? r.qname : r.rrname;
      tr.append(el('td', { class: 'c-actions' }, link('who asked', pivotHash('clients', { q: name }), {
        class: 'minor pivot-clients', title: `clients that asked for ${name}`,
      })));
    }
    return tr;
  }

  // ---------- stats ----------

  async function renderStats(st, seq) {
    const ctl = new AbortController();
    inflight = ctl;
    setStatus('busy', 'Loading statistics\u2026');
    const data = await api(`${API}/stats`, ctl.signal);
    if (seq !== renderSeq) return;
    setStatus('ok', 'Store statistics');
    view.replaceChildren(el('h1', { class: 'title' }, 'Store statistics'), statsNode(data, 0, ''));
  }

  function isTimeKey(k) {
    return /(^|_)(time|first|last|oldest|newest|from|to|min|max|start|end)(_|$)/i.test(k);
  }

  // Any JSON shape: scalars as a definition list, objects of numbers as a table with bars.
  function statsNode(v, depth, key) {
    if (depth > 6) return el('span', null, '\u2026');
    if (Array.isArray(v)) {
      if (!v.length) return el('span', { class: 'muted' }, '(none)');
      if (v.every((x) => x === null || typeof x !== 'object')) return el('span', null, visible(v.join(', ')));
      return el('ol', null, ...v.slice(0, 1000).map((x) => el('li', null, statsNode(x, depth + 1, key))));
    }
    if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      if (!entries.length) return el('span', { class: 'muted' }, '(none)');
      if (entries.every(([, x]) => typeof x === 'number') && entries.length > 1 && !entries.some(([k]) => isTimeKey(k))) {
        return barTable(entries);
      }
      const dl = el('dl', { class: 'stats' });
      for (const [k, x] of entries) dl.append(el('dt', null, visible(k.replace(/_/g, ' '))), el('dd', null, statsNode(x, depth + 1, k)));
      return dl;
    }
    if (typeof v === 'number' && isTimeKey(key) && v > 100000000 && v < 10000000000) {
      return el('span', null, `${isoTime(v)} (${v})`);
    }
    if (typeof v === 'number' && /(^|_)bytes$/.test(key)) {
      return el('span', null, `${humanBytes(v)} (${v.toLocaleString('en')} bytes)`);
    }
    if (typeof v === 'number') {
      return el('span', { class: 'num' }, Number.isInteger(v) ? v.toLocaleString('en') : v.toFixed(1));
    }
    return el('span', null, visible(v === null ? '\u2014' : String(v)));
  }

  function humanBytes(n) {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }

  function barTable(entries) {
    const max = Math.max(1, ...entries.map(([, n]) => n));
    const sorted = entries.slice().sort((a, b) => b[1] - a[1]);
    const table = el('table', { class: 'bars' });
    for (const [k, n] of sorted) {
      const s = svg('svg', { width: 200, height: 12, viewBox: '0 0 200 12', 'aria-hidden': 'true' });
      s.append(svg('rect', { class: 'tl-bar', x: 0, y: 1, height: 10, width: Math.max(1, (n / max) * 200).toFixed(1) }));
      table.append(el('tr', null, el('th', { scope: 'row' }, visible(k)), el('td', { class: 'num' }, n.toLocaleString('en')), el('td', null, s)));
    }
    return table;
  }

  // ---------- intel hits ----------

  // The intel page: retro-hunt hits of the watched feeds within a window (who resolved
  // what, matching which indicator), the feeds, and the newest live alerts.
  const INTEL_WINDOWS = ['1d', '7d', '30d', '90d', '365d', 'all'];
  const HIT_COLUMNS = [
    ['client', 'Client'], ['query', 'Name'], ['qtype', 'Type'], ['answer', 'Answer'],
    ['first_seen', 'First seen'], ['last_seen', 'Last seen'], ['count', 'Count'],
    ['ioc', 'Indicator'], ['via', 'Matched by'], ['feed', 'Feed'], ['event', 'Event'],
    ['category', 'Category'],
  ];

  function intelCell(key, r) {
    const x = r[key];
    if (x === null || x === undefined) return el('td', null, '\u2013');
    if (key === 'client') return el('td', null, link(visible(x), pivotHash('clients', { q: x })));
    if (key === 'query' || key === 'answer') {
      return el('td', null, link(shown(x), pivotHash('search', { q: x })));
    }
    if (key === 'count') return el('td', { class: 'num' }, Number(x).toLocaleString('en'));
    if (key === 'event' && r.event_info) return el('td', { title: visible(r.event_info) }, shown(x));
    return el('td', null, shown(x));
  }

  async function renderIntel(st, seq) {
    const ctl = new AbortController();
    inflight = ctl;
    const since = INTEL_WINDOWS.includes(st.since) ? st.since : '30d';
    setStatus('busy', 'Hunting\u2026');
    const data = await api(`${API}/intel?since=${since === 'all' ? '0' : encodeURIComponent(since)}`, ctl.signal);
    if (seq !== renderSeq || !data) return;
    const rows = Array.isArray(data.rows) ? data.rows : [];
    setStatus('ok', `${rows.length} hits${data.truncated ? ' (cut)' : ''} ${since === 'all' ? 'in the whole history' : 'in the last ' + since}`);
    const windows = el('p', { class: 'windows' }, 'Window: ',
      ...INTEL_WINDOWS.map((w) => w === since
        ? el('strong', null, w + ' ')
        : el('span', null, link(w, hashOf({ view: 'intel', since: w })), ' ')));
    const hits = el('table', { class: 'results', id: 'intel' },
      el('thead', null, el('tr', null, ...HIT_COLUMNS.map(([, h]) => el('th', { scope: 'col' }, h)))));
    const body = el('tbody');
    for (const r of rows) body.append(el('tr', null, ...HIT_COLUMNS.map(([k]) => intelCell(k, r || {}))));
    hits.append(body);
    const feeds = el('table', { class: 'results', id: 'feeds' },
      el('thead', null, el('tr', null, ...['Feed', 'Role', 'Format', 'Indicators', 'Bad', 'Loaded', 'Last error']
        .map((h) => el('th', { scope: 'col' }, h)))));
    const fbody = el('tbody');
    for (const f of data.feeds || []) {
      fbody.append(el('tr', null,
        el('td', null, shown(f.name)), el('td', null, shown(f.role || '')), el('td', null, shown(f.format || '')),
        el('td', { class: 'num' }, Number(f.iocs || 0).toLocaleString('en')),
        el('td', { class: 'num' }, Number(f.bad || 0).toLocaleString('en')),
        el('td', null, f.loaded_at ? new Date(f.loaded_at * 1000).toISOString().replace('.000', '') : '\u2013'),
        el('td', null, shown(f.last_error || ''))));
    }
    feeds.append(fbody);
    const alerts = el('table', { class: 'results', id: 'alerts' },
      el('thead', null, el('tr', null, ...['Seen', 'Client', 'Name', 'Answer', 'Indicator', 'Feed']
        .map((h) => el('th', { scope: 'col' }, h)))));
    const abody = el('tbody');
    for (const a of (data.alerts || []).slice().reverse()) {
      abody.append(el('tr', null,
        el('td', null, new Date(a.time * 1000).toISOString().replace('.000', '')),
        intelCell('client', a), intelCell('query', a), intelCell('answer', a),
        el('td', null, shown(a.ioc)), el('td', null, shown(a.feed))));
    }
    alerts.append(abody);
    // Reports of the same window, as bar charts (label: first column, bar: hits or count).
    const sinceParam = since === 'all' ? '0' : since;
    const kinds = [
      ['top-clients', 'Top clients (hits on watched feeds)', 'client', 'hits'],
      ['top-iocs', 'Most-hit indicators', 'ioc', 'hits'],
      ['top-names', 'Most asked names', 'name', 'count'],
      ['new-domains', 'Newly seen names', 'name', 'count'],
    ];
    const reports = await Promise.all(kinds.map(([k]) =>
      api(`${API}/intel/report?kind=${k}&since=${encodeURIComponent(sinceParam)}&limit=10`, ctl.signal)
        .catch(() => null)));
    if (seq !== renderSeq) return;
    const charts = el('div', { class: 'charts' });
    kinds.forEach(([k, title, label, measure], i) => {
      const rows = reports[i] && Array.isArray(reports[i].rows) ? reports[i].rows : [];
      const max = Math.max(1, ...rows.map((r) => Number(r[measure]) || 0));
      const table = el('table', { class: 'bars', id: 'report-' + k });
      for (const r of rows) {
        const n = Number(r[measure]) || 0;
        const s = svg('svg', { width: 160, height: 12, viewBox: '0 0 160 12', 'aria-hidden': 'true' });
        s.append(svg('rect', { class: 'tl-bar', x: 0, y: 1, height: 10, width: Math.max(1, (n / max) * 160).toFixed(1) }));
        const name = String(r[label] ?? '');
        const cell = label === 'client'
          ? link(visible(name), pivotHash('clients', { q: name }))
          : link(shown(name), pivotHash('search', { q: name }));
        table.append(el('tr', null, el('th', { scope: 'row' }, cell),
          el('td', { class: 'num' }, n.toLocaleString('en')), el('td', null, s)));
      }
      charts.append(el('section', { class: 'chart' }, el('h2', null, title),
        rows.length ? table : el('p', { class: 'empty' }, 'Nothing in this window.')));
    });
    view.replaceChildren(
      el('h1', { class: 'title' }, 'Intel hits'), windows,
      rows.length ? el('div', { class: 'table-wrap' }, hits)
        : el('p', { class: 'empty' }, 'No client resolved anything in the watched feeds in this window.'),
      el('h2', null, 'Reports'), charts,
      el('h2', null, 'Feeds'), el('div', { class: 'table-wrap' }, feeds),
      el('h2', null, 'Newest live alerts'),
      (data.alerts || []).length ? el('div', { class: 'table-wrap' }, alerts) : el('p', { class: 'empty' }, 'No alerts in this window.'));
  }

  async function probeIntel() {
    try {
      const headers = { Accept: 'application/json' };
      if (apiKey()) headers['X-API-Key'] = apiKey();
      const resp = await fetch(`${API}/intel`, { headers, credentials: 'omit' });
      $('nav-intel').hidden = !resp.ok;
    } catch (_) {
      $('nav-intel').hidden = true;
    }
  }

  // ---------- start ----------

  // After a sort the same header keeps the focus; after any other change the results do,
  // so Tab goes on into the new rows.
  let pendingFocus = null;
  window.addEventListener('hashchange', async () => {
    const sel = pendingFocus;
    pendingFocus = null;
    await render();
    const target = sel && view.querySelector(sel);
    if (target) {
      target.focus();
    } else if (!form.querySelector('[aria-invalid]')) {
      window.scrollTo(0, 0);
      view.focus({ preventScroll: true });
    }
  });
  showKeyStatus();
  render();
  probeIntel();
})();
