//! The `gatehouse` binary as an operator runs it: `config check`, `migrate`, `user create`,
//! the operator commands (`user list|show|…`, `keys`, `outbox`), `--help`, and `serve`
//! started and stopped with SIGTERM. Each test runs in its own
//! temporary directory with an environment holding only what the test sets.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// The binary, run in `dir`, with `sqlite://<dir>/g.db` and nothing else from the environment
/// (no stray `GATEHOUSE_*`, `DATABASE_URL` or `REDIS_URL` of the machine running the tests) but
/// `LLVM_PROFILE_FILE`, so that a coverage run counts what the binary ran.
fn gatehouse(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .current_dir(dir)
        .env_clear()
        .env("GATEHOUSE_DATABASE_URL", format!("sqlite://{}", dir.join("g.db").display()))
        .stdin(Stdio::null());
    if let Ok(profile) = std::env::var("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the gatehouse binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The value `config check` printed for `name` (each line is `NAME=value    # source`).
fn setting(output: &Output, name: &str) -> String {
    let prefix = format!("{name}=");
    stdout(output)
        .lines()
        .find_map(|line| {
            line.strip_prefix(&prefix).map(|rest| rest.split("    # ").next().unwrap_or(rest).trim_end().to_owned())
        })
        .unwrap_or_else(|| panic!("{name} not printed in:\n{}", stdout(output)))
}

/// `gatehouse user create …` with `password` on standard input; the database is made first with
/// `gatehouse migrate` when there is none yet, as an operator does (the operator commands refuse
/// a SQLite file that does not exist).
fn create_user(dir: &Path, args: &[&str], password: &str) -> Output {
    if !dir.join("g.db").exists() {
        let migrated = run(gatehouse(dir).arg("migrate"));
        assert_eq!(migrated.status.code(), Some(0), "{}", stderr(&migrated));
    }
    let mut child = gatehouse(dir)
        .args(["user", "create", "--password-stdin"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gatehouse binary starts");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// `gatehouse <args>`, which must succeed.
fn ok(dir: &Path, args: &[&str]) -> Output {
    let output = run(gatehouse(dir).args(args));
    assert_eq!(output.status.code(), Some(0), "gatehouse {args:?}: {}", stderr(&output));
    output
}

/// `gatehouse <args> --json`, which must succeed: the document it printed.
fn json_of(dir: &Path, args: &[&str]) -> Value {
    let output = ok(dir, &[args, &["--json"]].concat());
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&output)))
}

/// The one line a refused command printed: it exited 1 and said why once, not also in the log.
fn refusal(output: &Output) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let mut lines = err.lines().filter_map(|line| line.strip_prefix("gatehouse: "));
    let reason = lines.next().unwrap_or_else(|| panic!("no reason given: {err}")).to_owned();
    assert_eq!(err.matches(&reason).count(), 1, "said once: {err}");
    reason
}

/// The emails of the accounts in a `user list --json` page, in order.
fn emails(page: &Value) -> Vec<&str> {
    page["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect()
}

/// Waits at most `limit` for the child to exit.
async fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn help_lists_every_command() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).arg("--help"));

    assert!(output.status.success(), "{}", stderr(&output));
    let help = stdout(&output);
    for command in ["serve", "migrate", "copy", "user", "keys", "outbox", "config", "mail", "purge", "work"] {
        assert!(help.lines().any(|line| line.trim_start().starts_with(command)), "{command} missing from:\n{help}");
    }
}

#[test]
fn an_unknown_command_is_a_usage_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).arg("frobnicate"));

    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("frobnicate"), "{}", stderr(&output));
}

/// Forward-auth rules believe only a trusted proxy's headers; rules without trusted proxies
/// would never apply, so the start is refused with the cause.
#[test]
fn forward_rules_without_trusted_proxies_stop_the_start_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();

    let output =
        run(gatehouse(dir.path()).arg("serve").env("GATEHOUSE_FORWARD_RULES", "app.example.com/admin=group:admin"));

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("GATEHOUSE_TRUSTED_PROXIES"), "{}", stderr(&output));
}

/// The claims of a JWT, undecoded but for the base64url of its middle part.
fn claims_of(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `gatehouse dev token` logs a test user in without a password, so it runs only where
/// `GATEHOUSE_DEV=true`, which the configuration accepts only with a loopback public URL; the
/// session it makes says `amr: ["dev"]`, so that nothing mistakes it for a real login.
#[test]
fn dev_token_gives_a_test_user_a_token_only_on_a_development_machine() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["migrate"]);

    let off = run(gatehouse(dir.path()).args(["dev", "token", "--email", "tess@example.com", "--create"]));
    assert!(refusal(&off).contains("GATEHOUSE_DEV=true"), "{}", stderr(&off));

    let production = run(gatehouse(dir.path())
        .args(["dev", "token", "--email", "tess@example.com", "--create"])
        .env("GATEHOUSE_DEV", "true")
        .env("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"));
    assert_eq!(production.status.code(), Some(2), "{}", stderr(&production));
    assert!(stderr(&production).contains("GATEHOUSE_DEV"), "{}", stderr(&production));
    let serve = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_DEV", "true")
        .env("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"));
    assert_eq!(serve.status.code(), Some(2), "a server with GATEHOUSE_DEV on a public URL: {}", stderr(&serve));

    let dev = |args: &[&str]| {
        run(gatehouse(dir.path())
            .args(["dev", "token", "--email", "tess@example.com"])
            .args(args)
            .env("GATEHOUSE_DEV", "true"))
    };
    let missing = dev(&[]);
    assert!(refusal(&missing).contains("--create"), "{}", stderr(&missing));

    let created = dev(&["--create"]);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let pair: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert!(pair["refresh_token"].as_str().is_some_and(|t| !t.is_empty()), "{pair}");
    assert_eq!(pair["user"]["email"], "tess@example.com");
    assert_eq!(pair["user"]["status"], "active");
    let claims = claims_of(pair["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["dev"]), "{claims}");
    assert_eq!(claims["aal"], 1, "{claims}");
    assert!(stderr(&created).contains("a development login"), "logged as such: {}", stderr(&created));

    let again = dev(&["--second-factor"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let pair: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(pair["user"]["id"], claims["sub"], "the same account, not a second one");
    let claims = claims_of(pair["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["dev", "mfa"]), "{claims}");
    assert_eq!(claims["aal"], 2, "{claims}");
    assert!(!stdout(&again).contains("password"), "{}", stdout(&again));
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .args(["mail", "test", "--to", "ops@example.com"])
        .env("GATEHOUSE_LOG_FORMAT", "json"));

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines: Vec<Value> = stderr(&output)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|line| line["level"].is_string() && line["timestamp"].is_string()), "{lines:?}");
    assert!(lines.iter().any(|line| line["to"] == "ops@example.com"), "{lines:?}");
}

#[test]
fn config_check_prints_every_setting_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args(["config", "check"]));

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let contract = [
        "GATEHOUSE_BIND",
        "GATEHOUSE_PUBLIC_URL",
        "GATEHOUSE_DATABASE_URL",
        "GATEHOUSE_REDIS_URL",
        "GATEHOUSE_SMTP_URL",
        "GATEHOUSE_MAIL_FROM",
        "GATEHOUSE_ADMIN_EMAIL",
        "GATEHOUSE_ADMIN_PASSWORD",
        "GATEHOUSE_ACCESS_TOKEN_TTL",
        "GATEHOUSE_SESSION_TTL",
        "GATEHOUSE_ACTIVATION_TTL",
        "GATEHOUSE_RESET_TTL",
        "GATEHOUSE_LOG",
        "GATEHOUSE_LOG_FORMAT",
    ];
    let every = gatehouse::config::settings::ALL.iter().map(|setting| setting.name());
    for name in contract.into_iter().chain(every) {
        setting(&output, name);
    }
    assert_eq!(setting(&output, "GATEHOUSE_BIND"), "127.0.0.1:8080");
    assert_eq!(setting(&output, "GATEHOUSE_ACCESS_TOKEN_TTL"), "15m");
    assert_eq!(setting(&output, "GATEHOUSE_SESSION_TTL"), "24h", "a default as written");
    assert!(setting(&output, "GATEHOUSE_DATABASE_URL").contains("g.db"));
    assert!(!stdout(&output).contains("warning"), "{}", stdout(&output));
}

