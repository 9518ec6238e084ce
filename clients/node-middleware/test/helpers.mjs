// What the tests share: the gatehouse that test/run.sh started, accounts on it, the emails it
// wrote to its log, apps listening on a free port, more gatehouse servers of a test's own (to
// switch their signing algorithm), and an issuer of the tests' own that signs whatever claims
// a test needs with keys it made.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { SignJWT, exportJWK, generateKeyPair } from "jose";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with test/run.sh, which starts gatehouse`);
  return value;
}

export const env = {
  /** The base URL of the gatehouse test/run.sh started: its issuer. */
  get base() {
    return required("GATEHOUSE_MW_BASE");
  },
  get port() {
    return new URL(env.base).port;
  },
  get adminEmail() {
    return required("GATEHOUSE_MW_ADMIN_EMAIL");
  },
  get adminPassword() {
    return required("GATEHOUSE_MW_ADMIN_PASSWORD");
  },
  /** gatehouse's log, JSON lines (emails are written there). */
  get log() {
    return required("GATEHOUSE_MW_LOG");
  },
  /** The gatehouse binary, for the tests that run servers of their own. */
  get bin() {
    return required("GATEHOUSE_MW_BIN");
  },
};

/** A unique address, so that the tests never meet each other's accounts. */
export function freshEmail(label) {
  return `${label}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}@example.com`;
}

/** A password gatehouse accepts: long, not common, not containing the address. */
export function freshPassword() {
  return `amber ${randomBytes(6).toString("hex")} lantern orchard`;
}

/** A JSON request to gatehouse: `{ status, body }`. */
export async function call(method, path, { base = env.base, token, body } = {}) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** `POST /auth`: the token pair. */
export async function logIn(email, password, base = env.base) {
  const { status, body } = await call("POST", "/auth", { base, body: { email, password } });
  assert.equal(status, 200, `login of ${email}: ${JSON.stringify(body)}`);
  return body;
}

/** A fresh access token of the bootstrap admin (access tokens live 3 s in these tests). */
export async function adminToken() {
  return (await logIn(env.adminEmail, env.adminPassword)).access_token;
}

/** An active account made by the admin (`POST /admin/users`), with `app_data` when given. */
export async function adminMadeAccount(label, appData) {
  const email = freshEmail(label);
  const password = freshPassword();
  const body = { email, password };
  if (appData) body.app_data = appData;
  const made = await call("POST", "/admin/users", { token: await adminToken(), body });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return { account: made.body, email, password };
}

/** An account that signed up (`POST /user`) and followed the activation link gatehouse logged. */
export async function signedUpAccount(label) {
  const email = freshEmail(label);
  const password = freshPassword();
  const made = await call("POST", "/user", { body: { email, password } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const link = await emailedLink(email, "activation");
  const activated = await call("POST", "/activate", { body: { token: link.searchParams.get("token") } });
  assert.equal(activated.status, 200, JSON.stringify(activated.body));
  return { account: made.body, email, password };
}

/**
 * The link of the last email of a kind (`activation`) that gatehouse wrote to its log for an
 * address: without a mail server it writes each email there. Waits up to 10 s for the outbox.
 */
export async function emailedLink(to, kind) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let link;
    for (const line of (await readFile(env.log, "utf8")).split("\n")) {
      if (!line.startsWith("{")) continue;
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.to !== to || entry.kind !== kind || typeof entry.message !== "string") continue;
      const found = /^(https?:\/\/\S+\?token=\S+)$/m.exec(entry.message);
      if (found) link = new URL(found[1]);
    }
    if (link) return link;
    if (Date.now() > deadline) throw new Error(`no ${kind} email to ${to} in ${env.log}`);
    await sleep(200);
  }
}

/** The claims of a JWT, unverified. */
export function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** The header of a JWT, unverified. */
export function headerOf(token) {
  return JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString("utf8"));
}

/** Waits until a token is past its `exp` by more than `tolerance` seconds. */
export async function untilExpired(token, tolerance = 0) {
  const wait = (claimsOf(token).exp + tolerance + 1) * 1000 + 100 - Date.now();
  if (wait > 0) await sleep(wait);
}

