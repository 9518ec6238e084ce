// gatehouse's TypeScript client (gatehouse-client, clients/typescript) in a Node.js script:
// sign up, activate the account by the emailed link, log in, read the account (GET /user),
// refresh, log out. One line per step; it stops at the first step that goes wrong.
//
//   npm install ./gatehouse-client-0.1.0.tgz     (made by `npm pack` in clients/typescript)
//   GATEHOUSE_ISSUER=http://127.0.0.1:8080 LOG_FILE=gatehouse.log node quickstart.mjs
//
// gatehouse without a mail server writes each email to its log; this script reads the
// activation link there (run gatehouse with GATEHOUSE_LOG_FORMAT=json, its output going to
// LOG_FILE). A person clicks the same link in the email.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Gatehouse } from 'gatehouse-client';

const baseUrl = process.env.GATEHOUSE_ISSUER; // the "issuer" of gatehouse's discovery, spelled exactly so
const gatehouse = new Gatehouse({ baseUrl });
const email = `ann-${randomBytes(4).toString('hex')}@example.com`;
const password = `amber ${randomBytes(8).toString('hex')} lantern`;

// Sign up: a pending account, and an email with the link that activates it. signUp returns
// null where gatehouse answers every sign-up alike (GATEHOUSE_SIGNUP_CONCEAL_EXISTING=true:
// 202 and no account, so that nobody learns which addresses have one); the email comes all the
// same, and tells the owner of a taken address instead.
const account = await gatehouse.signUp({ email, password, name: 'Ann' });
console.log(account ? `signed up: ${account.email}, ${account.status}` : 'signed up: 202, no account in the answer');

// The emailed link activates the account (a person's browser opens it).
const activation = await fetch(await emailedLink(email, 'activation'));
if (!activation.ok) throw new Error(`the activation link answered ${activation.status}`);
console.log(`activated: ${email}`);

// Log in. An account with a second factor gets MfaRequired instead: finish with completeMfa.
const login = await gatehouse.logIn({ email, password });
if (!('access_token' in login)) throw new Error('the account asks for a second factor');
console.log(`logged in: an access token for ${login.expires_in} s, and a refresh token`);

// GET /user with the access token (refreshed by the client when it has expired).
const me = await gatehouse.me();
console.log(`GET /user: ${me.email}, ${me.status}`);

// Refresh by hand: the refresh token is spent for a new pair.
const refreshed = await gatehouse.refresh();
console.log(`refreshed: ${refreshed.access_token !== login.access_token ? 'a new access token' : 'the same access token'}`);

// Log out: gatehouse refuses the session's tokens from the next request on.
const { accessToken } = await gatehouse.session();
await gatehouse.logOut();
const after = await fetch(`${baseUrl}/user`, { headers: { authorization: `Bearer ${accessToken}` } });
console.log(`logged out: the last access token now gets ${after.status}`);

/** The link of the last email of `kind` to `to` in gatehouse's JSON log; waits up to 10 s. */
async function emailedLink(to, kind) {
  for (let tries = 0; tries < 50; tries += 1) {
    const emails = (await readFile(process.env.LOG_FILE, 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.to === to && entry.kind === kind);
    const link = emails.at(-1)?.message.match(/^(https?:\/\/\S+\?token=\S+)$/m)?.[1];
    if (link) return link;
    await sleep(200);
  }
  throw new Error(`no ${kind} email to ${to} in ${process.env.LOG_FILE}`);
}
