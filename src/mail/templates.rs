//! The emails gatehouse sends. Each has a plain-text part, in which the link stands on a line
//! of its own, and an HTML part.

use std::time::Duration;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

/// A rendered email, ready for the outbox.
pub struct Rendered {
    pub kind: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered").field("kind", &self.kind).field("subject", &self.subject).finish_non_exhaustive()
    }
}

fn lifetime(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    match secs {
        s if s % 86_400 == 0 && s >= 86_400 => plural(s / 86_400, "day"),
        s if s % 3_600 == 0 && s >= 3_600 => plural(s / 3_600, "hour"),
        s if s >= 60 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

fn html_page(title: &str, paragraphs: &[String], link: Option<(&str, &str)>) -> String {
    let mut body = String::new();
    for p in paragraphs {
        body.push_str(&format!("<p>{}</p>\n", text(p)));
    }
    if let Some((label, href)) = link {
        body.push_str(&format!(
            "<p><a href=\"{}\" style=\"display:inline-block;padding:10px 16px;background:#1f4f82;color:#fff;\
             text-decoration:none;border-radius:4px\">{}</a></p>\n<p style=\"font-size:12px;color:#555\">{}</p>\n",
            attr(href),
            text(label),
            text(href)
        ));
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;max-width:560px;margin:24px auto;color:#222\">\n<h2>{}</h2>\n{}</body></html>\n",
        text(title),
        text(title),
        body
    )
}

/// The confirmation email sent at sign-up and on resend.
pub fn activation(link: &str, ttl: Duration) -> Rendered {
    let valid = lifetime(ttl);
    let subject = "Confirm your email address".to_owned();
    let text = format!(
        "Welcome!\n\nTo activate your account, open this link:\n\n{link}\n\n\
         The link works once and expires in {valid}.\n\
         If you did not sign up, ignore this email; no account will be activated.\n"
    );
    let html = html_page(
        &subject,
        &[
            "Welcome! To activate your account, follow the link below.".into(),
            format!("The link works once and expires in {valid}. If you did not sign up, ignore this email."),
        ],
        Some(("Activate my account", link)),
    );
    Rendered { kind: "activation", subject, text, html }
}

/// The confirmation email of an account made through a provider whose word on the address
/// was not enough: confirming lets that login in.
pub fn activation_through(link: &str, ttl: Duration, provider: &str, address_there: Option<&str>) -> Rendered {
    let valid = lifetime(ttl);
    let subject = "Confirm your email address".to_owned();
    let who = match address_there {
        Some(address) => format!("the {provider} account {address}"),
        None => format!("a {provider} account"),
    };
    let lines = [
        format!("An account was just made with this address by logging in with {who}."),
        format!(
            "If that was you, confirm your address: the link works once and expires in {valid}. Confirming lets that {provider} account log in to it."
        ),
        "If it was not you, ignore this email: the account stays inactive. You can still sign up yourself, or use \"forgot password\", which unlinks that login.".to_owned(),
    ];
    let text = format!("{}\n\n{}\n\n{link}\n\n{}\n", lines[0], lines[1], lines[2]);
    let html = html_page(&subject, &lines, Some(("Confirm my address", link)));
    Rendered { kind: "activation", subject, text, html }
}

/// The password-reset email.
pub fn password_reset(link: &str, ttl: Duration) -> Rendered {
    let valid = lifetime(ttl);
    let subject = "Reset your password".to_owned();
    let text = format!(
        "Someone asked to reset the password of your account.\n\nTo choose a new password, open this link:\n\n{link}\n\n\
         The link works once and expires in {valid}.\n\
         If it was not you, ignore this email; your password stays as it is.\n"
    );
    let html = html_page(
        &subject,
        &[
            "Someone asked to reset the password of your account. To choose a new one, follow the link below.".into(),
            format!("The link works once and expires in {valid}. If it was not you, ignore this email."),
        ],
        Some(("Choose a new password", link)),
    );
    Rendered { kind: "password_reset", subject, text, html }
}

/// The passwordless login email: a link and, for typing into the app instead, a code.
/// `signup`: no account has the address yet, and using either makes one.
pub fn email_login(link: &str, code: &str, ttl: Duration, site: &str, signup: bool) -> Rendered {
    let valid = lifetime(ttl);
    let (subject, opening, action) = match signup {
        true => (
            "Your sign-up link".to_owned(),
            format!("Someone asked to sign up at {site} with this address."),
            "To create your account and log in, open this link",
        ),
        false => (
            "Your login link".to_owned(),
            format!("Someone asked to log in to your account at {site}."),
            "To log in, open this link",
        ),
    };
    let text = format!(
        "{opening}\n\n{action}:\n\n{link}\n\nor enter this code where you asked for it:\n\n{code}\n\n\
         The link and the code work once, together, and expire in {valid}.\n\
         If it was not you, ignore this email; nothing happens without them.\n"
    );
    let html = html_page(
        &subject,
        &[
            format!("{opening} {action} (the button below), or enter this code where you asked for it: {code}"),
            format!(
                "The link and the code work once, together, and expire in {valid}. If it was not you, ignore this email."
            ),
        ],
        Some((if signup { "Create my account and log in" } else { "Log in" }, link)),
    );
    Rendered { kind: if signup { "email_signup" } else { "email_login" }, subject, text, html }
}

/// Tells the owner their password was changed (`reset`: with a link sent to this address).
pub fn password_changed(reset: bool, site: &str) -> Rendered {
    let how = if reset { "reset with a link sent to this address" } else { "changed" };
    let subject = "Your password was changed".to_owned();
    let text = format!(
        "The password of your account at {site} was just {how}. Other sessions have been logged out.\n\n\
         If this was you, there is nothing to do.\n\
         If it was not, reset your password at once (\"forgot password\" at {site}) and review your account.\n"
    );
    let html = html_page(
        &subject,
        &[
            format!("The password of your account at {site} was just {how}. Other sessions have been logged out."),
            format!(
                "If this was you, there is nothing to do. If it was not, reset your password at once (\"forgot password\" at {site}) and review your account."
            ),
        ],
        None,
    );
    Rendered { kind: if reset { "password_reset_notice" } else { "password_changed" }, subject, text, html }
}

/// Sent to the new address of an email change; following the link makes the change.
pub fn email_change_confirm(link: &str, ttl: Duration) -> Rendered {
    let valid = lifetime(ttl);
    let subject = "Confirm your new email address".to_owned();
    let text = format!(
        "Someone asked to use this address for their account.\n\nTo confirm the change, open this link:\n\n{link}\n\n\
         The link works once and expires in {valid}.\n\
         If it was not you, ignore this email; nothing changes.\n"
    );
    let html = html_page(
        &subject,
        &[
            "Someone asked to use this address for their account. To confirm, follow the link below.".into(),
            format!("The link works once and expires in {valid}. If it was not you, ignore this email."),
        ],
        Some(("Confirm my new address", link)),
    );
    Rendered { kind: "email_change", subject, text, html }
}

/// Sent to the old address once an email change took effect, with a link that undoes it.
pub fn email_changed(new_address: &str, undo_link: &str, ttl: Duration) -> Rendered {
    let valid = lifetime(ttl);
    let subject = "Your email address was changed".to_owned();
    let text = format!(
        "The email address of your account was just changed to {new_address}.\n\n\
         If this was you, there is nothing to do.\n\
         If it was not, open this link to restore this address and log out every session:\n\n{undo_link}\n\n\
         The link works once and expires in {valid}.\n"
    );
    let html = html_page(
        &subject,
        &[
            format!("The email address of your account was just changed to {new_address}."),
            format!(
                "If this was you, there is nothing to do. If it was not, follow the link below to restore this \
                 address and log out every session. It works once and expires in {valid}."
            ),
        ],
        Some(("Undo the change", undo_link)),
    );
    Rendered { kind: "email_changed", subject, text, html }
}

/// Sent to the owner of an address someone tried to sign up with (when sign-up conceals
/// existing accounts).
pub fn signup_attempt(site: &str) -> Rendered {
    let subject = "Someone tried to sign up with your address".to_owned();
    let text = format!(
        "Someone just tried to create an account at {site} with this email address, but it has one already.\n\n\
         If it was you, log in instead, or use \"forgot password\" there if you no longer know your password.\n\
         If it was not you, ignore this email; nothing has changed.\n"
    );
    let html = html_page(
        &subject,
        &[
            format!("Someone just tried to create an account at {site} with this email address, but it has one already."),
            "If it was you, log in instead, or use \"forgot password\" if you no longer know your password. If it was not you, ignore this email; nothing has changed.".into(),
        ],
        None,
    );
    Rendered { kind: "signup_attempt", subject, text, html }
}

/// A plain notice: paragraphs, the same in both parts.
fn notice(kind: &'static str, subject: &str, paragraphs: &[String]) -> Rendered {
    let text = paragraphs.iter().map(|p| format!("{p}\n")).collect::<Vec<_>>().join("\n");
    let html = html_page(subject, paragraphs, None);
    Rendered { kind, subject: subject.to_owned(), text, html }
}

/// Tells the owner a second factor was added to their account.
pub fn mfa_enabled(site: &str) -> Rendered {
    notice(
        "mfa_enabled",
        "Two-step login is on",
        &[
            format!(
                "An authenticator app was just added to your account at {site}: logging in now takes a code from it after the password."
            ),
            "Keep your recovery codes somewhere safe; each one works once if the app is lost.".into(),
            format!(
                "If this was not you, reset your password at once (\"forgot password\" at {site}) and ask an administrator to remove the authenticator."
            ),
        ],
    )
}

/// Tells the owner their second factor was removed (`by_admin`: by an administrator).
pub fn mfa_disabled(site: &str, by_admin: bool) -> Rendered {
    let who = if by_admin { "by an administrator" } else { "from a session of your account" };
    notice(
        "mfa_disabled",
        "Two-step login is off",
        &[
            format!(
                "The authenticator app and recovery codes of your account at {site} were just removed {who}: logging in takes only the password now."
            ),
            format!(
                "If this was not you, reset your password at once (\"forgot password\" at {site}) and turn two-step login on again."
            ),
        ],
    )
}

/// Tells the owner a recovery code was used, and how many are left.
pub fn recovery_code_used(site: &str, left: usize) -> Rendered {
    let left_text = match left {
        0 => "None are left: make a new set in your account settings now.".to_owned(),
        1 => "1 is left; make a new set in your account settings soon.".to_owned(),
        n => format!("{n} are left."),
    };
    notice(
        "recovery_code_used",
        "A recovery code was used",
        &[
            format!("A recovery code was just used to log in to your account at {site}. {left_text}"),
            format!(
                "If this was not you, reset your password at once (\"forgot password\" at {site}) and make a new set of recovery codes."
            ),
        ],
    )
}

/// Tells the owner a passkey was added to their account.
pub fn passkey_added(site: &str, name: &str) -> Rendered {
    notice(
        "passkey_added",
        "A passkey was added",
        &[
            format!(
                "A passkey named \"{name}\" was just added to your account at {site}; it logs in without the password and serves as a second factor."
            ),
            format!(
                "If this was not you, reset your password at once (\"forgot password\" at {site}) and remove the passkey in your account settings."
            ),
        ],
    )
}

/// Tells the owner a passkey was removed from their account.
pub fn passkey_removed(site: &str) -> Rendered {
    notice(
        "passkey_removed",
        "A passkey was removed",
        &[
            format!("A passkey was just removed from your account at {site}."),
            format!("If this was not you, reset your password at once (\"forgot password\" at {site})."),
        ],
    )
}

/// Tells the owner a login at a provider was unlinked from their account.
pub fn identity_unlinked(site: &str, provider: &str) -> Rendered {
    notice(
        "identity_unlinked",
        &format!("{provider} login unlinked"),
        &[
            format!("Logging in with your {provider} account no longer logs in to your account at {site}."),
            format!("If this was not you, reset your password at once (\"forgot password\" at {site})."),
        ],
    )
}

/// Tells the owner a login at a provider was linked to their account.
pub fn identity_linked(site: &str, provider: &str, address: Option<&str>) -> Rendered {
    let which = match address {
        Some(address) => format!("your {provider} account ({address})"),
        None => format!("a {provider} account"),
    };
    notice(
        "identity_linked",
        &format!("{provider} login linked"),
        &[
            format!("Logging in with {which} now logs in to your account at {site}."),
            format!(
                "If this was not you, reset your password at once (\"forgot password\" at {site}) and remove the {provider} login in your account settings."
            ),
        ],
    )
}

/// The message `gatehouse mail test` sends.
pub fn test_message(public_url: &str) -> Rendered {
    let subject = "gatehouse test message".to_owned();
    let text = format!(
        "This is a test message from the gatehouse at {public_url}.\n\nIf you can read it, email delivery works.\n"
    );
    let html = html_page(
        &subject,
        &[
            format!("This is a test message from the gatehouse at {public_url}."),
            "If you can read it, email delivery works.".into(),
        ],
        None,
    );
    Rendered { kind: "test", subject, text, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://auth.example.com/activate?token=abc_DEF-123";

    #[test]
    fn the_link_stands_on_a_line_of_its_own() {
        for rendered in
            [activation(LINK, Duration::from_secs(86_400)), password_reset(LINK, Duration::from_secs(3_600))]
        {
            assert!(rendered.text.lines().any(|line| line == LINK), "{}", rendered.text);
            assert!(rendered.html.contains(&format!("href=\"{LINK}\"")));
        }
    }

    #[test]
    fn lifetimes_read_naturally() {
        assert!(activation(LINK, Duration::from_secs(86_400)).text.contains("expires in 1 day"));
        assert!(password_reset(LINK, Duration::from_secs(3_600)).text.contains("expires in 1 hour"));
        assert!(password_reset(LINK, Duration::from_secs(1_800)).text.contains("expires in 30 minutes"));
        assert!(password_reset(LINK, Duration::from_secs(7_200)).text.contains("expires in 2 hours"));
    }

    #[test]
    fn html_escapes_what_it_prints() {
        let hostile = "https://x.example/a?token=\"><script>alert(1)</script>";
        let rendered = activation(hostile, Duration::from_secs(60));
        assert!(!rendered.html.contains("<script>"));
    }

    #[test]
    fn the_login_email_holds_the_link_and_the_code_each_on_a_line_of_its_own() {
        let login = email_login(LINK, "01234567", Duration::from_secs(600), "https://id.example.com", false);
        let lines: Vec<&str> = login.text.lines().collect();
        assert!(lines.contains(&LINK) && lines.contains(&"01234567"), "{}", login.text);
        assert!(login.text.contains("expire in 10 minutes"));
        assert!(login.html.contains("01234567") && login.html.contains(LINK));
        assert_eq!((login.kind, login.subject.as_str()), ("email_login", "Your login link"));
        let signup = email_login(LINK, "01234567", Duration::from_secs(600), "https://id.example.com", true);
        assert_eq!((signup.kind, signup.subject.as_str()), ("email_signup", "Your sign-up link"));
        assert!(signup.text.contains("create your account"));
    }

    #[test]
    fn each_kind_has_its_subject() {
        assert_eq!(activation(LINK, Duration::from_secs(60)).kind, "activation");
        assert_eq!(password_reset(LINK, Duration::from_secs(60)).subject, "Reset your password");
        assert!(test_message("http://localhost:8080").text.contains("http://localhost:8080"));
    }
}
