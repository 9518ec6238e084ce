//! The admin console at `/admin`: one hand-written page, its script and its style sheet,
//! compiled into the binary (`assets/admin/`). The page is a client of the JSON API like any
//! other, so it is not part of the OpenAPI document. Its Content-Security-Policy allows only
//! same-origin scripts, styles and requests: nothing inline, nothing from elsewhere.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::state::AppState;

const INDEX_HTML: &str = include_str!("../../../assets/admin/index.html");
const ADMIN_JS: &str = include_str!("../../../assets/admin/admin.js");
const ADMIN_CSS: &str = include_str!("../../../assets/admin/admin.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    routes()
}

/// The routes need no state, so the tests can serve them alone.
fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/", get(index))
        .route("/admin/admin.js", get(script))
        .route("/admin/admin.css", get(style))
}

async fn index() -> Response {
    let mut response = asset(INDEX_HTML, "text/html; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn script() -> Response {
    asset(ADMIN_JS, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(ADMIN_CSS, "text/css; charset=utf-8")
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
        ] {
            let response = get_path(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type, "{path}");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            assert_eq!(bytes, body.as_bytes(), "{path}");
        }
    }

    #[tokio::test]
    async fn the_page_carries_the_csp_and_refuses_framing() {
        let response = get_path("/admin").await;
        assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        // What the CSP would block anyway: fail here, before a browser shows a broken page.
        let html = INDEX_HTML.to_ascii_lowercase();
        assert!(!html.contains("<style"), "inline <style> in index.html");
        assert!(!html.contains(" style="), "inline style attribute in index.html");
        let handler = html.match_indices(" on").any(|(at, _)| {
            let name: String = html[at + 3..].chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && html[at + 3 + name.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler in index.html");
        for script in html.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap_or_default();
            assert!(tag.contains(" src="), "inline <script> in index.html");
        }
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!ADMIN_JS.contains(sink), "admin.js uses {sink}: build the DOM with textContent");
        }
    }
}
