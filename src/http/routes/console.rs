//! The two pages for people: the admin console at `/admin` and the account page at `/account`
//! (second factors, passkeys, sessions). Each is one hand-written page with its script, compiled
//! into the binary (`assets/`); they share the console's style sheet and three scripts: the page
//! helpers, the passkey helper and the login forms. The hosted login page (`/login`) takes the
//! passkey helper and a script of its own from here too.
//! The pages are clients of the JSON API like any other, so they are not part of the OpenAPI
//! document. Their Content-Security-Policy allows only same-origin scripts, styles and requests:
//! nothing inline, nothing from elsewhere.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::state::AppState;

const INDEX_HTML: &str = include_str!("../../../assets/admin/index.html");
const ADMIN_JS: &str = include_str!("../../../assets/admin/admin.js");
const ADMIN_CSS: &str = include_str!("../../../assets/admin/admin.css");
const ACCOUNT_HTML: &str = include_str!("../../../assets/account/index.html");
const ACCOUNT_JS: &str = include_str!("../../../assets/account/account.js");
const ACCOUNT_CSS: &str = include_str!("../../../assets/account/account.css");
const ACCOUNT_I18N_JS: &str = include_str!("../../../assets/account/i18n.js");
const ORG_HTML: &str = include_str!("../../../assets/org/index.html");
const ORG_JS: &str = include_str!("../../../assets/org/org.js");
const ORG_CSS: &str = include_str!("../../../assets/org/org.css");
const PAGE_JS: &str = include_str!("../../../assets/page.js");
const PASSKEY_JS: &str = include_str!("../../../assets/passkey.js");
const LOGIN_JS: &str = include_str!("../../../assets/login.js");
const HOSTED_LOGIN_JS: &str = include_str!("../../../assets/hosted-login.js");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    routes()
        .route("/account", get(account_page))
        .route("/account/", get(account_page))
        .route("/account/brand.css", get(brand))
        .route("/orgs/{org}/settings", get(org_settings_page))
}

/// The account page, whose policy also lets in the operator's logo (`GATEHOUSE_LOGO_URL`).
async fn account_page(state: State<AppState>) -> Response {
    branded_page(state, ACCOUNT_HTML).await
}

/// An organization's settings page (`/orgs/{slug}/settings`), for its admins: domains, single
/// sign-on connections, SCIM tokens and `sso_required`. The page reads the slug from its path;
/// whoever may not manage the organization sees the API's refusal, as anywhere else.
async fn org_settings_page(state: State<AppState>) -> Response {
    branded_page(state, ORG_HTML).await
}

