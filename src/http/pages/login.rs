//! The hosted login's pages: the login form with the other ways in, the emailed link's code,
//! the second step, who is logged in, logging out, and the consent to a client app.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{error_line, page, page_posting_to, paragraph, t, t_with};

/// The other ways in that the hosted login page offers beside the password.
#[derive(Debug, Default)]
pub struct OtherWays {
    /// "Continue with {label}", and where the link leads.
    pub providers: Vec<(String, String)>,
    /// Login by an emailed link is on.
    pub email: bool,
    /// Passkeys can be used here.
    pub passkeys: bool,
    /// An organization logs its people in through its own identity provider: the page asks for
    /// the address first, and sends such addresses there.
    pub sso: bool,
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
        .map(|(label, href)| {
            let label = t_with("page-login.provider", &[("provider", label.as_str().into())]);
            format!("<p><a href=\"{}\">{}</a></p>\n", attr(href), text(&label))
        })
        .collect();
    let email = match ways.email {
        true => format!(
            "<form method=\"post\" action=\"login\">\n{hidden}\
             <label for=\"email_link\">{label}</label>\n\
             <input id=\"email_link\" name=\"email_link\" type=\"email\" autocomplete=\"email\" required>\n\
             <button type=\"submit\">{button}</button>\n</form>\n",
            label = text(&t("page-login.email-label")),
            button = text(&t("page-login.email-button")),
        ),
        false => String::new(),
    };
    let passkey = match ways.passkeys {
        true => passkey_form(&hidden, None, &t("page-login.passkey")),
        false => String::new(),
    };
    // With single sign-on somewhere, the address comes first (its identity provider may be
    // where it logs in); once given, or after an error, the whole form.
    let address_first = ways.sso && login.is_empty() && error.is_none();
    let password = match address_first {
        true => String::new(),
        false => format!(
            "<label for=\"password\">{label}</label>\n\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n",
            label = text(&t("page-login.password")),
        ),
    };
    let button = if address_first { t("page-login.continue") } else { t("page-login.button") };
    let body = format!(
        "{error}<form method=\"post\" action=\"login\">\n{hidden}\
         <label for=\"login\">{login_label}</label>\n\
         <input id=\"login\" name=\"login\" value=\"{login}\" autocomplete=\"username\" required autofocus>\n\
         {password}<button type=\"submit\">{button}</button>\n</form>\n{passkey}{providers}{email}",
        error = error_line(error),
        login = attr(login),
        login_label = text(&t("page-login.login")),
        button = text(&button),
    );
    let page = page_posting_to(status, &t("page-login.title"), body, next);
    if ways.passkeys { with_scripts(page) } else { page }
}

/// The address is its organization's: on to its identity provider's login (`login_url`, of
/// this origin), by a `Refresh` and a link rather than a redirect answering the form, because a
/// browser checks `form-action` on every redirect a form's answer starts, and the identity
/// provider is of another origin (which the page's policy names for no one).
pub fn to_identity_provider(login_url: &str) -> Response {
    let body = format!(
        "{body}<p><a href=\"{href}\">{link}</a></p>\n",
        body = paragraph(&t("page-sso-continue.body")),
        href = attr(login_url),
        link = text(&t("page-sso-continue.link")),
    );
    let mut response = page(StatusCode::OK, &t("page-sso-continue.title"), body);
    if let Ok(refresh) = HeaderValue::from_str(&format!("0; url={login_url}")) {
        response.headers_mut().insert(HeaderName::from_static("refresh"), refresh);
    }
    response
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
         <label for=\"email_code\">{label}</label>\n\
         <input id=\"email_code\" name=\"email_code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus>\n\
         <button type=\"submit\">{button}</button>\n</form>\n",
        error = error_line(error),
        sent = paragraph(&t("page-link-sent.body")),
        hidden = hidden_fields(form, next),
        email = attr(email),
        label = text(&t("page-link-sent.code")),
        button = text(&t("page-link-sent.button")),
    );
    page_posting_to(status, &t("page-link-sent.title"), body, next)
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
        true => passkey_form(&hidden, Some(mfa_token), &t("page-second-factor.passkey")),
        false => String::new(),
    };
    let offered = if passkey { "<input type=\"hidden\" name=\"with_passkey\" value=\"1\">\n" } else { "" };
    let body = format!(
        "{error}{with_passkey}<form method=\"post\" action=\"login\">\n{hidden}{offered}\
         <input type=\"hidden\" name=\"mfa_token\" value=\"{mfa_token}\">\n\
         <label for=\"code\">{label}</label>\n\
         <input id=\"code\" name=\"code\" autocomplete=\"one-time-code\" required autofocus>\n\
         <button type=\"submit\">{button}</button>\n</form>\n",
        error = error_line(error),
        mfa_token = attr(mfa_token),
        label = text(&t("page-second-factor.code")),
        button = text(&t("page-second-factor.button")),
    );
    let page = page_posting_to(status, &t("page-second-factor.title"), body, next);
    if passkey { with_scripts(page) } else { page }
}

/// Who is signed in here, with a button to sign out.
pub fn signed_in(form: &str, who: &str) -> Response {
    let body = format!(
        "{}<form method=\"post\" action=\"logout\">\n{hidden}<button type=\"submit\">{button}</button>\n</form>\n",
        paragraph(&t_with("page-signed-in.body", &[("who", who.into())])),
        hidden = hidden_fields(form, None),
        button = text(&t("page-signed-in.button")),
    );
    page(StatusCode::OK, &t("page-signed-in.title"), body)
}

