//! The emails gatehouse sends, in the recipient's language: each is a subject and blocks of
//! text from the catalog, laid out as a plain-text part (in which a link and a code stand on
//! lines of their own) and an HTML part.

use std::time::Duration;

use fluent_bundle::FluentValue;

use crate::i18n::{Block, Catalog, Composed, Locale};

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

/// Writes emails in one language.
#[derive(Clone, Copy, Debug)]
pub struct Letters<'a> {
    catalog: &'a Catalog,
    locale: Locale,
}

type Args<'v> = [(&'static str, FluentValue<'v>)];

impl<'a> Letters<'a> {
    pub fn new(catalog: &'a Catalog, locale: Locale) -> Letters<'a> {
        Letters { catalog, locale }
    }

    fn text(&self, key: &str, args: &Args<'_>) -> String {
        self.catalog.text(self.locale, key, args)
    }

    fn paragraph(&self, key: &str, args: &Args<'_>) -> Block {
        Block::Paragraph { text: self.text(key, args) }
    }

    fn link(&self, key: &str, url: &str) -> Block {
        Block::Link { label: self.text(key, &[]), url: url.to_owned() }
    }

    fn finish(&self, kind: &'static str, message: &str, args: &Args<'_>, blocks: Vec<Block>) -> Rendered {
        let composed = Composed { subject: self.text(&format!("{message}.subject"), args), blocks };
        let (text, html) = self.catalog.compose(self.locale, &composed);
        Rendered { kind, subject: composed.subject, text, html }
    }

    /// intro, the link, outro: the shape of most emails that carry a link.
    fn with_link(&self, kind: &'static str, message: &str, link: &str, args: &Args<'_>) -> Rendered {
        let blocks = vec![
            self.paragraph(&format!("{message}.intro"), args),
            self.link(&format!("{message}.button"), link),
            self.paragraph(&format!("{message}.outro"), args),
        ];
        self.finish(kind, message, args, blocks)
    }

    /// intro, outro: a notice.
    fn notice(&self, kind: &'static str, message: &str, args: &Args<'_>) -> Rendered {
        let blocks =
            vec![self.paragraph(&format!("{message}.intro"), args), self.paragraph(&format!("{message}.outro"), args)];
        self.finish(kind, message, args, blocks)
    }

    fn valid(&self, ttl: Duration) -> FluentValue<'static> {
        FluentValue::from(self.catalog.lifetime(self.locale, ttl))
    }

    /// The confirmation email sent at sign-up and on resend.
    pub fn activation(&self, link: &str, ttl: Duration) -> Rendered {
        self.with_link("activation", "activation", link, &[("valid", self.valid(ttl))])
    }

    /// A pending account's activation email sent again, when whoever signed up linked a
    /// provider's login: confirming by this link removes that login.
    pub fn activation_unlinking(&self, link: &str, ttl: Duration, provider: &str) -> Rendered {
        let args = [("valid", self.valid(ttl)), ("provider", provider.into())];
        let blocks = vec![
            self.paragraph("activation-unlinking.intro", &args),
            self.link("activation.button", link),
            self.paragraph("activation-unlinking.provider", &args),
            self.paragraph("activation.outro", &args),
        ];
        self.finish("activation", "activation", &args, blocks)
    }

    /// The confirmation email of an account made through a provider whose word on the address
    /// was not enough: confirming lets that login in.
    pub fn activation_through(&self, link: &str, ttl: Duration, provider: &str, address: Option<&str>) -> Rendered {
        let args =
            [("valid", self.valid(ttl)), ("provider", provider.into()), ("address", address.unwrap_or("").into())];
        let intro =
            if address.is_some() { "activation-through.intro-with-address" } else { "activation-through.intro" };
        let blocks = vec![
            self.paragraph(intro, &args),
            self.paragraph("activation-through.confirm", &args),
            self.link("activation-through.button", link),
            self.paragraph("activation-through.outro", &args),
        ];
        self.finish("activation", "activation-through", &args, blocks)
    }

    /// The password-reset email.
    pub fn password_reset(&self, link: &str, ttl: Duration) -> Rendered {
        self.with_link("password_reset", "password-reset", link, &[("valid", self.valid(ttl))])
    }

    /// The passwordless login email: a link and, for typing into the app instead, a code.
    /// `signup`: no account has the address yet, and using either makes one.
    pub fn email_login(&self, link: &str, code: &str, ttl: Duration, signup: bool) -> Rendered {
        let (kind, message) = if signup { ("email_signup", "email-signup") } else { ("email_login", "email-login") };
        let args = [("valid", self.valid(ttl))];
        let blocks = vec![
            self.paragraph(&format!("{message}.intro"), &args),
            self.link(&format!("{message}.button"), link),
            self.paragraph(&format!("{message}.code"), &args),
            Block::Code { text: code.to_owned() },
            self.paragraph(&format!("{message}.outro"), &args),
        ];
        self.finish(kind, message, &args, blocks)
    }

