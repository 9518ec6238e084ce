// Passkeys for gatehouse's pages: turns the options gatehouse sends (WebAuthn JSON, binary
// fields base64url) into what navigator.credentials wants, and the browser's answer back into
// JSON for gatehouse. Browsers that have PublicKeyCredential.parse*OptionsFromJSON and
// credential.toJSON() do it themselves; for the others the few binary fields are converted here.
'use strict';

window.gatehousePasskey = (() => {
  function fromBase64url(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function toBase64url(buffer) {
    let binary = '';
    for (const byte of new Uint8Array(buffer)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  const withBinaryIds = (list) => (list || []).map((c) => ({ ...c, id: fromBase64url(c.id) }));

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: fromBase64url(json.challenge),
      user: { ...json.user, id: fromBase64url(json.user.id) },
      excludeCredentials: withBinaryIds(json.excludeCredentials),
    };
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return { ...json, challenge: fromBase64url(json.challenge), allowCredentials: withBinaryIds(json.allowCredentials) };
  }

  function answer(credential) {
    if (typeof credential.toJSON === 'function') {
      return credential.toJSON();
    }
    const r = credential.response;
    const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  return {
    /** Whether this browser can use passkeys at all. */
    supported: () => typeof window.PublicKeyCredential === 'function' && !!navigator.credentials,

    /** Creation options from gatehouse (`{"publicKey": …}`) → the new credential as JSON. */
    async create(options) {
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
      return answer(credential);
    },

    /** Request options from gatehouse (`{"publicKey": …}`) → the signed answer as JSON. */
    async get(options) {
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
      return answer(credential);
    },

    /** A browser's refusal (the person cancelled, or no authenticator could), as a sentence. */
    describe(error) {
      if (error && error.name === 'NotAllowedError') {
        return 'The passkey prompt was cancelled or timed out, or no passkey here could verify you.';
      }
      if (error && error.name === 'InvalidStateError') {
        return 'This device already holds a passkey for this account.';
      }
      return `The browser could not use a passkey: ${error && error.message ? error.message : error}`;
    },
  };
})();