/// After the browser session ended.
pub fn signed_out(next: Option<&str>) -> Response {
    let link = next
        .map(|to| format!("<p><a href=\"{}\">{}</a></p>\n", attr(to), text(&t("page-continue"))))
        .unwrap_or_default();
    page(StatusCode::OK, &t("page-signed-out.title"), paragraph(&t("page-signed-out.body")) + &link)
}

/// What the consent page asks about.
#[derive(Debug)]
pub struct Asked<'a> {
    pub client: &'a str,
    pub scopes: &'a [String],
    /// The APIs (RFC 8707) the client would reach as the person.
    pub resources: &'a [String],
    /// The client registered itself.
    pub unverified: bool,
    /// The organization the `org` scope would tell the client of, by name.
    pub org: Option<&'a str>,
}

/// The consent page: may the client have the scopes, and reach the resources? Both buttons
/// post the request back. A client that registered itself is said to be one, with where the
/// answer goes.
pub fn consent_form(form: &str, request: &str, asked: &Asked<'_>, redirect_uri: &str) -> Response {
    let Asked { client, scopes, resources, unverified, org } = *asked;
    let warning = match unverified {
        true => {
            let app = url::Url::parse(redirect_uri).ok().and_then(|u| u.host_str().map(str::to_owned));
            let app = app.unwrap_or_else(|| redirect_uri.to_owned());
            paragraph(&t_with("page-consent.unverified", &[("client", client.into()), ("app", app.into())]))
        }
        false => String::new(),
    };
    let items: String = scopes
        .iter()
        .map(|scope| match (scope.as_str(), org) {
            ("org", Some(org)) => t_with("scope-org-named", &[("org", org.into())]),
            _ => scope_meaning(scope),
        })
        .chain(resources.iter().map(|resource| t_with("scope-resource", &[("app", resource.as_str().into())])))
        .map(|meaning| format!("<li>{}</li>\n", text(&meaning)))
        .collect();
    let body = format!(
        "{intro}<ul>\n{items}</ul>\n{warning}<form method=\"post\" action=\"consent\">\n{hidden}\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\" autofocus>{allow}</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">{deny}</button>\n</form>\n",
        intro = paragraph(&t_with("page-consent.intro", &[("client", client.into())])),
        hidden = hidden_fields(form, None),
        request = attr(request),
        allow = text(&t("page-consent.allow")),
        deny = text(&t("page-consent.deny")),
    );
    page_posting_to(StatusCode::OK, &t("page-consent.title"), body, Some(redirect_uri))
}

/// What a scope lets a client do, in words; a scope of the app's own is shown as it is.
pub(super) fn scope_meaning(scope: &str) -> String {
    match scope {
        "openid" | "profile" | "email" | "offline_access" | "app_data" | "org" => t(&format!("scope-{scope}")),
        other => other.to_owned(),
    }
}

/// An authorization request that cannot be answered at its redirect URI: shown, not sent. The
/// reason is for the app's developer, in the API's words.
pub fn oauth_refused(why: &str) -> Response {
    page(StatusCode::BAD_REQUEST, &t("page-oauth-refused.title"), paragraph(why))
}

/// Asks before ending the browser session for a client that did not prove who asks.
pub fn logout_form(form: &str, fields: &[(&str, &str)]) -> Response {
    let hidden: String = fields
        .iter()
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", attr(name), attr(value)))
        .collect();
    let body = format!(
        "{}<form method=\"post\" action=\"logout\">\n{}{hidden}<button type=\"submit\" autofocus>{button}</button>\n</form>\n",
        paragraph(&t("page-logout.body")),
        hidden_fields(form, None),
        button = text(&t("page-logout.button")),
    );
    let target = fields.iter().find(|(name, _)| *name == "post_logout_redirect_uri").map(|(_, uri)| *uri);
    page_posting_to(StatusCode::OK, &t("page-logout.title"), body, target)
}

/// Before a provider is linked to an account by a start URL (which anyone may send): whose
/// account, and which provider, with the link that goes on (`confirm`, this browser's token).
pub fn link_identity(form: &str, provider: &str, start: &str, label: &str, email: &str) -> Response {
    let mut href = url::form_urlencoded::Serializer::new(String::new());
    href.append_pair("start", start).append_pair("confirm", form);
    let args = [("provider", label.into()), ("email", email.into())];
    let body = format!(
        "{intro}{warning}<p><a class=\"button\" href=\"{provider}?{query}\">{button}</a></p>\n{decline}",
        intro = paragraph(&t_with("page-link-identity.body", &args)),
        warning = paragraph(&t_with("page-link-identity.warning", &args)),
        provider = attr(provider),
        query = attr(&href.finish()),
        button = text(&t_with("page-link-identity.button", &args)),
        decline = paragraph(&t("page-link-identity.decline")),
    );
    page(StatusCode::OK, &t_with("page-link-identity.title", &args), body)
}

/// A form that has lost its token (an old tab, or a post from another site).
pub fn form_expired() -> Response {
    let login = format!("<p><a href=\"login\">{}</a></p>\n", text(&t("page-form-expired.login")));
    page(StatusCode::FORBIDDEN, &t("page-form-expired.title"), paragraph(&t("page-form-expired.body")) + &login)
}

pub(super) fn hidden_fields(form: &str, next: Option<&str>) -> String {
    let next =
        next.map(|to| format!("<input type=\"hidden\" name=\"next\" value=\"{}\">\n", attr(to))).unwrap_or_default();
    format!("<input type=\"hidden\" name=\"form\" value=\"{}\">\n{next}", attr(form))
}