async fn branded_page(State(state): State<AppState>, html: &'static str) -> Response {
    let mut response = page(html).await;
    let logo = state.accounts.policy().texts.options().logo_url.as_ref().map(|url| url.origin().ascii_serialization());
    let policy = logo.map(|origin| CSP.replace("img-src 'self' data:", &format!("img-src 'self' data: {origin}")));
    if let Some(value) = policy.and_then(|p| HeaderValue::from_str(&p).ok()) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The account page's share of the brand: the accent colour, the product name beside its
/// heading and the logo before it.
async fn brand(State(state): State<AppState>) -> Response {
    let options = state.accounts.policy().texts.options();
    let mut css = format!(
        ":root {{ --accent: {}; }}\n.bar h1::after {{ content: \" · {}\"; font-weight: 400; }}\n",
        options.accent_color,
        css_string(&options.product_name)
    );
    if let Some(logo) = &options.logo_url {
        css.push_str(&format!(
            ".bar h1::before {{ content: \"\"; display: inline-block; width: 2rem; height: 1.5rem; \
             margin-right: .6rem; vertical-align: middle; background: url(\"{}\") no-repeat center / contain; }}\n",
            css_string(logo.as_str())
        ));
    }
    let mut response = css.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `value` inside a CSS string: quotes, backslashes and control characters escaped.
fn css_string(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '"' | '\\' => format!("\\{c}"),
            c if c.is_control() || c == '<' => format!("\\{:x} ", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// The routes need no state, so the tests can serve them alone.
fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin", get(|| page(INDEX_HTML)))
        .route("/admin/", get(|| page(INDEX_HTML)))
        .route("/admin/admin.js", get(|| script(ADMIN_JS)))
        .route("/admin/admin.css", get(|| style(ADMIN_CSS)))
        .route("/admin/page.js", get(|| script(PAGE_JS)))
        .route("/admin/passkey.js", get(|| script(PASSKEY_JS)))
        .route("/admin/login.js", get(|| script(LOGIN_JS)))
        .route("/account/account.js", get(|| script(ACCOUNT_JS)))
        .route("/account/account.css", get(|| style(ACCOUNT_CSS)))
        .route("/account/i18n.js", get(|| script(ACCOUNT_I18N_JS)))
        .route("/account/page.js", get(|| script(PAGE_JS)))
        .route("/account/passkey.js", get(|| script(PASSKEY_JS)))
        .route("/account/login.js", get(|| script(LOGIN_JS)))
        .route("/account/org.js", get(|| script(ORG_JS)))
        .route("/account/org.css", get(|| style(ORG_CSS)))
        // The hosted login page's passkey button (see `crate::http::pages`).
        .route("/login/passkey.js", get(|| script(PASSKEY_JS)))
        .route("/login/hosted.js", get(|| script(HOSTED_LOGIN_JS)))
}

async fn page(html: &'static str) -> Response {
    let mut response = asset(html, "text/html; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn script(body: &'static str) -> Response {
    asset(body, "text/javascript; charset=utf-8")
}

async fn style(body: &'static str) -> Response {
    asset(body, "text/css; charset=utf-8")
}

/// The page and its assets always come fresh (`no-cache`), so a new binary's page never meets
/// an old script; they are small.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn get_path(path: &str) -> Response {
        routes::<()>().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }

    #[test]
    fn the_csp_allows_nothing_inline_and_nothing_from_elsewhere() {
        assert!(!CSP.contains("unsafe-"), "{CSP}");
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
            assert!(CSP.contains(directive), "{directive} missing from {CSP}");
        }
        assert!(!CSP.contains('*') && !CSP.contains("http"), "{CSP}");
    }

    #[tokio::test]
    async fn each_asset_is_served_with_its_type() {
        for (path, content_type, body) in [
            ("/admin", "text/html; charset=utf-8", INDEX_HTML),
            ("/admin/", "text/html; charset=utf-8", INDEX_HTML),
            ("/admin/admin.js", "text/javascript; charset=utf-8", ADMIN_JS),
            ("/admin/admin.css", "text/css; charset=utf-8", ADMIN_CSS),
            ("/admin/page.js", "text/javascript; charset=utf-8", PAGE_JS),
            ("/admin/passkey.js", "text/javascript; charset=utf-8", PASSKEY_JS),
            ("/admin/login.js", "text/javascript; charset=utf-8", LOGIN_JS),
            ("/account/account.js", "text/javascript; charset=utf-8", ACCOUNT_JS),
            ("/account/account.css", "text/css; charset=utf-8", ACCOUNT_CSS),
            ("/account/i18n.js", "text/javascript; charset=utf-8", ACCOUNT_I18N_JS),
            ("/account/page.js", "text/javascript; charset=utf-8", PAGE_JS),
            ("/account/passkey.js", "text/javascript; charset=utf-8", PASSKEY_JS),
            ("/account/login.js", "text/javascript; charset=utf-8", LOGIN_JS),
            ("/account/org.js", "text/javascript; charset=utf-8", ORG_JS),
            ("/account/org.css", "text/css; charset=utf-8", ORG_CSS),
        ] {
            let response = get_path(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type, "{path}");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            assert_eq!(bytes, body.as_bytes(), "{path}");
        }
    }

    #[tokio::test]
    async fn the_pages_carry_the_csp_and_refuse_framing() {
        for path in ["/admin"] {
            let response = get_path(path).await;
            assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CSP, "{path}");
            assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY", "{path}");
        }
    }

    #[test]
    fn a_css_string_cannot_end_early() {
        assert_eq!(css_string(r#"Acme "Cloud" \ <x>"#), r#"Acme \"Cloud\" \\ \3c x>"#);
        assert_eq!(css_string("a\nb"), "a\\a b");
    }

    #[test]
    fn the_pages_have_no_inline_script_or_style() {
        // What the CSP would block anyway: fail here, before a browser shows a broken page.
        for (name, html) in
            [("admin/index.html", INDEX_HTML), ("account/index.html", ACCOUNT_HTML), ("org/index.html", ORG_HTML)]
        {
            let html = html.to_ascii_lowercase();
            assert!(!html.contains("<style"), "inline <style> in {name}");
            assert!(!html.contains(" style="), "inline style attribute in {name}");
            let handler = html.match_indices(" on").any(|(at, _)| {
                let attribute: String = html[at + 3..].chars().take_while(char::is_ascii_alphabetic).collect();
                !attribute.is_empty() && html[at + 3 + attribute.len()..].starts_with('=')
            });
            assert!(!handler, "inline event handler in {name}");
            for script in html.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap_or_default();
                assert!(tag.contains(" src="), "inline <script> in {name}");
            }
        }
        for (name, script) in [
            ("admin.js", ADMIN_JS),
            ("account.js", ACCOUNT_JS),
            ("page.js", PAGE_JS),
            ("passkey.js", PASSKEY_JS),
            ("login.js", LOGIN_JS),
        ] {
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
                assert!(!script.contains(sink), "{name} uses {sink}: build the DOM with textContent");
            }
        }
    }
}
