use std::sync::Arc;

use super::*;
use crate::i18n::Catalog;

async fn body_of(response: Response) -> String {
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

fn policy_of(response: &Response) -> String {
    response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn pages_refuse_framing_and_escape_their_input() {
    let response = reset_form("\"><script>x</script>", None, Some("<b>bad</b>"), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    let body = body_of(response).await;
    assert!(!body.contains("<script>") && !body.contains("<b>bad"));
}

#[test]
fn a_login_on_its_way_to_a_client_may_lead_to_the_client_s_origin() {
    let next = "https://id.example.com/oauth2/authorize?client_id=c&redirect_uri=https%3A%2F%2Fapp.example.org%2Fcb";
    let ways = OtherWays::default();
    let policy = policy_of(&login_form("f", Some(next), "", None, StatusCode::OK, &ways));
    assert!(policy.contains("form-action 'self' https://app.example.org;"), "{policy}");
    let policy = policy_of(&login_form("f", Some("https://wiki.example.net/page"), "", None, StatusCode::OK, &ways));
    assert!(policy.contains("form-action 'self' https://wiki.example.net;"), "{policy}");
    assert!(policy_of(&login_form("f", None, "", None, StatusCode::OK, &ways)).contains("form-action 'self';"));
}

#[tokio::test]
async fn the_csp_hash_matches_the_inline_style() {
    let response = signed_out(None);
    let policy = policy_of(&response);
    let body = body_of(response).await;
    let style = body.split("<style>").nth(1).and_then(|rest| rest.split("</style>").next()).unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
    assert!(!policy.contains("unsafe-inline"));
}

#[tokio::test]
async fn a_page_speaks_the_request_s_language_and_wears_the_brand() {
    let options = Options {
        product_name: "Acme <Cloud>".into(),
        logo_url: Some(Url::parse("https://cdn.acme.example/logo.png").unwrap()),
        accent_color: "#c0ffee".into(),
        ..Options::plain("https://id.acme.example")
    };
    let texts = Arc::new(Catalog::builtin(&options));
    let german = PageContext { texts: texts.clone(), locale: Locale::De };
    let response =
        in_language(german, async { login_form("f", None, "", None, StatusCode::OK, &OtherWays::default()) }).await;
    let policy = policy_of(&response);
    let body = body_of(response).await;
    assert!(body.contains("<html lang=\"de\">"), "{body}");
    assert!(body.contains(&texts.text(Locale::De, "page-login.password", &[])), "{body}");
    assert!(!body.contains(">Password<"), "{body}");
    assert!(body.contains("Acme &lt;Cloud&gt;") && body.contains("background:#c0ffee"), "{body}");
    assert!(body.contains("src=\"https://cdn.acme.example/logo.png\""), "{body}");
    assert!(policy.contains("img-src https://cdn.acme.example;"), "{policy}");
}

#[tokio::test]
async fn a_refusal_is_explained_in_the_request_s_language_where_the_catalog_can() {
    let texts = Arc::new(Catalog::builtin(&Options::plain("https://id.example.com")));
    let french = PageContext { texts: texts.clone(), locale: Locale::Fr };
    let explained = in_language(french.clone(), async { explain(&ApiError::InvalidCredentials) }).await;
    assert_eq!(explained, texts.text(Locale::Fr, "problem-invalid_credentials", &[]));
    let unexplained = in_language(french, async { explain(&ApiError::MfaAlreadyEnabled) }).await;
    assert_eq!(unexplained, ApiError::MfaAlreadyEnabled.detail());
}