#[test]
fn config_check_masks_the_password_in_the_smtp_url() {
    let dir = tempfile::tempdir().unwrap();

    let output =
        run(gatehouse(dir.path()).args(["config", "check"]).env("GATEHOUSE_SMTP_URL", "smtps://u:sekret@host:465"));

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let smtp = setting(&output, "GATEHOUSE_SMTP_URL");
    assert!(smtp.contains("host:465") && smtp.contains("u:"), "{smtp}");
    assert!(!stdout(&output).contains("sekret") && !stderr(&output).contains("sekret"));
}

#[test]
fn config_check_masks_the_bootstrap_admin_password() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .args(["config", "check"])
        .env("GATEHOUSE_ADMIN_EMAIL", "boss@example.com")
        .env("GATEHOUSE_ADMIN_PASSWORD", "bootstrap admin passphrase 42"));

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(setting(&output, "GATEHOUSE_ADMIN_EMAIL"), "boss@example.com");
    assert!(!stdout(&output).contains("passphrase 42"));
}

#[test]
fn a_bad_value_exits_2_and_names_the_variable_with_advice() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args(["config", "check"]).env("GATEHOUSE_SESSION_TTL", "forever"));

    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("GATEHOUSE_SESSION_TTL"), "{err}");
    assert!(err.contains("forever") && err.contains("24h"), "the advice shows how to write it: {err}");
}

#[test]
fn a_broken_template_stops_the_start_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("de.ftl"), "# ours\n\npassword-reset =\n    .subject = Neu\n    .intro = { $lnk }\n")
        .unwrap();

    let serve = run(gatehouse(dir.path()).arg("serve").env("GATEHOUSE_TEMPLATES_DIR", &templates));

    assert_eq!(serve.status.code(), Some(2));
    let err = stderr(&serve);
    let file = templates.join("de.ftl").display().to_string();
    assert!(err.contains(&format!("GATEHOUSE_TEMPLATES_DIR: {file}:3: `password-reset` lacks")), "{err}");
    assert!(err.contains(&format!("{file}:3: `password-reset.intro`")) && err.contains("lnk"), "{err}");
    assert!(!dir.path().join("g.db").exists(), "nothing was done");

    std::fs::write(templates.join("de.ftl"), "password-reset =\n    .subject = Neues Passwort für { $product }\n    .intro = Hallo\n    .button = Los\n    .outro = Bis { $valid }\n").unwrap();
    let check = run(gatehouse(dir.path()).args(["config", "check"]).env("GATEHOUSE_TEMPLATES_DIR", &templates));
    assert_eq!(check.status.code(), Some(0), "a whole message is taken: {}", stderr(&check));
}

#[test]
fn a_bad_value_stops_every_command_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();

    let serve = run(gatehouse(dir.path()).arg("serve").env("GATEHOUSE_BIND", "localhost"));
    let migrate = run(gatehouse(dir.path()).arg("migrate").env("GATEHOUSE_LOG_FORMAT", "xml"));

    assert_eq!(serve.status.code(), Some(2));
    assert!(stderr(&serve).contains("GATEHOUSE_BIND"), "{}", stderr(&serve));
    assert_eq!(migrate.status.code(), Some(2));
    assert!(stderr(&migrate).contains("GATEHOUSE_LOG_FORMAT"), "{}", stderr(&migrate));
    assert!(!dir.path().join("g.db").exists(), "nothing was done");
}

#[test]
fn an_unknown_gatehouse_variable_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args(["config", "check"]).env("GATEHOUSE_FOO", "1"));

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.lines().any(|line| line.starts_with("warning") && line.contains("GATEHOUSE_FOO")), "{out}");
}

