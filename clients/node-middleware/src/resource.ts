/**
 * The API as a protected resource of gatehouse (RFC 8707, RFC 9728): its URL in the one
 * spelling gatehouse writes in `aud`, where its metadata is, and the metadata document itself.
 */

import { quote } from "./errors.js";

/** What the `resource` options name: an API listed in gatehouse's `GATEHOUSE_RESOURCES`. */
export interface ProtectedResource {
  /** The resource's URL in canonical form: as gatehouse writes it in `aud`. */
  readonly url: string;
  /** RFC 9728's metadata URL: the well-known name inserted before the resource's path. */
  readonly metadataUrl: string;
  /** The path of `metadataUrl`, which the app answers (`resourceMetadata` of each entry point). */
  readonly metadataPath: string;
  /** The scopes it supports (`resourceScopes`), for the metadata and the challenges. */
  readonly scopes: readonly string[] | undefined;
  /** Its name for people (`resourceName`), for the metadata. */
  readonly name: string | undefined;
}

/** The metadata document of a protected resource (RFC 9728 section 2). */
export interface ResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: ["header"];
  resource_name?: string;
}

const WELL_KNOWN = "/.well-known/oauth-protected-resource";
const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/**
 * The one spelling of a resource URL, gatehouse's: lower-case scheme and host (IDNA), no
 * default port, no trailing slash but the root's (`https://MCP.example.com:443` is
 * `https://mcp.example.com/`). `https`, or `http` on a loopback address; no user, query or
 * fragment. Throws a `TypeError` for anything else.
 */
export function canonicalResource(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new TypeError(`gatehouse-middleware: the resource ${quote(text)} is not an absolute URL`);
  }
  const usable =
    url.host !== "" &&
    (url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname))) &&
    url.username === "" &&
    url.password === "" &&
    !url.href.includes("?") &&
    !url.href.includes("#");
  if (!usable) {
    throw new TypeError(
      `gatehouse-middleware: the resource ${quote(text)}: write an https URL (http only on a loopback address) without user, query or fragment`,
    );
  }
  // The URL parser has lowered the scheme and host, put the host in IDNA form, dropped a
  // default port and resolved dot segments already.
  return `${url.origin}${url.pathname.replace(/\/+$/, "") || "/"}`;
}

/** Whether a token's `aud` (a string or a list) names the resource, in any spelling. */
export function audienceHolds(aud: unknown, resource: string): boolean {
  const audiences = Array.isArray(aud) ? aud : [aud];
  return audiences.some((audience) => {
    if (typeof audience !== "string") return false;
    try {
      return canonicalResource(audience) === resource;
    } catch {
      return false;
    }
  });
}

/** The resource of the options, checked; `undefined` when they name none. */
export function protectedResource(options: { resource?: string; resourceScopes?: string[]; resourceName?: string }): ProtectedResource | undefined {
  const { resource, resourceScopes, resourceName } = options;
  if (resource === undefined) {
    if (resourceScopes !== undefined || resourceName !== undefined) {
      throw new TypeError("gatehouse-middleware: resourceScopes and resourceName describe a resource: set resource too");
    }
    return undefined;
  }
  if (typeof resource !== "string") {
    throw new TypeError(`gatehouse-middleware: resource is the API's URL as GATEHOUSE_RESOURCES lists it (got ${quote(resource)})`);
  }
  const url = canonicalResource(resource);
  const { origin, pathname } = new URL(url);
  const metadataUrl = `${origin}${WELL_KNOWN}${pathname.replace(/\/+$/, "")}`;
  if (resourceName !== undefined && (typeof resourceName !== "string" || resourceName === "")) {
    throw new TypeError(`gatehouse-middleware: resourceName is a name for people (got ${quote(resourceName)})`);
  }
  return {
    url,
    metadataUrl,
    metadataPath: new URL(metadataUrl).pathname,
    scopes: resourceScopes === undefined ? undefined : scopeList(resourceScopes, "resourceScopes"),
    name: resourceName,
  };
}

/** A list of scopes of the options, checked: each a scope-token that can travel in a challenge. */
export function scopeList(scopes: unknown, name: string): string[] {
  if (!Array.isArray(scopes) || scopes.some((scope) => typeof scope !== "string" || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope))) {
    throw new TypeError(`gatehouse-middleware: ${name} is a list of scopes such as ['mcp:tools'] (got ${quote(scopes)})`);
  }
  return [...(scopes as string[])];
}

/** The resource's metadata document, naming gatehouse as its authorization server. */
export function metadataDocument(resource: ProtectedResource, issuer: string): ResourceMetadata {
  return {
    resource: resource.url,
    authorization_servers: [issuer],
    ...(resource.scopes === undefined ? {} : { scopes_supported: [...resource.scopes] }),
    bearer_methods_supported: ["header"],
    ...(resource.name === undefined ? {} : { resource_name: resource.name }),
  };
}

/** The headers of the metadata's answer: JSON, cacheable for a minute, as gatehouse serves it. */
export const METADATA_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json",
  "cache-control": "public, max-age=60",
};
