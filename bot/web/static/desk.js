// postino web desk: the chat's shipments as a live table. Vanilla ES2020, no build step,
// nothing fetched from another site. Every word comes from `texts` of GET api/session
// (keys desk.*); the only words written in index.html are the bilingual "link expired" and
// "could not load" notices, shown when those texts cannot be had.

const POLL_MS = 2000;
const RETRY_BOOT_MS = 5000;
const TOAST_MS = 6000;
// Shown statuses in the order of the filter chips: what needs someone first. Badges and
// chips mark them with a coloured dot (a ring for those that need someone) beside the words,
// not with emoji: a machine without an emoji font would show empty boxes.
const CHIP_ORDER = [
  'exception', 'undelivered', 'refused', 'ready_for_pickup', 'expired', 'pickup', 'transit',
  'inforeceived', 'notfound', 'pending', 'delivered',
];
const COLUMNS = ['code', 'label', 'status', 'event', 'place', 'time', 'expected', 'added'];
// Columns whose first click sorts newest first.
const DESCENDING_FIRST = new Set(['time', 'expected', 'added']);

const $ = (id) => document.getElementById(id);

class SignedOut extends Error {}

const state = {
  texts: {},
  session: null,
  chatId: null,
  rows: new Map(), // id → row
  sigs: new Map(), // id → JSON of the row, to touch only what changed
  hay: new Map(), // id → normalized search text
  etag: null,
  filter: 'all',
  query: '',
  showArchived: false,
  sort: null, // null: the default order; else {key, dir: 1 | -1}
  selected: new Set(),
  timelineId: null,
  menuId: null,
  pollTimer: null,
  polling: false,
  pollAgain: false,
  stopped: false,
  elements: new Map(), // id → <tr>
};

// -- Telegram Mini App: initData and theme from the fragment ---------------------------------

const fragment = new URLSearchParams(location.hash.slice(1));
const initData = fragment.get('tgWebAppData') || null;
const inTelegram = initData !== null;

function telegramUserLanguage() {
  if (!initData) return null;
  try {
    const user = JSON.parse(new URLSearchParams(initData).get('user') || '{}');
    return typeof user.language_code === 'string' ? user.language_code : null;
  } catch {
    return null;
  }
}

const COLOUR = /^#[0-9a-f]{3,8}$/i;
const THEME_VARS = {
  bg_color: ['--bg', '--surface'],
  secondary_bg_color: ['--surface-2'],
  text_color: ['--text'],
  hint_color: ['--hint'],
  link_color: ['--link'],
  button_color: ['--accent'],
  button_text_color: ['--accent-text'],
};

function applyTelegramTheme() {
  const raw = fragment.get('tgWebAppThemeParams');
  if (!raw) return;
  let params;
  try {
    params = JSON.parse(raw);
  } catch {
    return;
  }
  const root = document.documentElement;
  for (const [name, vars] of Object.entries(THEME_VARS)) {
    const value = params[name];
    if (typeof value !== 'string' || !COLOUR.test(value)) continue;
    for (const v of vars) root.style.setProperty(v, value);
  }
  if (typeof params.bg_color === 'string' && COLOUR.test(params.bg_color)) {
    root.dataset.theme = luminance(params.bg_color) < 0.4 ? 'dark' : 'light';
  }
  root.classList.add('in-telegram');
}

function luminance(hex) {
  let h = hex.slice(1);
  if (h.length <= 4) h = [...h].map((c) => c + c).join('');
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

// Tell the Telegram client the page is ready and may take the whole height (the protocol
// telegram-web-app.js speaks; without it the client shows its loader a little longer).
function telegramEvent(type, data = {}) {
  if (!inTelegram) return;
  try {
    if (window.TelegramWebviewProxy?.postEvent) {
      window.TelegramWebviewProxy.postEvent(type, JSON.stringify(data));
    } else if (window.external?.notify) {
      window.external.notify(JSON.stringify({ eventType: type, eventData: data }));
    } else if (window.parent !== window) {
      window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data }), '*');
    }
  } catch {
    // not inside a Telegram client after all: nothing to tell
  }
}

// -- words ---------------------------------------------------------------------------------

function t(key, values = {}) {
  const template = state.texts[key];
  if (typeof template !== 'string') return key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole,
  );
}

function applyTexts(root = document) {
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll('[data-t-placeholder]')) {
    el.placeholder = t(el.dataset.tPlaceholder);
  }
  for (const el of root.querySelectorAll('[data-t-aria-label]')) {
    el.setAttribute('aria-label', t(el.dataset.tAriaLabel));
  }
}

function fold(text) {
  return (text || '').normalize('NFD').replace(/\p{Diacritic}/gu, '').toLowerCase();
}

