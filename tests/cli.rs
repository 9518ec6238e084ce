//! The `gatehouse` binary as an operator runs it: `config check`, `migrate`, `user create`,
//! `--help`, and `serve` started and stopped with SIGTERM. Each test runs in its own
//! temporary directory with an environment holding only what the test sets.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// The binary, run in `dir`, with `sqlite://<dir>/g.db` and nothing else from the environment
/// (no stray `GATEHOUSE_*`, `DATABASE_URL` or `REDIS_URL` of the machine running the tests).
fn gatehouse(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .current_dir(dir)
        .env_clear()
        .env("GATEHOUSE_DATABASE_URL", format!("sqlite://{}", dir.join("g.db").display()))
        .stdin(Stdio::null());
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

/// The value `config check` printed for `name`.
fn setting(output: &Output, name: &str) -> String {
    let prefix = format!("{name}=");
    stdout(output)
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("{name} not printed in:\n{}", stdout(output)))
}

/// `gatehouse user create …` with `password` on standard input.
fn create_user(dir: &Path, args: &[&str], password: &str) -> Output {
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
    for command in ["serve", "migrate", "user", "config", "mail"] {
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
    let every = gatehouse::config::SETTINGS.iter().map(|(name, _, _)| *name);
    for name in contract.into_iter().chain(every) {
        setting(&output, name);
    }
    assert_eq!(setting(&output, "GATEHOUSE_BIND"), "127.0.0.1:8080");
    assert_eq!(setting(&output, "GATEHOUSE_ACCESS_TOKEN_TTL"), "15m");
    assert_eq!(setting(&output, "GATEHOUSE_SESSION_TTL"), "1day");
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
    assert_eq!(setting(&output, "GATEHOUSE_ACTIVATION_TTL"), "2days", "from gatehouse.toml");
    assert_eq!(setting(&output, "GATEHOUSE_MAIL_FROM"), "toml <toml@example.com>", "from gatehouse.toml");
    assert_eq!(setting(&output, "GATEHOUSE_RESET_TTL"), "30m", ".env wins over gatehouse.toml");
    assert_eq!(setting(&output, "GATEHOUSE_SESSION_TTL"), "3h", "the environment wins over both");
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
