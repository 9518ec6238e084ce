/**
 * gatehouse-client: a small client for gatehouse's HTTP API, for browsers and any runtime with
 * a global `fetch`. No runtime dependencies.
 *
 *   const gatehouse = new Gatehouse({ baseUrl: "https://auth.example.com" });
 *   const result = await gatehouse.logIn({ email, password });
 *   if (result instanceof MfaRequired) await result.completeMfa({ code });
 *   const me = await gatehouse.me();
 *   await gatehouse.switchOrg("acme"); // the session's tokens now carry the `org` claim
 *
 * Calls that carry the access token (`request` and everything built on it) refresh the session
 * once when gatehouse refuses an expired token, and try the call again once. Concurrent calls
 * share that one refresh. Every error answer is thrown as a `GatehouseError`.
 */
import type { components } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];

/** An account, as every endpoint shows it. */
export type Account = Schemas["Account"];
/** The answer of a login, of the second step of a login and of a refresh. */
export type TokenPair = Schemas["TokenPair"];
/** An RFC 9457 problem document, gatehouse's shape of every error. */
export type Problem = Schemas["Problem"];
/** The stable machine-readable error codes. */
export type ProblemCode = Schemas["ProblemCode"];
/** One field's problem in a `validation_failed` answer. */
export type FieldProblem = Schemas["FieldProblem"];
/** The body of a sign-up. Any other top-level field is kept in the account's `data`. */
export type SignUpRequest = Schemas["SignUpRequest"] & { [field: string]: unknown };
/** A merge patch (RFC 7396) of the caller's profile. Other top-level fields go to `data`. */
export type ProfileEdit = Schemas["ProfileEdit"] & { [field: string]: unknown };
/** An organization. */
export type Org = Schemas["OrgBody"];
/** The body of a new organization: its name, and a slug (made from the name when absent). */
export type NewOrg = Schemas["CreateOrg"];
/** A change of an organization: `name`, `slug`, or `data` (replaced whole). */
export type OrgEdit = Schemas["UpdateOrg"];
/** An organization with the caller's role and permissions there. */
export type OrgStanding = Schemas["OrgStanding"];
/** A membership: the organization, the role there, what the role grants and when it began. */
export type Membership = Schemas["MembershipBody"];
/** A member of an organization, as its member list shows it. */
export type Member = Schemas["MemberBody"];
/** One page of an organization's members, in the order they joined. */
export type MemberPage = Schemas["MemberPage"];
/** An invitation to an address: what it takes, the address and the role offered. */
export type InviteRequest = Schemas["InviteBody"];
/** A pending invitation, as the organization lists it. */
export type Invitation = Schemas["InvitationBody"];
/** An invitation addressed to the caller, with the organization it comes from. */
export type MyInvitation = Schemas["MyInvitationBody"];
/** A domain an organization claims: whether it is verified, its auto-join role, and the TXT record that proves it. */
export type OrgDomain = Schemas["DomainBody"];
/** The answer of a switch of organization: the session's new access token, and its membership. */
export type OrgSwitch = Schemas["SwitchedBody"];

/**
 * What a login takes: an email address or a username, and the password; with `org` (an
 * organization's id or slug, of which the account must be a member), the session starts in that
 * organization and its access tokens carry the `org` claim.
 */
export type Credentials = (
  | { email: string; password: string }
  | { username: string; password: string }
) & { org?: string };

/** The second step of a login: a code from the authenticator app, or a recovery code. */
export type SecondFactor = { code: string } | { recoveryCode: string };

/** The tokens of a logged-in session, as a `TokenStorage` keeps them. */
export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch (this machine's clock). */
  expiresAt: number;
}

/**
 * Where the client keeps the session's tokens. Either method may return a promise (for an
 * asynchronous store); `set(null)` forgets the session.
 */
export interface TokenStorage {
  get(): StoredSession | null | Promise<StoredSession | null>;
  set(session: StoredSession | null): void | Promise<void>;
}

/** The default storage: in memory, gone with the page or the process. */
export class MemoryStorage implements TokenStorage {
  #session: StoredSession | null = null;

  get(): StoredSession | null {
    return this.#session;
  }

  set(session: StoredSession | null): void {
    this.#session = session;
  }
}

/** What `webStorage` needs of a store: `sessionStorage` and `localStorage` have it. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * A storage over a Web Storage object, e.g. `webStorage(sessionStorage)` to survive a reload of
 * the tab. Prefer memory or `sessionStorage` to `localStorage`: a refresh token there is
 * within reach of every script of the origin, for as long as the session lives.
 */
