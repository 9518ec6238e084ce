// The gatehouse admin console: log in, list and search accounts, act on one, read its sessions
// and audit events, and look after the outbox. It speaks only gatehouse's own JSON API (same
// origin) and builds the page with DOM calls and textContent, never by parsing markup, so that
// no value from the API is ever read as HTML.
//
// The access token lives in memory only; the refresh token in sessionStorage, so that a reload
// of this tab stays logged in (a 401 is answered by one refresh and one retry).
'use strict';

(() => {
  const REFRESH_KEY = 'gatehouse.admin.refresh';
  const USERS_PAGE = 50;
  const EVENTS_PAGE = 20;
  const OUTBOX_PAGE = 50;
  const KNOWN_BADGES = new Set(['user', 'admin', 'pending', 'active', 'disabled', 'queued', 'sending', 'sent', 'failed']);

  const $ = (id) => document.getElementById(id);

  const state = {
    access: null,
    refreshing: null,
    /** Between a right password and the second factor: the login's `mfa_token`. */
    mfaToken: null,
    me: null,
    users: { cursor: null, query: {}, seq: 0 },
    selected: null,
    detailSeq: 0,
    events: { cursor: null },
    outbox: { cursor: null, query: {}, seq: 0 },
  };

  // ---------------------------------------------------------------------------------------
  // Messages

  function say(text, kind = 'info') {
    const box = $('message');
    box.textContent = text;
    box.dataset.kind = kind;
    box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    box.hidden = false;
  }

  function clearMessage() {
    const box = $('message');
    box.textContent = '';
    box.hidden = true;
  }

  /** An answer other than 2xx, with the problem document gatehouse sent. */
  class ApiError extends Error {
    constructor(status, problem, retryAfter) {
      super(describeProblem(status, problem, retryAfter));
      this.status = status;
      this.code = problem && problem.code;
    }
  }

  function describeProblem(status, problem, retryAfter) {
    let text = (problem && (problem.detail || problem.title)) || `The server answered ${status}.`;
    if (problem && Array.isArray(problem.errors) && problem.errors.length > 0) {
      text += ' ' + problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    }
    if (status === 429 && retryAfter) {
      text += ` Try again in ${retryAfter} s.`;
    }
    return text;
  }

  function fail(error) {
    if (error instanceof ApiError) {
      say(error.message, 'error');
    } else {
      say(`Could not reach gatehouse: ${error && error.message ? error.message : error}`, 'error');
    }
  }

  // ---------------------------------------------------------------------------------------
  // The API

  function send(method, path, { body, contentType, auth = true } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = contentType || 'application/json';
    }
    if (auth && state.access) {
      headers.Authorization = `Bearer ${state.access}`;
    }
    return fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  }

  async function read(response) {
    const type = response.headers.get('content-type') || '';
    const data = type.includes('json') ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      throw new ApiError(response.status, data, response.headers.get('retry-after'));
    }
    return data;
  }

  /** Calls the API; an expired access token is refreshed once and the call retried. */
  async function api(method, path, options = {}) {
    const used = state.access;
    let response = await send(method, path, options);
    if (response.status === 401 && options.auth !== false) {
      // Another call may have refreshed the token meanwhile; otherwise spend the refresh token.
      const fresh = (state.access && state.access !== used) || (await refresh());
      if (fresh) {
        response = await send(method, path, options);
      }
      if (response.status === 401) {
        leave();
        throw new ApiError(401, { detail: 'Your session has ended; log in again.' });
      }
    }
    return read(response);
  }

  function keep(pair) {
    state.access = pair.access_token;
    sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
  }

  /** Trades the stored refresh token for a new pair; false when there is none or it failed. */
  function refresh() {
    if (!state.refreshing) {
      state.refreshing = (async () => {
        const token = sessionStorage.getItem(REFRESH_KEY);
        if (!token) {
          return false;
        }
        try {
          const response = await send('POST', '/auth/refresh', { body: { refresh_token: token }, auth: false });
          if (!response.ok) {
            sessionStorage.removeItem(REFRESH_KEY);
            state.access = null;
            return false;
          }
          keep(await response.json());
          return true;
        } catch {
          return false;
        }
      })().finally(() => {
        state.refreshing = null;
      });
    }
    return state.refreshing;
  }

  const id = (account) => encodeURIComponent(account.id);

  // ---------------------------------------------------------------------------------------
  // Small DOM helpers

  function el(tag, { text, className, attrs } = {}, children = []) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    if (className) {
      node.className = className;
    }
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(child);
    }
    return node;
  }

  const dash = (value) => (value === null || value === undefined || value === '' ? '—' : String(value));

  /** A UTC timestamp, to the minute, with the exact value in its tooltip. */
  function time(iso) {
    if (!iso) {
      return el('span', { text: '—' });
    }
    const date = new Date(iso);
    const shown = Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    return el('time', { text: shown, attrs: { datetime: iso, title: iso } });
  }

  function badge(value) {
    const known = KNOWN_BADGES.has(value);
    return el('span', { text: dash(value), className: known ? `badge badge-${value}` : 'badge' });
  }

  function cell(content) {
    const td = el('td');
    td.append(content instanceof Node ? content : document.createTextNode(dash(content)));
    return td;
  }

  /** A table's only row, saying there is nothing (or what went wrong). */
  function placeholder(tbody, text, isError = false) {
    const columns = tbody.closest('table').querySelectorAll('thead th').length;
    tbody.replaceChildren(
      el('tr', { className: 'empty' }, [
        el('td', { text, className: isError ? 'error' : 'muted', attrs: { colspan: String(columns) } }),
      ]),
    );
  }

  /** Runs an action from a button: disabled while it runs, errors shown in the message area. */
  async function busy(button, action) {
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Logging in and out

  function showLogin() {
    state.me = null;
    state.mfaToken = null;
    $('mfa-form').hidden = true;
    $('login-form').hidden = false;
    $('console-view').hidden = true;
    $('session').hidden = true;
    $('login-view').hidden = false;
    $('users-body').replaceChildren();
    $('outbox-body').replaceChildren();
    closeDetail();
  }

  /** Forgets the tokens and shows the login form. */
  function leave() {
    state.access = null;
    sessionStorage.removeItem(REFRESH_KEY);
    showLogin();
  }

  async function logIn(event) {
    event.preventDefault();
    clearMessage();
    const button = $('login-submit');
    await busy(button, async () => {
      const response = await send('POST', '/auth', {
        body: { email: $('login-email').value.trim(), password: $('login-password').value },
        auth: false,
      });
      const problem = response.status === 403 ? await response.clone().json().catch(() => null) : null;
      if (problem && problem.code === 'mfa_required') {
        $('login-password').value = '';
        askSecondFactor(problem.mfa_token);
        return;
      }
      keep(await read(response));
      $('login-password').value = '';
      await enter();
    });
  }

  /** The second step of a login: the password was right, the account has a second factor. */
  function askSecondFactor(mfaToken) {
    state.mfaToken = mfaToken;
    $('login-form').hidden = true;
    $('mfa-form').hidden = false;
    $('mfa-code').value = '';
    $('mfa-code').focus();
  }

  function backToPassword() {
    state.mfaToken = null;
    $('mfa-form').hidden = true;
    $('login-form').hidden = false;
  }

  async function logInSecondStep(event) {
    event.preventDefault();
    clearMessage();
    await busy($('mfa-submit'), async () => {
      const typed = $('mfa-code').value.trim();
      // Six digits are a code from the app; anything else is read as a recovery code.
      const body = /^[0-9]{3} ?[0-9]{3}$/.test(typed)
        ? { mfa_token: state.mfaToken, code: typed.replace(' ', '') }
        : { mfa_token: state.mfaToken, recovery_code: typed };
      try {
        const pair = await api('POST', '/auth/mfa', { body, auth: false });
        keep(pair);
        backToPassword();
        await enter();
      } catch (error) {
        if (error.code === 'mfa_token_invalid') {
          backToPassword();
        }
        throw error;
      }
    });
  }

  /** With a token in hand: admins get the console, anyone else is logged out again. */
  async function enter() {
    const me = await api('GET', '/user');
    if (me.role !== 'admin') {
      await send('DELETE', '/auth').catch(() => {});
      leave();
      say(`${me.email} is not an administrator; this console is for administrators only.`, 'error');
      return;
    }
    state.me = me;
    $('whoami').textContent = me.email;
    $('session').hidden = false;
    $('login-view').hidden = true;
    $('console-view').hidden = false;
    selectTab('users');
    // The console stays open when the list cannot be loaded; the message says why.
    await loadUsers(true).catch(fail);
  }

  async function logOut() {
    await busy($('logout'), async () => {
      await send('DELETE', '/auth').catch(() => {});
      leave();
      say('You are logged out.');
    });
  }

  // ---------------------------------------------------------------------------------------
  // Tabs

  function selectTab(name) {
    for (const tab of ['users', 'outbox']) {
      const on = tab === name;
      $(`tab-${tab}`).setAttribute('aria-selected', String(on));
      $(`${tab}-panel`).hidden = !on;
    }
  }

  // ---------------------------------------------------------------------------------------
  // The account list

  function userRow(account) {
    const open = el('button', {
      text: account.email,
      className: 'link',
      attrs: { type: 'button', 'aria-label': `Open ${account.email}` },
    });
    const row = el(
      'tr',
      { attrs: { 'data-testid': 'user-row', 'data-id': account.id, 'data-email': account.email } },
      [
        cell(open),
        cell(account.username),
        cell(account.name),
        cell(badge(account.role)),
        cell(badge(account.status)),
        cell(time(account.created_at)),
      ],
    );
    if (state.selected && state.selected.id === account.id) {
      row.classList.add('selected');
    }
    row.addEventListener('click', () => openUser(account.id));
    return row;
  }

  function rowOf(tbody, accountId) {
    return [...tbody.rows].find((row) => row.dataset.id === accountId) || null;
  }

  async function loadUsers(fresh) {
    const tbody = $('users-body');
    const users = state.users;
    if (fresh) {
      users.cursor = null;
      users.query = {
        q: $('search-q').value.trim(),
        status: $('filter-status').value,
        role: $('filter-role').value,
      };
    }
    const seq = ++users.seq;
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(users.query)) {
      if (value) {
        params.set(name, value);
      }
    }
    params.set('limit', String(USERS_PAGE));
    if (!fresh && users.cursor) {
      params.set('cursor', users.cursor);
    }
    const page = await api('GET', `/admin/users?${params}`);
    if (seq !== users.seq) {
      return; // a newer search has started meanwhile
    }
    if (fresh) {
      tbody.replaceChildren();
    }
    for (const account of page.users) {
      tbody.append(userRow(account));
    }
    users.cursor = page.next_cursor || null;
    $('users-more').hidden = !users.cursor;
    const shown = tbody.querySelectorAll('tr[data-testid="user-row"]').length;
    if (shown === 0) {
      placeholder(tbody, 'No account matches.');
    }
    const total = typeof page.total === 'number' ? page.total : null;
    $('users-summary').textContent =
      total === null ? `${shown} shown` : `${total} ${total === 1 ? 'account matches' : 'accounts match'}, ${shown} shown`;
  }

  // ---------------------------------------------------------------------------------------
  // One account

  function closeDetail() {
    state.selected = null;
    state.detailSeq++;
    $('detail').hidden = true;
    $('detail').setAttribute('aria-busy', 'false');
    for (const row of $('users-body').rows) {
      row.classList.remove('selected');
    }
  }

  /** Opens an account in the detail panel (or reloads it: events are written in batches, so the
   *  newest may appear a moment after the action that caused them). */
  async function openUser(accountId, { reload = false } = {}) {
    if (!reload) {
      clearMessage();
    }
    const seq = ++state.detailSeq;
    const panel = $('detail');
    panel.setAttribute('aria-busy', 'true');
    try {
      const account = await api('GET', `/user/${encodeURIComponent(accountId)}`);
      if (seq !== state.detailSeq) {
        return;
      }
      show(account);
      panel.hidden = false;
      if (!reload) {
        $('detail-title').focus();
      }
      await Promise.all([loadSessions(), loadEvents(true)]);
    } catch (error) {
      fail(error);
    } finally {
      if (seq === state.detailSeq) {
        panel.setAttribute('aria-busy', 'false');
      }
    }
  }

  /** Shows an account in the detail panel and in its row of the list. */
  function show(account) {
    state.selected = account;
    $('detail-title').textContent = account.email;
    for (const dd of $('detail-fields').querySelectorAll('dd[data-field]')) {
      const field = dd.dataset.field;
      const value = account[field];
      if (field === 'created_at' || field === 'updated_at') {
        dd.replaceChildren(time(value));
      } else if (field === 'role' || field === 'status') {
        dd.replaceChildren(badge(value));
        dd.dataset.value = value;
      } else if (field === 'email_verified') {
        dd.textContent = value ? 'yes' : 'no';
      } else if (field === 'data' || field === 'app_data') {
        const json = value && Object.keys(value).length > 0 ? JSON.stringify(value, null, 1) : '—';
        dd.replaceChildren(el('code', { text: json }));
      } else {
        dd.textContent = dash(value);
      }
    }
    $('app-data-input').value = JSON.stringify(account.app_data || {}, null, 1);
    $('action-status').textContent = account.status === 'disabled' ? 'Enable' : 'Disable';
    $('action-status').classList.toggle('danger', account.status !== 'disabled');
    $('action-role').textContent = account.role === 'admin' ? 'Remove admin' : 'Make admin';
    $('action-resend-activation').hidden = account.status !== 'pending';

    const tbody = $('users-body');
    for (const row of tbody.rows) {
      row.classList.toggle('selected', row.dataset.id === account.id);
    }
    const row = rowOf(tbody, account.id);
    if (row) {
      row.replaceWith(userRow(account));
    }
  }

  async function loadSessions() {
    const account = state.selected;
    const tbody = $('sessions-body');
    placeholder(tbody, 'Loading…');
    try {
      const answer = await api('GET', `/admin/users/${id(account)}/sessions`);
      if (state.selected !== account) {
        return;
      }
      tbody.replaceChildren(
        ...answer.sessions.map((s) =>
          el('tr', { attrs: { 'data-testid': 'session-row' } }, [
            cell(time(s.created_at)),
            cell(time(s.last_used_at)),
            cell(time(s.expires_at)),
            cell(s.ip),
            cell(el('span', { text: dash(s.user_agent), className: 'clip', attrs: { title: s.user_agent || '' } })),
          ]),
        ),
      );
      if (answer.sessions.length === 0) {
        placeholder(tbody, 'No active session.');
      }
    } catch (error) {
      if (state.selected === account) {
        placeholder(tbody, `Sessions could not be loaded: ${error.message}`, true);
      }
    }
  }

  function eventRow(event) {
    const detail = event.detail === null || event.detail === undefined ? '—' : JSON.stringify(event.detail);
    return el('tr', { attrs: { 'data-testid': 'event-row', 'data-kind': event.kind } }, [
      cell(time(event.at)),
      cell(el('code', { text: event.kind })),
      cell(event.ip),
      cell(el('code', { text: detail, className: 'json' })),
    ]);
  }

  async function loadEvents(fresh) {
    const account = state.selected;
    const tbody = $('events-body');
    if (fresh) {
      state.events.cursor = null;
      placeholder(tbody, 'Loading…');
    }
    const params = new URLSearchParams({ account: account.id, limit: String(EVENTS_PAGE) });
    if (!fresh && state.events.cursor) {
      params.set('cursor', state.events.cursor);
    }
    try {
      const page = await api('GET', `/admin/events?${params}`);
      if (state.selected !== account) {
        return;
      }
      if (fresh) {
        tbody.replaceChildren();
      }
      tbody.append(...page.events.map(eventRow));
      state.events.cursor = page.next_cursor || null;
      $('events-more').hidden = !state.events.cursor;
      if (tbody.rows.length === 0) {
        placeholder(tbody, 'No event yet.');
      }
    } catch (error) {
      if (state.selected === account) {
        placeholder(tbody, `Events could not be loaded: ${error.message}`, true);
        $('events-more').hidden = true;
      }
    }
  }

  /** After an action: the account's sessions and events have changed. */
  function reloadActivity() {
    return Promise.all([loadSessions(), loadEvents(true)]);
  }

  async function patch(account, change) {
    const updated = await api('PATCH', `/user/${id(account)}`, {
      body: change,
      contentType: 'application/merge-patch+json',
    });
    show(updated);
    await reloadActivity();
    return updated;
  }

  async function toggleStatus() {
    const account = state.selected;
    if (account.status === 'disabled') {
      const updated = await patch(account, { status: 'active' });
      say(`${updated.email} is enabled (${updated.status}).`);
      return;
    }
    const you = state.me && account.id === state.me.id ? ' This is your own account.' : '';
    if (!confirm(`Disable ${account.email}? Every session of the account ends and it cannot log in until enabled again.${you}`)) {
      return;
    }
    const updated = await patch(account, { status: 'disabled' });
    say(`${updated.email} is disabled; its sessions have ended.`);
  }

  async function toggleRole() {
    const account = state.selected;
    const promote = account.role !== 'admin';
    const question = promote
      ? `Make ${account.email} an administrator? They will be able to manage every account.`
      : `Remove administrator rights from ${account.email}?${state.me && account.id === state.me.id ? ' This is your own account: you will lose access to this console.' : ''}`;
    if (!confirm(question)) {
      return;
    }
    const updated = await patch(account, { role: promote ? 'admin' : 'user' });
    say(`${updated.email} is now ${updated.role === 'admin' ? 'an administrator' : 'an ordinary user'}.`);
  }

  /**
   * The JSON merge patch (RFC 7396) that turns `from` into `to`: removed keys become null,
   * objects are patched key by key, anything else is replaced.
   */
  function mergeDiff(from, to) {
    const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
    if (!isObject(from) || !isObject(to)) {
      return to;
    }
    const patch = {};
    for (const key of Object.keys(from)) {
      if (!(key in to)) {
        patch[key] = null;
      }
    }
    for (const [key, value] of Object.entries(to)) {
      if (JSON.stringify(from[key]) !== JSON.stringify(value)) {
        patch[key] = mergeDiff(from[key], value);
      }
    }
    return patch;
  }

  async function saveAppData() {
    const account = state.selected;
    let appData;
    try {
      appData = JSON.parse($('app-data-input').value.trim() || '{}');
    } catch (error) {
      say(`App data is not JSON: ${error.message}`, 'error');
      return;
    }
    if (appData === null || typeof appData !== 'object' || Array.isArray(appData)) {
      say('App data must be a JSON object, like {"plan": "pro"}.', 'error');
      return;
    }
    const updated = await patch(account, { app_data: mergeDiff(account.app_data || {}, appData) });
    say(`The app data of ${updated.email} is saved; their next access token carries it.`);
  }

  async function endSessions() {
    const account = state.selected;
    if (!confirm(`End every session of ${account.email}? They will have to log in again.`)) {
      return;
    }
    await api('DELETE', `/admin/users/${id(account)}/sessions`);
    say(`Every session of ${account.email} has ended.`);
    await reloadActivity();
  }

  async function sendPasswordReset() {
    const account = state.selected;
    if (!confirm(`Email a password-reset link to ${account.email}?`)) {
      return;
    }
    await api('POST', `/admin/users/${id(account)}/password-reset`);
    say(`A password-reset link is on its way to ${account.email}.`);
    await loadEvents(true);
  }

  async function resendActivation() {
    const account = state.selected;
    await api('POST', `/admin/users/${id(account)}/activation`);
    say(`A new activation link is on its way to ${account.email}.`);
    await loadEvents(true);
  }

  // ---------------------------------------------------------------------------------------
  // The outbox

  function outboxRow(email) {
    const action = el('td');
    if (email.status === 'failed') {
      const retry = el('button', {
        text: 'Retry',
        attrs: { type: 'button', 'data-testid': 'outbox-retry', 'aria-label': `Retry the email to ${email.recipient}` },
      });
      retry.addEventListener('click', () => busy(retry, () => retryEmail(email)));
      action.append(retry);
    }
    return el('tr', { attrs: { 'data-testid': 'outbox-row', 'data-id': email.id, 'data-status': email.status } }, [
      cell(time(email.created_at)),
      cell(el('code', { text: email.kind })),
      cell(email.recipient),
      cell(email.subject),
      cell(badge(email.status)),
      cell(email.attempts),
      cell(el('span', { text: dash(email.last_error), className: 'clip', attrs: { title: email.last_error || '' } })),
      cell(time(email.sent_at)),
      action,
    ]);
  }

  async function loadOutbox(fresh) {
    const tbody = $('outbox-body');
    const outbox = state.outbox;
    if (fresh) {
      outbox.cursor = null;
      outbox.query = { status: $('outbox-status').value, recipient: $('outbox-recipient').value.trim() };
    }
    const seq = ++outbox.seq;
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(outbox.query)) {
      if (value) {
        params.set(name, value);
      }
    }
    params.set('limit', String(OUTBOX_PAGE));
    if (!fresh && outbox.cursor) {
      params.set('cursor', outbox.cursor);
    }
    const page = await api('GET', `/admin/outbox?${params}`);
    if (seq !== outbox.seq) {
      return;
    }
    if (fresh) {
      tbody.replaceChildren();
    }
    tbody.append(...page.emails.map(outboxRow));
    outbox.cursor = page.next_cursor || null;
    $('outbox-more').hidden = !outbox.cursor;
    if (tbody.querySelectorAll('tr[data-testid="outbox-row"]').length === 0) {
      placeholder(tbody, 'No email matches.');
    }
  }

  async function retryEmail(email) {
    if (!confirm(`Send the email to ${email.recipient} again?`)) {
      return;
    }
    const entry = await api('POST', `/admin/outbox/${encodeURIComponent(email.id)}/retry`);
    const row = rowOf($('outbox-body'), email.id);
    if (row) {
      row.replaceWith(outboxRow(entry));
    }
    say(`The email to ${entry.recipient} is queued again.`);
  }

  // ---------------------------------------------------------------------------------------
  // Wiring

  function on(elementId, type, handler) {
    $(elementId).addEventListener(type, handler);
  }

  function start() {
    on('login-form', 'submit', logIn);
    on('mfa-form', 'submit', logInSecondStep);
    on('mfa-cancel', 'click', backToPassword);
    on('logout', 'click', logOut);
    on('tab-users', 'click', () => selectTab('users'));
    on('tab-outbox', 'click', () => {
      selectTab('outbox');
      clearMessage();
      loadOutbox(true).catch(fail);
    });
    on('search-form', 'submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('search-submit'), () => loadUsers(true));
    });
    for (const filter of ['filter-status', 'filter-role']) {
      on(filter, 'change', () => busy($('search-submit'), () => loadUsers(true)));
    }
    on('users-more', 'click', () => busy($('users-more'), () => loadUsers(false)));
    on('detail-close', 'click', closeDetail);
    on('detail-reload', 'click', () => busy($('detail-reload'), () => openUser(state.selected.id, { reload: true })));
    on('action-status', 'click', () => busy($('action-status'), toggleStatus));
    on('action-role', 'click', () => busy($('action-role'), toggleRole));
    on('action-end-sessions', 'click', () => busy($('action-end-sessions'), endSessions));
    on('app-data-form', 'submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('app-data-save'), saveAppData);
    });
    on('action-password-reset', 'click', () => busy($('action-password-reset'), sendPasswordReset));
    on('action-resend-activation', 'click', () => busy($('action-resend-activation'), resendActivation));
    on('events-more', 'click', () => busy($('events-more'), () => loadEvents(false)));
    on('outbox-form', 'submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('outbox-submit'), () => loadOutbox(true));
    });
    on('outbox-more', 'click', () => busy($('outbox-more'), () => loadOutbox(false)));
    $('detail-title').tabIndex = -1;

    // A reload of this tab: the refresh token in sessionStorage logs back in.
    if (sessionStorage.getItem(REFRESH_KEY)) {
      refresh()
        .then((ok) => (ok ? enter() : showLogin()))
        .catch((error) => {
          leave();
          fail(error);
        });
    }
    document.body.dataset.ready = 'true';
  }

  start();
})();