function rowName(row) {
  return row.label || row.code;
}

// -- the server ----------------------------------------------------------------------------

async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const sent = { Accept: 'application/json', ...headers };
  if (initData) sent.Authorization = `tma ${initData}`;
  const options = { method, headers: sent, credentials: 'same-origin', cache: 'no-store' };
  // Every POST is JSON (the server refuses others: with SameSite=Lax, no forged form posts).
  if (body !== undefined || method === 'POST') {
    sent['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(`api/${path}`, options);
  if (response.status === 401) {
    signedOut();
    throw new SignedOut();
  }
  return response;
}

function chatPath(rest) {
  return `chats/${encodeURIComponent(state.chatId)}/${rest}`;
}

async function errorOf(response) {
  let text = null;
  try {
    text = (await response.json()).error;
  } catch {
    // not JSON: the generic words below
  }
  // 403/404 of the API are plain codes ("forbidden", "not found"); 429, 502 and the
  // refusals of actions are sentences in the chat's language.
  if (response.status === 403 && (!text || text === 'forbidden')) return t('desk.error.forbidden');
  if (!text || response.status === 404 || response.status >= 500 && response.status !== 502) {
    return t('desk.error.generic');
  }
  return text;
}

async function post(path, body, okMessage) {
  let response;
  try {
    response = await api(chatPath(path), { method: 'POST', body });
  } catch (error) {
    if (!(error instanceof SignedOut)) toast(t('desk.error.generic'), true);
    return null;
  }
  if (!response.ok) {
    toast(await errorOf(response), true);
    if (response.status === 404) pollNow();
    return null;
  }
  const data = await response.json();
  if (data.row) storeRow(data.row);
  if (okMessage) toast(typeof okMessage === 'function' ? okMessage(data) : okMessage);
  render();
  pollNow();
  return data;
}

// -- start ---------------------------------------------------------------------------------

async function boot() {
  let response;
  try {
    response = await api('session');
  } catch (error) {
    if (!(error instanceof SignedOut)) failedToLoad();
    return;
  }
  if (!response.ok) {
    failedToLoad();
    return;
  }
  const session = await response.json();
  state.session = session;
  state.texts = session.texts || {};
  state.chatId = session.chat.id;
  document.documentElement.lang = session.language || 'it';
  applyTexts();
  $('title').textContent = t('desk.title');
  const signedIn = t('desk.signed_in_as', { name: session.user.name });
  // A private chat's title is the user's own name: said once.
  $('who').textContent =
    session.chat.type === 'private' ? signedIn : `${session.chat.title} · ${signedIn}`;
  document.title = `${t('desk.title')} · ${session.chat.title}`;
  $('caption').textContent = t('desk.caption', { chat: session.chat.title });
  fillSortSelect();
  wire();
  $('boot').hidden = true;
  $('fallback-error').hidden = true;
  $('app').hidden = false;
  telegramEvent('web_app_ready');
  telegramEvent('web_app_expand');
  await poll();
}

function showNotice(id) {
  const lang = state.session?.language || telegramUserLanguage() || navigator.language || '';
  const known = ['it', 'en'].find((code) => lang.toLowerCase().startsWith(code));
  const notice = $(id);
  for (const part of notice.querySelectorAll('[data-lang]')) {
    part.hidden = Boolean(known) && part.dataset.lang !== known;
  }
  $('boot').hidden = true;
  notice.hidden = false;
}

function signedOut() {
  state.stopped = true;
  clearTimeout(state.pollTimer);
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  $('app').hidden = true;
  $('fallback-error').hidden = true;
  if (state.session) {
    // The words are at hand: only the reader's language.
    const notice = $('fallback-expired');
    const part = notice.querySelector(`[data-lang="${state.session.language}"]`);
    if (part) {
      part.querySelector('h1').textContent = t('desk.expired.title');
      part.querySelector('p').textContent = t('desk.expired.body');
    }
  }
  showNotice('fallback-expired');
  telegramEvent('web_app_ready');
}

function failedToLoad() {
  showNotice('fallback-error');
  setTimeout(() => {
    if (!state.session) boot();
  }, RETRY_BOOT_MS);
}

// -- live updates --------------------------------------------------------------------------

function schedulePoll() {
  clearTimeout(state.pollTimer);
  if (state.stopped || document.hidden) return;
  state.pollTimer = setTimeout(poll, POLL_MS);
}

function pollNow() {
  if (state.polling) {
    state.pollAgain = true;
    return;
  }
  poll();
}

async function poll() {
  if (state.stopped) return;
  clearTimeout(state.pollTimer);
  state.polling = true;
  try {
    const headers = state.etag ? { 'If-None-Match': state.etag } : {};
    const response = await api(chatPath('shipments'), { headers });
    if (response.status === 200) {
      const data = await response.json();
      state.etag = response.headers.get('ETag') || (data.revision ? `"${data.revision}"` : null);
      replaceRows(data.rows || []);
      synced(true);
    } else if (response.status === 304) {
      synced(false);
    } else if (response.status === 403) {
      toast(t('desk.error.forbidden'), true);
      offline();
    } else {
      offline();
    }
  } catch (error) {
    if (error instanceof SignedOut) return;
    offline();
  } finally {
    state.polling = false;
  }
  if (state.pollAgain) {
    state.pollAgain = false;
    poll();
    return;
  }
  schedulePoll();
}

const clock = () =>
  new Intl.DateTimeFormat(state.session?.language === 'en' ? 'en-GB' : 'it', {
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone: 'Europe/Rome',
  }).format(new Date());

function synced(changed) {
  const sync = $('sync');
  sync.classList.remove('offline');
  if (changed || !$('sync-text').textContent || sync.dataset.state !== 'ok') {
    $('sync-text').textContent = t('desk.updated', { time: clock() });
  }
  sync.dataset.state = 'ok';
}

function offline() {
  const sync = $('sync');
  sync.classList.add('offline');
  sync.dataset.state = 'offline';
  $('sync-text').textContent = t('desk.offline');
}

document.addEventListener('visibilitychange', () => {
  if (!state.session || state.stopped) return;
  if (document.hidden) clearTimeout(state.pollTimer);
  else pollNow();
});

// -- rows ----------------------------------------------------------------------------------

function storeRow(row) {
  state.rows.set(row.id, row);
  state.hay.set(row.id, fold([row.code, row.label, row.last_event, row.place].join('\n')));
}

function replaceRows(rows) {
  const seen = new Set();
  const openBefore = state.timelineId !== null ? state.sigs.get(state.timelineId) : null;
  for (const row of rows) {
    seen.add(row.id);
    storeRow(row);
  }
  for (const id of [...state.rows.keys()]) {
    if (!seen.has(id)) {
      state.rows.delete(id);
      state.hay.delete(id);
      state.selected.delete(id);
    }
  }
  render();
  if (state.timelineId !== null) {
    if (!state.rows.has(state.timelineId)) $('timeline').close();
    else if (openBefore !== state.sigs.get(state.timelineId)) refreshTimeline(false);
  }
}

function visibleRows() {
  const all = [...state.rows.values()].filter((r) => state.showArchived || !r.archived);
  const counts = new Map();
  for (const row of all) counts.set(row.status, (counts.get(row.status) || 0) + 1);
  const query = fold(state.query.trim());
  const shown = all.filter(
    (row) =>
      (state.filter === 'all' || row.status === state.filter) &&
      (!query || state.hay.get(row.id).includes(query)),
  );
  shown.sort(comparator());
  return { all, counts, shown };
}

const collator = () => new Intl.Collator(state.session?.language || 'it', { sensitivity: 'base', numeric: true });

function comparator() {
  const words = collator();
  const text = (a, b) => {
    if (!a && !b) return 0;
    if (!a) return 1; // empty ones last, whichever the direction
    if (!b) return -1;
    return null;
  };
  const newest = (r) => r.time || r.added_at || '';
  const byDefault = (a, b) =>
    a.attention_rank - b.attention_rank ||
    (newest(b) > newest(a) ? 1 : newest(b) < newest(a) ? -1 : 0) ||
    b.id - a.id;
  if (!state.sort) return byDefault;
  const { key, dir } = state.sort;
  const field = {
    code: (r) => r.code,
    label: (r) => r.label,
    status: (r) => r.status_text,
    event: (r) => r.last_event,
    place: (r) => r.place,
    time: (r) => r.time,
    expected: (r) => r.expected_delivery,
    added: (r) => r.added_at,
  }[key];
  const isDate = key === 'time' || key === 'expected' || key === 'added';
  return (a, b) => {
    if (key === 'status') {
      const rank = a.attention_rank - b.attention_rank;
      if (rank) return dir * rank;
    }
    const x = field(a);
    const y = field(b);
    const empty = text(x, y);
    if (empty !== null) return empty || byDefault(a, b);
    const order = isDate ? (x < y ? -1 : x > y ? 1 : 0) : words.compare(x, y);
    return dir * order || byDefault(a, b);
  };
}

function render() {
  const { all, counts, shown } = visibleRows();
  const focused = document.activeElement;
  renderChips(counts, all.length);
  renderBody(shown);
  renderHeader();
  renderSelection(shown);
  $('shown').textContent = t('desk.shown', { shown: shown.length, total: all.length });
  const empty = $('empty');
  empty.hidden = shown.length > 0;
  empty.textContent = state.rows.size === 0 ? t('desk.empty') : t('desk.no_match');
  $('table').classList.toggle('is-empty', shown.length === 0);
  // A row moved in the table keeps the focus it had.
  if (focused && focused !== document.body && focused.isConnected && document.activeElement !== focused) {
    focused.focus({ preventScroll: true });
  }
}

function renderChips(counts, total) {
  const chips = $('chips');
  const statuses = [...counts.keys()].sort(
    (a, b) => chipRank(a) - chipRank(b) || (counts.get(b) || 0) - (counts.get(a) || 0),
  );
  if (state.filter !== 'all' && !counts.has(state.filter)) statuses.push(state.filter);
  const wanted = ['all', ...statuses];
  const existing = new Map([...chips.children].map((chip) => [chip.dataset.status, chip]));
  let cursor = chips.firstElementChild;
  for (const status of wanted) {
    let chip = existing.get(status);
    if (!chip) {
      chip = document.createElement('button');
      chip.type = 'button';
      chip.className = `chip s-${status}`;
      chip.dataset.status = status;
      chip.innerHTML = '<span class="chip-mark" aria-hidden="true"></span><span class="chip-name"></span><span class="chip-count"></span>';
      chip.addEventListener('click', () => {
        state.filter = state.filter === status || status === 'all' ? 'all' : status;
        render();
      });
    }
    existing.delete(status);
    const count = status === 'all' ? total : counts.get(status) || 0;
    const name = status === 'all' ? t('desk.filter.all') : statusText(status);
    chip.querySelector('.chip-name').textContent = name;
    chip.querySelector('.chip-count').textContent = String(count);
    chip.setAttribute('aria-label', t('desk.filter.count', { status: name, count }));
    chip.setAttribute('aria-pressed', String(state.filter === status));
    if (chip !== cursor) chips.insertBefore(chip, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const chip of existing.values()) chip.remove();
}

function chipRank(status) {
  const i = CHIP_ORDER.indexOf(status);
  return i < 0 ? CHIP_ORDER.length : i;
}

function statusText(status) {
  for (const row of state.rows.values()) if (row.status === status) return row.status_text;
  return status;
}

function renderBody(shown) {
  const body = $('rows');
  const keep = new Set(shown.map((r) => r.id));
  for (const [id, tr] of state.elements) {
    if (!keep.has(id)) {
      tr.remove();
      if (!state.rows.has(id)) {
        state.elements.delete(id);
        state.sigs.delete(id);
      }
    }
  }
  let cursor = body.firstElementChild;
  for (const row of shown) {
    let tr = state.elements.get(row.id);
    if (!tr) {
      tr = makeRow(row.id);
      state.elements.set(row.id, tr);
    }
    const sig = JSON.stringify(row);
    if (state.sigs.get(row.id) !== sig || tr.dataset.lang !== document.documentElement.lang) {
      fillRow(tr, row);
      state.sigs.set(row.id, sig);
      tr.dataset.lang = document.documentElement.lang;
    }
    if (tr !== cursor) body.insertBefore(tr, cursor);
    else cursor = cursor.nextElementSibling;
  }
}

const CELLS = ['sel', 'code', 'label', 'status', 'event', 'place', 'time', 'expected', 'added', 'act'];

function makeRow(id) {
  const tr = document.createElement('tr');
  tr.className = 'row';
  tr.dataset.id = String(id);
  tr.tabIndex = 0;
  for (const name of CELLS) {
    const td = document.createElement('td');
    td.className = `c-${name}`;
    tr.append(td);
  }
  const cells = tr.children;
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.className = 'pick';
  cells[0].append(box);
  cells[1].innerHTML = '<a class="code" target="_blank" rel="noopener noreferrer"></a><span class="courier"></span>';
  cells[3].innerHTML = '<span class="badge"><span class="badge-mark" aria-hidden="true"></span><span class="badge-text"></span></span><span class="flags"></span>';
  const more = document.createElement('button');
  more.type = 'button';
  more.className = 'icon-btn more';
  more.setAttribute('aria-haspopup', 'menu');
  more.setAttribute('aria-expanded', 'false');
  more.innerHTML = '<span aria-hidden="true">⋯</span>';
  cells[9].append(more);
  for (const [i, key] of [[4, 'desk.col.event'], [5, 'desk.col.place'], [6, 'desk.col.time'], [7, 'desk.col.expected'], [8, 'desk.col.added']]) {
    cells[i].dataset.label = t(key);
  }
  return tr;
}

function fillRow(tr, row) {
  const cells = tr.children;
  const name = rowName(row);
  tr.classList.toggle('attention', Boolean(row.attention));
  tr.classList.toggle('archived', Boolean(row.archived));
  tr.classList.toggle('muted', Boolean(row.muted));
  tr.setAttribute('aria-label', `${name}, ${row.status_text}`);
  const box = cells[0].firstElementChild;
  box.setAttribute('aria-label', t('desk.select_row', { name }));
  const link = cells[1].querySelector('a');
  link.textContent = row.code;
  if (row.carrier_url) {
    link.href = row.carrier_url;
    link.title = t('desk.timeline.carrier_link');
  } else {
    link.removeAttribute('href');
    link.removeAttribute('title');
  }
  cells[1].querySelector('.courier').textContent = row.courier_name || '';
  cells[2].textContent = row.label || '';
  cells[2].title = row.label || '';
  cells[2].classList.toggle('none', !row.label);
  const badge = cells[3].querySelector('.badge');
  badge.className = `badge s-${row.status}`;
  badge.querySelector('.badge-text').textContent = row.status_text;
  const flags = cells[3].querySelector('.flags');
  flags.replaceChildren();
  if (row.muted) flags.append(flag('muted', t('desk.muted.badge')));
  if (row.archived) flags.append(flag('archived', t('desk.archived.badge')));
  cells[4].textContent = row.last_event || '';
  cells[5].textContent = row.place || '';
  cells[5].title = row.place || '';
  cells[6].textContent = row.time_text || '';
  if (row.time) cells[6].title = row.time;
  cells[7].textContent = row.expected_text || '';
  cells[8].textContent = row.added_by
    ? t('desk.added_by', { name: row.added_by, when: row.added_text })
    : row.added_text || '';
  for (const i of [4, 5, 6, 7]) cells[i].classList.toggle('none', !cells[i].textContent);
  cells[9].firstElementChild.setAttribute('aria-label', t('desk.action.menu', { name }));
}

function flag(kind, text) {
  const span = document.createElement('span');
  span.className = `flag ${kind}`;
  span.textContent = text;
  return span;
}

function renderHeader() {
  for (const th of document.querySelectorAll('th[data-sort]')) {
    const key = th.dataset.sort;
    const button = th.querySelector('button');
    const column = t(`desk.col.${key}`);
    if (state.sort?.key === key) {
      th.setAttribute('aria-sort', state.sort.dir > 0 ? 'ascending' : 'descending');
      button.dataset.dir = state.sort.dir > 0 ? 'asc' : 'desc';
    } else {
      th.removeAttribute('aria-sort');
      delete button.dataset.dir;
    }
    button.setAttribute('aria-label', t('desk.sort.by', { column }));
  }
  const select = $('sort-select');
  const value = state.sort ? `${state.sort.key}:${state.sort.dir > 0 ? 'asc' : 'desc'}` : 'default';
  if (select.value !== value) select.value = value;
}

function fillSortSelect() {
  const select = $('sort-select');
  select.replaceChildren(new Option(t('desk.sort.default'), 'default'));
  for (const key of COLUMNS) {
    const column = t(`desk.col.${key}`);
    const dirs = DESCENDING_FIRST.has(key) ? ['desc', 'asc'] : ['asc', 'desc'];
    for (const dir of dirs) {
      const label = t(dir === 'asc' ? 'desk.sort.ascending' : 'desk.sort.descending', { column });
      select.append(new Option(label, `${key}:${dir}`));
    }
  }
}

function renderSelection(shown) {
  for (const [id, tr] of state.elements) {
    const on = state.selected.has(id);
    tr.classList.toggle('selected', on);
    const box = tr.firstElementChild.firstElementChild;
    if (box.checked !== on) box.checked = on;
  }
  const all = $('select-all');
  const picked = shown.filter((r) => state.selected.has(r.id)).length;
  all.checked = shown.length > 0 && picked === shown.length;
  all.indeterminate = picked > 0 && picked < shown.length;
  const bulk = $('bulk');
  bulk.hidden = state.selected.size === 0;
  $('bulk-count').textContent = t('desk.selected', { count: state.selected.size });
  document.documentElement.classList.toggle('has-selection', state.selected.size > 0);
}

// -- interaction ---------------------------------------------------------------------------

function wire() {
  const body = $('rows');
  body.addEventListener('click', (event) => {
    const tr = event.target.closest('tr.row');
    if (!tr) return;
    const id = Number(tr.dataset.id);
    if (event.target.closest('button.more')) {
      openMenu(event.target.closest('button.more'), id);
      return;
    }
    if (event.target.closest('input, a, button, label, .c-sel')) return;
    openTimeline(id);
  });
  body.addEventListener('change', (event) => {
    if (!event.target.matches('input.pick')) return;
    const id = Number(event.target.closest('tr.row').dataset.id);
    if (event.target.checked) state.selected.add(id);
    else state.selected.delete(id);
    renderSelection(visibleRows().shown);
  });
  body.addEventListener('keydown', (event) => {
    const tr = event.target;
    if (!(tr instanceof HTMLTableRowElement)) return;
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      openTimeline(Number(tr.dataset.id));
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = event.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
      next?.focus();
    }
  });
  $('select-all').addEventListener('change', (event) => {
    const { shown } = visibleRows();
    for (const row of shown) {
      if (event.target.checked) state.selected.add(row.id);
      else state.selected.delete(row.id);
    }
    renderSelection(shown);
  });
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.sort;
      if (state.sort?.key === key) state.sort = { key, dir: -state.sort.dir };
      else state.sort = { key, dir: DESCENDING_FIRST.has(key) ? -1 : 1 };
      render();
    });
  }
  $('sort-select').addEventListener('change', (event) => {
    const [key, dir] = event.target.value.split(':');
    state.sort = key === 'default' ? null : { key, dir: dir === 'asc' ? 1 : -1 };
    render();
  });
  $('q').addEventListener('input', (event) => {
    state.query = event.target.value;
    render();
  });
  $('show-archived').addEventListener('change', (event) => {
    state.showArchived = event.target.checked;
    render();
  });
  $('add-open').addEventListener('click', () => toggleAdd());
  $('add-cancel').addEventListener('click', () => toggleAdd(false));
  $('add-panel').addEventListener('submit', (event) => {
    event.preventDefault();
    addCodes();
  });
  $('add-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      addCodes();
    }
  });
  $('export-all').addEventListener('click', () => exportCsv([]));
  $('bulk').addEventListener('click', (event) => {
    const button = event.target.closest('[data-bulk]');
    if (button) bulk(button.dataset.bulk);
  });
  wireMenu();
  wireDialogs();
}

