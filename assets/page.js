// What gatehouse's pages (the admin console, the account page) share: the message area, the
// JSON API with the page's tokens, and small DOM helpers. Pages build their content with DOM
// calls and textContent, never by parsing markup, so that no value from the API is ever read
// as HTML.
//
// The access token lives in memory only; the refresh token in sessionStorage, so that a reload
// of the tab stays logged in (a 401 is answered by one refresh and one retry).
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

  function fail(error) {
    if (error instanceof ApiError || error instanceof PageError) {
      say(error.message, 'error');
    } else {
      say(`Could not reach gatehouse: ${error && error.message ? error.message : error}`, 'error');
    }
  }

  // ---------------------------------------------------------------------------------------
  // The API

  /**
   * The API as one page calls it: its refresh token under `refreshKey` in sessionStorage;
   * `onEnded` runs when the session is over (a 401 that a refresh did not cure).
   */
  function apiClient(refreshKey, onEnded) {
    const tokens = { access: null, refreshing: null };

    function send(method, path, { body, contentType, auth = true } = {}) {
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
      const used = tokens.access;
      let response = await send(method, path, options);
      if (response.status === 401 && options.auth !== false) {
        // Another call may have refreshed the token meanwhile; otherwise spend the refresh token.
        const fresh = (tokens.access && tokens.access !== used) || (await refresh());
        if (fresh) {
          response = await send(method, path, options);
        }
        if (response.status === 401) {
          onEnded();
          throw new ApiError(401, { detail: 'Your session has ended; log in again.' });
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

  return { $, say, clearMessage, ApiError, PageError, fail, apiClient, el, dash, time, cell, placeholder, busy };
})();
