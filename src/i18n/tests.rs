use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fluent_bundle::FluentResource;

use super::overrides::{messages, sample_args};
use super::*;
use crate::mail::templates::{Letters, Rendered};

fn options() -> Options {
    Options::plain("https://id.example.com")
}

fn builtin_messages(locale: Locale) -> BTreeMap<String, BTreeSet<String>> {
    let resource = FluentResource::try_new(super::builtin(locale).to_owned())
        .unwrap_or_else(|(_, errors)| panic!("{locale}.ftl does not parse: {errors:?}"));
    messages(&resource).into_iter().collect()
}

/// Every language has exactly English's messages, each with the same parts: a text missing in
/// one language (or left over in it) fails here.
#[test]
fn every_language_has_every_message() {
    let english = builtin_messages(Locale::En);
    assert!(english.len() > 50, "{} messages", english.len());
    for locale in [Locale::De, Locale::Fr, Locale::Es] {
        let other = builtin_messages(locale);
        let missing: Vec<_> = english.keys().filter(|id| !other.contains_key(*id)).collect();
        let extra: Vec<_> = other.keys().filter(|id| !english.contains_key(*id)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{locale}: missing {missing:?}, not in English {extra:?}");
        for (id, attributes) in &english {
            assert_eq!(&other[id], attributes, "{locale}: the parts of `{id}`");
        }
    }
}

/// Every message resolves in every language with the variables gatehouse passes: no unknown
/// `$variable`, no broken select.
#[test]
fn every_message_resolves_in_every_language() {
    let catalog = Catalog::builtin(&options());
    let args = sample_args();
    for locale in Locale::ALL {
        for (id, attributes) in builtin_messages(locale) {
            let keys = attributes.iter().map(|a| format!("{id}.{a}"));
            let has_value = catalog.bundles[super::index(locale)].get_message(&id).and_then(|m| m.value()).is_some();
            for key in keys.chain(has_value.then(|| id.clone())) {
                let text =
                    catalog.format(locale, &key, &args).unwrap_or_else(|(_, why)| panic!("{locale} {key}: {why}"));
                assert!(!text.trim().is_empty(), "{locale} {key} is empty");
            }
        }
    }
}

fn every_email(letters: Letters<'_>) -> Vec<Rendered> {
    let link = "https://id.example.com/activate?token=abc";
    let ttl = Duration::from_secs(3_600);
    vec![
        letters.activation(link, ttl),
        letters.activation_through(link, ttl, "Example", Some("ann@example.org")),
        letters.activation_through(link, ttl, "Example", None),
        letters.password_reset(link, ttl),
        letters.email_login(link, "01234567", ttl, false),
        letters.email_login(link, "01234567", ttl, true),
        letters.password_changed(false),
        letters.password_changed(true),
        letters.email_change_confirm(link, ttl),
        letters.email_changed("new@example.org", link, ttl),
        letters.invitation(link, ttl, "Acme <b>Corp</b>", "admin"),
        letters.signup_attempt(),
        letters.mfa_enabled(),
        letters.mfa_disabled(false),
        letters.mfa_disabled(true),
        letters.recovery_code_used(0),
        letters.recovery_code_used(1),
        letters.recovery_code_used(5),
        letters.passkey_added("Laptop"),
        letters.impersonation_notice("Ticket 4411: the invoice page is blank"),
        letters.passkey_removed(),
        letters.identity_linked("Example", Some("ann@example.org")),
        letters.identity_linked("Example", None),
        letters.identity_unlinked("Example"),
        letters.sso_idp_changed(
            "Acme",
            "0193f1e2-0000-7000-8000-000000000001",
            "https://idp.example.com/metadata",
            "AB:CD",
        ),
        letters.test_message(),
    ]
}

/// Every email renders in every language: nothing unresolved shows, and apart from names and
/// links the German, French and Spanish emails are not the English ones.
#[test]
fn every_email_renders_in_every_language() {
    let catalog = Catalog::builtin(&options());
    let english = every_email(Letters::new(&catalog, Locale::En));
    for locale in Locale::ALL {
        let emails = every_email(Letters::new(&catalog, locale));
        for (email, in_english) in emails.iter().zip(&english) {
            for part in [&email.subject, &email.text, &email.html] {
                assert!(
                    !part.contains("{$") && !part.contains("{ $") && !part.contains("{{"),
                    "{locale} {}: {part}",
                    email.kind
                );
            }
            assert!(email.html.contains(&format!("<html lang=\"{locale}\">")), "{locale} {}", email.kind);
            if locale != Locale::En {
                assert_ne!(email.subject, in_english.subject, "{locale} {} is not translated", email.kind);
                assert_ne!(email.text, in_english.text, "{locale} {} is not translated", email.kind);
            }
        }
    }
}

#[test]
fn the_browser_s_language_is_chosen_by_weight_among_those_spoken() {
    assert_eq!(Locale::from_accept_language("de-DE,de;q=0.9,en;q=0.8"), Some(Locale::De));
    assert_eq!(Locale::from_accept_language("it-IT, fr;q=0.5, en;q=0.7"), Some(Locale::En));
    assert_eq!(Locale::from_accept_language("es-419"), Some(Locale::Es));
    assert_eq!(Locale::from_accept_language("FR_ca"), Some(Locale::Fr));
    assert_eq!(Locale::from_accept_language("de;q=0, en;q=0.1"), Some(Locale::En));
    assert_eq!(Locale::from_accept_language("it, ja, *"), None);
    assert_eq!(Locale::from_accept_language("de;q=abc"), None);
    assert_eq!(Locale::from_accept_language(""), None);
}

#[test]
fn the_brand_reaches_the_email() {
    let options = Options {
        product_name: "Acme".into(),
        logo_url: Some(Url::parse("https://cdn.acme.example/logo.png").unwrap()),
        accent_color: "#c0ffee".into(),
        ..options()
    };
    let catalog = Catalog::builtin(&options);
    let email = Letters::new(&catalog, Locale::En)
        .activation("https://id.example.com/activate?token=t", Duration::from_secs(60));
    assert!(email.text.contains("Welcome to Acme!"), "{}", email.text);
    assert!(email.html.contains("background:#c0ffee"), "{}", email.html);
    assert!(email.html.contains("<img src=\"https://cdn.acme.example/logo.png\" alt=\"Acme\""), "{}", email.html);
}

fn with_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, Options) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let options = Options { templates_dir: Some(dir.path().to_owned()), ..options() };
    (dir, options)
}

