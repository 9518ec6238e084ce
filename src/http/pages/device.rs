//! The device grant's page (`/device`): the code's entry, the approval, and the answer.

use axum::http::StatusCode;
use axum::response::Response;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::login::{hidden_fields, scope_meaning};
use super::{error_line, page, paragraph, t, t_with};

/// Where the person types the code their device shows (or sees it filled in, after an error).
pub fn device_entry(code: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = format!(
        "{intro}{error}<form method=\"get\" action=\"device\">\n\
         <label for=\"user_code\">{label}</label>\n\
         <input id=\"user_code\" name=\"user_code\" value=\"{code}\" autocomplete=\"off\" autocapitalize=\"characters\" \
         spellcheck=\"false\" required autofocus>\n\
         <button type=\"submit\">{button}</button>\n</form>\n",
        intro = paragraph(&t("page-device.intro")),
        error = error_line(error),
        code = attr(code),
        label = text(&t("page-device.code")),
        button = text(&t("page-device.continue")),
    );
    page(status, &t("page-device.title"), body)
}

/// What the device asks for, and the person's two answers.
pub fn device_approval(form: &str, code: &str, client: &str, scopes: &[String], who: &str) -> Response {
    let items: String = scopes.iter().map(|scope| format!("<li>{}</li>\n", text(&scope_meaning(scope)))).collect();
    let body = format!(
        "{intro}<ul>\n{items}</ul>\n{check}{who}<form method=\"post\" action=\"device\">\n{hidden}\
         <input type=\"hidden\" name=\"user_code\" value=\"{code}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\">{allow}</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">{deny}</button>\n</form>\n",
        intro = paragraph(&t_with("page-device-approve.intro", &[("client", client.into())])),
        check = paragraph(&t_with("page-device-approve.check", &[("code", code.into())])),
        who = paragraph(&t_with("page-device-approve.who", &[("who", who.into())])),
        hidden = hidden_fields(form, None),
        code = attr(code),
        allow = text(&t("page-device-approve.allow")),
        deny = text(&t("page-device-approve.deny")),
    );
    page(StatusCode::OK, &t("page-device-approve.title"), body)
}

/// The answer was recorded: back to the device.
pub fn device_done(approved: bool) -> Response {
    let (title, body) = match approved {
        true => ("page-device-done.approved-title", "page-device-done.approved"),
        false => ("page-device-done.denied-title", "page-device-done.denied"),
    };
    page(StatusCode::OK, &t(title), paragraph(&t(body)))
}