    /// Tells the owner their password was changed (`reset`: with a link sent to this address).
    pub fn password_changed(&self, reset: bool) -> Rendered {
        match reset {
            true => self.notice("password_reset_notice", "password-reset-notice", &[]),
            false => self.notice("password_changed", "password-changed", &[]),
        }
    }

    /// Sent to the new address of an email change; following the link makes the change.
    pub fn email_change_confirm(&self, link: &str, ttl: Duration) -> Rendered {
        self.with_link("email_change", "email-change", link, &[("valid", self.valid(ttl))])
    }

    /// Sent to the old address once an email change took effect, with a link that undoes it.
    pub fn email_changed(&self, new_address: &str, undo_link: &str, ttl: Duration) -> Rendered {
        let args = [("valid", self.valid(ttl)), ("address", new_address.into())];
        let blocks = vec![
            self.paragraph("email-changed.intro", &args),
            self.paragraph("email-changed.undo", &args),
            self.link("email-changed.button", undo_link),
            self.paragraph("email-changed.outro", &args),
        ];
        self.finish("email_changed", "email-changed", &args, blocks)
    }

    /// An invitation to join an organization (`org`, its name) with `role`; the link leads to
    /// the page that accepts it.
    pub fn invitation(&self, link: &str, ttl: Duration, org: &str, role: &str) -> Rendered {
        let args = [("valid", self.valid(ttl)), ("org", org.into()), ("role", role.into())];
        self.with_link("invitation", "invitation", link, &args)
    }

    /// Sent to the owner of an address someone tried to sign up with (when sign-up conceals
    /// existing accounts).
    pub fn signup_attempt(&self) -> Rendered {
        self.notice("signup_attempt", "signup-attempt", &[])
    }

    /// Tells the owner a second factor was added to their account.
    pub fn mfa_enabled(&self) -> Rendered {
        let blocks = ["mfa-enabled.intro", "mfa-enabled.keep", "mfa-enabled.outro"]
            .into_iter()
            .map(|key| self.paragraph(key, &[]))
            .collect();
        self.finish("mfa_enabled", "mfa-enabled", &[], blocks)
    }

    /// Tells the owner their second factor was removed (`by_admin`: by an administrator).
    pub fn mfa_disabled(&self, by_admin: bool) -> Rendered {
        let intro = if by_admin { "mfa-disabled.intro-by-admin" } else { "mfa-disabled.intro" };
        let blocks = vec![self.paragraph(intro, &[]), self.paragraph("mfa-disabled.outro", &[])];
        self.finish("mfa_disabled", "mfa-disabled", &[], blocks)
    }

    /// Tells the owner a recovery code was used, and how many are left.
    pub fn recovery_code_used(&self, left: usize) -> Rendered {
        self.notice("recovery_code_used", "recovery-code-used", &[("left", FluentValue::from(left))])
    }

    /// Tells the owner a passkey was added to their account.
    pub fn passkey_added(&self, name: &str) -> Rendered {
        self.notice("passkey_added", "passkey-added", &[("name", name.into())])
    }

    /// Tells the owner an admin is acting as them (impersonation), and why.
    pub fn impersonation_notice(&self, reason: &str) -> Rendered {
        let args = [("reason", reason.into())];
        let blocks = ["impersonation-notice.intro", "impersonation-notice.reason", "impersonation-notice.outro"]
            .into_iter()
            .map(|key| self.paragraph(key, &args))
            .collect();
        self.finish("impersonation_notice", "impersonation-notice", &args, blocks)
    }

    /// Tells an organization's owner that one of its single sign-on connections trusts another
    /// identity provider, or other keys of one, now: `idp` as the provider names itself, and the
    /// fingerprints of the keys it is trusted by. Nothing an admin of the organization wrote
    /// (the connection's name) is shown as a provider.
    pub fn sso_idp_changed(&self, org: &str, connection: &str, idp: &str, keys: &str) -> Rendered {
        let args = [("org", org.into()), ("connection", connection.into()), ("idp", idp.into()), ("keys", keys.into())];
        let blocks = ["sso-idp-changed.intro", "sso-idp-changed.now", "sso-idp-changed.outro"]
            .into_iter()
            .map(|key| self.paragraph(key, &args))
            .collect();
        self.finish("sso_idp_changed", "sso-idp-changed", &args, blocks)
    }

    /// Tells the owner a passkey was removed from their account.
    pub fn passkey_removed(&self) -> Rendered {
        self.notice("passkey_removed", "passkey-removed", &[])
    }

