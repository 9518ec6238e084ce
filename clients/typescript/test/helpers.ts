// What the tests share: the gatehouse that test/run.sh started, an admin, fresh accounts, a
// fetch that counts requests, TOTP codes, the emails gatehouse wrote to its log, and the
// assertions of a failed call and of a login's answer.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

import { Gatehouse, GatehouseError, MfaRequired, type Account, type TokenPair } from "gatehouse-client";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with test/run.sh, which starts gatehouse`);
  return value;
}

export const env = {
  get base(): string {
    return required("GATEHOUSE_TS_BASE");
  },
  get adminEmail(): string {
    return required("GATEHOUSE_TS_ADMIN_EMAIL");
  },
  get adminPassword(): string {
    return required("GATEHOUSE_TS_ADMIN_PASSWORD");
  },
  /** gatehouse's log, JSON lines (emails are written there). */
  get log(): string {
    return required("GATEHOUSE_TS_LOG");
  },
};

/** A unique address, so that the tests never meet each other's accounts. */
export function freshEmail(label: string): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}@example.com`;
}

/** A password gatehouse accepts: long, not common, not containing the address. */
export function freshPassword(): string {
  return `amber ${randomBytes(6).toString("hex")} lantern orchard`;
}

export interface Call {
  method: string;
  path: string;
  status: number;
  authorization: string | null;
}

/** A fetch that records every request it passes on, for counting refreshes. */
export function countingFetch() {
  const calls: Call[] = [];
  const fetchAndCount: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const headers = new Headers(init?.headers);
    calls.push({
      method: init?.method ?? "GET",
      path: new URL(String(input)).pathname,
      status: response.status,
      authorization: headers.get("authorization"),
    });
    return response;
  };
  return {
    fetch: fetchAndCount,
    calls,
    refreshes: () => calls.filter((call) => call.path === "/auth/refresh").length,
    reset: () => void calls.splice(0),
  };
}

let adminClient: Promise<Gatehouse> | undefined;

/** A client logged in as the bootstrap admin (it refreshes by itself like any other). */
export function admin(): Promise<Gatehouse> {
  adminClient ??= (async () => {
    const client = new Gatehouse({ baseUrl: env.base });
    const result = await client.logIn({ email: env.adminEmail, password: env.adminPassword });
    if (!("access_token" in result)) throw new Error("the bootstrap admin has a second factor");
    return client;
  })();
  return adminClient;
}

/** An active account made by the admin (`POST /admin/users`), with its password. */
export async function activeAccount(label: string): Promise<{ account: Account; email: string; password: string }> {
  const email = freshEmail(label);
  const password = freshPassword();
  const account = await (await admin()).request<Account>("POST", "/admin/users", { email, password });
  return { account, email, password };
}

/** The claims of a JWT, unverified (to read `exp` in the tests). */
export function claimsOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT");
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** Waits until gatehouse refuses the token as expired: past its `exp`, at a whole-second clock. */
export async function untilExpired(accessToken: string): Promise<void> {
  const exp = Number(claimsOf(accessToken).exp);
  const wait = (exp + 1) * 1000 + 100 - Date.now();
  if (wait > 0) await sleep(wait);
}

/** The TOTP code (RFC 6238: HMAC-SHA1, 30 s, 6 digits) of a base32 secret at a time. */
export function totp(secret: string, atMillis = Date.now()): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${char}`);
    bits += value.toString(2).padStart(5, "0");
  }
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMillis / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const number = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return number.toString().padStart(6, "0");
}

/**
 * The link of the last email of a kind (`activation`, `password_reset`, `invitation`) that gatehouse wrote to
 * its log for an address: without a mail server it writes each email there. Waits up to 10 s for
 * the outbox worker.
 */
export async function emailedLink(to: string, kind: string): Promise<URL> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lines = (await readFile(env.log, "utf8")).split("\n");
    let link: URL | undefined;
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (entry.to !== to || entry.kind !== kind || typeof entry.message !== "string") continue;
      const found = /^(https?:\/\/\S+\?token=\S+)$/m.exec(entry.message);
      if (found?.[1]) link = new URL(found[1]);
    }
    if (link) return link;
    if (Date.now() > deadline) throw new Error(`no ${kind} email to ${to} in ${env.log}`);
    await sleep(200);
  }
}

/** The GatehouseError a call fails with (and fails the test when it succeeds or fails otherwise). */
export async function failure(call: Promise<unknown>): Promise<GatehouseError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/** The token pair of a login (and fails the test when it asks for a second factor). */
export function tokens(result: TokenPair | MfaRequired): TokenPair {
  assert.ok(!(result instanceof MfaRequired), "expected a token pair, got mfa_required");
  return result;
}
