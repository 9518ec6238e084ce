//! The few HTML pages a person sees: the result of following an activation link, the
//! password-reset form with its result, and the email-change confirmation and undo pages. Each refuses framing and carries a strict
//! Content-Security-Policy that allows only its own inline style and same-origin forms.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use sha2::{Digest, Sha256};
use url::Url;

use crate::accounts::redirect::RedirectTo;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}label{display:block;margin:1rem 0 .3rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#a00}";

fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

fn page(status: StatusCode, title: &str, body: String) -> Response {
    page_posting_to(status, title, body, None)
}

/// A page whose forms may lead (by the redirect answering them) to `target`'s origin too: a
/// browser checks `form-action` on every redirect a form's answer starts.
fn page_posting_to(status: StatusCode, title: &str, body: String, target: Option<&str>) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n{body}</body></html>\n",
        title = text(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    let origin = target.and_then(eventual).map(|url| url.origin().ascii_serialization());
    let policy = match origin.filter(|o| o != "null") {
        Some(origin) => csp().replace("form-action 'self'", &format!("form-action 'self' {origin}")),
        None => csp().to_owned(),
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
            "<p><a href=\"{href}\">Continue to {name}</a></p>\n",
            href = attr(url.as_str()),
            name = text(url.host_str().unwrap_or("the app")),
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
    let body = paragraph(&format!("Thank you: {email} is confirmed and the account is ready. You can log in now."));
    page(StatusCode::OK, "Your account is active", body + &back_to(app_url))
}

/// A page for a failed link, with the status of the matching API error.
pub fn link_problem(status: StatusCode, title: &str, detail: &str) -> Response {
    page(status, title, paragraph(detail))
}

/// The reset form. It posts the token back with the new password (and where to go after);
/// showing it spends nothing.
pub fn reset_form(token: &str, redirect_to: Option<&RedirectTo>, error: Option<&str>, status: StatusCode) -> Response {
    let error = error.map(|e| format!("<p class=\"error\">{}</p>\n", text(e))).unwrap_or_default();
    let redirect = redirect_to
        .map(|to| format!("<input type=\"hidden\" name=\"redirect_to\" value=\"{}\">\n", attr(to.as_str())))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"reset\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n{redirect}\
         <label for=\"new_password\">New password (at least 8 characters)</label>\n\
         <input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"1024\" required autofocus>\n\
         <button type=\"submit\">Set new password</button>\n</form>\n",
        token = attr(token),
    );
    page(status, "Choose a new password", body)
}

/// The page of an emailed login link: one button posts the token back, so that a mail scanner
/// fetching (or prefetching) the link spends nothing.
pub fn email_login_form(token: &str, redirect_to: Option<&RedirectTo>) -> Response {
    let redirect = redirect_to
        .map(|to| format!("<input type=\"hidden\" name=\"redirect_to\" value=\"{}\">\n", attr(to.as_str())))
        .unwrap_or_default();
    let body = format!(
        "{}<form method=\"post\" action=\"verify\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n{redirect}\
         <button type=\"submit\" autofocus>Log in</button>\n</form>\n",
        paragraph("You asked for a login link. Press the button to log in on this device."),
        token = attr(token),
    );
    page(StatusCode::OK, "Log in", body)
}

pub fn reset_done(app_url: Option<&Url>) -> Response {
    let body = paragraph("You can log in with the new password now. Every session that used the old one has ended.");
    page(StatusCode::OK, "Your password has been changed", body + &back_to(app_url))
}

pub fn email_confirmed(email: &str, app_url: Option<&Url>) -> Response {
    let body = paragraph(&format!("{email} is now the address of your account. Your old address has been told."));
    page(StatusCode::OK, "Your email address has changed", body + &back_to(app_url))
}

/// The undo page for an email change. A button posts the token back, so that a mail scanner
/// fetching the link undoes nothing.
pub fn revert_form(token: &str) -> Response {
    let body = format!(
        "{}<form method=\"post\" action=\"revert\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n\
         <button type=\"submit\">Restore my old address and log out everywhere</button>\n</form>\n",
        paragraph(
            "If you did not change the email address of your account, restore the old one here. Every session will be logged out; then reset your password."
        ),
        token = attr(token),
    );
    page(StatusCode::OK, "Undo the email change", body)
}

pub fn revert_done(email: &str) -> Response {
    page(
        StatusCode::OK,
        "Your old email address is back",
        paragraph(&format!(
            "{email} is the address of your account again and every session has been logged out. Reset your password now if someone else knew it."
        )),
    )
}

/// The other ways in that the hosted login page offers beside the password.
#[derive(Debug, Default)]
pub struct OtherWays {
    /// "Continue with {label}", and where the link leads.
    pub providers: Vec<(String, String)>,
    /// Login by an emailed link is on.
    pub email: bool,
    /// Passkeys can be used here.
    pub passkeys: bool,
}

/// A form posting a passkey's answer (`passkey`), shown by the page's script only where the
/// browser can use passkeys; `mfa_token` for the second step of a password login. Without
/// scripts the page works as before, with the other ways in.
fn passkey_form(hidden: &str, mfa_token: Option<&str>, label: &str) -> String {
    let mfa = mfa_token.map_or(String::new(), |token| {
        format!("<input type=\"hidden\" name=\"mfa_token\" value=\"{}\">\n", attr(token))
    });
    format!(
        "<form method=\"post\" action=\"login\" id=\"passkey-form\" hidden>\n{hidden}{mfa}\
         <input type=\"hidden\" name=\"passkey\" id=\"passkey\">\n\
         <p class=\"error\" id=\"passkey-error\" role=\"alert\"></p>\n\
         <button type=\"submit\">{label}</button>\n</form>\n\
         <script src=\"login/passkey.js\"></script>\n<script src=\"login/hosted.js\"></script>\n",
        label = text(label),
    )
}

/// The page's policy, widened for its scripts: same-origin scripts, and requests to gatehouse
/// itself (the passkey options).
fn with_scripts(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let policy = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).map(|policy| {
        policy.replacen("default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';", 1)
    });
    if let Some(value) = policy.and_then(|p| HeaderValue::from_str(&p).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The hosted login form (`/login`). `form` is its form token, `next` where a login goes on to.
pub fn login_form(
    form: &str,
    next: Option<&str>,
    login: &str,
    error: Option<&str>,
    status: StatusCode,
    ways: &OtherWays,
) -> Response {
    let hidden = hidden_fields(form, next);
    let providers: String = ways
        .providers
        .iter()
        .map(|(label, href)| format!("<p><a href=\"{}\">Continue with {}</a></p>\n", attr(href), text(label)))
        .collect();
    let email = match ways.email {
        true => format!(
            "<form method=\"post\" action=\"login\">\n{hidden}\
             <label for=\"email_link\">Or get a link by email</label>\n\
             <input id=\"email_link\" name=\"email_link\" type=\"email\" autocomplete=\"email\" required>\n\
             <button type=\"submit\">Email me a link</button>\n</form>\n"
        ),
        false => String::new(),
    };
    let passkey = match ways.passkeys {
        true => passkey_form(&hidden, None, "Log in with a passkey"),
        false => String::new(),
    };
    let body = format!(
        "{error}<form method=\"post\" action=\"login\">\n{hidden}\
         <label for=\"login\">Email or username</label>\n\
         <input id=\"login\" name=\"login\" value=\"{login}\" autocomplete=\"username\" required autofocus>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
         <button type=\"submit\">Log in</button>\n</form>\n{passkey}{providers}{email}",
        error = error_line(error),
        login = attr(login),
    );
    let page = page_posting_to(status, "Log in", body, next);
    if ways.passkeys { with_scripts(page) } else { page }
}

/// After "Email me a link": the same words whether an account has the address or not, and a
/// form for the code the email carries beside the link.
pub fn email_link_sent(
    form: &str,
    next: Option<&str>,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = format!(
        "{error}{sent}<form method=\"post\" action=\"login\">\n{hidden}\
         <input type=\"hidden\" name=\"email\" value=\"{email}\">\n\
         <label for=\"email_code\">Or type the code from the email</label>\n\
         <input id=\"email_code\" name=\"email_code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus>\n\
         <button type=\"submit\">Log in</button>\n</form>\n",
        error = error_line(error),
        sent = paragraph("If an account has this address, a login link is on its way. Open it in this browser."),
        hidden = hidden_fields(form, next),
        email = attr(email),
    );
    page_posting_to(status, "Check your email", body, next)
}

/// The second step of a hosted login: a code from the authenticator app or a recovery code,
/// and with `passkey` (the account has one) its passkey.
pub fn second_factor_form(
    form: &str,
    next: Option<&str>,
    mfa_token: &str,
    passkey: bool,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let hidden = hidden_fields(form, next);
    let with_passkey = match passkey {
        true => passkey_form(&hidden, Some(mfa_token), "Use your passkey"),
        false => String::new(),
    };
    let offered = if passkey { "<input type=\"hidden\" name=\"with_passkey\" value=\"1\">\n" } else { "" };
    let body = format!(
        "{error}{with_passkey}<form method=\"post\" action=\"login\">\n{hidden}{offered}\
         <input type=\"hidden\" name=\"mfa_token\" value=\"{mfa_token}\">\n\
         <label for=\"code\">The code from your authenticator app, or a recovery code</label>\n\
         <input id=\"code\" name=\"code\" autocomplete=\"one-time-code\" required autofocus>\n\
         <button type=\"submit\">Continue</button>\n</form>\n",
        error = error_line(error),
        mfa_token = attr(mfa_token),
    );
    let page = page_posting_to(status, "Second factor", body, next);
    if passkey { with_scripts(page) } else { page }
}

/// Who is signed in here, with a button to sign out.
pub fn signed_in(form: &str, who: &str) -> Response {
    let body = format!(
        "{}<form method=\"post\" action=\"logout\">\n{hidden}<button type=\"submit\">Log out</button>\n</form>\n",
        paragraph(&format!("You are logged in as {who}.")),
        hidden = hidden_fields(form, None),
    );
    page(StatusCode::OK, "Logged in", body)
}

/// After the browser session ended.
pub fn signed_out(next: Option<&str>) -> Response {
    let link = next.map(|to| format!("<p><a href=\"{}\">Continue</a></p>\n", attr(to))).unwrap_or_default();
    page(StatusCode::OK, "Logged out", paragraph("You are logged out of every app that used this login.") + &link)
}

/// The consent page: may `client` have `scopes`? Both buttons post the request back.
pub fn consent_form(form: &str, request: &str, client: &str, scopes: &[String], redirect_uri: &str) -> Response {
    let items: String = scopes.iter().map(|scope| format!("<li>{}</li>\n", text(scope_meaning(scope)))).collect();
    let body = format!(
        "{intro}<ul>\n{items}</ul>\n<form method=\"post\" action=\"consent\">\n{hidden}\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\" autofocus>Allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>\n",
        intro = paragraph(&format!("{client} asks to use your account:")),
        hidden = hidden_fields(form, None),
        request = attr(request),
    );
    page_posting_to(StatusCode::OK, "Allow access?", body, Some(redirect_uri))
}

fn scope_meaning(scope: &str) -> &str {
    match scope {
        "openid" => "know who you are (your account id)",
        "profile" => "see your name and username",
        "email" => "see your email address",
        "offline_access" => "stay signed in while you are away",
        "app_data" => "see the data administrators keep on your account (plan, roles)",
        other => other,
    }
}

/// An authorization request that cannot be answered at its redirect URI: shown, not sent.
pub fn oauth_refused(why: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "This sign-in request is not valid", paragraph(why))
}

/// Asks before ending the browser session for a client that did not prove who asks.
pub fn logout_form(form: &str, fields: &[(&str, &str)]) -> Response {
    let hidden: String = fields
        .iter()
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", attr(name), attr(value)))
        .collect();
    let body = format!(
        "{}<form method=\"post\" action=\"logout\">\n{}{hidden}<button type=\"submit\" autofocus>Log out</button>\n</form>\n",
        paragraph("Log out of every app that uses this login?"),
        hidden_fields(form, None),
    );
    let target = fields.iter().find(|(name, _)| *name == "post_logout_redirect_uri").map(|(_, uri)| *uri);
    page_posting_to(StatusCode::OK, "Log out", body, target)
}

/// A form that has lost its token (an old tab, or a post from another site).
pub fn form_expired() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "This form has expired",
        paragraph("Go back, reload the page and try again.") + "<p><a href=\"login\">Log in</a></p>\n",
    )
}