    /// Tells the owner a login at a provider was unlinked from their account.
    pub fn identity_unlinked(&self, provider: &str) -> Rendered {
        self.notice("identity_unlinked", "identity-unlinked", &[("provider", provider.into())])
    }

    /// Tells the owner a login at a provider was linked to their account.
    pub fn identity_linked(&self, provider: &str, address: Option<&str>) -> Rendered {
        let args = [("provider", provider.into()), ("address", address.unwrap_or("").into())];
        let intro = if address.is_some() { "identity-linked.intro-with-address" } else { "identity-linked.intro" };
        let blocks = vec![self.paragraph(intro, &args), self.paragraph("identity-linked.outro", &args)];
        self.finish("identity_linked", "identity-linked", &args, blocks)
    }

    /// The message `gatehouse mail test` sends.
    pub fn test_message(&self) -> Rendered {
        self.notice("test", "test-message", &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Options;

    const LINK: &str = "https://auth.example.com/activate?token=abc_DEF-123";

    fn catalog() -> Catalog {
        Catalog::builtin(&Options::plain("https://id.example.com"))
    }

    #[test]
    fn the_link_stands_on_a_line_of_its_own() {
        let catalog = catalog();
        let letters = Letters::new(&catalog, Locale::En);
        for rendered in [
            letters.activation(LINK, Duration::from_secs(86_400)),
            letters.password_reset(LINK, Duration::from_secs(3_600)),
        ] {
            assert!(rendered.text.lines().any(|line| line == LINK), "{}", rendered.text);
            assert!(rendered.html.contains(&format!("href=\"{LINK}\"")));
        }
    }

    #[test]
    fn lifetimes_read_naturally() {
        let catalog = catalog();
        let letters = Letters::new(&catalog, Locale::En);
        assert!(letters.activation(LINK, Duration::from_secs(86_400)).text.contains("expires in 1 day"));
        assert!(letters.password_reset(LINK, Duration::from_secs(3_600)).text.contains("expires in 1 hour"));
        assert!(letters.password_reset(LINK, Duration::from_secs(1_800)).text.contains("expires in 30 minutes"));
        assert!(letters.password_reset(LINK, Duration::from_secs(7_200)).text.contains("expires in 2 hours"));
        let german = Letters::new(&catalog, Locale::De);
        assert!(german.password_reset(LINK, Duration::from_secs(7_200)).text.contains("2 Stunden"));
    }

    #[test]
    fn html_escapes_what_it_prints() {
        let catalog = catalog();
        let hostile = "https://x.example/a?token=\"><script>alert(1)</script>";
        let rendered = Letters::new(&catalog, Locale::En).activation(hostile, Duration::from_secs(60));
        assert!(!rendered.html.contains("<script>"));
        let named = Letters::new(&catalog, Locale::En).passkey_added("<img src=x onerror=alert(1)>");
        assert!(!named.html.contains("<img src=x"), "{}", named.html);
    }

    #[test]
    fn the_login_email_holds_the_link_and_the_code_each_on_a_line_of_its_own() {
        let catalog = catalog();
        let letters = Letters::new(&catalog, Locale::En);
        let login = letters.email_login(LINK, "01234567", Duration::from_secs(600), false);
        let lines: Vec<&str> = login.text.lines().collect();
        assert!(lines.contains(&LINK) && lines.contains(&"01234567"), "{}", login.text);
        assert!(login.text.contains("expire in 10 minutes"));
        assert!(login.html.contains("01234567") && login.html.contains(LINK));
        assert_eq!((login.kind, login.subject.as_str()), ("email_login", "Your login link"));
        let signup = letters.email_login(LINK, "01234567", Duration::from_secs(600), true);
        assert_eq!((signup.kind, signup.subject.as_str()), ("email_signup", "Your sign-up link"));
        assert!(signup.text.contains("create your account"));
    }

    #[test]
    fn each_kind_has_its_subject() {
        let catalog = catalog();
        let letters = Letters::new(&catalog, Locale::En);
        assert_eq!(letters.activation(LINK, Duration::from_secs(60)).kind, "activation");
        assert_eq!(letters.password_reset(LINK, Duration::from_secs(60)).subject, "Reset your password");
        assert!(letters.test_message().text.contains("https://id.example.com"));
    }

    #[test]
    fn a_recovery_code_email_counts_what_is_left() {
        let catalog = catalog();
        let letters = Letters::new(&catalog, Locale::En);
        assert!(letters.recovery_code_used(0).text.contains("None are left"));
        assert!(letters.recovery_code_used(1).text.contains("1 is left"));
        assert!(letters.recovery_code_used(7).text.contains("7 are left"));
    }
}
