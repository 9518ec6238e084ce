// The gatehouse account page: log in (password, second factor, a passkey alone, an emailed
// link or code, or a provider), then set up or turn off an authenticator app (QR code), see
// recovery codes once, add and remove passkeys, link and unlink providers, and list or end
// one's sessions. Like the admin console it speaks only gatehouse's
// JSON API (same origin), with the helpers of page.js (tokens, messages, DOM built with
// textContent). A change that needs a fresh confirmation (403 reauthentication_required) asks
// for it with the "Confirm it is you" form (page.js's stepUp) and is then sent again.
'use strict';

(() => {
  const REFRESH_KEY = 'gatehouse.account.refresh';
  /** An invitation's token from the emailed link, kept through a login or a sign-up. */
  const INVITATION_KEY = 'gatehouse.account.invitation';
  /** The id of the organization this tab's session was switched into, kept with its refresh
   *  token: after a reload (whose refreshed tokens keep the organization) it is still marked. */
  const ORG_KEY = 'gatehouse.account.org';
  const passkeys = window.gatehousePasskey;
  const { $, say, clearMessage, PageError, apiClient, el, dash, time, cell, placeholder, busy } = window.gatehousePage;
  const { codeField, askPasskey, stepUp } = window.gatehousePage;
  const { t } = window.gatehouseI18n;
  const client = apiClient(REFRESH_KEY, () => leave());
  const { api, send, forget, resume, replaceAccess } = client;
  /** The login forms (login.js), wired at the start. */
  let login = null;
  /** The "Confirm it is you" form, which takes the place of the panels while it is up. */
  const confirmation = stepUp(client, { covers: 'panels', t });

  /** A form's submit runs `action` through busy(), after clearing the last message. */
  function onSubmit(formId, buttonId, action) {
    $(formId).addEventListener('submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($(buttonId), action);
    });
  }

  function onClick(buttonId, action) {
    $(buttonId).addEventListener('click', () => {
      clearMessage();
      busy($(buttonId), action);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Logging in and out

  function showLogin() {
    confirmation.dismiss();
    login.reset();
    $('login-view').hidden = false;
    $('account-view').hidden = true;
    $('session').hidden = true;
  }

  /** Forgets the tokens and shows the login form. */
  function leave() {
    forget();
    sessionStorage.removeItem(ORG_KEY);
    showLogin();
  }

  async function logOut() {
    await send('DELETE', '/auth').catch(() => {});
    leave();
    say(t('You are logged out.'));
  }

  /** With a token in hand: the account view. `resumed`: the session of before a reload, still in
   *  the organization it was switched into; a new login starts in none. */
  async function enter({ resumed = false } = {}) {
    if (!resumed) {
      sessionStorage.removeItem(ORG_KEY);
    }
    $('login-view').hidden = true;
    $('account-view').hidden = false;
    $('session').hidden = false;
    showPanels();
    try {
      const me = await api('GET', '/user');
      $('whoami').textContent = me.email;
      window.gatehouseI18n.use(me.locale);
      $('language').value = me.locale || '';
    } catch (error) {
      if (error.code !== 'mfa_enrolment_required') {
        throw error;
      }
      $('whoami').textContent = t('you');
      say(t('Your account needs a second factor: set up an authenticator app or add a passkey to go on.'));
    }
    await Promise.all([loadFactors(), loadPasskeys(), loadIdentities(), loadSessions(), loadOrgs()]);
    $('invitation-view').hidden = !sessionStorage.getItem(INVITATION_KEY);
  }

  function showPanels() {
    $('recovery-view').hidden = true;
    $('panels').hidden = false;
  }

  // ---------------------------------------------------------------------------------------
  // The authenticator app and recovery codes

  async function loadFactors() {
    const factors = await api('GET', '/mfa');
    $('totp-status').textContent = factors.totp
      ? factors.recovery_codes === 1
        ? t('On. 1 recovery code left.')
        : t('On. {count} recovery codes left.', { count: factors.recovery_codes })
      : t('Off.');
    $('totp-status').dataset.on = String(factors.totp);
    $('totp-start').hidden = factors.totp;
    $('totp-off').hidden = !factors.totp;
    $('recovery-new').hidden = !(factors.totp || factors.passkeys > 0);
    for (const form of ['totp-password-form', 'totp-confirm-form', 'totp-off-form']) {
      $(form).hidden = true;
    }
  }

  function open(formId, focusId) {
    for (const form of ['totp-password-form', 'totp-confirm-form', 'totp-off-form']) {
      $(form).hidden = form !== formId;
    }
    $(focusId).value = '';
    $(focusId).focus();
  }

  async function beginTotp() {
    const enrolment = await api('POST', '/mfa/totp', { body: { password: $('totp-password').value } });
    $('totp-password').value = '';
    $('totp-qr').src = enrolment.otpauth_qr;
    $('totp-secret').textContent = enrolment.secret.replace(/(.{4})/g, '$1 ').trim();
    open('totp-confirm-form', 'totp-code');
  }

  async function confirmTotp() {
    const answer = await api('POST', '/mfa/totp/confirm', { body: { code: $('totp-code').value.replace(/\s/g, '') } });
    $('totp-secret').textContent = '';
    $('totp-qr').removeAttribute('src');
    await loadFactors();
    showRecoveryCodes(answer.recovery_codes);
    say(t('Your authenticator app is on: logins ask for its code after the password.'));
  }

  async function turnOffTotp() {
    await api('DELETE', '/mfa/totp', { body: codeField($('totp-off-code').value) });
    await loadFactors();
    say(t('Your authenticator app is off.'));
  }

  async function newRecoveryCodes() {
    if (!confirm(t('New recovery codes replace all the ones you have now. Go on?'))) {
      return;
    }
    const answer = await api('POST', '/mfa/recovery-codes');
    await loadFactors();
    showRecoveryCodes(answer.recovery_codes);
  }

  function showRecoveryCodes(codes) {
    $('recovery-list').replaceChildren(...codes.map((c) => el('li', { text: c })));
    $('panels').hidden = true;
    $('recovery-view').hidden = false;
  }

  function recoveryCodesSaved() {
    $('recovery-list').replaceChildren();
    showPanels();
  }

  // ---------------------------------------------------------------------------------------
  // Passkeys

  async function loadPasskeys() {
    const body = $('passkeys-body');
    let list;
    try {
      list = (await api('GET', '/webauthn/credentials')).credentials;
    } catch (error) {
      if (error.code === 'mfa_enrolment_required') {
        placeholder(body, t('Your passkeys show once you have a second factor.'));
        return;
      }
      throw error;
    }
    if (list.length === 0) {
      placeholder(body, t('No passkeys yet.'));
      return;
    }
    body.replaceChildren(...list.map(passkeyRow));
  }

  function passkeyRow(passkey) {
    const remove = el('button', { text: t('Remove'), attrs: { type: 'button' } });
    remove.addEventListener('click', () => busy(remove, () => removePasskey(passkey)));
    return el('tr', { attrs: { 'data-testid': 'passkey-row', 'data-id': passkey.id } }, [
      cell(passkey.name),
      cell(time(passkey.created_at)),
      cell(time(passkey.last_used_at)),
      cell(t(passkey.backup_state ? 'yes' : passkey.backup_eligible ? 'can be' : 'no')),
      cell(remove),
    ]);
  }

  async function addPasskey() {
    if (!passkeys.supported()) {
      throw new PageError(t('This browser cannot create passkeys.'));
    }
    const options = await api('POST', '/webauthn/register/options');
    const credential = await askPasskey(passkeys.create, options);
    const name = $('passkey-name').value.trim();
    const added = await api('POST', '/webauthn/register', { body: name ? { credential, name } : { credential } });
    $('passkey-name').value = '';
    await Promise.all([loadPasskeys(), loadFactors()]);
    say(t('Passkey "{name}" added: you can log in with it, without a password.', { name: added.name }));
  }

  async function removePasskey(passkey) {
    if (!confirm(t('Remove the passkey "{name}"?', { name: passkey.name }))) {
      return;
    }
    await api('DELETE', `/webauthn/credentials/${encodeURIComponent(passkey.id)}`);
    await Promise.all([loadPasskeys(), loadFactors()]);
    say(t('Passkey "{name}" removed.', { name: passkey.name }));
  }

  // ---------------------------------------------------------------------------------------
  // Providers: the login buttons, and the linked logins

  /** The configured providers, `{name, label}`, once loaded. */
  let providers = [];

  async function loadProviders() {
    providers = (await api('GET', '/auth/oidc', { auth: false })).providers;
    const box = $('social-login');
    box.replaceChildren(
      ...providers.map((p) =>
        el('a', {
          text: t('Continue with {provider}', { provider: p.label }),
          attrs: { href: `/auth/oidc/${encodeURIComponent(p.name)}`, 'data-testid': `social-${p.name}` },
        }),
      ),
    );
    box.hidden = providers.length === 0;
  }

  function label(name) {
    const provider = providers.find((p) => p.name === name);
    return provider ? provider.label : name;
  }

  async function loadIdentities() {
    $('identities-card').hidden = providers.length === 0;
    if (providers.length === 0) {
      return;
    }
    const body = $('identities-body');
    const { identities } = await api('GET', '/user/identities');
    if (identities.length === 0) {
      placeholder(body, t('No linked logins yet.'));
    } else {
      body.replaceChildren(...identities.map(identityRow));
    }
    const linked = new Set(identities.map((i) => i.provider));
    $('identity-links').replaceChildren(
      ...providers
        .filter((p) => !linked.has(p.name))
        .map((p) => {
          const button = el('button', { text: t('Link {provider}', { provider: p.label }), attrs: { type: 'button', 'data-testid': `link-${p.name}` } });
          button.addEventListener('click', () => {
            clearMessage();
            busy(button, () => linkProvider(p));
          });
          return button;
        }),
    );
  }

  function identityRow(identity) {
    const remove = el('button', { text: t('Unlink'), attrs: { type: 'button' } });
    remove.addEventListener('click', () => busy(remove, () => unlink(identity)));
    return el('tr', { attrs: { 'data-testid': 'identity-row', 'data-provider': identity.provider } }, [
      cell(label(identity.provider)),
      cell(identity.email),
      cell(time(identity.created_at)),
      cell(time(identity.last_login_at)),
      cell(remove),
    ]);
  }

  /** Off to the provider; it sends the browser back here with `?linked=` (or `?error=`). */
  async function linkProvider(provider) {
    const { url } = await api('POST', `/user/identities/${encodeURIComponent(provider.name)}`, { body: {} });
    window.location.assign(url);
  }

  async function unlink(identity) {
    if (!confirm(t('Unlink your {provider} login?', { provider: label(identity.provider) }))) {
      return;
    }
    await api('DELETE', `/user/identities/${encodeURIComponent(identity.id)}`);
    await loadIdentities();
    say(t('Your {provider} login is unlinked.', { provider: label(identity.provider) }));
  }

  // ---------------------------------------------------------------------------------------
  // Organizations: the person's memberships (the session's active one marked), the
  // invitations to their confirmed address, and the one the emailed link brought

  async function loadOrgs() {
    const [{ orgs }, { invitations }] = await Promise.all([api('GET', '/orgs'), api('GET', '/invitations')]);
    $('orgs-body').replaceChildren(...orgs.map(orgRow));
    $('orgs-table').hidden = orgs.length === 0;
    $('orgs-empty').hidden = orgs.length > 0;
    $('invitations-body').replaceChildren(...invitations.map(invitationRow));
    $('invitations-box').hidden = invitations.length === 0;
  }

  function orgRow(membership) {
    const { org } = membership;
    let action;
    // Shown, not trusted: the server reads the membership at every request.
    if (sessionStorage.getItem(ORG_KEY) === org.id) {
      action = el('span', { text: t('active'), className: 'muted' });
    } else {
      action = el('button', { text: t('Work in it'), attrs: { type: 'button' } });
      action.addEventListener('click', () => busy(action, () => switchOrg(org)));
    }
    return el('tr', { attrs: { 'data-testid': 'org-row', 'data-slug': org.slug } }, [
      cell(el('span', { text: org.name, attrs: { title: org.slug } })),
      cell(membership.role),
      cell(time(membership.joined_at)),
      cell(action),
    ]);
  }

  function invitationRow(invitation) {
    const accept = el('button', { text: t('Accept'), attrs: { type: 'button' } });
    accept.addEventListener('click', () =>
      busy(accept, async () => {
        const joined = await api('POST', `/invitations/${encodeURIComponent(invitation.id)}/accept`);
        await loadOrgs();
        say(t('You joined {org}.', { org: joined.org.name }));
      }),
    );
    return el('tr', { attrs: { 'data-testid': 'invitation-row' } }, [
      cell(invitation.org.name),
      cell(invitation.role),
      cell(time(invitation.expires_at)),
      cell(accept),
    ]);
  }

  /** Makes the organization this session's active one: a new access token carries it. */
  async function switchOrg(org) {
    const switched = await api('POST', '/auth/org', { body: { org: org.id } });
    replaceAccess(switched.access_token);
    sessionStorage.setItem(ORG_KEY, org.id);
    await loadOrgs();
    say(t('You are now working in {org}.', { org: org.name }));
  }

  /** Accepts the invitation of the emailed link, with the account now logged in. */
  async function acceptLinked() {
    const token = sessionStorage.getItem(INVITATION_KEY);
    if (!token) {
      return;
    }
    try {
      const joined = await api('POST', '/invitations/accept', { body: { token } });
      say(t('You joined {org}.', { org: joined.org.name }));
    } catch (error) {
      const sentences = {
        invitation_email_mismatch: t(
          'This invitation was sent to another address. Log in with that address (confirmed) to accept it.',
        ),
        invitation_expired: t('This invitation has expired; ask the organization for a new one.'),
        not_found: t('This invitation is no longer valid: it was used, revoked or replaced.'),
        member_limit_reached: t('The organization is full; ask its admins.'),
      };
      if (!error.code || !Object.prototype.hasOwnProperty.call(sentences, error.code)) {
        throw error;
      }
      say(sentences[error.code], 'error');
    } finally {
      sessionStorage.removeItem(INVITATION_KEY);
      $('invitation-view').hidden = true;
    }
    await loadOrgs();
  }

  function dismissInvitation() {
    sessionStorage.removeItem(INVITATION_KEY);
    $('invitation-view').hidden = true;
  }

  /** Signs up with the invited address: a confirmation email, then a login here. */
  async function signUp() {
    const email = $('signup-email').value.trim();
    await api('POST', '/user', { body: { email, password: $('signup-password').value }, auth: false });
    $('signup-password').value = '';
    say(t('Almost there: confirm your address by the link we sent to {email}, then log in here.', { email }));
  }

  // ---------------------------------------------------------------------------------------
  // Sessions

  async function loadSessions() {
    const { sessions } = await api('GET', '/auth/sessions');
    const body = $('sessions-body');
    body.replaceChildren(...sessions.map(sessionRow));
  }

  function sessionRow(session) {
    let action;
    if (session.current) {
      action = el('span', { text: t('this one'), className: 'muted' });
    } else {
      action = el('button', { text: t('End'), attrs: { type: 'button' } });
      action.addEventListener('click', () =>
        busy(action, async () => {
          await api('DELETE', `/auth/sessions/${encodeURIComponent(session.id)}`);
          await loadSessions();
          say(t('The session has ended: its tokens no longer work.'));
        }),
      );
    }
    return el('tr', { attrs: { 'data-testid': 'session-row', 'data-current': String(session.current) } }, [
      cell(time(session.created_at)),
      cell(time(session.last_used_at)),
      cell(session.ip),
      cell(el('span', { text: dash(session.user_agent), className: 'clip', attrs: { title: dash(session.user_agent) } })),
      cell(action),
    ]);
  }

  // ---------------------------------------------------------------------------------------
  // Language: of this page and of the account's emails

  async function saveLanguage() {
    const locale = $('language').value || null;
    const me = await api('PATCH', '/user', { body: { locale } });
    window.gatehouseI18n.use(me.locale);
    await Promise.all([loadFactors(), loadPasskeys(), loadProviders(), loadSessions()]);
    await loadIdentities();
    say(t('Your language is saved.'));
  }

  // ---------------------------------------------------------------------------------------
  // Wiring

  /**
   * What the page says when a login comes back to it with `?error={code}` (as a failed login
   * through a provider does): its own sentence for each code a login can end with, and a general
   * one for any other. Anyone can write such an address, so neither the code nor the
   * `error_description` beside it is ever shown.
   */
  function loginFailed(code) {
    const sentences = {
      oidc_state_invalid: t('That login took too long or was started in another browser. Start again.'),
      oidc_failed: t('The other site’s login did not work. Try again, or use another way in.'),
      provider_unavailable: t('The other site cannot be reached right now. Try again later, or use another way in.'),
      provider_email_missing: t('The other site did not tell us your email address, so no account can be made with it.'),
      identity_taken: t('That login already belongs to another account.'),
      identity_not_linked: t(
        'No account is linked to this login. If you have an account here, log in another way and link it on this page.',
      ),
      account_not_activated: t('Confirm your email address first: follow the link in the email you were sent.'),
      account_disabled: t('This account is disabled.'),
      signup_disabled: t('Sign-up is closed here. Ask an administrator for an account.'),
      rate_limited: t('Too many attempts. Wait a moment and try again.'),
      token_invalid: t('This login has run out of time. Start again.'),
      token_expired: t('This login has run out of time. Start again.'),
      handoff_invalid: t('This login was started in another browser. Start it again here.'),
      passwordless_disabled: t('Login by email is off here. Log in with your password.'),
    };
    // Own keys only: `?error=constructor` must not find what every object inherits.
    if (Object.prototype.hasOwnProperty.call(sentences, code)) {
      return sentences[code];
    }
    return t('The login did not work. Try again, or use another way in.');
  }

  function start() {
    login = window.gatehouseLogin.wire({ client, enter });
    onClick('logout', logOut);

    $('totp-start').addEventListener('click', () => open('totp-password-form', 'totp-password'));
    onSubmit('totp-password-form', 'totp-password-submit', beginTotp);
    onSubmit('totp-confirm-form', 'totp-confirm-submit', confirmTotp);
    $('totp-off').addEventListener('click', () => open('totp-off-form', 'totp-off-code'));
    onSubmit('totp-off-form', 'totp-off-submit', turnOffTotp);
    onClick('recovery-new', newRecoveryCodes);
    $('recovery-done').addEventListener('click', recoveryCodesSaved);
    for (const cancel of document.querySelectorAll('button[data-cancels]')) {
      cancel.addEventListener('click', () => {
        $(cancel.dataset.cancels).hidden = true;
      });
    }

    onSubmit('passkey-add-form', 'passkey-add', addPasskey);
    onClick('invitation-accept', acceptLinked);
    $('invitation-dismiss').addEventListener('click', dismissInvitation);
    onSubmit('signup-form', 'signup-submit', signUp);
    onSubmit('language-form', 'language-save', saveLanguage);

    showLogin();
    // Back from an emailed link or a provider: the redirect carries a one-time code for the
    // tokens (or what went wrong, or the provider just linked). It leaves the address bar (and
    // the history) before it is spent.
    const query = new URLSearchParams(window.location.search);
    const handoff = query.get('code');
    // An invitation's link: its token waits in this tab until the person is logged in.
    if (query.has('invitation')) {
      if (query.get('invitation')) {
        sessionStorage.setItem(INVITATION_KEY, query.get('invitation'));
      } else {
        say(t('This invitation link is not complete; open the link from the email again.'), 'error');
      }
    }
    $('signup-form').hidden = !sessionStorage.getItem(INVITATION_KEY);
    if (query.toString()) {
      window.history.replaceState(null, '', window.location.pathname);
    }
    if (query.get('error')) {
      say(loginFailed(query.get('error')), 'error');
    }
    loadProviders()
      .catch(() => {})
      .then(() => {
        // Said only when `linked` names one of this server's providers, and then by its label: the
        // address is anyone's to write.
        const linked = providers.find((p) => p.name === query.get('linked'));
        if (linked) {
          say(t('Linked: you can now log in with {provider}.', { provider: linked.label }));
        }
        if (handoff) {
          busy($('login-submit'), () => login.exchange(handoff));
        } else {
          resume(() => enter({ resumed: true }));
        }
        document.body.dataset.ready = 'true';
      });
  }

  start();
})();
