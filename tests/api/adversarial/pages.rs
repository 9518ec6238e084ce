//! gatehouse's own pages, reached by links anyone can write: what the link says is never shown
//! as gatehouse's words, and the page's policy widens to a client's origin only for a request
//! of a registered client and redirect URI.

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::spawn_app;
use crate::oauth::register;

#[tokio::test]
async fn an_error_description_in_the_address_is_never_shown() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let spoof = "Your%20account%20is%20locked.%20Call%20555-0100";
    let page = browser.get(&app.url(&format!("/login?error=identity_taken&error_description={spoof}"))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(!html.contains("555-0100") && !html.contains("locked"), "{html}");
    assert!(html.contains("That login already belongs to another account."), "the code's own sentence: {html}");
    let made_up = browser.get(&app.url("/login?error=call_555-0100_now")).await.text().await.unwrap();
    assert!(!made_up.contains("555-0100"), "{made_up}");
    assert!(made_up.contains("The login did not work."), "{made_up}");
}

#[tokio::test]
async fn the_login_page_lets_its_forms_lead_only_to_a_registered_client_s_redirect_uri() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let body = json!({"name": "App", "redirect_uris": ["https://app.example.org/cb"], "scopes": ["openid"]});
    let client = register(&app, &admin, body).await;
    let policy_of = |html_next: String| {
        let (app, browser) = (&app, Browser::new(&app));
        async move {
            let url = url::Url::parse_with_params(&app.url("/login"), [("next", html_next)]).unwrap();
            let page = browser.get(url.as_str()).await;
            page.headers()["content-security-policy"].to_str().unwrap().to_owned()
        }
    };
    let authorize = |client_id: &str, redirect: &str| {
        let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("response_type", "code");
        url.to_string()
    };
    let registered = policy_of(authorize(&client.id, "https://app.example.org/cb")).await;
    assert!(registered.contains("form-action 'self' https://app.example.org;"), "{registered}");
    for (client_id, redirect) in
        [("unknown-client", "https://evil.example/cb"), (client.id.as_str(), "https://evil.example/cb")]
    {
        let policy = policy_of(authorize(client_id, redirect)).await;
        assert!(!policy.contains("evil.example"), "{client_id} {redirect}: {policy}");
        assert!(policy.contains("form-action 'self';"), "{policy}");
    }
}