fn hidden_fields(form: &str, next: Option<&str>) -> String {
    let next =
        next.map(|to| format!("<input type=\"hidden\" name=\"next\" value=\"{}\">\n", attr(to))).unwrap_or_default();
    format!("<input type=\"hidden\" name=\"form\" value=\"{}\">\n{next}", attr(form))
}

fn error_line(error: Option<&str>) -> String {
    error.map(|e| format!("<p class=\"error\">{}</p>\n", text(e))).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_refuse_framing_and_escape_their_input() {
        let response = reset_form("\"><script>x</script>", None, Some("<b>bad</b>"), StatusCode::OK);
        let headers = response.headers().clone();
        assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("<script>") && !body.contains("<b>bad"));
    }

    #[test]
    fn a_login_on_its_way_to_a_client_may_lead_to_the_client_s_origin() {
        let csp_of =
            |response: Response| response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        let next =
            "https://id.example.com/oauth2/authorize?client_id=c&redirect_uri=https%3A%2F%2Fapp.example.org%2Fcb";
        let ways = OtherWays::default();
        let policy = csp_of(login_form("f", Some(next), "", None, StatusCode::OK, &ways));
        assert!(policy.contains("form-action 'self' https://app.example.org;"), "{policy}");
        let policy = csp_of(login_form("f", Some("https://wiki.example.net/page"), "", None, StatusCode::OK, &ways));
        assert!(policy.contains("form-action 'self' https://wiki.example.net;"), "{policy}");
        assert!(csp_of(login_form("f", None, "", None, StatusCode::OK, &ways)).contains("form-action 'self';"));
    }

    #[test]
    fn the_csp_hash_matches_the_inline_style() {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        assert!(csp().contains(&hash));
        assert!(!csp().contains("unsafe-inline"));
    }
}