#[test]
fn values_come_from_gatehouse_toml_then_dotenv_then_the_environment_which_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gatehouse.toml"),
        "session_ttl = \"12h\"\nreset_ttl = \"2h\"\nactivation_ttl = \"48h\"\nmail_from = \"toml <toml@example.com>\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".env"), "GATEHOUSE_SESSION_TTL=6h\nGATEHOUSE_RESET_TTL=30m\n").unwrap();

    let output = run(gatehouse(dir.path()).args(["config", "check"]).env("GATEHOUSE_SESSION_TTL", "3h"));

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(setting(&output, "GATEHOUSE_ACTIVATION_TTL"), "48h", "from gatehouse.toml, as written");
    assert_eq!(setting(&output, "GATEHOUSE_MAIL_FROM"), "toml <toml@example.com>", "from gatehouse.toml");
    assert_eq!(setting(&output, "GATEHOUSE_RESET_TTL"), "30m", ".env wins over gatehouse.toml");
    assert_eq!(setting(&output, "GATEHOUSE_SESSION_TTL"), "3h", "the environment wins over both");
    let out = stdout(&output);
    let source = |name: &str| {
        out.lines().find(|line| line.starts_with(&format!("{name}="))).and_then(|line| line.split("# ").nth(1))
    };
    assert_eq!(source("GATEHOUSE_ACTIVATION_TTL"), Some("gatehouse.toml"), "{out}");
    assert_eq!(source("GATEHOUSE_RESET_TTL"), Some(".env"));
    assert_eq!(source("GATEHOUSE_SESSION_TTL"), Some("env"));
    assert_eq!(source("GATEHOUSE_HASH_QUEUE"), Some("default"));
}

#[test]
fn database_url_is_accepted_where_gatehouse_database_url_is_unset() {
    let dir = tempfile::tempdir().unwrap();

    let alias = run(gatehouse(dir.path())
        .args(["config", "check"])
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env("DATABASE_URL", "sqlite://alias.db"));
    let both = run(gatehouse(dir.path()).args(["config", "check"]).env("DATABASE_URL", "sqlite://alias.db"));

    assert_eq!(alias.status.code(), Some(0), "{}", stderr(&alias));
    assert_eq!(setting(&alias, "GATEHOUSE_DATABASE_URL"), "sqlite://alias.db");
    let line = stdout(&alias).lines().find(|line| line.starts_with("GATEHOUSE_DATABASE_URL=")).map(str::to_owned);
    assert!(line.as_deref().is_some_and(|line| line.ends_with("# env as DATABASE_URL")), "{line:?}");
    assert_eq!(both.status.code(), Some(0), "{}", stderr(&both));
    assert!(setting(&both, "GATEHOUSE_DATABASE_URL").ends_with("g.db"), "the GATEHOUSE_ name wins");
}

#[test]
fn mail_test_writes_to_the_log_without_smtp_and_fails_with_advice_when_the_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let logged = run(gatehouse(dir.path()).args(["mail", "test", "--to", "ops@example.com"]));
    let down = run(gatehouse(dir.path())
        .args(["mail", "test", "--to", "ops@example.com"])
        .env("GATEHOUSE_SMTP_URL", format!("smtp://127.0.0.1:{dead_port}")));

    assert_eq!(logged.status.code(), Some(0), "{}", stderr(&logged));
    assert!(stdout(&logged).contains("ops@example.com"), "{}", stdout(&logged));
    assert!(stderr(&logged).contains("ops@example.com"), "the message is in the log: {}", stderr(&logged));
    assert_eq!(down.status.code(), Some(1));
    assert!(stderr(&down).contains(&format!("127.0.0.1:{dead_port}")), "{}", stderr(&down));
}

#[test]
fn migrate_creates_the_database_and_can_run_again() {
    let dir = tempfile::tempdir().unwrap();

    let first = run(gatehouse(dir.path()).arg("migrate"));
    let second = run(gatehouse(dir.path()).arg("migrate"));

    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let db = std::fs::read(dir.path().join("g.db")).expect("the database file exists");
    assert!(db.starts_with(b"SQLite format 3\0"));
}

#[test]
fn purge_sweeps_a_database_once_and_refuses_one_that_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = run(gatehouse(dir.path()).arg("purge"));
    ok(dir.path(), &["migrate"]);

    let swept = ok(dir.path(), &["purge"]);

    assert_eq!(nowhere.status.code(), Some(2), "{}", stderr(&nowhere));
    assert!(stderr(&nowhere).contains("there is no database"), "{}", stderr(&nowhere));
    assert!(
        stdout(&swept).starts_with("removed 0 expired sessions, links and codes and 0 audit events past retention"),
        "{}",
        stdout(&swept)
    );
}

#[test]
fn user_create_makes_an_account_once_and_refuses_the_same_email_again() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--email", "a@example.com", "--username", "ada", "--admin"];

    let first = create_user(dir.path(), &args, PASSWORD);
    let again = create_user(dir.path(), &["--email", "A@example.com"], PASSWORD);

    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stdout(&first).contains("a@example.com"), "{}", stdout(&first));
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    assert!(!stdout(&first).contains(PASSWORD) && !stderr(&first).contains(PASSWORD));
}

#[test]
fn user_create_refuses_a_weak_password_or_a_bad_username_and_says_why() {
    let dir = tempfile::tempdir().unwrap();

    let short = create_user(dir.path(), &["--email", "b@example.com"], "short");
    let common = create_user(dir.path(), &["--email", "b@example.com"], "password123");
    let username = create_user(dir.path(), &["--email", "b@example.com", "--username", "b"], PASSWORD);

    assert!(!short.status.success());
    assert!(stderr(&short).contains("at least 8 characters"), "{}", stderr(&short));
    assert!(!common.status.success());
    assert!(stderr(&common).contains("common"), "{}", stderr(&common));
    assert!(!username.status.success());
    assert!(stderr(&username).contains("3 to 32 characters"), "{}", stderr(&username));
    // Nothing was created: the address is still free.
    let fine = create_user(dir.path(), &["--email", "b@example.com"], PASSWORD);
    assert_eq!(fine.status.code(), Some(0), "{}", stderr(&fine));
}