function toggleAdd(open) {
  const panel = $('add-panel');
  const show = open ?? panel.hidden;
  panel.hidden = !show;
  $('add-open').setAttribute('aria-expanded', String(show));
  if (show) $('add-text').focus();
  else $('add-open').focus();
}

async function addCodes() {
  const area = $('add-text');
  const text = area.value.trim();
  if (!text) {
    area.focus();
    return;
  }
  const submit = $('add-panel').querySelector('[type=submit]');
  submit.disabled = true;
  try {
    const data = await post('add', { text });
    if (!data) return;
    const result = $('add-result');
    result.textContent = data.summary || '';
    result.hidden = !data.summary;
    if ((data.added || []).length || (data.already || []).length) {
      area.value = (data.refused || []).map((r) => r.text).join('\n');
    }
    toast(data.headline || data.summary || '');
  } finally {
    submit.disabled = false;
  }
}

// The menu of one row: one element, moved beside the button that opened it.
function wireMenu() {
  const menu = $('menu');
  menu.addEventListener('click', (event) => {
    const item = event.target.closest('[data-act]');
    if (!item) return;
    const id = state.menuId;
    closeMenu(false);
    act(item.dataset.act, id);
  });
  menu.addEventListener('keydown', (event) => {
    const items = [...menu.querySelectorAll('[role=menuitem]:not([hidden])')];
    const at = items.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      items[(at + step + items.length) % items.length].focus();
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      items[event.key === 'Home' ? 0 : items.length - 1].focus();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      closeMenu(true);
    } else if (event.key === 'Tab') {
      closeMenu(true);
    }
  });
  document.addEventListener('pointerdown', (event) => {
    if (!menu.hidden && !menu.contains(event.target) && !event.target.closest('button.more')) {
      closeMenu(false);
    }
  });
  window.addEventListener('resize', () => closeMenu(false));
  $('table-wrap').addEventListener('scroll', () => closeMenu(false), { passive: true });
}

