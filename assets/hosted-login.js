// The hosted login page's passkey button (/login): shown only where the browser can use
// passkeys. It asks gatehouse for the request options (for the second step of a password
// login, with its mfa_token), lets the browser sign them, and posts the answer with the page's
// form, so the login ends like the others: the session cookie, then the page it was going to.
'use strict';

(() => {
  const form = document.getElementById('passkey-form');
  if (!form || !window.gatehousePasskey || !window.gatehousePasskey.supported()) {
    return;
  }
  const answer = document.getElementById('passkey');
  const error = document.getElementById('passkey-error');
  const button = form.querySelector('button');
  form.hidden = false;

  form.addEventListener('submit', async (event) => {
    if (answer.value) {
      return;
    }
    event.preventDefault();
    button.disabled = true;
    error.textContent = '';
    try {
      const mfaToken = form.elements.mfa_token ? form.elements.mfa_token.value : undefined;
      const response = await fetch('auth/webauthn/options', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(mfaToken ? { mfa_token: mfaToken } : {}),
        credentials: 'same-origin',
      });
      const options = await response.json();
      if (!response.ok) {
        throw new Error(options.detail || options.title || `gatehouse answered ${response.status}`);
      }
      answer.value = JSON.stringify(await window.gatehousePasskey.get(options));
      form.submit();
    } catch (problem) {
      error.textContent = problem instanceof Error && problem.name !== 'Error'
        ? window.gatehousePasskey.describe(problem)
        : String(problem.message || problem);
      button.disabled = false;
    }
  });
})();