#[test]
fn copy_moves_the_database_into_an_empty_one_and_refuses_one_in_use() {
    let dir = tempfile::tempdir().unwrap();
    for (email, admin) in [("root@example.com", &["--admin"][..]), ("ann@example.com", &[])] {
        let created = create_user(dir.path(), &[&["--email", email][..], admin].concat(), PASSWORD);
        assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    }
    ok(dir.path(), &["user", "disable", "ann@example.com"]);
    let target = format!("sqlite://{}", dir.path().join("moved.db").display());

    let copied = ok(dir.path(), &["copy", "--to", &target]);
    let said = stdout(&copied);
    assert!(said.lines().any(|line| line == "accounts: 2"), "{said}");
    assert!(said.contains("sessions were not copied"), "{said}");
    assert!(stderr(&copied).contains("2 accounts"), "progress on standard error: {}", stderr(&copied));
    let on_target = |args: &[&str]| {
        let output = run(gatehouse(dir.path()).env("GATEHOUSE_DATABASE_URL", &target).args(args));
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let moved = on_target(&["user", "list", "--json"]);
    assert_eq!(emails(&moved), ["ann@example.com", "root@example.com"]);
    let statuses: Vec<&str> =
        moved["users"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    let roles: Vec<&str> = moved["users"].as_array().unwrap().iter().map(|u| u["role"].as_str().unwrap()).collect();
    assert_eq!((statuses, roles), (vec!["disabled", "active"], vec!["user", "admin"]));

    let again = run(gatehouse(dir.path()).args(["copy", "--to", &target]));
    assert_eq!(refusal(&again), "refusing to copy (nothing was written):");
    assert!(stderr(&again).contains("the target already holds accounts"), "{}", stderr(&again));
    assert_eq!(emails(&on_target(&["user", "list", "--json"])).len(), 2, "nothing more was written");
}

#[test]
fn user_list_prints_a_table_or_json_filtered_by_text_and_status() {
    let dir = tempfile::tempdir().unwrap();
    for (email, username) in [("root@example.com", "root"), ("ann@example.com", "ann"), ("bob@example.com", "bob")] {
        let created = create_user(dir.path(), &["--email", email, "--username", username], PASSWORD);
        assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    }
    ok(dir.path(), &["user", "disable", "bob"]);

    let table = stdout(&ok(dir.path(), &["user", "list"]));
    let all = json_of(dir.path(), &["user", "list"]);
    let by_text = json_of(dir.path(), &["user", "list", "--q", "ANN"]);
    let disabled = json_of(dir.path(), &["user", "list", "--status", "disabled"]);
    let first = json_of(dir.path(), &["user", "list", "--limit", "1"]);

    let header = table.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("EMAIL") && header.contains("STATUS"), "{table}");
    let bob = table.lines().find(|line| line.contains("bob@example.com")).expect(&table);
    assert_eq!(bob.find("disabled"), header.find("STATUS"), "the columns line up:\n{table}");
    assert!(table.contains("3 of 3 accounts"), "{table}");
    assert_eq!(emails(&all), ["bob@example.com", "ann@example.com", "root@example.com"], "newest first");
    assert_eq!(all["total"], 3);
    let keys: Vec<&String> = all["users"][0].as_object().unwrap().keys().collect();
    let api = [
        "app_data",
        "created_at",
        "data",
        "email",
        "email_verified",
        "id",
        "locale",
        "name",
        "role",
        "status",
        "updated_at",
        "username",
    ];
    assert_eq!(keys, api, "the HTTP API's field names");
    assert_eq!(emails(&by_text), ["ann@example.com"]);
    assert_eq!(by_text["total"], Value::Null, "a text search is not counted");
    assert_eq!(emails(&disabled), ["bob@example.com"]);
    assert_eq!(disabled["users"][0]["status"], "disabled");
    assert_eq!(emails(&first), ["bob@example.com"]);
    let next = first["next_cursor"].as_str().expect("a next page");
    let second = json_of(dir.path(), &["user", "list", "--limit", "1", "--cursor", next]);
    assert_eq!(emails(&second), ["ann@example.com"]);
}

#[test]
fn user_show_disable_and_enable_report_and_change_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let created = create_user(dir.path(), &["--email", "ann@example.com", "--username", "ann"], PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));

    let shown = stdout(&ok(dir.path(), &["user", "show", "ann@example.com"]));
    let before = json_of(dir.path(), &["user", "show", "ann"]);
    let disabled = stdout(&ok(dir.path(), &["user", "disable", "ann"]));
    let after_disable = json_of(dir.path(), &["user", "show", "ann"]);
    let enabled = json_of(dir.path(), &["user", "enable", before["id"].as_str().unwrap()]);
    let missing = run(gatehouse(dir.path()).args(["user", "show", "bob"]));

    assert!(shown.lines().any(|line| line.starts_with("live sessions") && line.ends_with(" 0")), "{shown}");
    assert!(shown.lines().any(|line| line.starts_with("status") && line.ends_with(" active")), "{shown}");
    assert_eq!(before["status"], "active");
    assert_eq!(before["live_sessions"], 0);
    assert_eq!(disabled.lines().count(), 1, "one line: {disabled}");
    assert!(disabled.contains("ann@example.com") && disabled.contains("disabled"), "{disabled}");
    assert_eq!(after_disable["status"], "disabled");
    assert_eq!(enabled["status"], "active");
    assert_eq!(enabled["id"], before["id"]);
    assert_eq!(refusal(&missing), "no such account: bob");
}

#[test]
fn promote_and_demote_change_the_role_but_the_last_active_admin_stays() {
    let dir = tempfile::tempdir().unwrap();
    let root: &[&str] = &["--email", "root@example.com", "--admin"];
    for args in [root, &["--email", "ann@example.com", "--username", "ann"]] {
        let created = create_user(dir.path(), args, PASSWORD);
        assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    }

    let alone = run(gatehouse(dir.path()).args(["user", "demote", "root@example.com"]));
    let disable_alone = run(gatehouse(dir.path()).args(["user", "disable", "root@example.com"]));
    let promoted = json_of(dir.path(), &["user", "promote", "ann"]);
    let demoted = stdout(&ok(dir.path(), &["user", "demote", "root@example.com"]));

    let message = "the last active admin cannot be demoted, disabled or deleted; make another admin first";
    assert_eq!(refusal(&alone), message);
    assert_eq!(refusal(&disable_alone), message);
    assert_eq!(promoted["role"], "admin");
    assert!(demoted.contains("root@example.com"), "{demoted}");
    assert_eq!(json_of(dir.path(), &["user", "show", "root@example.com"])["role"], "user");
    assert_eq!(json_of(dir.path(), &["user", "show", "root@example.com"])["status"], "active");
}