function openMenu(button, id) {
  const menu = $('menu');
  if (!menu.hidden && state.menuId === id) {
    closeMenu(true);
    return;
  }
  closeMenu(false);
  const row = state.rows.get(id);
  if (!row) return;
  state.menuId = id;
  state.menuButton = button;
  for (const item of menu.querySelectorAll('[data-act]')) {
    const act = item.dataset.act;
    // As in the chat: anyone may rename, mute and check; removing is the server's to allow
    // (can_remove: one's own, or a group's admin).
    item.hidden = act === 'remove' && !row.can_remove;
    if (act === 'mute') item.textContent = t(row.muted ? 'desk.action.unmute' : 'desk.action.mute');
  }
  menu.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  const box = button.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  const left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
  const below = box.bottom + 4 + height < window.innerHeight;
  menu.style.left = `${left}px`;
  menu.style.top = `${below ? box.bottom + 4 : Math.max(8, box.top - height - 4)}px`;
  menu.querySelector('[role=menuitem]:not([hidden])').focus();
}

function closeMenu(refocus) {
  const menu = $('menu');
  if (menu.hidden) return;
  menu.hidden = true;
  state.menuButton?.setAttribute('aria-expanded', 'false');
  if (refocus) state.menuButton?.focus();
  state.menuId = null;
}

