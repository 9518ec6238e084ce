// The settings page of an organization, at /orgs/{slug}/settings, for its owners and admins:
// its verified domains (the TXT record to publish, and the check), its single sign-on
// connections (SAML by metadata URL or XML, OpenID Connect by issuer and client), its SCIM
// tokens (each shown once), and the policy `sso_required`. Like the account page it speaks only
// gatehouse's JSON API (same origin), with the helpers of page.js (tokens, messages, DOM built
// with textContent) and the login of login.js. It shares the account page's refresh token, so a
// person logged in at /account in this tab is logged in here too. Whoever may not manage the
// organization is told so, and sees none of the forms: the API decides, at every request.
'use strict';

(() => {
  /** The account page's keys: one session for both pages in a tab. */
  const REFRESH_KEY = 'gatehouse.account.refresh';
  const ORG_KEY = 'gatehouse.account.org';
  const { $, say, clearMessage, ApiError, PageError, apiClient, el, dash, time, cell, placeholder, busy, fail } =
    window.gatehousePage;
  const client = apiClient(REFRESH_KEY, () => leave());
  const { api, send, forget, resume } = client;
  /** The login forms (login.js), wired at the start. */
  let login = null;
  /** The "Confirm it is you" form, which takes the place of the panels while it is up. */
  const confirmation = window.gatehousePage.stepUp(client, { covers: 'panels' });

  /** The organization the address names: `/orgs/{slug}/settings`, decoded; null for none. */
  const SLUG = (() => {
    const match = /^\/orgs\/([^/]+)\/settings\/?$/.exec(window.location.pathname);
    if (!match) {
      return null;
    }
    try {
      return decodeURIComponent(match[1]);
    } catch {
      return null;
    }
  })();
  const orgPath = (rest = '') => `/orgs/${encodeURIComponent(SLUG)}${rest}`;
  const SCIM_BASE = `${window.location.origin}/scim/v2`;

  /** The organization as last read (`OrgBody`: name, slug, policy…). */
  let org = null;
  /** What the answers that made connections said, by id: a list may say less (see `merged`). */
  const made = new Map();
  /** The id of the SCIM token shown once, while it is shown. */
  let shownToken = null;

  /** A form's submit runs `action` through busy(), after clearing the last message. */
  function onSubmit(formId, buttonId, action) {
    $(formId).addEventListener('submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($(buttonId), action);
    });
  }

  function button(text, testid, action, attrs = {}) {
    const node = el('button', { text, attrs: { type: 'button', 'data-testid': testid, ...attrs } });
    node.addEventListener('click', () => {
      clearMessage();
      busy(node, action);
    });
    return node;
  }

  // ---------------------------------------------------------------------------------------
  // Copyable values

  async function copy(text) {
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      throw new PageError('This browser does not let the page copy: select the text and copy it.');
    }
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      throw new PageError('The browser did not let the page copy: select the text and copy it.');
    }
    say('Copied.');
  }

  /** A value to give someone: the text (a link when `link`) and a Copy button. */
  function copyable(value, testid, what, { link = false } = {}) {
    const text = dash(value);
    let shown;
    if (link && typeof value === 'string' && /^https?:\/\//i.test(value)) {
      shown = el('a', { text, className: 'value', attrs: { href: value, 'data-testid': testid, rel: 'noreferrer' } });
    } else {
      shown = el('code', { text, className: 'value', attrs: { 'data-testid': testid } });
    }
    const parts = [shown];
    if (value) {
      parts.push(' ', button('Copy', `${testid}-copy`, () => copy(String(value)), { class: 'copy', 'aria-label': `Copy the ${what}` }));
    }
    return el('span', { className: 'copyable' }, parts);
  }

  /** A list of named values (`[label, value, testid, options]`). */
  function values(rows) {
    const list = el('dl', { className: 'values' });
    for (const [label, value, testid, options = {}] of rows) {
      list.append(el('dt', { text: label }), el('dd', {}, [copyable(value, testid, options.what || label, options)]));
    }
    return list;
  }

  // ---------------------------------------------------------------------------------------
  // Logging in and out

  function forgetSecrets() {
    $('scim-token-value').textContent = '';
    $('scim-new').hidden = true;
    shownToken = null;
    $('oidc-client-secret').value = '';
  }

  function showLogin() {
    confirmation.dismiss();
    login.reset();
    forgetSecrets();
    $('login-view').hidden = false;
    $('org-view').hidden = true;
    $('session').hidden = true;
  }

  /** Forgets the tokens (the account page's too: they are the same) and shows the login form. */
  function leave() {
    forget();
    sessionStorage.removeItem(ORG_KEY);
    showLogin();
  }

  async function logOut() {
    await send('DELETE', '/auth').catch(() => {});
    leave();
    say('You are logged out.');
  }

  /** With a token in hand: the organization's settings, or why they are not the caller's. A
   *  new login starts in no organization (what the account page keeps under ORG_KEY). */
  async function enter({ resumed = false } = {}) {
    if (!resumed) {
      sessionStorage.removeItem(ORG_KEY);
    }
    $('login-view').hidden = true;
    $('org-view').hidden = false;
    $('session').hidden = false;
    $('panels').hidden = true;
    $('refusal-view').hidden = true;
    try {
      await Promise.all([loadMe(), loadOrg()]);
    } catch (error) {
      // Shown, not thrown: a section that did not load must not end the session.
      fail(error);
    }
  }

  async function loadMe() {
    try {
      const me = await api('GET', '/user');
      $('whoami').textContent = me.email;
    } catch (error) {
      if (error.code !== 'mfa_enrolment_required') {
        throw error;
      }
      $('whoami').textContent = 'you';
    }
  }

  // ---------------------------------------------------------------------------------------
  // The organization, and who may manage it

  function refuse(text) {
    $('panels').hidden = true;
    $('refusal-text').textContent = text;
    $('refusal-view').hidden = false;
    document.body.dataset.org = 'refused';
  }

  function refusal(error) {
    if (error.code === 'not_a_member') {
      return `You are not a member of the organization “${SLUG}”, so its settings are not yours to see or change.`;
    }
    if (error.status === 404) {
      return `There is no organization “${SLUG}” here. Check the address.`;
    }
    return error.message;
  }

  async function loadOrg() {
    if (!SLUG) {
      refuse('This address names no organization: its settings are at /orgs/{slug}/settings.');
      return;
    }
    let standing;
    try {
      standing = await api('GET', orgPath());
    } catch (error) {
      if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
        refuse(refusal(error));
        return;
      }
      throw error;
    }
    org = standing.org;
    document.title = `${org.name} — organization settings`;
    $('org-title').textContent = org.name;
    $('org-title').hidden = false;
    const permissions = new Set(standing.permissions || []);
    const domains = permissions.has('org:update');
    const sso = permissions.has('sso:manage');
    if (!domains && !sso) {
      refuse(
        `You are a member of ${org.name} with the role “${standing.role}”, which may not change its domains, ` +
          'single sign-on or provisioning.',
      );
      return;
    }
    $('domains-card').hidden = !domains;
    for (const id of ['sso-card', 'saml-card', 'oidc-card', 'scim-card']) {
      $(id).hidden = !sso;
    }
    $('policy-card').hidden = !(domains && sso);
    $('scim-base-url').textContent = SCIM_BASE;
    showPolicy();
    $('panels').hidden = false;
    const loads = [];
    if (domains) {
      loads.push(loadDomains());
    }
    if (sso) {
      loads.push(loadConnections(), loadTokens());
    }
    const failed = (await Promise.allSettled(loads)).find((r) => r.status === 'rejected');
    document.body.dataset.org = 'loaded';
    if (failed) {
      throw failed.reason;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Domains

  async function loadDomains() {
    const body = $('domains-body');
    const { domains } = await api('GET', orgPath('/domains'));
    if (domains.length === 0) {
      placeholder(body, 'No domain yet.');
      return;
    }
    body.replaceChildren(...domains.map(domainRow));
  }

  function domainRow(domain) {
    const status = domain.verified
      ? el('span', {}, [el('span', { text: 'verified', className: 'badge badge-active' }), ' ', time(domain.verified_at)])
      : el('span', { text: 'not verified yet', className: 'badge badge-pending' });
    const challenge = domain.challenge || {};
    const record = domain.verified
      ? el('span', { text: 'Verified: the record is no longer needed.', className: 'muted' })
      : values([
          ['Type', 'TXT', 'txt-type', { what: 'record type' }],
          ['Name', challenge.name, 'txt-name', { what: 'record name' }],
          ['Value', challenge.value, 'txt-value', { what: 'record value' }],
        ]);
    const actions = el('div', { className: 'buttons' });
    if (!domain.verified) {
      actions.append(button('Check', 'domain-check', () => checkDomain(domain), { 'aria-label': `Check ${domain.domain}` }));
    }
    actions.append(button('Remove', 'domain-remove', () => removeDomain(domain), { 'aria-label': `Remove ${domain.domain}` }));
    return el(
      'tr',
      { attrs: { 'data-testid': 'domain-row', 'data-domain': domain.domain, 'data-verified': String(domain.verified) } },
      [cell(el('strong', { text: domain.domain })), cell(el('span', { attrs: { 'data-testid': 'domain-status' } }, [status])), cell(record), cell(actions)],
    );
  }

  async function addDomain() {
    const name = $('domain-name').value.trim();
    if (!name) {
      throw new PageError('Type the domain, e.g. example.com.');
    }
    const added = await api('POST', orgPath('/domains'), { body: { domain: name } });
    $('domain-name').value = '';
    await loadDomains();
    say(`${added.domain} is claimed. Publish the TXT record shown with it in your DNS, then press Check.`);
  }

  async function checkDomain(domain) {
    let checked;
    try {
      checked = await api('POST', orgPath(`/domains/${encodeURIComponent(domain.domain)}/verify`));
    } catch (error) {
      if (error.code === 'domain_verification_failed') {
        say(`${domain.domain} is not verified yet: ${error.message}`, 'error');
        return;
      }
      throw error;
    }
    await loadDomains();
    if (checked.verified) {
      say(`${checked.domain} is verified: it belongs to ${org ? org.name : 'this organization'}.`);
    } else {
      say(`${checked.domain} is not verified yet.`, 'error');
    }
  }

  async function removeDomain(domain) {
    if (!window.confirm(`Remove ${domain.domain}? Its people are no longer sent to your identity provider.`)) {
      return;
    }
    await api('DELETE', orgPath(`/domains/${encodeURIComponent(domain.domain)}`));
    await loadDomains();
    say(`${domain.domain} is removed.`);
  }

  // ---------------------------------------------------------------------------------------
  // Single sign-on connections

  /** A listed connection with what its creation's answer said and the list leaves out. */
  function merged(connection) {
    const first = made.get(connection.id);
    if (!first) {
      return connection;
    }
    const both = { ...first };
    for (const [key, value] of Object.entries(connection)) {
      if (value !== null && value !== undefined) {
        both[key] = value;
      }
    }
    return both;
  }

  async function loadConnections() {
    const { connections } = await api('GET', orgPath('/sso'));
    $('sso-list').replaceChildren(...connections.map((c) => connectionView(merged(c))));
    $('sso-empty').hidden = connections.length > 0;
  }

  function connectionView(connection) {
    const idp = connection.idp || {};
    let kind;
    let intro;
    let shown;
    let about;
    if (connection.type === 'oidc') {
      kind = 'OpenID Connect';
      intro = 'Register the redirect URI at your identity provider, for the app whose client id this connection uses:';
      shown = [
        ['Redirect URI', connection.redirect_uri, 'redirect-uri'],
        ['Login URL', connection.login_url, 'login-url', { what: 'login URL' }],
      ];
      about = [
        ['Issuer', idp.issuer, 'idp-issuer', { what: 'issuer' }],
        ['Client id', idp.client_id, 'idp-client-id', { what: 'client id' }],
      ];
    } else if (connection.type === 'saml') {
      kind = 'SAML';
      intro = 'Give these to your identity provider’s admins (or simply the metadata URL):';
      shown = [
        ['Entity ID (audience)', connection.sp_entity_id, 'sp-entity-id', { what: 'entity ID' }],
        ['ACS URL (HTTP-POST)', connection.acs_url, 'acs-url', { what: 'ACS URL' }],
        ['Metadata URL', connection.metadata_url, 'metadata-url', { what: 'metadata URL', link: true }],
        ['Login URL', connection.login_url, 'login-url', { what: 'login URL' }],
      ];
      about = [['Identity provider', idp.entity_id, 'idp-entity-id', { what: 'identity provider’s entity ID' }]];
      if (idp.metadata_url) {
        about.push(['Its metadata from', idp.metadata_url, 'idp-metadata-url', { what: 'identity provider’s metadata URL' }]);
      }
    } else {
      kind = connection.type || 'unknown';
      intro = 'Where apps send people to log in through it:';
      shown = [['Login URL', connection.login_url, 'login-url', { what: 'login URL' }]];
      about = [];
    }
    const remove = button('Remove', 'sso-remove', () => removeConnection(connection), {
      'aria-label': `Remove the connection ${connection.name}`,
    });
    const head = el('div', { className: 'connection-head' }, [
      el('h3', {}, [el('span', { text: connection.name, attrs: { 'data-testid': 'sso-name' } }), ' ', el('span', { text: kind, className: 'badge' })]),
      remove,
    ]);
    const footer = el('p', { className: 'muted' }, [
      `People who log in through it for the first time join with the role “${dash(connection.default_role)}”. Added `,
      time(connection.created_at),
      '.',
    ]);
    const parts = [head, el('p', { text: intro }), values([...shown, ...about]), footer];
    if (connection.active === false) {
      parts.splice(1, 0, el('p', {
        className: 'once',
        text: 'Not active yet: it takes no logins, and sends nobody to the identity provider, until the organization verifies a domain (see Domains).',
        attrs: { 'data-testid': 'sso-inactive' },
      }));
    }
    return el(
      'article',
      { className: 'connection', attrs: { 'data-testid': 'sso-connection', 'data-id': connection.id, 'data-type': dash(connection.type) } },
      parts,
    );
  }

  async function addSaml() {
    const url = $('saml-metadata-url').value.trim();
    const xml = $('saml-metadata-xml').value.trim();
    if (Boolean(url) === Boolean(xml)) {
      throw new PageError('Give the identity provider’s metadata URL or its metadata XML: one of them.');
    }
    const body = url ? { metadata_url: url } : { metadata_xml: xml };
    const name = $('saml-name').value.trim();
    if (name) {
      body.name = name;
    }
    const added = await api('POST', orgPath('/sso/saml'), { body });
    made.set(added.id, added);
    for (const id of ['saml-name', 'saml-metadata-url', 'saml-metadata-xml']) {
      $(id).value = '';
    }
    await loadConnections();
    say(`The SAML connection “${added.name}” is added: give its values to your identity provider’s admins.`);
  }

  async function addOidc() {
    const body = {
      issuer: $('oidc-issuer').value.trim(),
      client_id: $('oidc-client-id').value.trim(),
      client_secret: $('oidc-client-secret').value,
    };
    if (!body.issuer || !body.client_id || !body.client_secret) {
      throw new PageError('Give the issuer, the client id and the client secret.');
    }
    const name = $('oidc-name').value.trim();
    if (name) {
      body.name = name;
    }
    const added = await api('POST', orgPath('/sso/oidc'), { body });
    made.set(added.id, added);
    for (const id of ['oidc-name', 'oidc-issuer', 'oidc-client-id', 'oidc-client-secret']) {
      $(id).value = '';
    }
    await loadConnections();
    say(`The OpenID Connect connection “${added.name}” is added: register its redirect URI, ${dash(added.redirect_uri)}, at your identity provider.`);
  }

  async function removeConnection(connection) {
    if (!window.confirm(`Remove the connection “${connection.name}”? Nobody logs in through it any more.`)) {
      return;
    }
    await api('DELETE', orgPath(`/sso/${encodeURIComponent(connection.id)}`));
    made.delete(connection.id);
    await loadConnections();
    say(`The connection “${connection.name}” is removed.`);
  }

  // ---------------------------------------------------------------------------------------
  // SCIM tokens

  async function loadTokens() {
    const body = $('scim-body');
    const { tokens } = await api('GET', orgPath('/scim/tokens'));
    if (tokens.length === 0) {
      placeholder(body, 'No token yet.');
      return;
    }
    body.replaceChildren(...tokens.map(tokenRow));
  }

  function tokenRow(token) {
    const revoke = button('Revoke', 'scim-revoke', () => revokeToken(token), { 'aria-label': `Revoke the token ${token.name}` });
    return el('tr', { attrs: { 'data-testid': 'scim-token-row', 'data-id': token.id } }, [
      cell(token.name),
      cell(time(token.created_at)),
      cell(token.last_used_at ? time(token.last_used_at) : el('span', { text: 'never', className: 'muted' })),
      cell(revoke),
    ]);
  }

  async function createToken() {
    const name = $('scim-name').value.trim();
    const created = await api('POST', orgPath('/scim/tokens'), { body: name ? { name } : {} });
    $('scim-name').value = '';
    shownToken = created.id;
    $('scim-token-value').textContent = created.token;
    $('scim-new').hidden = false;
    await loadTokens();
    say(`The token “${created.name}” is made: copy it now, it is shown this once.`);
    $('scim-new').scrollIntoView({ block: 'nearest' });
  }

  function tokenSaved() {
    $('scim-token-value').textContent = '';
    $('scim-new').hidden = true;
    shownToken = null;
  }

  async function revokeToken(token) {
    if (!window.confirm(`Revoke the token “${token.name}”? Its next request is refused.`)) {
      return;
    }
    await api('DELETE', orgPath(`/scim/tokens/${encodeURIComponent(token.id)}`));
    if (shownToken === token.id) {
      tokenSaved();
    }
    await loadTokens();
    say(`The token “${token.name}” is revoked.`);
  }

  // ---------------------------------------------------------------------------------------
  // The policy: sso_required

  function showPolicy() {
    const on = Boolean(org && org.policy && org.policy.sso_required);
    $('sso-required').checked = on;
    $('policy-status').textContent = on
      ? 'On: people at your verified domains log in only through your identity provider.'
      : 'Off: people at your verified domains may log in any way they can.';
    $('policy-status').dataset.on = String(on);
  }

  /** The policy is replaced whole: the one the organization has now, with `sso_required` changed. */
  async function switchSsoRequired() {
    const wanted = $('sso-required').checked;
    try {
      org = (await api('GET', orgPath())).org;
      const policy = { ...(org.policy || {}), sso_required: wanted };
      org = await api('PATCH', orgPath(), { body: { policy } });
    } finally {
      showPolicy();
    }
    say(wanted ? 'Single sign-on is now required.' : 'Single sign-on is no longer required.');
  }

  // ---------------------------------------------------------------------------------------
  // Wiring

  function start() {
    login = window.gatehouseLogin.wire({ client, enter });
    $('login-org').textContent = SLUG || '—';
    $('logout').addEventListener('click', () => {
      clearMessage();
      busy($('logout'), logOut);
    });
    onSubmit('domain-form', 'domain-add', addDomain);
    onSubmit('saml-form', 'saml-add', addSaml);
    onSubmit('oidc-form', 'oidc-add', addOidc);
    onSubmit('scim-form', 'scim-add', createToken);
    $('scim-new-done').addEventListener('click', tokenSaved);
    $('policy-form').addEventListener('submit', (event) => event.preventDefault());
    $('sso-required').addEventListener('change', () => {
      clearMessage();
      busy($('sso-required'), switchSsoRequired);
    });
    for (const node of document.querySelectorAll('button[data-copies]')) {
      node.addEventListener('click', () => {
        clearMessage();
        busy(node, () => copy($(node.dataset.copies).textContent));
      });
    }
    showLogin();
    resume(() => enter({ resumed: true }));
    document.body.dataset.ready = 'true';
  }

  start();
})();