fn problems(files: &[(&str, &str)]) -> Vec<String> {
    let (_dir, options) = with_dir(files);
    Catalog::load(&options).err().unwrap_or_default()
}

#[test]
fn an_operator_s_texts_and_layouts_replace_the_built_in_ones() {
    let german = "# ours\nactivation =\n    .subject = Willkommen bei { $product }\n    .intro = Hallo!\n    .button = Los\n    .outro = Gültig { $valid }.\n";
    let layout = "{{ subject }}|{% for b in blocks %}{{ b.kind }};{% endfor %}|{{ footer }}\n";
    let (_dir, options) = with_dir(&[("de.ftl", german), ("email.txt", layout)]);
    let catalog = Catalog::load(&options).unwrap();
    let email = Letters::new(&catalog, Locale::De).activation("https://x.example/a", Duration::from_secs(7_200));
    assert_eq!(email.subject, "Willkommen bei id.example.com");
    assert!(email.text.starts_with("Willkommen bei id.example.com|paragraph;link;paragraph;|"), "{}", email.text);
    assert!(email.html.contains("Gültig 2 Stunden."), "{}", email.html);
    let english = Letters::new(&catalog, Locale::En).activation("https://x.example/a", Duration::from_secs(60));
    assert_eq!(english.subject, "Confirm your email address", "other languages keep theirs");
}

#[test]
fn a_broken_template_is_refused_with_its_file_and_line() {
    let broken = problems(&[("fr.ftl", "# ok\n\nactivation =\n    .subject = { $product\n")]);
    assert!(broken.len() == 1 && broken[0].contains("fr.ftl:3:"), "{broken:?}");

    let unknown = problems(&[("en.ftl", "\nactivaton =\n    .subject = Hi\n")]);
    assert!(
        unknown.iter().any(|p| p.contains("en.ftl:2: `activaton` is not one of gatehouse's messages")),
        "{unknown:?}"
    );

    let partial = problems(&[("es.ftl", "activation =\n    .subject = Hola\n")]);
    assert!(
        partial.iter().any(|p| p.contains("es.ftl:1: `activation` lacks") && p.contains("`.intro`")),
        "{partial:?}"
    );

    let variable = "mfa-enabled =\n    .subject = On\n    .intro = { $lnk }\n    .keep = k\n    .outro = o\n";
    let unresolved = problems(&[("de.ftl", variable)]);
    assert!(
        unresolved.iter().any(|p| p.contains("de.ftl:1: `mfa-enabled.intro`") && p.contains("lnk")),
        "{unresolved:?}"
    );

    let layout = problems(&[("email.html", "<p>\n{% for b in blocks %}\n{{ b.text }\n")]);
    assert!(layout.len() == 1 && layout[0].contains("email.html:3:"), "{layout:?}");

    let undefined = problems(&[("email.txt", "{{ subject }}\n{{ sujbect }}\n")]);
    assert!(undefined.len() == 1 && undefined[0].contains("email.txt:2:"), "{undefined:?}");

    let stray = problems(&[("it.ftl", "")]);
    assert!(stray.len() == 1 && stray[0].contains("it.ftl: not a file gatehouse reads"), "{stray:?}");
}