function act(action, id) {
  const row = state.rows.get(id);
  if (!row) return;
  if (action === 'timeline') openTimeline(id);
  else if (action === 'rename') openRename(row);
  else if (action === 'mute') mute(row);
  else if (action === 'refresh') refresh(row);
  else if (action === 'remove') remove(row);
}

async function mute(row) {
  const muted = !row.muted;
  await post(`shipments/${row.id}/mute`, { muted }, (data) =>
    t(muted ? 'desk.muted' : 'desk.unmuted', { name: rowName(data.row || row) }),
  );
}

async function refresh(row) {
  await post(`shipments/${row.id}/refresh`, undefined, (data) =>
    t(data.changed ? 'desk.refreshed.changed' : 'desk.refreshed.same', { name: rowName(data.row || row) }),
  );
  if (state.timelineId === row.id) refreshTimeline(false);
}

async function remove(row) {
  const yes = await confirmDialog(t('desk.confirm.remove_one', { name: rowName(row) }));
  if (!yes) return;
  const data = await post(`shipments/${row.id}/remove`, undefined, t('desk.removed', { name: rowName(row) }));
  if (data) forget([row.id]);
}

function forget(ids) {
  for (const id of ids) {
    state.rows.delete(id);
    state.hay.delete(id);
    state.selected.delete(id);
    if (state.timelineId === id) $('timeline').close();
  }
  render();
}

