//! The few HTML pages a person sees: the result of following an activation link, the
//! password-reset form with its result, the email-change confirmation and undo pages, the
//! hosted login (`login.rs`) and the device grant's page (`device.rs`). Each is in the language
//! the browser asks for (see [`in_language`]), wears the operator's brand, refuses framing and carries a strict
//! Content-Security-Policy that allows only its own inline style and same-origin forms.

mod device;
mod login;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use fluent_bundle::FluentValue;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use sha2::{Digest, Sha256};
use url::Url;

pub use self::device::{device_approval, device_done, device_entry};
pub use self::login::{
    Asked, OtherWays, consent_form, email_link_sent, form_expired, link_identity, login_form, logout_form,
    oauth_refused, second_factor_form, signed_in, signed_out, to_identity_provider,
};
use super::error::ApiError;
use crate::accounts::redirect::RedirectTo;
use crate::i18n::{Catalog, Locale, Options};

/// The texts and language of the pages one request may answer with.
#[derive(Clone)]
pub struct PageContext {
    pub texts: Arc<Catalog>,
    pub locale: Locale,
}

tokio::task_local! {
    static CONTEXT: PageContext;
}

/// Runs a request's handling with its pages in `context`'s language (set once per request by
/// the router's middleware, so that no handler has to pass it along).
pub async fn in_language<F: Future>(context: PageContext, handling: F) -> F::Output {
    CONTEXT.scope(context, handling).await
}

/// The built-in English texts, for a page made outside a request (tests).
fn plain() -> &'static Catalog {
    static PLAIN: OnceLock<Catalog> = OnceLock::new();
    PLAIN.get_or_init(|| Catalog::builtin(&Options::plain("gatehouse")))
}

/// `key`'s text in the request's language.
pub fn t(key: &str) -> String {
    t_with(key, &[])
}

fn t_with(key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    CONTEXT
        .try_with(|context| context.texts.text(context.locale, key, args))
        .unwrap_or_else(|_| plain().text(Locale::En, key, args))
}

/// The brand of the request's pages.
fn brand<T>(read: impl Fn(&Options) -> T) -> T {
    CONTEXT.try_with(|context| read(context.texts.options())).unwrap_or_else(|_| read(plain().options()))
}

fn lang() -> Locale {
    CONTEXT.try_with(|context| context.locale).unwrap_or(Locale::En)
}

/// Why a form was refused, in the request's language where the catalog explains the problem's
/// code, else in the API's own words.
pub fn explain(error: &ApiError) -> String {
    let key = format!("problem-{}", error.code_str());
    let explained = CONTEXT
        .try_with(|context| context.texts.lookup(context.locale, &key))
        .unwrap_or_else(|_| plain().lookup(Locale::En, &key));
    explained.unwrap_or_else(|| error.detail())
}

/// The page's own sentence for an error `code` that arrived in a URL (`?error=`), which anyone
/// may have written: a code this server answers with maps to its sentence; anything else to a
/// plain "it did not work". The code's own text is never shown.
pub fn explain_code(code: &str) -> String {
    let known = crate::http::error::Code::ALL.iter().find(|known| known.as_str() == code);
    let key = known.map_or_else(|| "page-login.failed".to_owned(), |code| format!("problem-{}", code.as_str()));
    let explained = CONTEXT
        .try_with(|context| context.texts.lookup(context.locale, &key))
        .unwrap_or_else(|_| plain().lookup(Locale::En, &key));
    explained.unwrap_or_else(|| t("page-login.failed"))
}

fn style(accent: &str) -> String {
    format!(
        "body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.4rem}}label{{display:block;margin:1rem 0 .3rem}}\
         input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}\
         button{{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;background:{accent};color:#fff;border:0;border-radius:4px}}\
         a{{color:{accent}}}.error{{color:#a00}}.logo{{max-height:3rem}}"
    )
}

/// The policy of a page with `style` inline and, when there is a logo, images from its origin.
fn csp(style: &str, logo: Option<&Url>) -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    let images = logo.map(|url| format!(" img-src {};", url.origin().ascii_serialization())).unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'sha256-{hash}';{images} form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

fn page(status: StatusCode, title: &str, body: String) -> Response {
    page_posting_to(status, title, body, None)
}