export function webStorage(store: WebStorageLike, key = "gatehouse.session"): TokenStorage {
  return {
    get() {
      const text = store.getItem(key);
      if (!text) return null;
      try {
        const value = JSON.parse(text) as Partial<StoredSession>;
        if (
          typeof value.accessToken === "string" &&
          typeof value.refreshToken === "string" &&
          typeof value.expiresAt === "number"
        ) {
          return { accessToken: value.accessToken, refreshToken: value.refreshToken, expiresAt: value.expiresAt };
        }
      } catch {
        // Not ours, or damaged: as if there were no session.
      }
      return null;
    },
    set(session) {
      if (session) store.setItem(key, JSON.stringify(session));
      else store.removeItem(key);
    },
  };
}

/**
 * An error answer of gatehouse (a problem document), or a call that got no answer
 * (`status` 0, `code` "network_error").
 */
export class GatehouseError extends Error {
  override readonly name = "GatehouseError";
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  /** The problem's stable `code` (`ProblemCode`); for an answer that is not a problem document, its OAuth `error`, or "unexpected_response". */
  readonly code: ProblemCode | (string & {});
  /** What went wrong, for a person. */
  readonly detail: string;
  /** With `validation_failed` (and `malformed_request` for missing fields): each field's problem. */
  readonly errors: FieldProblem[];
  /** Seconds to wait, from `Retry-After` (with `rate_limited` and `unavailable`). */
  readonly retryAfter: number | undefined;
  /** The whole problem document, when the answer was one. */
  readonly problem: Problem | undefined;

  constructor(init: {
    status: number;
    code: string;
    detail: string;
    errors?: FieldProblem[];
    retryAfter?: number;
    problem?: Problem;
    cause?: unknown;
  }) {
    super(init.detail, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.errors = init.errors ?? [];
    this.retryAfter = init.retryAfter;
    this.problem = init.problem;
  }

  /** Reads an error answer (its body is consumed). */
  static async fromResponse(response: Response): Promise<GatehouseError> {
    const text = await response.text().catch(() => "");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const retry = Number(response.headers.get("retry-after"));
    const retryAfter = response.headers.has("retry-after") && Number.isFinite(retry) ? retry : undefined;
    if (isRecord(body) && typeof body.code === "string") {
      const problem = body as unknown as Problem;
      return new GatehouseError({
        status: response.status,
        code: problem.code,
        detail: typeof problem.detail === "string" ? problem.detail : problem.code,
        errors: Array.isArray(problem.errors) ? problem.errors : [],
        retryAfter,
        problem,
      });
    }
    if (isRecord(body) && typeof body.error === "string") {
      return new GatehouseError({
        status: response.status,
        code: body.error,
        detail: typeof body.error_description === "string" ? body.error_description : body.error,
        retryAfter,
      });
    }
    return new GatehouseError({
      status: response.status,
      code: "unexpected_response",
      detail: `${response.status} ${response.statusText}`.trim(),
      retryAfter,
    });
  }
}

/**
 * A login whose password was right, waiting for its second factor: finish it with
 * `completeMfa` within 5 minutes.
 */
export class MfaRequired {
  readonly mfaRequired = true as const;
  /** Single use, 5 minutes, at most 5 wrong codes. */
  readonly mfaToken: string;
  /** The second factors this account can finish with: `totp`, `recovery_code`, `webauthn`. */
  readonly methods: string[];
  /** gatehouse's words for a person. */
  readonly detail: string;
  /** The organization the login named, which the second step names again (the session starts in it). */
  readonly org: string | undefined;
  readonly #client: Gatehouse;

  constructor(client: Gatehouse, problem: Pick<Problem, "detail" | "mfa_token" | "methods">, org?: string) {
    this.#client = client;
    this.mfaToken = problem.mfa_token ?? "";
    this.methods = problem.methods ?? [];
    this.detail = problem.detail;
    this.org = org;
  }

  /** Finishes the login: the session is stored, and the token pair returned. */
  completeMfa(factor: SecondFactor): Promise<TokenPair> {
    return this.#client.completeMfa(this, factor);
  }
}

export interface GatehouseOptions {
  /** gatehouse's public URL, e.g. `https://auth.example.com`. */
  baseUrl: string | URL;
  /** Where the tokens live; `MemoryStorage` by default. */
  storage?: TokenStorage;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof globalThis.fetch;
}

export interface RequestOptions {
  /** Send the access token, and refresh and retry once when it has expired (default `true`). */
  auth?: boolean;
  /** The body's content type (default `application/json`); the body is sent as JSON. */
  contentType?: string;
  /** More request headers. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** The client. One per gatehouse and per logged-in user (a page, an app, a test). */
export class Gatehouse {
  readonly baseUrl: string;
  readonly #storage: TokenStorage;
  readonly #fetch: typeof globalThis.fetch;
  #refreshing: Promise<TokenPair> | null = null;

