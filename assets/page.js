// What gatehouse's pages (the admin console, the account page) share: the message area, the
// JSON API with the page's tokens, and small DOM helpers. Pages build their content with DOM
// calls and textContent, never by parsing markup, so that no value from the API is ever read
// as HTML.
//
// The access token lives in memory only; the refresh token in sessionStorage, so that a reload
// of the tab stays logged in (a 401 is answered by one refresh and one retry). A change the
// server refuses until the person confirms it is them (403 `reauthentication_required`) is
// answered by the page's "Confirm it is you" form and one retry (`stepUp`).
'use strict';

window.gatehousePage = (() => {
  const $ = (id) => document.getElementById(id);

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
      this.problem = problem || {};
      this.code = this.problem.code;
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

  /** Something the browser refused or the page checked itself: not an answer of gatehouse. */
  class PageError extends Error {}

  /** An action the person called off (a step-up they cancelled): it is reported by whoever
   *  called it off, never as an error. */
  class Cancelled extends Error {}

  function fail(error) {
    if (error instanceof Cancelled) {
      return;
    }
    if (error instanceof ApiError || error instanceof PageError) {
      say(error.message, 'error');
    } else {
      say(`Could not reach gatehouse: ${error && error.message ? error.message : error}`, 'error');
    }
  }

  // ---------------------------------------------------------------------------------------
  // The API

  /** The problem document of an answer, read from a copy so that the answer stays unread. */
  async function problemOf(response) {
    const type = response.headers.get('content-type') || '';
    return type.includes('json') ? response.clone().json().catch(() => null) : null;
  }

  /**
   * The API as one page calls it: its refresh token under `refreshKey` in sessionStorage;
   * `onEnded` runs when the session is over (a 401 that a refresh did not cure).
   */
  function apiClient(refreshKey, onEnded) {
    const tokens = { access: null, refreshing: null };
    /** Set by `stepUp`: asks the person to confirm it is them; settles once they have. */
    let confirmStepUp = null;

    /**
     * `handoff`: the request carries and keeps this browser's cookies (`same-origin`). Only the
     * start and the exchange of a browser login need them: its hand-off code is bound to the
     * browser's `gatehouse_handoff` cookie. Nothing else is authenticated by a cookie.
     */
    function send(method, path, { body, contentType, auth = true, handoff = false } = {}) {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) {
        headers['Content-Type'] = contentType || 'application/json';
      }
      if (auth && tokens.access) {
        headers.Authorization = `Bearer ${tokens.access}`;
      }
      return fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: handoff ? 'same-origin' : 'omit',
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

    /**
     * Whether a 401 refuses the access token (code `unauthorized`, or no problem document), as
     * opposed to what the request offered: a wrong password or code (`invalid_credentials`,
     * `invalid_code`) says nothing about the session and must not end it.
     */
    async function tokenRefused(response) {
      if (response.status !== 401) {
        return false;
      }
      const problem = await problemOf(response);
      return !problem || !problem.code || problem.code === 'unauthorized';
    }

    /** Sends a request; an expired access token is refreshed once and the request sent again. */
    async function authorized(method, path, options) {
      const used = tokens.access;
      let response = await send(method, path, options);
      if (options.auth !== false && (await tokenRefused(response))) {
        // Another call may have refreshed the token meanwhile; otherwise spend the refresh token.
        const fresh = (tokens.access && tokens.access !== used) || (await refresh());
        if (fresh) {
          response = await send(method, path, options);
        }
        if (!fresh || (await tokenRefused(response))) {
          onEnded();
          throw new ApiError(401, { detail: 'Your session has ended; log in again.' });
        }
      }
      return response;
    }

    /**
     * Calls the API. An expired access token is refreshed once and the call retried; a change
     * refused until the person confirms it is them is sent once more after they have (when the
     * page has a step-up form, and unless `stepUp: false`), and a second refusal is the caller's
     * error like any other.
     */
    async function api(method, path, options = {}) {
      let response = await authorized(method, path, options);
      if (response.status === 403 && confirmStepUp && options.auth !== false && options.stepUp !== false) {
        const problem = await problemOf(response);
        if (problem && problem.code === 'reauthentication_required') {
          await confirmStepUp();
          response = await authorized(method, path, options);
        }
      }
      return read(response);
    }

    /** Keeps a token pair (a login, a refresh). */
    function keep(pair) {
      tokens.access = pair.access_token;
      sessionStorage.setItem(refreshKey, pair.refresh_token);
    }

    /** Forgets both tokens. */
    function forget() {
      tokens.access = null;
      sessionStorage.removeItem(refreshKey);
    }

    /** Trades the stored refresh token for a new pair; false when there is none or it failed. */
    function refresh() {
      if (!tokens.refreshing) {
        tokens.refreshing = (async () => {
          const token = sessionStorage.getItem(refreshKey);
          if (!token) {
            return false;
          }
          try {
            const response = await send('POST', '/auth/refresh', { body: { refresh_token: token }, auth: false });
            if (!response.ok) {
              forget();
              return false;
            }
            keep(await response.json());
            return true;
          } catch {
            return false;
          }
        })().finally(() => {
          tokens.refreshing = null;
        });
      }
      return tokens.refreshing;
    }

    return {
      send,
      read,
      api,
      keep,
      forget,
      refresh,
      /** A new access token for the same session (a step-up's answer). */
      replaceAccess: (token) => {
        tokens.access = token;
      },
      /** How `api` asks for a step-up (see `stepUp`): `confirm()` settles once it is done. */
      askStepUpWith: (confirm) => {
        confirmStepUp = confirm;
      },
      /**
       * After a reload of the tab: logs back in with the stored refresh token and runs `enter`;
       * without one, or when it fails, the page stays logged out (`onEnded`).
       */
      resume(enter) {
        if (sessionStorage.getItem(refreshKey) === null) {
          return;
        }
        refresh()
          .then((ok) => (ok ? enter() : onEnded()))
          .catch((error) => {
            forget();
            onEnded();
            fail(error);
          });
      },
    };
  }

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
  // Codes and passkeys, as a login and a step-up read them

  /** Six digits (a space in the middle allowed) are a code from the app; else a recovery code. */
  function codeField(typed) {
    const text = typed.trim();
    return /^[0-9]{3} ?[0-9]{3}$/.test(text) ? { code: text.replace(' ', '') } : { recovery_code: text };
  }

  /**
   * Asks the browser for a passkey answer to `options` with `use` (`get` or `create` of
   * passkey.js, which the page loads after this file); a refusal becomes a PageError.
   */
  async function askPasskey(use, options) {
    try {
      return await use(options);
    } catch (error) {
      throw new PageError(window.gatehousePasskey.describe(error));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Step-up: "Confirm it is you"

  /**
   * Wires the page's "Confirm it is you" form to `client` (an apiClient), whose `api` then
   * answers a 403 `reauthentication_required` with it: the form asks for what can confirm the
   * account (the password of an account without a second factor; with one, a code from the
   * authenticator app, a recovery code or a passkey), `POST /auth/reauthenticate` checks it, its
   * new access token replaces the old one, and the refused request is sent once more.
   *
   * The page holds the elements by id: reauth-view (hidden at first), reauth-form,
   * reauth-password-field (its label and reauth-password), reauth-code-field (its label and
   * reauth-code), reauth-submit, reauth-passkey, reauth-cancel. `covers` names what the form
   * takes the place of while it is up; `t` translates the form's sentences (English by default).
   * Returns `dismiss`, for the page to call when the session ends: the form goes, and the
   * refused action is dropped without a word.
   */
  function stepUp(client, { covers, t = (text) => text }) {
    /** The confirmation under way: its promise and how to settle it. */
    let pending = null;
    /** Where the focus was before the form took it. */
    let returnFocus = null;

    const shown = (id) => !$(id).hidden;

    /** Which of the three ways can confirm this account; all of them when the factors are unknown. */
    async function ways() {
      const passkeys = Boolean(window.gatehousePasskey && window.gatehousePasskey.supported());
      let factors;
      try {
        factors = await client.api('GET', '/mfa', { stepUp: false });
      } catch {
        return { password: true, code: true, passkey: passkeys };
      }
      const second = Boolean(factors.totp || factors.recovery_codes > 0 || factors.passkeys > 0);
      return { password: !second, code: second, passkey: passkeys && factors.passkeys > 0 };
    }

    async function open(asked) {
      const way = await ways();
      if (pending !== asked) {
        return; // dismissed meanwhile (the session ended)
      }
      returnFocus = document.activeElement;
      $('reauth-password-field').hidden = !way.password;
      $('reauth-code-field').hidden = !way.code;
      $('reauth-passkey').hidden = !way.passkey;
      $('reauth-password').value = '';
      $('reauth-code').value = '';
      $(covers).hidden = true;
      $('reauth-view').hidden = false;
      const first = way.password ? 'reauth-password' : way.code ? 'reauth-code' : 'reauth-passkey';
      $(first).focus();
    }

    /** Takes the form away; the page's view comes back. Returns the confirmation it ended. */
    function close() {
      const ended = pending;
      pending = null;
      $('reauth-password').value = '';
      $('reauth-code').value = '';
      $('reauth-view').hidden = true;
      $(covers).hidden = false;
      if (returnFocus && returnFocus.isConnected) {
        returnFocus.focus();
      }
      returnFocus = null;
      return ended;
    }

    /** Shows the form (once for calls refused together); settles when it is answered. */
    function confirm() {
      if (!pending) {
        const asked = {};
        asked.promise = new Promise((resolve, reject) => {
          asked.resolve = resolve;
          asked.reject = reject;
        });
        pending = asked;
        open(asked).catch((error) => {
          close();
          asked.reject(error);
        });
      }
      return pending.promise;
    }

    async function reauthenticate(proof) {
      let answer;
      try {
        answer = await client.api('POST', '/auth/reauthenticate', { body: proof, stepUp: false });
      } finally {
        // Typed once: a wrong password or code is not left in the field for the next try.
        $('reauth-password').value = '';
        $('reauth-code').value = '';
      }
      if (!pending) {
        return; // cancelled or dismissed meanwhile: after a logout no token may come back
      }
      client.replaceAccess(answer.access_token);
      clearMessage();
      close().resolve();
    }

    async function withForm() {
      const password = shown('reauth-password-field') ? $('reauth-password').value : '';
      const code = shown('reauth-code-field') ? $('reauth-code').value.trim() : '';
      if (!password && !code) {
        throw new PageError(t('Type your password or a code, or use a passkey.'));
      }
      await reauthenticate(code ? codeField(code) : { password });
    }

    async function withPasskey() {
      const options = await client.api('POST', '/auth/webauthn/options', { body: {}, stepUp: false });
      await reauthenticate({ webauthn: await askPasskey(window.gatehousePasskey.get, options) });
    }

    function cancel() {
      const ended = close();
      if (ended) {
        ended.reject(new Cancelled('cancelled'));
        say(t('Cancelled: that change was not made.'));
      }
    }

    function dismiss() {
      if (pending) {
        close().reject(new Cancelled('dismissed'));
      }
    }

    $('reauth-form').addEventListener('submit', (event) => {
      event.preventDefault();
      clearMessage();
      busy($('reauth-submit'), withForm);
    });
    $('reauth-passkey').addEventListener('click', () => {
      clearMessage();
      busy($('reauth-passkey'), withPasskey);
    });
    $('reauth-cancel').addEventListener('click', cancel);
    client.askStepUpWith(confirm);
    return { dismiss };
  }

  return {
    $,
    say,
    clearMessage,
    ApiError,
    PageError,
    fail,
    apiClient,
    el,
    dash,
    time,
    cell,
    placeholder,
    busy,
    codeField,
    askPasskey,
    stepUp,
  };
})();