/** The TOTP code (RFC 6238: HMAC-SHA1, 30 s, 6 digits) of a base32 secret at a time. */
export function totp(secret, atMillis = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMillis / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return ((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).toString().padStart(6, "0");
}

/** A fetch that records the path of every request it passes on, to count gatehouse's fetches. */
export function countingFetch() {
  const paths = [];
  const counted = (input, init) => {
    paths.push(new URL(String(input)).pathname);
    return fetch(input, init);
  };
  return {
    fetch: counted,
    paths,
    count: (path) => paths.filter((p) => p === path).length,
  };
}

/** Starts a `node:http` server on a free port of 127.0.0.1: `{ url, close }`. */
export async function listen(listener) {
  const server = createServer(listener);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A GET of an app under test: `{ status, headers, body }` (the body parsed when it is JSON). */
export async function get(url, authorization) {
  const response = await fetch(url, { headers: authorization === undefined ? {} : { authorization } });
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  return { status: response.status, headers: response.headers, body: type.includes("json") && text ? JSON.parse(text) : text };
}

/** Asserts a refusal of gatehouse's shape: status, problem+json body, `code`, `WWW-Authenticate` on a 401. */
export function assertProblem(answer, status, code, detail) {
  assert.equal(answer.status, status, `expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  assert.match(answer.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.deepEqual(Object.keys(answer.body).sort(), ["code", "detail", "status", "title", "type"]);
  assert.equal(answer.body.type, `urn:gatehouse:problem:${code}`);
  assert.equal(answer.body.status, status);
  assert.equal(answer.body.code, code);
  assert.equal(typeof answer.body.title, "string");
  if (detail) assert.match(answer.body.detail, detail);
  if (status === 401) assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer\b/);
  else assert.equal(answer.headers.get("www-authenticate"), null);
}

/** A free TCP port of 127.0.0.1. */
export async function freePort() {
  const { server, close } = await listen(() => {});
  const { port } = server.address();
  await close();
  return port;
}

/**
 * A gatehouse of a test's own: a fresh SQLite database in a temporary directory, a bootstrap
 * admin, restartable with other settings on the same database and port. `stop()` sends SIGTERM
 * and requires exit status 0.
 */
export async function ownGatehouse(label) {
  const dir = await mkdtemp(join(tmpdir(), `gatehouse-mw-${label}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const admin = { email: "admin@example.com", password: freshPassword() };
  let child;
  let exited;
  let output = "";

  const environment = (extra) => {
    const vars = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)/.test(name)));
    return {
      ...vars,
      GATEHOUSE_BIND: `127.0.0.1:${port}`,
      GATEHOUSE_PUBLIC_URL: base,
      GATEHOUSE_DATABASE_URL: `sqlite://${join(dir, "gatehouse.db")}`,
      GATEHOUSE_ADMIN_EMAIL: admin.email,
      GATEHOUSE_ADMIN_PASSWORD: admin.password,
      GATEHOUSE_LOG: "warn",
      ...extra,
    };
  };

  const self = {
    base,
    admin,
    /** Starts `gatehouse serve` with these settings added, and waits for /healthz. */
    async start(extra = {}) {
      output = "";
      child = spawn(env.bin, ["serve"], { cwd: dir, env: environment(extra), stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`gatehouse exited at start:\n${output}`);
        try {
          if ((await fetch(`${base}/healthz`)).status === 200) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`gatehouse did not answer /healthz within 30 s:\n${output}`);
        await sleep(100);
      }
    },
    /** `gatehouse ARGS…` on the same database (a CLI command), with `input` on stdin. */
    async cli(args, input = "", extra = {}) {
      const run = spawn(env.bin, args, { cwd: dir, env: environment(extra), stdio: ["pipe", "pipe", "pipe"] });
      let text = "";
      run.stdout.on("data", (chunk) => (text += chunk));
      run.stderr.on("data", (chunk) => (text += chunk));
      run.stdin.end(input);
      const code = await new Promise((resolve) => run.once("exit", resolve));
      assert.equal(code, 0, `gatehouse ${args.join(" ")}:\n${text}`);
      return text;
    },
    /** SIGTERM; gatehouse must exit 0 within 15 s. */
    async stop() {
      if (!child || child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const { code, signal } = await exited;
      clearTimeout(timer);
      assert.equal(signal, null, `gatehouse was killed (${signal}) instead of stopping on SIGTERM:\n${output}`);
      assert.equal(code, 0, `gatehouse exited with ${code} on SIGTERM:\n${output}`);
    },
    async remove() {
      if (child && child.exitCode === null) child.kill("SIGKILL");
      if (process.env.GATEHOUSE_E2E_KEEP !== "1") await rm(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/**
 * An issuer of the tests' own: a discovery document and a JWKS with an EdDSA, an ES256 and an
 * RS256 key, a key without `alg` and an HMAC key, and `GET /user` that answers 401 for the
 * sessions in `ended`. `sign(claims, { key, header })` makes tokens of any shape.
 */
export async function fakeIssuer() {
  const keys = {};
  for (const alg of ["EdDSA", "ES256", "RS256"]) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    keys[alg] = { kid: `test-${alg.toLowerCase()}`, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `test-${alg.toLowerCase()}`, alg, use: "sig" } };
  }
  const noAlg = await generateKeyPair("EdDSA", { extractable: true });
  keys.noAlg = { kid: "test-no-alg", alg: "EdDSA", privateKey: noAlg.privateKey, jwk: { ...(await exportJWK(noAlg.publicKey)), kid: "test-no-alg" } };
  const secret = randomBytes(32);
  keys.hmac = { kid: "test-hmac", alg: "HS256", privateKey: secret, jwk: { kty: "oct", k: secret.toString("base64url"), kid: "test-hmac", alg: "HS256" } };

  const ended = new Set();
  let userStatus = undefined;
  const fetches = [];
  const { url, close } = await listen((req, res) => {
    fetches.push(req.url);
    const json = (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/.well-known/openid-configuration") return json(200, { issuer: url, jwks_uri: `${url}/jwks` });
    if (req.url === "/jwks") return json(200, { keys: Object.values(keys).map((key) => key.jwk) });
    if (req.url === "/user") {
      if (userStatus) return json(userStatus, {});
      const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
      const sid = claimsOf(token).sid;
      return ended.has(sid) ? json(401, { code: "unauthorized" }) : json(200, { id: claimsOf(token).sub, email: "live@example.com" });
    }
    json(404, {});
  });

  return {
    url,
    keys,
    ended,
    fetches,
    close,
    /** `GET /user` answers this status whatever the token, until set back to `undefined`. */
    set userStatus(status) {
      userStatus = status;
    },
    /** The claims of a valid token of this issuer, for a test to change. */
    claims(extra = {}) {
      const now = Math.floor(Date.now() / 1000);
      return {
        iss: url,
        sub: "01930000-0000-7000-8000-000000000001",
        aud: url,
        sid: `01930000-0000-7000-8000-${randomBytes(6).toString("hex")}`,
        iat: now,
        exp: now + 300,
        jti: randomBytes(8).toString("hex"),
        email: "ann@example.com",
        role: "user",
        app_data: { plan: "pro" },
        amr: ["pwd"],
        aal: 1,
        ...extra,
      };
    },
    /** Signs claims with a key (EdDSA by default), `typ: "JWT"` and its `kid` unless `header` says otherwise. */
    async sign(claims, { key = "EdDSA", header = {} } = {}) {
      const k = keys[key];
      const protectedHeader = { alg: k.alg, kid: k.kid, typ: "JWT", ...header };
      for (const name of Object.keys(protectedHeader)) if (protectedHeader[name] === undefined) delete protectedHeader[name];
      return new SignJWT(claims).setProtectedHeader(protectedHeader).sign(k.privateKey);
    },
  };
}

/** A token of a JSON header and claims with a given signature part: for `alg: none` and other forgeries. */
export function rawToken(header, claims, signature = "") {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part(header)}.${part(claims)}.${signature}`;
}

/** The HMAC-SHA256 signature of a token's first two parts with a secret, as an HS256 forgery would make it. */
export function hs256(header, claims, secret) {
  const unsigned = rawToken(header, claims).slice(0, -1);
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