#[test]
fn set_app_data_replaces_the_admin_written_object_and_refuses_what_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let created = create_user(dir.path(), &["--email", "ann@example.com", "--username", "ann"], PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));

    let set = json_of(dir.path(), &["user", "set-app-data", "ann", r#"{"plan": "pro", "seats": 5}"#]);
    let said = stdout(&ok(dir.path(), &["user", "set-app-data", "ann@example.com", r#"{"plan": "team"}"#]));
    let shown = json_of(dir.path(), &["user", "show", "ann"]);
    let not_json = run(gatehouse(dir.path()).args(["user", "set-app-data", "ann", "plan=pro"]));
    let not_object = run(gatehouse(dir.path()).args(["user", "set-app-data", "ann", "[1, 2]"]));

    assert_eq!(set["app_data"], serde_json::json!({"plan": "pro", "seats": 5}));
    assert!(said.starts_with("set the app_data of ann@example.com ("), "{said}");
    assert!(said.contains(r#" to {"plan":"team"} (database "#), "{said}");
    assert_eq!(shown["app_data"], serde_json::json!({"plan": "team"}), "replaced, not merged");
    assert_eq!(not_json.status.code(), Some(2), "a usage error: {}", stderr(&not_json));
    assert!(stderr(&not_json).contains("not JSON"), "{}", stderr(&not_json));
    assert!(refusal(&not_object).starts_with("app_data must be a JSON object"), "{}", stderr(&not_object));
}

#[test]
fn delete_without_yes_is_refused_when_no_terminal_can_confirm_and_with_yes_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let created = create_user(dir.path(), &["--email", "ann@example.com", "--username", "ann"], PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));

    let unconfirmed = run(gatehouse(dir.path()).args(["user", "delete", "ann"]));
    let still_there = json_of(dir.path(), &["user", "show", "ann"]);
    let deleted = stdout(&ok(dir.path(), &["user", "delete", "ann", "--yes"]));
    let gone = run(gatehouse(dir.path()).args(["user", "show", "ann"]));

    assert!(refusal(&unconfirmed).contains("--yes"), "{}", stderr(&unconfirmed));
    assert_eq!(still_there["email"], "ann@example.com");
    assert!(deleted.starts_with("deleted ann@example.com"), "{deleted}");
    assert_eq!(refusal(&gone), "no such account: ann");
}

#[test]
fn keys_rotate_adds_a_key_that_is_published_but_does_not_sign_yet() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["migrate"]);

    let before = json_of(dir.path(), &["keys", "list"]);
    let rotated = stdout(&ok(dir.path(), &["keys", "rotate"]));
    let after = json_of(dir.path(), &["keys", "list"]);
    let table = stdout(&ok(dir.path(), &["keys", "list"]));

    let before = before.as_array().unwrap();
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!((&before[0]["signing"], &before[0]["published"]), (&json!(true), &json!(true)));
    let after = after.as_array().unwrap();
    assert_eq!(after.len(), 2, "{after:?}");
    let new = after.iter().find(|k| k["kid"] != before[0]["kid"]).unwrap();
    let old = after.iter().find(|k| k["kid"] == before[0]["kid"]).unwrap();
    assert_eq!((&new["signing"], &new["published"]), (&json!(false), &json!(true)));
    assert_eq!(old["signing"], true, "the old key signs until the new one has been published long enough");
    let kid = new["kid"].as_str().unwrap();
    assert!(rotated.contains(kid), "{rotated}");
    assert!(rotated.contains("2m") && rotated.contains("old keys keep verifying"), "{rotated}");
    let line = table.lines().find(|line| line.starts_with(kid)).expect(&table);
    assert!(line.split_whitespace().rev().take(2).eq(["yes", "no"]), "signing no, published yes: {line}");
}

/// As a Lambda function: refused outside the Lambda runtime, and, under it, on a database no
/// other instance shares or with a handler name it does not know; each with its reason, before
/// anything is opened.
#[test]
fn lambda_is_refused_where_it_cannot_serve_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let outside = run(gatehouse(dir.path()).arg("lambda"));
    assert_eq!(outside.status.code(), Some(2), "{}", stderr(&outside));
    assert!(stderr(&outside).contains("AWS_LAMBDA_RUNTIME_API"), "{}", stderr(&outside));

    // Started as the runtime starts a bootstrap: no arguments, the runtime's address set.
    let sqlite = run(gatehouse(dir.path()).env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"));
    assert_eq!(sqlite.status.code(), Some(2), "{}", stderr(&sqlite));
    assert!(stderr(&sqlite).contains("instances share"), "a SQLite file is one per instance: {}", stderr(&sqlite));
    assert!(!dir.path().join("g.db").exists(), "nothing was created");

    let unknown = run(gatehouse(dir.path())
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("_HANDLER", "worker")
        .env("GATEHOUSE_DATABASE_URL", "postgres://nobody@127.0.0.1:9/none"));
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("\"worker\""), "{}", stderr(&unknown));
}

/// One round of the background work, as a scheduler runs it: the queued email goes out (to the
/// log, no SMTP server being set) and the outbox says so; a second round finds nothing.
#[test]
fn work_once_delivers_the_queued_emails_sweeps_and_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let created = create_user(dir.path(), &["--email", "ann@example.com", "--username", "ann"], PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    ok(dir.path(), &["user", "reset-password", "ann"]);

    let first = ok(dir.path(), &["work", "--once"]);
    let second = ok(dir.path(), &["work", "--once", "--within", "5s"]);
    let without = run(gatehouse(dir.path()).arg("work"));

    let done: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(done["emails"]["done"], 1, "{done}");
    assert_eq!(done["webhook_deliveries"]["done"], 0, "{done}");
    assert_eq!(done["logout_notices"]["done"], 0, "{done}");
    assert!(done["swept"]["expired"].is_u64(), "{done}");
    assert!(stderr(&first).contains("email delivered"), "{}", stderr(&first));
    let again: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(again["emails"]["done"], 0, "nothing left: {again}");
    let sent = json_of(dir.path(), &["outbox", "list", "--status", "sent"]);
    assert_eq!(sent["emails"][0]["recipient"], "ann@example.com", "{sent}");
    assert_eq!(without.status.code(), Some(2), "a round needs --once: {}", stderr(&without));
}

#[test]
fn reset_password_queues_an_email_the_outbox_lists_without_its_link_and_only_failed_ones_retry() {
    let dir = tempfile::tempdir().unwrap();
    let created = create_user(dir.path(), &["--email", "ann@example.com", "--username", "ann"], PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));

    let queued = stdout(&ok(dir.path(), &["user", "reset-password", "ann"]));
    let listed = ok(dir.path(), &["outbox", "list", "--recipient", "ANN@example.com", "--json"]);
    let table = stdout(&ok(dir.path(), &["outbox", "list", "--status", "queued"]));
    let failed = json_of(dir.path(), &["outbox", "list", "--status", "failed"]);

    assert!(queued.contains("ann@example.com"), "{queued}");
    let page: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let emails = page["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "{page}");
    assert_eq!(emails[0]["recipient"], "ann@example.com");
    assert_eq!(emails[0]["kind"], "password_reset");
    assert_eq!(emails[0]["status"], "queued");
    let fields: Vec<&String> = emails[0].as_object().unwrap().keys().collect();
    let api = [
        "attempts",
        "created_at",
        "id",
        "kind",
        "last_error",
        "next_attempt_at",
        "recipient",
        "sent_at",
        "status",
        "subject",
    ];
    assert_eq!(fields, api, "no body");
    assert!(!stdout(&listed).contains("token"), "no link: {}", stdout(&listed));
    assert!(table.lines().any(|line| line.contains("password_reset") && line.contains("ann@example.com")), "{table}");
    assert_eq!(failed["emails"], json!([]));

    let id = emails[0]["id"].as_str().unwrap();
    let not_failed = run(gatehouse(dir.path()).args(["outbox", "retry", id]));
    let unknown = run(gatehouse(dir.path()).args(["outbox", "retry", "0193b5d2-7c1e-7a4b-9d3e-2f1a6c8b9e01"]));

    assert_eq!(refusal(&not_failed), "only a failed email can be retried");
    assert_eq!(refusal(&unknown), "no such email: 0193b5d2-7c1e-7a4b-9d3e-2f1a6c8b9e01");
}

#[tokio::test]
async fn serve_answers_health_checks_serves_the_created_admin_and_exits_0_on_sigterm() {
    // Arrange: an admin made on the command line, and a free port.
    let dir = tempfile::tempdir().unwrap();
    let created = create_user(dir.path(), &["--email", "root@example.com", "--admin"], PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut server = gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("gatehouse serve starts");
    let server_log = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();

    // Act and assert: it comes up within ten seconds.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await {
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            break;
        }
        if let Some(status) = server.try_wait().unwrap() {
            panic!("gatehouse serve exited early with {status}:\n{}", server_log());
        }
        if Instant::now() >= deadline {
            let _ = server.kill();
            panic!("gatehouse serve did not answer /healthz within 10 s:\n{}", server_log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login = client
        .post(format!("{base}/auth"))
        .json(&json!({"email": "root@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);
    let tokens: Value = login.json().await.unwrap();
    assert_eq!(tokens["user"]["role"], "admin");
    assert_eq!(tokens["user"]["status"], "active");

    // Without GATEHOUSE_SMTP_URL the confirmation email goes to the log, its link usable.
    let signed_up = client
        .post(format!("{base}/user"))
        .json(&json!({"email": "new@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), reqwest::StatusCode::CREATED);
    let link_prefix = format!("{base}/activate?token=");
    let deadline = Instant::now() + Duration::from_secs(10);
    let link = loop {
        let found = server_log().lines().map(str::trim).find(|line| line.starts_with(&link_prefix)).map(str::to_owned);
        if let Some(link) = found {
            break link;
        }
        assert!(Instant::now() < deadline, "no activation link in the log within 10 s:\n{}", server_log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(client.get(&link).send().await.unwrap().status(), reqwest::StatusCode::OK);
    let login = client
        .post(format!("{base}/auth"))
        .json(&json!({"email": "new@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);

    // SIGTERM: a graceful stop with exit code 0.
    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let Some(status) = wait_for_exit(&mut server, Duration::from_secs(15)).await else {
        let _ = server.kill();
        let _ = server.wait();
        panic!("gatehouse serve did not stop within 15 s of SIGTERM:\n{}", server_log());
    };
    assert_eq!(status.code(), Some(0), "{}", server_log());
    assert!(server_log().contains("SIGTERM"), "{}", server_log());
}

#[test]
fn operator_commands_refuse_a_database_that_does_not_exist_and_name_it() {
    let dir = tempfile::tempdir().unwrap();

    for args in [&["user", "list"][..], &["keys", "list"], &["outbox", "list"]] {
        let output = run(gatehouse(dir.path()).args(args));

        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stdout(&output));
        let error = stderr(&output);
        let path = dir.path().join("g.db");
        assert!(error.contains(&format!("there is no database at {}", path.display())), "{error}");
        assert!(error.contains("GATEHOUSE_DATABASE_URL"), "{error}");
    }
    assert!(!dir.path().join("g.db").exists(), "no empty database was made");
}

#[test]
fn write_commands_name_the_database_they_wrote_to_and_user_create_speaks_json() {
    let dir = tempfile::tempdir().unwrap();
    let created = create_user(dir.path(), &["--email", "ann@example.com", "--json"], PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let account: Value = serde_json::from_str(&stdout(&created)).expect("user create --json prints JSON");
    assert_eq!((account["email"].as_str(), account["status"].as_str()), (Some("ann@example.com"), Some("active")));

    let disabled = stdout(&ok(dir.path(), &["user", "disable", "ann@example.com"]));

    assert!(disabled.contains(&format!("(database {})", dir.path().join("g.db").display())), "{disabled}");
}

#[test]
fn mail_test_opens_no_database() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args(["mail", "test", "--to", "ops@example.com"]));

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!dir.path().join("g.db").exists(), "mail test made a database");
}

/// `gatehouse serve` with its environment and output, on a free port.
fn serve(dir: &Path, env: &[(&str, &str)]) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = gatehouse(dir)
        .arg("serve")
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gatehouse serve starts");
    (child, port)
}

/// Stops a server: SIGTERM, then SIGKILL if it has not gone within ten seconds.
fn stop(server: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Waits (at most ten seconds) until `port` answers /healthz.
async fn until_healthy(port: u16, server: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_err() {
        assert!(server.try_wait().unwrap().is_none(), "the server exited before it answered");
        assert!(Instant::now() < deadline, "the server did not answer /healthz within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_binary_stays_ready_while_its_mail_server_is_unreachable_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: the mail server is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (mut server, port) = serve(dir.path(), &[("GATEHOUSE_SMTP_URL", &format!("smtp://127.0.0.1:{closed}"))]);
    until_healthy(port, &mut server).await;

    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.unwrap();
    let status = ready.status();
    let body: Value = ready.json().await.unwrap();
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    stop(&mut server);

    assert_eq!(status, reqwest::StatusCode::OK, "a mail outage never makes the replica unready: {body}");
    assert_eq!(body, serde_json::json!({"status": "ready", "mail_server": "unreachable"}));
    assert!(metrics.lines().any(|line| line == "gatehouse_mail_server_up 0"), "{metrics}");
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_refuses_to_start_while_operator_commands_work_beside_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, port) = serve(dir.path(), &[]);
    until_healthy(port, &mut first).await;

    let (second, _) = serve(dir.path(), &[]);
    let second = second.wait_with_output().unwrap();
    let listed = run(gatehouse(dir.path()).args(["user", "list"]));
    stop(&mut first);

    assert_eq!(second.status.code(), Some(2), "the second server exits with a configuration error");
    let error = stderr(&second);
    assert!(
        error.contains("another gatehouse server") && error.contains(&dir.path().join("g.db").display().to_string()),
        "{error}"
    );
    assert_eq!(listed.status.code(), Some(0), "an operator command beside the running server: {}", stderr(&listed));
}

#[test]
fn serve_refuses_a_sqlite_file_in_a_missing_directory_with_its_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_DATABASE_URL", "sqlite://data/g.db"));

    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains(&dir.path().join("data").display().to_string()) && error.contains("does not exist"),
        "{error}"
    );
}

#[test]
fn import_reports_bad_lines_by_number_changes_nothing_the_second_time_and_status_counts_what_remains() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["migrate"]);
    let file = dir.path().join("users.jsonl");
    // Python's bcrypt, cost 4 (tests/fixtures/foreign-hashes.jsonl).
    let bcrypt = "$2b$04$o4g2bmmyULpl8D3aY/ykre6Suxo8q4GRkuuQ6A2WFoUAPbPv8LoAS";
    let lines = [
        json!({"email": "ann@example.com", "username": "ann", "password_hash": bcrypt}).to_string(),
        json!({"email": "bob@example.com", "password_hash": "md5:0123"}).to_string(),
        json!({"email": "carl@example.com"}).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let path = file.to_str().unwrap();

    let first = stdout(&ok(dir.path(), &["import", path]));
    assert!(first.contains("line 2: password_hash: an unknown password hash format"), "{first}");
    assert!(first.contains("3 lines: 2 accounts imported, 0 already there (left alone), 1 bad"), "{first}");
    let again = json_of(dir.path(), &["import", path]);
    assert_eq!((&again["imported"], &again["existing"], &again["bad"][0]["line"]), (&json!(0), &json!(2), &json!(2)));
    assert_eq!(json_of(dir.path(), &["import", "status"]), json!({"bcrypt": 1, "none": 1}));
    let table = stdout(&ok(dir.path(), &["import", "status"]));
    assert!(table.lines().any(|l| l.split_whitespace().eq(["bcrypt", "1"])), "{table}");

    let strict = run(gatehouse(dir.path()).args(["import", path, "--strict"]));
    assert!(refusal(&strict).contains("line 2"), "--strict stops at the bad line");
    let missing = run(gatehouse(dir.path()).args(["import", "no-such-file.jsonl"]));
    assert!(refusal(&missing).contains("cannot open no-such-file.jsonl"));
}

#[test]
fn webhook_commands_register_show_and_remove_an_endpoint_and_refuse_a_private_one() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["migrate"]);
    let private = run(gatehouse(dir.path()).args([
        "webhook",
        "create",
        "--url",
        "http://10.0.0.7/in",
        "--event",
        "user.created",
    ]));
    let made = json_of(
        dir.path(),
        &[
            "webhook",
            "create",
            "--url",
            "https://93.184.216.34/in",
            "--event",
            "user.created",
            "--event",
            "user.deleted",
        ],
    );
    let id = made["id"].as_str().unwrap().to_owned();
    let listed = stdout(&ok(dir.path(), &["webhook", "list"]));
    let disabled = stdout(&ok(dir.path(), &["webhook", "update", &id, "--enabled", "false"]));
    let log = json_of(dir.path(), &["webhook", "deliveries", &id]);
    let unconfirmed = run(gatehouse(dir.path()).args(["webhook", "delete", &id]));
    let deleted = stdout(&ok(dir.path(), &["webhook", "delete", &id, "--yes"]));
    let gone = run(gatehouse(dir.path()).args(["webhook", "show", &id]));

    assert!(refusal(&private).contains("10.0.0.7"), "{}", stderr(&private));
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"), "{made}");
    assert_eq!(made["events"], serde_json::json!(["user.created", "user.deleted"]));
    assert!(
        listed.contains(&id) && listed.contains("https://93.184.216.34/in") && !listed.contains("whsec_"),
        "{listed}"
    );
    assert!(disabled.lines().any(|line| line.starts_with("enabled") && line.ends_with("false")), "{disabled}");
    assert_eq!(log, serde_json::json!([]));
    assert!(refusal(&unconfirmed).contains("--yes"));
    assert!(deleted.starts_with(&format!("deleted webhook endpoint {id}")), "{deleted}");
    assert_eq!(refusal(&gone), format!("no such webhook endpoint: {id}"));
}

/// Without `GATEHOUSE_SMTP_URL` emails go to the log, and readiness says so rather than
/// "reachable"; a client app registered at the command line beside the running server has the
/// key of its ID tokens published by that server's JWKS at once, as one registered through the
/// admin API has. A forward-auth rule's group that is also a role's name is warned of at start.
#[tokio::test]
async fn readiness_says_no_mail_server_is_configured_and_a_cli_client_s_id_key_is_published_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let rules =
        [("GATEHOUSE_FORWARD_RULES", "app.example.com/admin=group:admin"), ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1")];
    let (mut server, port) = serve(dir.path(), &rules);
    until_healthy(port, &mut server).await;
    let get = |path: &str| {
        let url = format!("http://127.0.0.1:{port}{path}");
        async move { reqwest::get(url).await.unwrap().json::<Value>().await.unwrap() }
    };

    let ready = get("/readyz").await;
    let created = run(gatehouse(dir.path()).args([
        "client",
        "create",
        "--name",
        "Reports",
        "--redirect-uri",
        "https://reports.example.com/callback",
        "--json",
    ]));
    let jwks = get("/.well-known/jwks.json").await;
    let discovery = get("/.well-known/openid-configuration").await;
    stop(&mut server);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut log).unwrap();

    assert!(log.contains("asks for group:admin") && log.contains("app_data.roles"), "{log}");
    assert_eq!(ready, json!({"status": "ready", "mail_server": "not_configured"}));
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let algorithms: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["alg"].as_str()).collect();
    assert!(algorithms.contains(&"RS256"), "the ID-token key is published: {algorithms:?}");
    assert!(algorithms.contains(&"EdDSA"), "beside the access-token key: {algorithms:?}");
    let claims: Vec<&str> =
        discovery["claims_supported"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(!claims.contains(&"role"), "discovery lists no claim ID tokens never carry: {claims:?}");
}

#[test]
fn org_commands_create_an_organization_add_and_remove_members_and_keep_the_last_owner() {
    let dir = tempfile::tempdir().unwrap();
    for email in ["ann@example.com", "bob@example.com"] {
        let made = create_user(dir.path(), &["--email", email], "correct horse battery staple");
        assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    }
    let org = json_of(dir.path(), &["org", "create", "--name", "Acme, Inc.", "--owner", "ann@example.com"]);
    let added = stdout(&ok(dir.path(), &["org", "add-member", "acme-inc", "bob@example.com", "--role", "admin"]));
    let again = stdout(&ok(dir.path(), &["org", "add-member", "acme-inc", "bob@example.com"]));
    let shown = json_of(dir.path(), &["org", "show", "acme-inc"]);
    let listed = stdout(&ok(dir.path(), &["org", "list", "--q", "ACME"]));
    let last_owner = run(gatehouse(dir.path()).args(["org", "remove-member", "acme-inc", "ann@example.com"]));
    let removed = stdout(&ok(dir.path(), &["org", "remove-member", "acme-inc", "bob@example.com"]));
    let after = json_of(dir.path(), &["org", "show", org["id"].as_str().unwrap()]);
    let bad_role =
        run(gatehouse(dir.path()).args(["org", "add-member", "acme-inc", "bob@example.com", "--role", "czar"]));
    let nobody = run(gatehouse(dir.path()).args(["org", "add-member", "acme-inc", "nobody@example.com"]));

    assert_eq!((org["name"].as_str(), org["slug"].as_str()), (Some("Acme, Inc."), Some("acme-inc")), "{org}");
    assert!(added.starts_with("added bob@example.com to acme-inc as admin"), "{added}");
    assert!(again.contains("a member of acme-inc already"), "{again}");
    assert_eq!(shown["members"], 2, "{shown}");
    assert!(listed.contains("acme-inc") && listed.contains("Acme, Inc."), "{listed}");
    assert!(refusal(&last_owner).contains("last owner"), "{}", stderr(&last_owner));
    assert!(removed.starts_with("removed bob@example.com from acme-inc"), "{removed}");
    assert_eq!(after["members"], 1, "{after}");
    assert!(refusal(&bad_role).contains("no such role"), "{}", stderr(&bad_role));
    assert_eq!(refusal(&nobody), "no such organization or account: nobody@example.com");
}

#[test]
fn org_domain_commands_show_who_holds_a_domain_and_take_a_claim_back() {
    let dir = tempfile::tempdir().unwrap();
    let made = create_user(dir.path(), &["--email", "ann@example.com"], "correct horse battery staple");
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let org = json_of(dir.path(), &["org", "create", "--name", "Acme", "--owner", "ann@example.com"]);
    let none = stdout(&ok(dir.path(), &["org", "domain-holder", "acme.test"]));
    // A claim and its verification as the API would leave them (verifying asks DNS).
    let db = rusqlite::Connection::open(dir.path().join("g.db")).unwrap();
    db.execute(
        "INSERT INTO org_domains (org_id, domain, challenge, verified_domain, verified_at, auto_join_role, created_at)
         VALUES (?1, 'acme.test', 'gatehouse-domain-verification=abc', 'acme.test', '2026-11-26T10:00:00+00:00', 'member', '2026-11-26T09:00:00+00:00')",
        [org["id"].as_str().unwrap()],
    )
    .unwrap();
    let listed = json_of(dir.path(), &["org", "domains", "acme"]);
    let table = stdout(&ok(dir.path(), &["org", "domains", "acme"]));
    let holder = stdout(&ok(dir.path(), &["org", "domain-holder", "ACME.test."]));
    let released = stdout(&ok(dir.path(), &["org", "release-domain", "acme", "acme.test"]));
    let again = run(gatehouse(dir.path()).args(["org", "release-domain", "acme", "acme.test"]));
    let after = stdout(&ok(dir.path(), &["org", "domain-holder", "acme.test"]));
    let bad = run(gatehouse(dir.path()).args(["org", "domain-holder", "not a domain"]));
    let audited: i64 = db
        .query_row("SELECT COUNT(*) FROM audit_events WHERE kind = 'org.domain_removed'", [], |row| row.get(0))
        .unwrap();

    assert_eq!(none.trim(), "no organization has verified acme.test");
    assert_eq!(
        (listed[0]["domain"].as_str(), listed[0]["verified"].as_bool()),
        (Some("acme.test"), Some(true)),
        "{listed}"
    );
    assert_eq!(listed[0]["auto_join_role"], "member");
    assert!(table.contains("_gatehouse-challenge.acme.test = gatehouse-domain-verification=abc"), "{table}");
    assert!(holder.starts_with("acme.test is verified by acme ("), "{holder}");
    assert!(released.starts_with("acme no longer claims acme.test"), "{released}");
    assert_eq!(refusal(&again), "no such organization, or it does not claim acme.test");
    assert_eq!(after.trim(), "no organization has verified acme.test");
    assert!(refusal(&bad).contains("a domain is a name"), "{}", stderr(&bad));
    assert_eq!(audited, 1);
}