async function bulk(action) {
  const ids = [...state.selected].filter((id) => state.rows.has(id));
  if (action === 'clear') {
    state.selected.clear();
    renderSelection(visibleRows().shown);
    return;
  }
  if (action === 'export') {
    exportCsv(ids);
    return;
  }
  if (!ids.length) return;
  if (action === 'remove') {
    const yes = await confirmDialog(t('desk.confirm.remove_many', { count: ids.length }));
    if (!yes) return;
  }
  const data = await post('bulk', { action, ids }, (d) =>
    t('desk.bulk.done', { done: d.done.length, refused: d.refused.length }),
  );
  if (!data) return;
  if (action === 'remove') forget(data.done);
  else {
    for (const id of data.done) {
      const row = state.rows.get(id);
      if (row) storeRow({ ...row, muted: action === 'mute' });
    }
    render();
  }
}

async function exportCsv(ids) {
  let response;
  try {
    response = await api(chatPath('export'), { method: 'POST', body: { ids } });
  } catch (error) {
    if (!(error instanceof SignedOut)) toast(t('desk.error.generic'), true);
    return;
  }
  if (!response.ok) {
    toast(await errorOf(response), true);
    return;
  }
  const blob = await response.blob();
  const disposition = response.headers.get('Content-Disposition') || '';
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : 'postino.csv';
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  toast(t('desk.export.done', { name }));
}

