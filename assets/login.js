// The login of gatehouse's pages: the password, then the second step when the account has a
// second factor (a code from the app, a recovery code, or a passkey), and, where the page has
// the buttons, a passkey alone or a link and code by email. The page holds the elements by id
// (login-form, login-email, login-password, login-submit; mfa-form, mfa-code, mfa-submit,
// mfa-passkey, mfa-cancel; optional: passkey-login; email-login with email-form, email-code,
// email-submit, email-cancel) and says what happens once the token pair is kept (`enter`).
'use strict';

window.gatehouseLogin = (() => {
  const { $, say, clearMessage, PageError, busy, codeField, askPasskey } = window.gatehousePage;
  const passkeys = window.gatehousePasskey;

  /** Wires the forms to `client` (page.js's apiClient); returns `reset`, back to the password. */
  function wire({ client, enter }) {
    const { api, read, send, keep } = client;
    /** Between a right password and the second factor: the login's `mfa_token`. */
    let mfaToken = null;

    function askSecondFactor(token, methods) {
      mfaToken = token;
      $('login-form').hidden = true;
      $('mfa-form').hidden = false;
      $('mfa-passkey').hidden = !(methods.includes('webauthn') && passkeys.supported());
      $('mfa-code').value = '';
      $('mfa-code').focus();
    }

    function reset() {
      mfaToken = null;
      $('mfa-form').hidden = true;
      const emailForm = $('email-form');
      if (emailForm) {
        emailForm.hidden = true;
      }
      $('login-form').hidden = false;
    }

    /** The answer to a first factor: the token pair, or the second step it asks for. */
    async function afterFirstFactor(response) {
      const problem = response.status === 403 ? await response.clone().json().catch(() => null) : null;
      if (problem && problem.code === 'mfa_required') {
        askSecondFactor(problem.mfa_token, problem.methods || []);
        return;
      }
      keep(await read(response));
      reset();
      await enter();
    }

    async function logIn() {
      const who = $('login-email').value.trim();
      const body = who.includes('@') ? { email: who } : { username: who };
      body.password = $('login-password').value;
      const response = await send('POST', '/auth', { body, auth: false });
      $('login-password').value = '';
      await afterFirstFactor(response);
    }

    /** The address an emailed login goes to, between asking and typing the code. */
    let emailed = null;

    async function emailMe() {
      const email = $('login-email').value.trim();
      if (!email.includes('@')) {
        throw new PageError('Type your email address first; the link and the code go there.');
      }
      await api('POST', '/auth/email', { body: { email }, auth: false, handoff: true });
      emailed = email;
      $('login-form').hidden = true;
      $('email-form').hidden = false;
      $('email-code').value = '';
      $('email-code').focus();
      say(`If ${email} may log in here, a link and a code are on their way: open the link, or type the code.`);
    }

    async function withEmailCode() {
      const code = $('email-code').value.trim();
      if (!code) {
        throw new PageError('Type the eight-digit code from the email.');
      }
      await afterFirstFactor(await send('POST', '/auth/email/verify', { body: { email: emailed, code }, auth: false }));
    }

    /** Finishes a login that ended in a browser redirect (an emailed link): `?code=` of the URL. */
    async function exchange(code) {
      await afterFirstFactor(await send('POST', '/auth/exchange', { body: { code }, auth: false, handoff: true }));
    }

    async function finish(proof) {
      try {
        keep(await api('POST', '/auth/mfa', { body: { mfa_token: mfaToken, ...proof }, auth: false }));
      } catch (error) {
        if (error.code === 'mfa_token_invalid') {
          reset();
        }
        throw error;
      }
      reset();
      await enter();
    }

    async function withCode() {
      const typed = $('mfa-code').value;
      if (!typed.trim()) {
        throw new PageError('Type the code from your app or a recovery code, or use a passkey.');
      }
      await finish(codeField(typed));
    }

    async function withPasskey() {
      const options = await api('POST', '/auth/webauthn/options', { body: { mfa_token: mfaToken }, auth: false });
      await finish({ webauthn: await askPasskey(passkeys.get, options) });
    }

    async function passkeyAlone() {
      const options = await api('POST', '/auth/webauthn/options', { body: {}, auth: false });
      const credential = await askPasskey(passkeys.get, options);
      keep(await api('POST', '/auth/webauthn', { body: { credential }, auth: false }));
      await enter();
    }

    const run = (buttonId, action) => {
      clearMessage();
      busy($(buttonId), action);
    };
    const submit = (formId, buttonId, action) =>
      $(formId).addEventListener('submit', (event) => {
        event.preventDefault();
        run(buttonId, action);
      });
    submit('login-form', 'login-submit', logIn);
    submit('mfa-form', 'mfa-submit', withCode);
    $('mfa-passkey').addEventListener('click', () => run('mfa-passkey', withPasskey));
    $('mfa-cancel').addEventListener('click', reset);
    const alone = $('passkey-login');
    if (alone) {
      alone.hidden = !passkeys.supported();
      alone.addEventListener('click', () => run('passkey-login', passkeyAlone));
    }
    if ($('email-login')) {
      $('email-login').addEventListener('click', () => run('email-login', emailMe));
      submit('email-form', 'email-submit', withEmailCode);
      $('email-cancel').addEventListener('click', reset);
    }
    return { reset, exchange };
  }

  return { wire };
})();