  constructor(options: GatehouseOptions) {
    this.baseUrl = String(options.baseUrl).replace(/\/+$/, "");
    this.#storage = options.storage ?? new MemoryStorage();
    if (typeof (options.fetch ?? globalThis.fetch) !== "function") {
      throw new TypeError("gatehouse-client needs fetch: pass { fetch } where there is no global one");
    }
    // The global fetch is called on the global object (browsers refuse it otherwise).
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The stored session, or `null` when logged out. */
  async session(): Promise<StoredSession | null> {
    return await this.#storage.get();
  }

  /**
   * Signs up (`POST /user`): a pending account, and a confirmation email on its way. Returns
   * the account, or `null` where gatehouse answers every sign-up alike
   * (`GATEHOUSE_SIGNUP_CONCEAL_EXISTING`).
   */
  async signUp(input: SignUpRequest): Promise<Account | null> {
    const response = await this.#call("POST", "/user", input, null);
    if (!response.ok) throw await GatehouseError.fromResponse(response);
    return response.status === 201 ? ((await response.json()) as Account) : null;
  }

  /**
   * Logs in (`POST /auth`). Returns the token pair (the session is stored), or `MfaRequired`
   * when the account has a second factor: finish with its `completeMfa`. With `org`, the
   * session starts in that organization (`403 not_a_member` when the account is not one).
   */
  async logIn(credentials: Credentials): Promise<TokenPair | MfaRequired> {
    const response = await this.#call("POST", "/auth", credentials, null);
    if (response.ok) return await this.#keep(response);
    const error = await GatehouseError.fromResponse(response);
    if (error.code === "mfa_required" && error.problem?.mfa_token) {
      return new MfaRequired(this, error.problem, credentials.org);
    }
    throw error;
  }

  /**
   * The second step of a login (`POST /auth/mfa`): the session is stored. It starts in the
   * organization the login named (`MfaRequired.org`), or in `options.org`.
   */
  async completeMfa(challenge: MfaRequired | string, factor: SecondFactor, options: { org?: string } = {}): Promise<TokenPair> {
    const mfaToken = typeof challenge === "string" ? challenge : challenge.mfaToken;
    const org = options.org ?? (typeof challenge === "string" ? undefined : challenge.org);
    const body: Record<string, string> =
      "recoveryCode" in factor
        ? { mfa_token: mfaToken, recovery_code: factor.recoveryCode }
        : { mfa_token: mfaToken, code: factor.code };
    if (org !== undefined) body.org = org;
    const response = await this.#call("POST", "/auth/mfa", body, null);
    if (!response.ok) throw await GatehouseError.fromResponse(response);
    return await this.#keep(response);
  }

  /**
   * Spends the refresh token for a new pair (`POST /auth/refresh`). Concurrent calls share one
   * request. When gatehouse refuses the refresh token (spent, unknown, its session over) the
   * session is forgotten; a refresh that got no answer, or `429`/`5xx`, leaves it as it was.
   */
  refresh(): Promise<TokenPair> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /**
   * Logs out (`DELETE /auth`; `everywhere`: every session of the account). The stored session
   * is forgotten whatever the answer; an error other than `401` (the session had already
   * ended) is thrown after that.
   */
  async logOut(options: { everywhere?: boolean } = {}): Promise<void> {
    if (!(await this.#storage.get())) return;
    try {
      await this.request<void>("DELETE", options.everywhere ? "/auth?scope=all" : "/auth");
    } catch (error) {
      if (!(error instanceof GatehouseError && error.status === 401)) throw error;
    } finally {
      await this.#storage.set(null);
    }
  }

  /** The caller's account (`GET /user`). */
  me(): Promise<Account> {
    return this.request<Account>("GET", "/user");
  }

  /** Merge-patches the caller's profile (`PATCH /user`, RFC 7396): `null` removes a key. */
  updateMe(patch: ProfileEdit): Promise<Account> {
    return this.request<Account>("PATCH", "/user", patch, { contentType: "application/merge-patch+json" });
  }

  /**
   * Deletes the caller's account and everything of it (`DELETE /user`), and forgets the
   * session. A step-up: the login must be recent (`403 reauthentication_required` otherwise).
   */
  async deleteMe(): Promise<void> {
    await this.request<void>("DELETE", "/user");
    await this.#storage.set(null);
  }

  /**
   * Changes the password (`POST /password/change`). Logged in, every other session of the
   * account ends and this one goes on; logged out, pass `email`, and every session ends.
   */
  async changePassword(input: { currentPassword: string; newPassword: string; email?: string }): Promise<void> {
    const body: Record<string, string> = {
      current_password: input.currentPassword,
      new_password: input.newPassword,
    };
    if (input.email !== undefined) body.email = input.email;
    await this.request<void>("POST", "/password/change", body);
  }

  /** Emails a reset link (`POST /password/forgot`); the same answer whether or not the account exists. */
  async forgotPassword(email: string, options: { redirectTo?: string } = {}): Promise<void> {
    const body: Record<string, string> = { email };
    if (options.redirectTo !== undefined) body.redirect_to = options.redirectTo;
    await this.request<void>("POST", "/password/forgot", body, { auth: false });
  }

  /** Creates an organization (`POST /orgs`); the caller becomes its `owner`. */
  createOrg(input: NewOrg): Promise<Org> {
    return this.request<Org>("POST", "/orgs", input);
  }

  /** The caller's memberships (`GET /orgs`): each organization, with the caller's role and permissions. */
  async orgs(): Promise<OrgStanding[]> {
    return (await this.request<Schemas["OrgList"]>("GET", "/orgs")).orgs;
  }

  /**
   * An organization, by id or slug (`GET /orgs/{org}`), with the caller's role and permissions
   * there: `403 not_a_member` for one the caller does not belong to, `404 not_found` for none.
   */
  org(key: string): Promise<OrgStanding> {
    return this.request<OrgStanding>("GET", orgPath(key));
  }

  /** Changes an organization's name, slug or data (`PATCH /orgs/{org}`, `org:update`); `data` is replaced whole. */
  updateOrg(key: string, edit: OrgEdit): Promise<Org> {
    return this.request<Org>("PATCH", orgPath(key), edit);
  }

  /** Deletes an organization with its memberships and invitations (`DELETE /orgs/{org}`, `org:delete`). */
  async deleteOrg(key: string): Promise<void> {
    await this.request<void>("DELETE", orgPath(key));
  }

  /**
   * One page of an organization's members, in the order they joined (`GET /orgs/{org}/members`):
   * pass the answer's `next_cursor` as `cursor` for the next page (absent on the last).
   */
  orgMembers(key: string, page: { limit?: number; cursor?: string } = {}): Promise<MemberPage> {
    const query = new URLSearchParams();
    if (page.limit !== undefined) query.set("limit", String(page.limit));
    if (page.cursor !== undefined) query.set("cursor", page.cursor);
    const search = query.toString();
    return this.request<MemberPage>("GET", `${orgPath(key)}/members${search ? `?${search}` : ""}`);
  }

  /**
   * Invites an address with a role (`POST /orgs/{org}/invitations`, `members:invite`): gatehouse
   * emails it a link. Inviting an address again replaces its pending invitation; an address
   * whose account is a member already is `409 already_member`.
   */
  invite(key: string, input: InviteRequest): Promise<Invitation> {
    return this.request<Invitation>("POST", `${orgPath(key)}/invitations`, input);
  }

  /** An organization's pending invitations, newest first (`GET /orgs/{org}/invitations`, `members:invite`). */
  async orgInvitations(key: string): Promise<Invitation[]> {
    return (await this.request<Schemas["InvitationList"]>("GET", `${orgPath(key)}/invitations`)).invitations;
  }

  /** Revokes an invitation (`DELETE /orgs/{org}/invitations/{id}`, `members:invite`): its link stops working. */
  async revokeInvitation(key: string, id: string): Promise<void> {
    await this.request<void>("DELETE", `${orgPath(key)}/invitations/${encodeURIComponent(id)}`);
  }

  /** The invitations to the caller's confirmed address (`GET /invitations`; none before it is confirmed). */
  async myInvitations(): Promise<MyInvitation[]> {
    return (await this.request<Schemas["MyInvitations"]>("GET", "/invitations")).invitations;
  }

  /**
   * Accepts an invitation by the token of its emailed link (`POST /invitations/accept`): the
   * caller joins. Only the invited address, confirmed (`403 invitation_email_mismatch`), once
   * (`404 not_found` after), before it expires (`410 invitation_expired`).
   */
  acceptInvitation(token: string): Promise<Membership> {
    return this.request<Membership>("POST", "/invitations/accept", { token });
  }

  /** Accepts one of `myInvitations()` by its id (`POST /invitations/{id}/accept`), under the same rules. */
  acceptMyInvitation(id: string): Promise<Membership> {
    return this.request<Membership>("POST", `/invitations/${encodeURIComponent(id)}/accept`);
  }

  /** The domains an organization claims, by name (`GET /orgs/{org}/domains`, `org:update`). */
  async orgDomains(key: string): Promise<OrgDomain[]> {
    return (await this.request<Schemas["DomainList"]>("GET", `${orgPath(key)}/domains`)).domains;
  }

  /**
   * Claims a domain (`POST /orgs/{org}/domains`, `org:update`): publish `challenge.value` as a
   * TXT record at `challenge.name`, then call `verifyOrgDomain`. With `autoJoinRole`, accounts
   * whose confirmed address is at the verified domain join with that role at their next login.
   */
  addOrgDomain(key: string, domain: string, autoJoinRole?: string): Promise<OrgDomain> {
    const body = autoJoinRole === undefined ? { domain } : { domain, auto_join_role: autoJoinRole };
    return this.request<OrgDomain>("POST", `${orgPath(key)}/domains`, body);
  }

  /**
   * Asks gatehouse to look up the domain's TXT record (`POST /orgs/{org}/domains/{domain}/verify`):
   * `422 domain_verification_failed` until it holds the challenge, `409 domain_taken` when
   * another organization verified the domain first.
   */
  verifyOrgDomain(key: string, domain: string): Promise<OrgDomain> {
    return this.request<OrgDomain>("POST", `${orgPath(key)}/domains/${encodeURIComponent(domain)}/verify`);
  }

  /** Sets the role a domain joins accounts with, or stops it with `null` (`PATCH /orgs/{org}/domains/{domain}`). */
  setDomainAutoJoin(key: string, domain: string, role: string | null): Promise<OrgDomain> {
    return this.request<OrgDomain>("PATCH", `${orgPath(key)}/domains/${encodeURIComponent(domain)}`, {
      auto_join_role: role,
    });
  }

  /** Gives up a domain (`DELETE /orgs/{org}/domains/{domain}`); the accounts it joined stay members. */
  async removeOrgDomain(key: string, domain: string): Promise<void> {
    await this.request<void>("DELETE", `${orgPath(key)}/domains/${encodeURIComponent(domain)}`);
  }

  /**
   * Makes an organization (id or slug) the session's active one, or none with `null`
   * (`POST /auth/org`; `403 not_a_member`). gatehouse answers a new access token of the same
   * session, carrying the `org` claim or none: it is stored in place of the old one, the refresh
   * token stays, and refreshed tokens keep the organization.
   */
  async switchOrg(key: string | null): Promise<OrgSwitch> {
    const switched = await this.request<OrgSwitch>("POST", "/auth/org", { org: key });
    // Kept unless a logout or a new login has replaced the session in the meantime.
    const current = await this.#storage.get();
    const sid = sessionIdOf(switched.access_token);
    if (current && (sid === undefined || sessionIdOf(current.accessToken) === sid)) {
      await this.#storage.set({
        accessToken: switched.access_token,
        refreshToken: current.refreshToken,
        expiresAt: Date.now() + switched.expires_in * 1000,
      });
    }
    return switched;
  }

  /**
   * Any call of gatehouse's API: `body` (when given) is sent as JSON, the answer's JSON returned
   * (`undefined` for an empty one), an error answer thrown as a `GatehouseError`. With a
   * session, the access token goes along; when gatehouse refuses it (`401 unauthorized`:
   * expired), the session is refreshed once (shared with every concurrent call) and the call
   * tried again once. A refused refresh forgets the session, and the call's `401` is thrown.
   * Retrying is safe for any method: a request refused at authentication did nothing.
   */
  async request<T = unknown>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const send = (accessToken: string | null) => this.#call(method, path, body, accessToken, options);
    const response =
      options.auth === false
        ? await send(null)
        : await this.#withToken(send, async (answer) => {
            if (answer.status !== 401) return false;
            const error = await GatehouseError.fromResponse(answer.clone());
            return error.code === "unauthorized"; // not invalid_credentials, invalid_code…
          });
    if (response.ok) return await readBody<T>(response);
    throw await GatehouseError.fromResponse(response);
  }