/// A page whose forms may lead (by the redirect answering them) to `target`'s origin too: a
/// browser checks `form-action` on every redirect a form's answer starts.
fn page_posting_to(status: StatusCode, title: &str, body: String, target: Option<&str>) -> Response {
    let (product, logo, accent) = brand(|o| (o.product_name.clone(), o.logo_url.clone(), o.accent_color.clone()));
    let style = style(&accent);
    let logo_tag = logo
        .as_ref()
        .map(|url| format!("<img class=\"logo\" src=\"{}\" alt=\"{}\">\n", attr(url.as_str()), attr(&product)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · {product}</title><style>{style}</style></head>\n<body>\n{logo_tag}<h1>{title}</h1>\n{body}</body></html>\n",
        lang = lang(),
        title = text(title),
        product = text(&product),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    let base = csp(&style, logo.as_ref());
    let origin = target.and_then(eventual).map(|url| url.origin().ascii_serialization());
    let policy = match origin.filter(|o| o != "null") {
        Some(origin) => base.replace("form-action 'self'", &format!("form-action 'self' {origin}")),
        None => base,
    };
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The page's own form posts then carry its origin, which the post is checked against
    // (`no-referrer`, the answers' default, makes browsers send `Origin: null`); other sites
    // still get no referrer, so the token in the page's address never leaves it.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Where a form's answer finally leads: for a login that goes on to an authorization request,
/// the client's redirect URI (a browser checks `form-action` on each redirect of the chain).
fn eventual(target: &str) -> Option<Url> {
    let url = Url::parse(target).ok()?;
    if url.path().ends_with("/oauth2/authorize") {
        let redirect = url.query_pairs().find(|(name, _)| name == "redirect_uri").map(|(_, value)| value.into_owned());
        return redirect.and_then(|r| Url::parse(&r).ok());
    }
    Some(url)
}

fn paragraph(s: &str) -> String {
    format!("<p>{}</p>\n", text(s))
}

/// A link back to the app (`GATEHOUSE_APP_URL`), when there is one.
fn back_to(app_url: Option<&Url>) -> String {
    match app_url {
        Some(url) => format!(
            "<p><a href=\"{href}\">{label}</a></p>\n",
            href = attr(url.as_str()),
            label = text(&t_with("page-continue-to", &[("app", url.host_str().unwrap_or("the app").into())])),
        ),
        None => String::new(),
    }
}

/// Sends the browser on to where the request that emailed the link asked (`303 See Other`).
pub fn see_other(to: &RedirectTo) -> Response {
    see_other_to(to.as_str())
}

/// Sends the browser on to `to` (`303 See Other`).
pub fn see_other_url(to: &Url) -> Response {
    see_other_to(to.as_str())
}

fn see_other_to(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub fn activated(email: &str, app_url: Option<&Url>) -> Response {
    let body = paragraph(&t_with("page-activated.body", &[("email", email.into())]));
    page(StatusCode::OK, &t("page-activated.title"), body + &back_to(app_url))
}

/// A page for a link that cannot be used, with the status of the matching API error; `key`
/// names the message with its `.title` and `.detail`.
pub fn link_problem(status: StatusCode, key: &str) -> Response {
    page(status, &t(&format!("{key}.title")), paragraph(&t(&format!("{key}.detail"))))
}

/// The reset form. It posts the token back with the new password (and where to go after);
/// showing it spends nothing.
pub fn reset_form(token: &str, redirect_to: Option<&RedirectTo>, error: Option<&str>, status: StatusCode) -> Response {
    let body = format!(
        "{error}<form method=\"post\" action=\"reset\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n{redirect}\
         <label for=\"new_password\">{label}</label>\n\
         <input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"1024\" required autofocus>\n\
         <button type=\"submit\">{button}</button>\n</form>\n",
        error = error_line(error),
        token = attr(token),
        redirect = hidden_redirect(redirect_to),
        label = text(&t("page-reset-form.label")),
        button = text(&t("page-reset-form.button")),
    );
    page(status, &t("page-reset-form.title"), body)
}

/// The page of an emailed login link: one button posts the token back, so that a mail scanner
/// fetching (or prefetching) the link spends nothing.
pub fn email_login_form(token: &str, redirect_to: Option<&RedirectTo>) -> Response {
    let body = format!(
        "{}<form method=\"post\" action=\"verify\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n{redirect}\
         <button type=\"submit\" autofocus>{button}</button>\n</form>\n",
        paragraph(&t("page-email-login.body")),
        token = attr(token),
        redirect = hidden_redirect(redirect_to),
        button = text(&t("page-email-login.button")),
    );
    page(StatusCode::OK, &t("page-email-login.title"), body)
}

fn hidden_redirect(redirect_to: Option<&RedirectTo>) -> String {
    redirect_to
        .map(|to| format!("<input type=\"hidden\" name=\"redirect_to\" value=\"{}\">\n", attr(to.as_str())))
        .unwrap_or_default()
}

pub fn reset_done(app_url: Option<&Url>) -> Response {
    let body = paragraph(&t("page-reset-done.body"));
    page(StatusCode::OK, &t("page-reset-done.title"), body + &back_to(app_url))
}

pub fn email_confirmed(email: &str, app_url: Option<&Url>) -> Response {
    let body = paragraph(&t_with("page-email-confirmed.body", &[("email", email.into())]));
    page(StatusCode::OK, &t("page-email-confirmed.title"), body + &back_to(app_url))
}

/// The undo page for an email change. A button posts the token back, so that a mail scanner
/// fetching the link undoes nothing.
pub fn revert_form(token: &str) -> Response {
    let body = format!(
        "{}<form method=\"post\" action=\"revert\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n\
         <button type=\"submit\">{button}</button>\n</form>\n",
        paragraph(&t("page-revert-form.body")),
        token = attr(token),
        button = text(&t("page-revert-form.button")),
    );
    page(StatusCode::OK, &t("page-revert-form.title"), body)
}

pub fn revert_done(email: &str) -> Response {
    let body = paragraph(&t_with("page-revert-done.body", &[("email", email.into())]));
    page(StatusCode::OK, &t("page-revert-done.title"), body)
}

fn error_line(error: Option<&str>) -> String {
    error.map(|e| format!("<p class=\"error\">{}</p>\n", text(e))).unwrap_or_default()
}

#[cfg(test)]
mod tests;
