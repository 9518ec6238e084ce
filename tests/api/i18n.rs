//! Emails and pages in the account's (or the browser's) language, under the operator's brand.

use gatehouse::i18n::{Catalog, Locale, Options as TextOptions};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with};

/// The built-in text of `key` in `locale`, as an app with `product` as its name says it.
fn text(locale: Locale, key: &str, product: &str) -> String {
    let options = TextOptions { product_name: product.into(), ..TextOptions::plain("https://id.example.com") };
    Catalog::builtin(&options).text(locale, key, &[])
}

async fn sign_up_asking_for(app: &TestApp, email: &str, accept_language: &str) -> Value {
    let response = app
        .client
        .post(app.url("/user"))
        .header(header::ACCEPT_LANGUAGE, accept_language)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_german_sign_up_gets_a_german_email_and_page() {
    let app = spawn_app().await;

    let account = sign_up_asking_for(&app, "jana@example.com", "de-DE,de;q=0.9,en;q=0.8").await;

    assert_eq!(account["locale"], "de");
    let email = app.smtp.nth_to("jana@example.com", 1).await;
    assert_eq!(email.subject(), "Bestätigen Sie Ihre E-Mail-Adresse");
    assert!(email.html().contains("<html lang=\"de\">"), "{}", email.html());
    let link = email.link("/activate?token=");
    assert!(email.text().lines().any(|line| line == link), "the link on a line of its own:\n{}", email.text());

    let page = app
        .client
        .get(&link)
        .header(header::ACCEPT, "text/html")
        .header(header::ACCEPT_LANGUAGE, "de")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    let title = text(Locale::De, "page-activated.title", "");
    assert!(page.contains(&format!("<h1>{title}</h1>")), "{page}");
}

#[tokio::test]
async fn the_account_s_language_is_settable_and_its_emails_follow_it() {
    let app = spawn_app().await;
    let (user, token) = app.logged_in_user("marc@example.com").await;
    assert_eq!(user["locale"], Value::Null, "a sign-up whose browser said nothing chose none");

    let changed = app.send_json(reqwest::Method::PATCH, "/user", &json!({"locale": "fr"}), Some(&token)).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.json::<Value>().await.unwrap()["locale"], "fr");
    let forgot = app.post_json("/password/forgot", &json!({"email": "marc@example.com"}), None).await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let email = app.smtp.nth_to("marc@example.com", 2).await;
    let public_url = url::Url::parse(&app.address).unwrap();
    let product = public_url.host_str().unwrap();
    assert_eq!(email.subject(), text(Locale::Fr, "password-reset.subject", product));

    // A PUT that leaves it out keeps it, as it keeps the role; `null` clears it.
    let put = json!({"name": "Marc"});
    let replaced = app.send_json(reqwest::Method::PUT, "/user", &put, Some(&token)).await;
    assert_eq!(replaced.json::<Value>().await.unwrap()["locale"], "fr");
    let cleared = app.send_json(reqwest::Method::PATCH, "/user", &json!({"locale": null}), Some(&token)).await;
    assert_eq!(cleared.json::<Value>().await.unwrap()["locale"], Value::Null);

    let refused = app.send_json(reqwest::Method::PATCH, "/user", &json!({"locale": "it"}), Some(&token)).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem.to_string().contains("locale"), "{problem}");
    let refused = app.sign_up(json!({"email": "x@example.com", "password": PASSWORD, "locale": "xx"})).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let refused = app.sign_up(json!({"email": "x@example.com", "password": PASSWORD, "locale": 7})).await;
    assert_problem(refused, StatusCode::BAD_REQUEST, "malformed_request").await;
    let named = app.sign_up(json!({"email": "y@example.com", "password": PASSWORD, "locale": "es"})).await;
    let named: Value = named.json().await.unwrap();
    assert_eq!(named["locale"], "es", "the body's choice, not kept in data");
    assert_eq!(named["data"], json!({}));
}

/// The operator's default language and brand reach an account that chose no language.
#[tokio::test]
async fn the_operator_s_default_language_and_brand_apply() {
    let app = spawn_app_with(
        Options::default()
            .var("GATEHOUSE_DEFAULT_LOCALE", "es")
            .var("GATEHOUSE_PRODUCT_NAME", "Acme Cloud")
            .var("GATEHOUSE_ACCENT_COLOR", "#C0FFEE")
            .var("GATEHOUSE_LOGO_URL", "https://cdn.acme.example/logo.svg"),
    )
    .await;

    let response = app.sign_up(json!({"email": "lu@example.com", "password": PASSWORD})).await;
    assert_eq!(response.json::<Value>().await.unwrap()["locale"], Value::Null);

    let email = app.smtp.nth_to("lu@example.com", 1).await;
    assert_eq!(email.subject(), text(Locale::Es, "activation.subject", "Acme Cloud"));
    assert!(email.text().contains("Acme Cloud"), "{}", email.text());
    assert!(email.html().contains("background:#c0ffee"), "{}", email.html());

    let page =
        app.client.get(app.url("/login")).header(header::ACCEPT_LANGUAGE, "fr-CA, es;q=0.5").send().await.unwrap();
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(policy.contains("img-src https://cdn.acme.example;"), "{policy}");
    let page = page.text().await.unwrap();
    assert!(page.contains("<html lang=\"fr\">") && page.contains("· Acme Cloud</title>"), "{page}");
    assert!(page.contains("src=\"https://cdn.acme.example/logo.svg\""), "{page}");

    // The account page: its policy lets the logo in, and its brand sheet carries the rest.
    let account = app.get("/account", None).await;
    let policy = account.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(policy.contains("img-src 'self' data: https://cdn.acme.example;"), "{policy}");
    assert!(account.text().await.unwrap().contains("href=\"/account/brand.css\""));
    let sheet = app.get("/account/brand.css", None).await.text().await.unwrap();
    assert!(sheet.contains("--accent: #c0ffee;") && sheet.contains("content: \" · Acme Cloud\""), "{sheet}");
    assert!(sheet.contains("url(\"https://cdn.acme.example/logo.svg\")"), "{sheet}");
}