// -- dialogs -------------------------------------------------------------------------------

function wireDialogs() {
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.addEventListener('click', (event) => {
      if (event.target.closest('[data-close]')) dialog.close();
      // A click on the backdrop (the dialog itself, outside its box) closes it too.
      else if (event.target === dialog) {
        const box = dialog.getBoundingClientRect();
        const inside =
          event.clientX >= box.left && event.clientX <= box.right &&
          event.clientY >= box.top && event.clientY <= box.bottom;
        if (!inside) dialog.close('no');
      }
    });
  }
  const timeline = $('timeline');
  timeline.addEventListener('close', () => {
    const id = state.timelineId;
    state.timelineId = null;
    state.elements.get(id)?.focus({ preventScroll: true });
  });
  timeline.addEventListener('click', (event) => {
    const button = event.target.closest('[data-act]');
    if (button && state.timelineId !== null) act(button.dataset.act, state.timelineId);
  });
  $('rename-form').addEventListener('submit', (event) => {
    event.preventDefault();
    saveRename();
  });
}

function openTimeline(id) {
  const row = state.rows.get(id);
  if (!row) return;
  closeMenu(false);
  state.timelineId = id;
  const dialog = $('timeline');
  fillTimelineHead(row);
  $('tl-events').replaceChildren(loadingItem());
  if (!dialog.open) dialog.showModal();
  refreshTimeline(true);
}

function loadingItem() {
  const li = document.createElement('li');
  li.className = 'tl-loading';
  li.textContent = t('desk.loading');
  return li;
}

