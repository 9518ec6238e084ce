// The gatehouse admin console: log in, list and search accounts, act on one, read its sessions
// and audit events, list and search the organizations (each with its member count and members),
// look after the outbox, register the client apps and the webhook endpoints (with each
// endpoint's delivery log). It speaks only gatehouse's own JSON API (same
// origin), with the helpers of page.js (tokens, messages, DOM built with textContent). A change
// the server refuses until the admin confirms it is them (403 reauthentication_required: one that
// gives lasting access, past GATEHOUSE_REAUTH_WINDOW after the login) brings up the "Confirm it
// is you" form (page.js's stepUp) and is then sent again, without the admin doing it twice.
'use strict';

(() => {
  const REFRESH_KEY = 'gatehouse.admin.refresh';
  const USERS_PAGE = 50;
  const EVENTS_PAGE = 20;
  const OUTBOX_PAGE = 50;
  const DELIVERIES_PAGE = 50;
  const ORGS_PAGE = 50;
  const MEMBERS_PAGE = 50;
  const KNOWN_BADGES = new Set([
    'user', 'admin', 'owner', 'pending', 'active', 'disabled', 'enabled', 'queued', 'sending', 'sent', 'delivered', 'failed',
  ]);

  const { $, say, clearMessage, fail, apiClient, el, dash, time, cell, placeholder, busy } = window.gatehousePage;
  const { stepUp } = window.gatehousePage;
  const client = apiClient(REFRESH_KEY, () => leave());
  const { send, api, forget, resume } = client;
  /** The login forms (login.js), wired at the start. */
  let login = null;
  /** The "Confirm it is you" form, which takes the place of the console while it is up. */
  const confirmation = stepUp(client, { covers: 'console-view' });

  const state = {
    me: null,
    users: { cursor: null, query: {}, seq: 0 },
    selected: null,
    detailSeq: 0,
    events: { cursor: null },
    outbox: { cursor: null, query: {}, seq: 0 },
    orgs: { cursor: null, query: {}, seq: 0 },
    // The organization open in its detail panel (null when closed), and its member list's paging.
    org: { selected: null, seq: 0, members: { cursor: null, seq: 0 } },
    // The delivery log shown: its endpoint (null when closed), paging and filter.
    deliveries: { endpoint: null, cursor: null, status: '', seq: 0 },
  };

  const lines = (text) => text.split('\n').map((line) => line.trim()).filter(Boolean);

  const id = (account) => encodeURIComponent(account.id);

  function badge(value) {
    const known = KNOWN_BADGES.has(value);
    return el('span', { text: dash(value), className: known ? `badge badge-${value}` : 'badge' });
  }

  // ---------------------------------------------------------------------------------------
  // Logging in and out

  function showLogin() {
    // First: taking the form away brings the console back, which the lines below hide.
    confirmation.dismiss();
    state.me = null;
    login.reset();
    $('console-view').hidden = true;
    $('session').hidden = true;
    $('login-view').hidden = false;
    $('users-body').replaceChildren();
    $('orgs-body').replaceChildren();
    $('orgs-summary').textContent = '';
    $('outbox-body').replaceChildren();
    $('clients-body').replaceChildren();
    $('client-secret').hidden = true;
    $('webhooks-body').replaceChildren();
    $('webhook-secret').hidden = true;
    closeDeliveries();
    closeDetail();
    closeOrg();
  }

  /** Forgets the tokens and shows the login form. */
  function leave() {
    forget();
    showLogin();
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
    for (const tab of ['users', 'orgs', 'outbox', 'clients', 'webhooks']) {
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
      await Promise.all([loadSessions(), loadIdentities(), loadEvents(true)]);
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

  async function loadIdentities() {
    const account = state.selected;
    const tbody = $('identities-body');
    placeholder(tbody, 'Loading…');
    try {
      const answer = await api('GET', `/admin/users/${id(account)}/identities`);
      if (state.selected !== account) {
        return;
      }
      tbody.replaceChildren(
        ...answer.identities.map((i) =>
          el('tr', { attrs: { 'data-testid': 'identity-row', 'data-provider': i.provider } }, [
            cell(i.provider),
            cell(i.email),
            cell(time(i.created_at)),
            cell(time(i.last_login_at)),
          ]),
        ),
      );
      if (answer.identities.length === 0) {
        placeholder(tbody, 'No linked login.');
      }
    } catch (error) {
      if (state.selected === account) {
        placeholder(tbody, `Linked logins could not be loaded: ${error.message}`, true);
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
    return Promise.all([loadSessions(), loadIdentities(), loadEvents(true)]);
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
  // Organizations: the list, and one with its member count and members

  const orgKey = (org) => encodeURIComponent(org.id);

  function orgRow(org) {
    const open = el('button', {
      text: org.name,
      className: 'link',
      attrs: { type: 'button', 'aria-label': `Open ${org.name}` },
    });
    const row = el(
      'tr',
      { attrs: { 'data-testid': 'org-row', 'data-id': org.id, 'data-slug': org.slug } },
      [cell(open), cell(el('code', { text: org.slug })), cell(time(org.created_at))],
    );
    if (state.org.selected && state.org.selected.id === org.id) {
      row.classList.add('selected');
    }
    row.addEventListener('click', () => openOrg(org.id));
    return row;
  }

  async function loadOrgs(fresh) {
    const tbody = $('orgs-body');
    const orgs = state.orgs;
    if (fresh) {
      orgs.cursor = null;
      orgs.query = { q: $('orgs-q').value.trim() };
    }
    const seq = ++orgs.seq;
    const params = new URLSearchParams();
    if (orgs.query.q) {
      params.set('q', orgs.query.q);
    }
    params.set('limit', String(ORGS_PAGE));
    if (!fresh && orgs.cursor) {
      params.set('cursor', orgs.cursor);
    }
    const page = await api('GET', `/admin/orgs?${params}`);
    if (seq !== orgs.seq) {
      return; // a newer search has started meanwhile
    }
    if (fresh) {
      tbody.replaceChildren();
    }
    for (const org of page.orgs) {
      tbody.append(orgRow(org));
    }
    orgs.cursor = page.next_cursor || null;
    $('orgs-more').hidden = !orgs.cursor;
    const shown = tbody.querySelectorAll('tr[data-testid="org-row"]').length;
    if (shown === 0) {
      placeholder(tbody, orgs.query.q ? 'No organization matches.' : 'No organization yet.');
    }
    $('orgs-summary').textContent = `${shown} shown${orgs.cursor ? ', more to come' : ''}`;
  }

  function closeOrg() {
    const open = state.org;
    open.selected = null;
    open.seq++;
    open.members.cursor = null;
    open.members.seq++;
    $('org-detail').hidden = true;
    $('org-detail').setAttribute('aria-busy', 'false');
    $('members-body').replaceChildren();
    $('members-more').hidden = true;
    for (const row of $('orgs-body').rows) {
      row.classList.remove('selected');
    }
  }

  /** Opens an organization in its detail panel (or reloads it): its fields, member count and
   *  first page of members. */
  async function openOrg(orgId, { reload = false } = {}) {
    if (!reload) {
      clearMessage();
    }
    const seq = ++state.org.seq;
    const panel = $('org-detail');
    panel.setAttribute('aria-busy', 'true');
    try {
      const answer = await api('GET', `/admin/orgs/${encodeURIComponent(orgId)}`);
      if (seq !== state.org.seq) {
        return;
      }
      showOrg(answer.org, answer.members);
      panel.hidden = false;
      if (!reload) {
        $('org-detail-title').focus();
      }
      await loadMembers(true);
    } catch (error) {
      fail(error);
    } finally {
      if (seq === state.org.seq) {
        panel.setAttribute('aria-busy', 'false');
      }
    }
  }

  /** Shows an organization in the detail panel and in its row of the list. */
  function showOrg(org, members) {
    state.org.selected = org;
    $('org-detail-title').textContent = org.name;
    for (const dd of $('org-detail-fields').querySelectorAll('dd[data-field]')) {
      const field = dd.dataset.field;
      if (field === 'members') {
        dd.textContent = String(members);
        dd.dataset.value = String(members);
      } else if (field === 'created_at' || field === 'updated_at') {
        dd.replaceChildren(time(org[field]));
      } else if (field === 'data') {
        const json = org.data && Object.keys(org.data).length > 0 ? JSON.stringify(org.data, null, 1) : '—';
        dd.replaceChildren(el('code', { text: json }));
      } else if (field === 'slug' || field === 'id') {
        dd.replaceChildren(el('code', { text: dash(org[field]) }));
      } else {
        dd.textContent = dash(org[field]);
      }
    }
    const tbody = $('orgs-body');
    for (const row of tbody.rows) {
      row.classList.toggle('selected', row.dataset.id === org.id);
    }
    const row = rowOf(tbody, org.id);
    if (row) {
      row.replaceWith(orgRow(org));
    }
  }

  function memberRow(member) {
    const { account } = member;
    const open = el('button', {
      text: account.email,
      className: 'link',
      attrs: { type: 'button', 'data-testid': 'member-open', 'aria-label': `Open the account ${account.email}` },
    });
    open.addEventListener('click', () => {
      selectTab('users');
      openUser(account.id);
    });
    return el(
      'tr',
      { attrs: { 'data-testid': 'member-row', 'data-id': account.id, 'data-email': account.email, 'data-role': member.role } },
      [cell(open), cell(account.name), cell(badge(member.role)), cell(time(member.joined_at))],
    );
  }

  async function loadMembers(fresh) {
    const org = state.org.selected;
    if (!org) {
      return;
    }
    const members = state.org.members;
    const tbody = $('members-body');
    if (fresh) {
      members.cursor = null;
      placeholder(tbody, 'Loading…');
    }
    const seq = ++members.seq;
    const params = new URLSearchParams({ limit: String(MEMBERS_PAGE) });
    if (!fresh && members.cursor) {
      params.set('cursor', members.cursor);
    }
    let page;
    try {
      page = await api('GET', `/orgs/${orgKey(org)}/members?${params}`);
    } catch (error) {
      if (seq === members.seq && fresh) {
        placeholder(tbody, `The members could not be loaded: ${error.message}`, true);
        $('members-more').hidden = true;
      }
      throw error;
    }
    if (seq !== members.seq || state.org.selected !== org) {
      return; // another organization or page was asked for meanwhile
    }
    if (fresh) {
      tbody.replaceChildren();
    }
    tbody.append(...page.members.map(memberRow));
    members.cursor = page.next_cursor || null;
    $('members-more').hidden = !members.cursor;
    if (tbody.querySelectorAll('tr[data-testid="member-row"]').length === 0) {
      placeholder(tbody, 'No member.');
    }
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
  // Client apps

  function clientRow(app) {
    const rotate = el('button', {
      text: 'New secret',
      attrs: { type: 'button', 'data-testid': 'client-rotate', 'aria-label': `Give ${app.name} a new secret` },
    });
    rotate.hidden = !app.confidential;
    rotate.addEventListener('click', () => busy(rotate, () => rotateSecret(app)));
    const remove = el('button', {
      text: 'Delete',
      attrs: { type: 'button', 'data-testid': 'client-delete', 'aria-label': `Delete ${app.name}` },
    });
    remove.addEventListener('click', () => busy(remove, () => deleteClient(app)));
    const kind = `${app.confidential ? 'confidential' : 'public'}${app.first_party ? ', first-party' : ''}`;
    return el('tr', { attrs: { 'data-testid': 'client-row', 'data-id': app.client_id } }, [
      cell(app.name),
      cell(el('code', { text: app.client_id })),
      cell(kind),
      cell(app.grant_types.join(' ')),
      cell(app.scopes.join(' ')),
      cell(app.redirect_uris.join(' ')),
      el('td', {}, [rotate, remove]),
    ]);
  }

  async function loadClients() {
    const { clients } = await api('GET', '/admin/clients');
    const tbody = $('clients-body');
    tbody.replaceChildren(...clients.map(clientRow));
    if (clients.length === 0) {
      placeholder(tbody, 'No client app is registered yet.');
    }
  }

  function showSecret(app) {
    $('client-secret').hidden = !app.client_secret;
    $('client-secret-name').textContent = app.name;
    $('client-secret-value').textContent = app.client_secret || '';
  }

  async function registerClient() {
    const form = $('client-form');
    const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
    const app = await api('POST', '/admin/clients', {
      body: {
        name: $('client-name').value.trim(),
        redirect_uris: lines($('client-redirects').value),
        post_logout_redirect_uris: lines($('client-logouts').value),
        grant_types: checked('grant_types'),
        scopes: checked('scopes'),
        confidential: !$('client-public').checked,
        first_party: $('client-first-party').checked,
      },
    });
    form.reset();
    showSecret(app);
    say(`${app.name} is registered: its client id is ${app.client_id}.`);
    await loadClients();
  }

  async function rotateSecret(app) {
    if (!confirm(`Give ${app.name} a new secret? The old one stops working at once.`)) {
      return;
    }
    showSecret(await api('POST', `/admin/clients/${encodeURIComponent(app.client_id)}/secret`));
    say(`${app.name} has a new secret.`);
  }

  async function deleteClient(app) {
    if (!confirm(`Delete ${app.name}? Its tokens are refused from their next use.`)) {
      return;
    }
    await api('DELETE', `/admin/clients/${encodeURIComponent(app.client_id)}`);
    $('client-secret').hidden = true;
    say(`${app.name} is deleted.`);
    await loadClients();
  }

  // ---------------------------------------------------------------------------------------
  // Webhooks

  const hookId = (hook) => encodeURIComponent(hook.id);

  function webhookRow(hook) {
    const deliveries = el('button', {
      text: 'Deliveries',
      attrs: { type: 'button', 'data-testid': 'webhook-deliveries', 'aria-label': `Show the deliveries to ${hook.url}` },
    });
    deliveries.addEventListener('click', () => busy(deliveries, () => openDeliveries(hook)));
    const toggle = el('button', {
      text: hook.enabled ? 'Disable' : 'Enable',
      attrs: {
        type: 'button',
        'data-testid': 'webhook-toggle',
        'aria-label': `${hook.enabled ? 'Disable' : 'Enable'} ${hook.url}`,
      },
    });
    toggle.addEventListener('click', () => busy(toggle, () => toggleWebhook(hook)));
    const remove = el('button', {
      text: 'Delete',
      attrs: { type: 'button', 'data-testid': 'webhook-delete', 'aria-label': `Delete ${hook.url}` },
    });
    remove.addEventListener('click', () => busy(remove, () => deleteWebhook(hook)));
    const row = el(
      'tr',
      { attrs: { 'data-testid': 'webhook-row', 'data-id': hook.id, 'data-url': hook.url, 'data-enabled': String(hook.enabled) } },
      [
        cell(el('span', { text: hook.url, className: 'clip', attrs: { title: hook.url } })),
        cell(hook.events.join(' ')),
        cell(hook.description),
        cell(badge(hook.enabled ? 'enabled' : 'disabled')),
        el('td', { className: 'row-actions' }, [deliveries, toggle, remove]),
      ],
    );
    if (state.deliveries.endpoint && state.deliveries.endpoint.id === hook.id) {
      row.classList.add('selected');
    }
    return row;
  }

  async function loadWebhooks() {
    const { webhooks } = await api('GET', '/admin/webhooks');
    const tbody = $('webhooks-body');
    tbody.replaceChildren(...webhooks.map(webhookRow));
    if (webhooks.length === 0) {
      placeholder(tbody, 'No webhook endpoint is registered yet.');
    }
    // The open delivery log follows its endpoint (enabled or not), or closes when it is gone.
    const open = state.deliveries.endpoint;
    if (open) {
      const now = webhooks.find((hook) => hook.id === open.id);
      if (now) {
        showDeliveriesOf(now);
      } else {
        closeDeliveries();
      }
    }
  }

  async function registerWebhook() {
    const form = $('webhook-form');
    const events = [...form.querySelectorAll('input[name="events"]:checked')].map((box) => box.value);
    const hook = await api('POST', '/admin/webhooks', {
      body: { url: $('webhook-url').value.trim(), events, description: $('webhook-description').value.trim() },
    });
    form.reset();
    $('webhook-secret').hidden = !hook.secret;
    $('webhook-secret-url').textContent = hook.url;
    $('webhook-secret-value').textContent = hook.secret || '';
    say(`${hook.url} is registered for ${hook.events.join(', ')}.`);
    await loadWebhooks();
  }

  async function toggleWebhook(hook) {
    const updated = await api('PATCH', `/admin/webhooks/${hookId(hook)}`, { body: { enabled: !hook.enabled } });
    say(
      updated.enabled
        ? `${updated.url} is enabled: what it is owed goes out again, and it receives new events.`
        : `${updated.url} is disabled: what it is owed waits until it is enabled again; events meanwhile are not kept for it.`,
    );
    await loadWebhooks();
  }

  async function deleteWebhook(hook) {
    if (!confirm(`Delete the webhook endpoint ${hook.url}? The deliveries still owed to it are dropped.`)) {
      return;
    }
    await api('DELETE', `/admin/webhooks/${hookId(hook)}`);
    if ($('webhook-secret-url').textContent === hook.url) {
      $('webhook-secret').hidden = true;
    }
    say(`${hook.url} is deleted.`);
    await loadWebhooks();
  }

  // The delivery log of one endpoint

  /** The heading and the note of the open log, and its endpoint's row marked. */
  function showDeliveriesOf(hook) {
    state.deliveries.endpoint = hook;
    $('deliveries-url').textContent = hook.url;
    $('deliveries-held').hidden = hook.enabled;
    for (const row of $('webhooks-body').rows) {
      row.classList.toggle('selected', row.dataset.id === hook.id);
    }
  }

  function closeDeliveries() {
    const log = state.deliveries;
    log.endpoint = null;
    log.cursor = null;
    log.seq++;
    $('deliveries').hidden = true;
    $('deliveries-body').replaceChildren();
    $('deliveries-more').hidden = true;
    for (const row of $('webhooks-body').rows) {
      row.classList.remove('selected');
    }
  }

  function deliveryRow(delivery) {
    const action = el('td');
    if (delivery.status === 'delivered' || delivery.status === 'failed') {
      const replay = el('button', {
        text: 'Replay',
        attrs: { type: 'button', 'data-testid': 'delivery-replay', 'aria-label': `Send the ${delivery.type} event ${delivery.id} again` },
      });
      replay.addEventListener('click', () => busy(replay, () => replayDelivery(delivery)));
      action.append(replay);
    }
    const answer =
      delivery.last_response_status !== null && delivery.last_response_status !== undefined
        ? String(delivery.last_response_status)
        : delivery.last_error;
    const next = delivery.next_attempt_at ? `; next attempt ${delivery.next_attempt_at}` : '';
    return el(
      'tr',
      {
        attrs: {
          'data-testid': 'delivery-row',
          'data-id': delivery.id,
          'data-type': delivery.type,
          'data-status': delivery.status,
          'data-attempts': String(delivery.attempts),
        },
      },
      [
        cell(el('code', { text: delivery.id })),
        cell(el('code', { text: delivery.type })),
        cell(el('span', { attrs: { title: `${delivery.status}${next}` } }, [badge(delivery.status)])),
        cell(delivery.attempts),
        cell(el('span', { text: dash(answer), className: 'clip', attrs: { title: delivery.last_error || '' } })),
        cell(time(delivery.occurred_at)),
        action,
      ],
    );
  }

  async function openDeliveries(hook) {
    clearMessage();
    $('deliveries-status').value = ''; // each endpoint's log opens unfiltered
    showDeliveriesOf(hook);
    $('deliveries').hidden = false;
    placeholder($('deliveries-body'), 'Loading…');
    await loadDeliveries(true);
    $('deliveries-title').focus();
  }

  async function loadDeliveries(fresh) {
    const log = state.deliveries;
    const hook = log.endpoint;
    if (!hook) {
      return;
    }
    const tbody = $('deliveries-body');
    if (fresh) {
      log.cursor = null;
      log.status = $('deliveries-status').value;
    }
    const seq = ++log.seq;
    const params = new URLSearchParams({ limit: String(DELIVERIES_PAGE) });
    if (log.status) {
      params.set('status', log.status);
    }
    if (!fresh && log.cursor) {
      params.set('cursor', log.cursor);
    }
    let page;
    try {
      page = await api('GET', `/admin/webhooks/${hookId(hook)}/deliveries?${params}`);
    } catch (error) {
      if (seq === log.seq && fresh) {
        placeholder(tbody, `The deliveries could not be loaded: ${error.message}`, true);
        $('deliveries-more').hidden = true;
      }
      throw error;
    }
    if (seq !== log.seq) {
      return; // another endpoint, filter or page was asked for meanwhile
    }
    if (fresh) {
      tbody.replaceChildren();
    }
    tbody.append(...page.deliveries.map(deliveryRow));
    log.cursor = page.next_cursor || null;
    $('deliveries-more').hidden = !log.cursor;
    if (tbody.querySelectorAll('tr[data-testid="delivery-row"]').length === 0) {
      placeholder(tbody, log.status ? `No ${log.status} delivery.` : 'No delivery yet: nothing has happened that this endpoint receives.');
    }
  }

  async function replayDelivery(delivery) {
    const hook = state.deliveries.endpoint;
    if (!hook) {
      return;
    }
    const again = await api(
      'POST',
      `/admin/webhooks/${hookId(hook)}/deliveries/${encodeURIComponent(delivery.id)}/replay`,
    );
    const row = rowOf($('deliveries-body'), delivery.id);
    if (row && state.deliveries.endpoint === hook) {
      row.replaceWith(deliveryRow(again));
    }
    say(`The ${again.type} event ${again.id} is queued again, with the same webhook-id.`);
  }

  // ---------------------------------------------------------------------------------------
  // Wiring

  function on(elementId, type, handler) {
    $(elementId).addEventListener(type, handler);
  }

  function start() {
    login = window.gatehouseLogin.wire({ client, enter });
    on('logout', 'click', logOut);
    on('tab-users', 'click', () => selectTab('users'));
    on('tab-orgs', 'click', () => {
      selectTab('orgs');
      clearMessage();
      loadOrgs(true).catch(fail);
    });
    on('orgs-search-form', 'submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('orgs-search-submit'), () => loadOrgs(true));
    });
    on('orgs-more', 'click', () => busy($('orgs-more'), () => loadOrgs(false)));
    on('org-detail-close', 'click', closeOrg);
    on('org-detail-reload', 'click', () =>
      busy($('org-detail-reload'), () => openOrg(state.org.selected.id, { reload: true })),
    );
    on('members-more', 'click', () => busy($('members-more'), () => loadMembers(false)));
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
    // A filter's change searches at once, without disabling "Search": a search typed and sent
    // with Enter meanwhile must not be lost (a form whose submit button is disabled ignores
    // Enter), and the newest search wins (loadUsers drops older answers).
    for (const filter of ['filter-status', 'filter-role']) {
      on(filter, 'change', () => {
        clearMessage();
        loadUsers(true).catch(fail);
      });
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
    on('tab-clients', 'click', () => {
      selectTab('clients');
      clearMessage();
      loadClients().catch(fail);
    });
    on('client-form', 'submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('client-submit'), registerClient);
    });
    on('tab-webhooks', 'click', () => {
      selectTab('webhooks');
      clearMessage();
      loadWebhooks().catch(fail);
    });
    on('webhook-form', 'submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('webhook-submit'), registerWebhook);
    });
    on('deliveries-form', 'submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('deliveries-submit'), () => loadDeliveries(true));
    });
    on('deliveries-status', 'change', () => {
      clearMessage();
      loadDeliveries(true).catch(fail);
    });
    on('deliveries-more', 'click', () => busy($('deliveries-more'), () => loadDeliveries(false)));
    on('deliveries-close', 'click', closeDeliveries);
    $('detail-title').tabIndex = -1;
    $('org-detail-title').tabIndex = -1;
    $('deliveries-title').tabIndex = -1;

    resume(enter);
    document.body.dataset.ready = 'true';
  }

  start();
})();
