//! The configuration as an operator writes it: defaults, advice on bad values, aliases, and
//! what `config check` shows.

use std::time::Duration;

use super::*;

fn load(vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn defaults_follow_the_contract() {
    let config = load(&[]).unwrap().config;
    assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(config.public_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(config.database_url.expose(), "sqlite://gatehouse.db");
    assert_eq!(config.access_token_ttl, Duration::from_secs(15 * 60));
    assert_eq!(config.session_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(config.activation_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(config.reset_ttl, Duration::from_secs(3600));
    assert_eq!(config.mail_from, "gatehouse <no-reply@localhost>");
    assert!(config.redis_url.is_none() && config.smtp_url.is_none() && config.admin.is_none());
    assert_eq!(config.database_timeout, Duration::from_secs(5));
    assert_eq!(config.redis_prefix, "gatehouse:");
    assert_eq!(config.log_format, LogFormat::Text);
}

#[test]
fn security_defaults_honour_the_contract() {
    let security = load(&[]).unwrap().config.security;
    let limits = security.rate_limits.expect("rate limits are on by default");
    assert!(limits.login.count >= 60 && limits.login.period <= Duration::from_secs(60));
    assert!(limits.signup.count >= 30 && limits.signup.period <= Duration::from_secs(60));
    assert!(limits.lockout_client.free < 20 && limits.lockout_account.free < 20);
    assert!(security.trusted_proxies.is_empty() && security.cors_origins.is_empty());
    assert!(!load(&[]).unwrap().config.policy.signup_conceal_existing);
    assert_eq!(security.refresh_grace, Duration::from_secs(30));
    assert!(load(&[("GATEHOUSE_RATE_LIMIT", "off")]).unwrap().config.security.rate_limits.is_none());
}

#[test]
fn security_lists_and_budgets_are_parsed_with_advice() {
    let config = load(&[
        ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1"),
        ("GATEHOUSE_CORS_ORIGINS", "https://app.example.com,http://localhost:3000/"),
        ("GATEHOUSE_RATE_LIMIT_LOGIN", "10/30s"),
        ("GATEHOUSE_REFRESH_GRACE", "off"),
    ])
    .unwrap()
    .config;
    assert_eq!(config.security.trusted_proxies.len(), 3);
    assert_eq!(config.security.cors_origins, ["https://app.example.com", "http://localhost:3000"]);
    assert_eq!(config.security.rate_limits.unwrap().login, Budget { count: 10, period: Duration::from_secs(30) });
    assert_eq!(config.security.refresh_grace, Duration::ZERO);
    let err = load(&[
        ("GATEHOUSE_TRUSTED_PROXIES", "proxy.local"),
        ("GATEHOUSE_CORS_ORIGINS", "https://app.example.com/path"),
        ("GATEHOUSE_RATE_LIMIT_SIGNUP", "lots"),
    ])
    .unwrap_err();
    assert_eq!(err.problems.len(), 3, "{err}");
}

#[test]
fn every_bad_value_is_reported_with_advice() {
    let err = load(&[("GATEHOUSE_BIND", "localhost"), ("GATEHOUSE_SESSION_TTL", "forever")]).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(err.problems[0].contains("GATEHOUSE_BIND") && err.problems[0].contains("127.0.0.1:8080"));
    assert!(err.problems[1].contains("GATEHOUSE_SESSION_TTL") && err.problems[1].contains("24h"));
}

#[test]
fn unknown_gatehouse_names_are_warned_about() {
    let loaded = load(&[("GATEHOUSE_SESION_TTL", "1h"), ("HOME", "/root")]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("GATEHOUSE_SESION_TTL"));
}

#[test]
fn unprefixed_database_url_is_accepted_but_the_prefixed_one_wins() {
    let config = load(&[("DATABASE_URL", "sqlite://a.db")]).unwrap().config;
    assert_eq!(config.database_url.expose(), "sqlite://a.db");
    let config =
        load(&[("DATABASE_URL", "sqlite://a.db"), ("GATEHOUSE_DATABASE_URL", "sqlite://b.db")]).unwrap().config;
    assert_eq!(config.database_url.expose(), "sqlite://b.db");
}

#[test]
fn the_database_is_chosen_by_the_url_scheme() {
    for url in ["postgres://u:p@db/gatehouse", "postgresql://db/gatehouse", "mysql://root@db:3306/gatehouse"] {
        assert_eq!(load(&[("GATEHOUSE_DATABASE_URL", url)]).unwrap().config.database_url.expose(), url);
    }
    let maria = load(&[("GATEHOUSE_DATABASE_URL", "mariadb://root@db/gatehouse")]).unwrap().config;
    assert_eq!(maria.database_url.scheme(), "mysql");
    assert!(load(&[("GATEHOUSE_DATABASE_URL", "postgres://db")]).is_err(), "a database name is needed");
    assert!(load(&[("GATEHOUSE_DATABASE_URL", "oracle://db/x")]).is_err());
}

#[test]
fn admin_email_and_password_go_together() {
    let err = load(&[("GATEHOUSE_ADMIN_EMAIL", "root@example.com")]).unwrap_err();
    assert!(err.problems[0].contains("no admin password"), "{err}");
}

#[test]
fn the_common_env_names_set_the_admin_and_a_lone_password_is_an_error_that_names_it() {
    let config =
        load(&[("ADMIN_EMAIL", "root@example.com"), ("ADMIN_PASSWORD", "correct horse battery")]).unwrap().config;
    assert_eq!(config.admin.unwrap().email, "root@example.com");
    let err = load(&[("ADMIN_PASSWORD", "correct horse battery")]).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(err.problems[0].starts_with("ADMIN_PASSWORD is set but no admin email is"), "{err}");
    let config =
        load(&[("ADMIN_EMAIL", "a@example.com"), ("GATEHOUSE_ADMIN_EMAIL", "b@example.com"), ("ADMIN_PASSWORD", "x")])
            .unwrap()
            .config;
    assert_eq!(config.admin.unwrap().email, "b@example.com", "the GATEHOUSE_ name wins");
}

#[test]
fn a_jwt_secret_is_warned_about_and_never_used() {
    let loaded = load(&[("JWT_SECRET_KEY", "s3cret-value")]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("generates its signing keys"), "{:?}", loaded.warnings);
    assert!(!loaded.warnings[0].contains("s3cret-value"));
}

#[test]
fn secrets_are_masked_in_debug_and_in_what_config_check_shows() {
    let loaded = load(&[
        ("GATEHOUSE_SMTP_URL", "smtps://mailer:hunter22secret@mail.example.com:465"),
        ("GATEHOUSE_ADMIN_EMAIL", "root@example.com"),
        ("GATEHOUSE_ADMIN_PASSWORD", "correct horse battery"),
    ])
    .unwrap();
    let debug = format!("{:?}", loaded.config);
    let described = format!("{:?}", loaded.effective);
    for text in [debug, described] {
        assert!(!text.contains("hunter22secret"), "{text}");
        assert!(!text.contains("correct horse battery"), "{text}");
        assert!(text.contains("mail.example.com"));
    }
}

#[test]
fn config_check_masks_a_secret_whatever_its_text() {
    let loaded =
        load(&[("GATEHOUSE_ADMIN_EMAIL", "root@example.com"), ("GATEHOUSE_ADMIN_PASSWORD", "(unset)")]).unwrap();
    let password = loaded.effective.iter().find(|e| e.name == "GATEHOUSE_ADMIN_PASSWORD").unwrap();
    assert_eq!((password.value.as_str(), password.source.as_str()), ("***", "env"));
}

#[test]
fn a_bad_password_value_is_not_echoed() {
    let err = load(&[("GATEHOUSE_SMTP_URL", "not a url with secret")]).unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn config_check_shows_values_as_written_and_where_they_came_from() {
    let loaded = load(&[
        ("GATEHOUSE_AUDIT_RETENTION", "90days"),
        ("DATABASE_URL", "postgres://app:hunter2@db/gatehouse"),
        ("GATEHOUSE_BIND", "localhost:9000"),
    ])
    .unwrap();
    let shown = |name: &str| loaded.effective.iter().find(|e| e.name == name).cloned().unwrap();
    assert_eq!(
        (shown("GATEHOUSE_AUDIT_RETENTION").value.as_str(), shown("GATEHOUSE_AUDIT_RETENTION").source.as_str()),
        ("90days", "env")
    );
    assert_eq!(shown("GATEHOUSE_SESSION_TTL").value, "24h", "a default as written, not as humantime renders it");
    assert_eq!(shown("GATEHOUSE_SESSION_TTL").source, "default");
    let database = shown("GATEHOUSE_DATABASE_URL");
    assert_eq!(database.source, "env as DATABASE_URL");
    assert!(database.value.contains("***") && !database.value.contains("hunter2"), "{database:?}");
    assert_eq!(shown("GATEHOUSE_PUBLIC_URL").value, "http://localhost:9000");
    assert_eq!(shown("GATEHOUSE_PUBLIC_URL").source, "default (computed)");
    assert_eq!(shown("GATEHOUSE_REDIS_URL").value, "(unset)");
    assert_eq!(loaded.config.bind.to_string(), "127.0.0.1:9000");
    assert_eq!(loaded.effective.len(), settings::ALL.len());
}

#[test]
fn a_bare_port_listens_on_every_interface_and_the_links_say_localhost() {
    let config = load(&[("GATEHOUSE_BIND", ":8080")]).unwrap().config;
    assert_eq!(config.bind.to_string(), "0.0.0.0:8080");
    assert_eq!(config.public_url.as_str(), "http://localhost:8080/");
    let config =
        load(&[("GATEHOUSE_BIND", ":8080"), ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com")]).unwrap().config;
    assert_eq!(config.public_url.as_str(), "https://auth.example.com/", "a public URL that is set wins");
}

#[test]
fn a_resource_taking_only_bound_tokens_must_be_one_of_the_resources() {
    let resources = ("GATEHOUSE_RESOURCES", "https://mcp.example.com/ mcp:tools, https://api.example.com/v1");
    let loaded = load(&[resources, ("GATEHOUSE_DPOP_RESOURCES", "HTTPS://MCP.example.com:443")]).unwrap();
    let bound: Vec<(&str, bool)> =
        loaded.config.policy.resources.iter().map(|r| (r.url(), r.dpop_required())).collect();
    assert_eq!(bound, [("https://mcp.example.com/", true), ("https://api.example.com/v1", false)]);
    let err = load(&[resources, ("GATEHOUSE_DPOP_RESOURCES", "https://other.example.com/")]).unwrap_err();
    assert!(
        err.problems.iter().any(|p| p.contains("GATEHOUSE_DPOP_RESOURCES") && p.contains("other.example.com")),
        "{err}"
    );
    let err = load(&[("GATEHOUSE_DPOP_RESOURCES", "not a url")]).unwrap_err();
    assert!(err.problems.iter().any(|p| p.contains("GATEHOUSE_DPOP_RESOURCES")), "{err}");
}