  /**
   * `fetch` for your own API, which verifies gatehouse's access tokens (see
   * `gatehouse-client/server`): the access token goes along as `Authorization: Bearer`, and a
   * `401` answer refreshes the session once (shared with every concurrent call) and sends the
   * request again once. The answer is returned as `fetch` returns it, whatever its status;
   * after a refused refresh that is the first `401`, and the session is forgotten. A body
   * that cannot be sent twice (a stream) is not retried. Without a session, or with an
   * `Authorization` header of the caller's own, it is plain `fetch`.
   */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const retriable = !(typeof ReadableStream !== "undefined" && init.body instanceof ReadableStream);
    if (new Headers(init.headers).has("authorization")) return await this.#fetch(url, init);
    return await this.#withToken(
      (accessToken) => {
        const headers = new Headers(init.headers);
        if (accessToken) headers.set("authorization", `Bearer ${accessToken}`);
        return this.#fetch(url, { ...init, headers });
      },
      async (answer) => retriable && answer.status === 401,
    );
  }

  /**
   * Sends with the stored access token; when the answer says the token was refused, refreshes
   * (unless another call already has, since) and sends again with the new one, once.
   */
  async #withToken(
    send: (accessToken: string | null) => Promise<Response>,
    refused: (response: Response) => Promise<boolean>,
  ): Promise<Response> {
    const sent = await this.#storage.get();
    const first = await send(sent?.accessToken ?? null);
    if (!sent || !(await refused(first))) return first;

    let current = await this.#storage.get();
    if (!current) return first; // logged out meanwhile
    if (current.accessToken === sent.accessToken) {
      // No other call has refreshed since this one was sent: refresh, or join the refresh under way.
      try {
        await this.refresh();
      } catch (refreshError) {
        // A refused refresh has forgotten the session: the first answer says it best.
        if (!(await this.#storage.get())) return first;
        throw refreshError;
      }
      current = await this.#storage.get();
      if (!current) return first;
    }
    await first.body?.cancel().catch(() => undefined);
    return await send(current.accessToken);
  }

  async #refresh(): Promise<TokenPair> {
    const session = await this.#storage.get();
    if (!session) {
      throw new GatehouseError({ status: 401, code: "unauthorized", detail: "Not logged in: there is no session to refresh." });
    }
    const response = await this.#call("POST", "/auth/refresh", { refresh_token: session.refreshToken }, null);
    if (response.ok) {
      const pair = (await response.json()) as TokenPair;
      // Kept unless a logout or a new login has replaced the session in the meantime.
      const current = await this.#storage.get();
      if (current?.refreshToken === session.refreshToken) await this.#store(pair);
      return pair;
    }
    const error = await GatehouseError.fromResponse(response);
    const refused = error.status >= 400 && error.status < 500 && error.status !== 429;
    if (refused) {
      // Forget the session, unless a new login has replaced it in the meantime.
      const current = await this.#storage.get();
      if (current?.refreshToken === session.refreshToken) await this.#storage.set(null);
    }
    throw error;
  }

  /** Stores the session of a token-pair answer and returns the pair. */
  async #keep(response: Response): Promise<TokenPair> {
    const pair = (await response.json()) as TokenPair;
    await this.#store(pair);
    return pair;
  }

  async #store(pair: TokenPair): Promise<void> {
    await this.#storage.set({
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      expiresAt: Date.now() + pair.expires_in * 1000,
    });
  }

  async #call(
    method: string,
    path: string,
    body: unknown,
    accessToken: string | null,
    options: RequestOptions = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json, application/problem+json", ...options.headers };
    if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    const url = this.baseUrl + (path.startsWith("/") ? path : `/${path}`);
    try {
      return await this.#fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
      });
    } catch (cause) {
      if (isRecord(cause) && cause.name === "AbortError") throw cause;
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new GatehouseError({ status: 0, code: "network_error", detail: `No answer from ${url}: ${reason}`, cause });
    }
  }
}

/** The path of an organization, by id or slug. */
function orgPath(key: string): string {
  return `/orgs/${encodeURIComponent(key)}`;
}

/** The session (`sid`) an access token belongs to, read without verifying it; `undefined` when unreadable. */
function sessionIdOf(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const binary = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims: unknown = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return isRecord(claims) && typeof claims.sid === "string" ? claims.sid : undefined;
  } catch {
    return undefined;
  }
}

async function readBody<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!text) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  return (/[/+]json\b/i.test(type) ? JSON.parse(text) : text) as T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