function fillTimelineHead(row) {
  $('tl-title').textContent = t('desk.timeline.title', { name: rowName(row) });
  $('tl-sub').textContent = [row.label ? row.code : null, t('desk.timeline.courier', { courier: row.courier_name })]
    .filter(Boolean)
    .join(' · ');
  const status = $('tl-status');
  status.replaceChildren();
  const badge = document.createElement('span');
  badge.className = `badge s-${row.status}`;
  badge.innerHTML = '<span class="badge-mark" aria-hidden="true"></span><span class="badge-text"></span>';
  badge.lastElementChild.textContent = row.status_text;
  status.append(badge);
  if (row.muted) status.append(flag('muted', t('desk.muted.badge')));
  if (row.archived) status.append(flag('archived', t('desk.archived.badge')));
  for (const extra of [row.expected_text ? t('desk.expected_on', { date: row.expected_text }) : null,
    row.signed_by ? t('desk.timeline.signed_by', { name: row.signed_by }) : null]) {
    if (!extra) continue;
    const span = document.createElement('span');
    span.className = 'tl-extra';
    span.textContent = extra;
    status.append(span);
  }
  const links = $('tl-links');
  links.replaceChildren();
  for (const [url, key] of [[row.carrier_url, 'desk.timeline.carrier_link'], [row.follow_url, 'desk.timeline.chat_link']]) {
    if (!url) continue;
    const a = document.createElement('a');
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = t(key);
    links.append(a);
  }
  for (const button of $('tl-actions').querySelectorAll('[data-act]')) {
    const act = button.dataset.act;
    button.hidden = act === 'remove' && !row.can_remove;
    if (act === 'mute') button.textContent = t(row.muted ? 'desk.action.unmute' : 'desk.action.mute');
  }
}

async function refreshTimeline(first) {
  const id = state.timelineId;
  if (id === null) return;
  const row = state.rows.get(id);
  if (row && !first) fillTimelineHead(row);
  const list = $('tl-events');
  list.setAttribute('aria-busy', 'true');
  let data;
  try {
    const response = await api(chatPath(`shipments/${id}/timeline`));
    if (!response.ok) {
      if (state.timelineId === id) list.replaceChildren(message(await errorOf(response)));
      return;
    }
    data = await response.json();
  } catch (error) {
    if (!(error instanceof SignedOut) && state.timelineId === id) {
      list.replaceChildren(message(t('desk.error.generic')));
    }
    return;
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
  if (state.timelineId !== id) return;
  const events = data.events || [];
  if (!events.length) {
    list.replaceChildren(message(t('desk.timeline.empty')));
    return;
  }
  list.replaceChildren(
    ...events.map((event, i) => {
      const li = document.createElement('li');
      li.className = i === 0 ? 'tl-event newest' : 'tl-event';
      const when = document.createElement('p');
      when.className = 'tl-when';
      when.textContent = [event.time_text, event.status_text].filter(Boolean).join(' · ');
      const what = document.createElement('p');
      what.className = 'tl-what';
      what.textContent = event.description;
      li.append(when, what);
      if (event.place) {
        const where = document.createElement('p');
        where.className = 'tl-where';
        where.textContent = event.place;
        li.append(where);
      }
      return li;
    }),
  );
}

function message(text) {
  const li = document.createElement('li');
  li.className = 'tl-message';
  li.textContent = text;
  return li;
}

let renaming = null;

function openRename(row) {
  renaming = row.id;
  $('rn-title').textContent = t('desk.rename.title', { code: row.code });
  const input = $('rn-input');
  input.value = row.label || '';
  $('rename').showModal();
  input.select();
}

async function saveRename() {
  const id = renaming;
  const row = state.rows.get(id);
  if (!row) {
    $('rename').close();
    return;
  }
  const label = $('rn-input').value.trim();
  const data = await post(`shipments/${id}/rename`, { label }, (d) =>
    d.row?.label
      ? t('desk.renamed', { code: row.code, name: d.row.label })
      : t('desk.unnamed', { code: row.code }),
  );
  if (data) {
    $('rename').close();
    if (state.timelineId === id) fillTimelineHead(state.rows.get(id));
  }
}

function confirmDialog(text) {
  const dialog = $('confirm');
  $('cf-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  dialog.querySelector('[value=no]').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
  });
}

// -- status messages -----------------------------------------------------------------------

let toastTimer = null;

// A manual popover: shown again on top of whatever dialog is open when it speaks.
function toast(text, error = false) {
  const box = $('toast');
  box.textContent = text;
  $('live').textContent = text;
  box.classList.toggle('error', error);
  if (box.showPopover) {
    if (box.matches(':popover-open')) box.hidePopover();
    box.showPopover();
  }
  box.classList.add('shown');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.classList.remove('shown');
    if (box.hidePopover && box.matches(':popover-open')) box.hidePopover();
  }, TOAST_MS);
}

applyTelegramTheme();
boot();
