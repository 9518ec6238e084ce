//! The command line: `serve` (the default), `migrate`, `user create`, `config check`,
//! `mail test`, `dev token` (a development machine only), and the operator commands of
//! [`admin`] (`user list|show|…`, `keys`, `outbox`), [`clients`] (`client create|list|…`) and
//! [`import`] (`import FILE`, `import status`).
//! Exit codes: 0 done, 1 failed or refused, 2 bad configuration or usage.

mod admin;
mod answer;
mod clients;
mod copy;
mod import;
mod orgs;
mod table;
mod webhooks;
mod work;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::app::{Application, Services};
use crate::config::{Config, ConfigError, Loaded};
use crate::mail::outbox::OutboxSettings;
use crate::mail::templates::Letters;
use crate::model::account::Role;
use crate::model::email::QueuedEmail;

#[derive(Parser, Debug)]
#[command(name = "gatehouse", version, about = "Self-hosted user accounts and authentication.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Create or bring the database schema up to date, then exit.
    Migrate,
    /// Copy what lasts (keys, accounts and their second factors, identities, API keys and
    /// consents, client apps, webhook endpoints, organizations, the audit trail) into another,
    /// empty database: to move to DynamoDB, or between any two.
    /// Stop the servers first; sessions and links in flight are not copied.
    Copy {
        /// The database to copy into, made by `gatehouse migrate` and unused
        /// (`dynamodb://gatehouse-`, `postgres://…`, `sqlite://…`).
        #[arg(long)]
        to: String,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect and rotate the token signing keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Inspect the email outbox and retry failed emails.
    #[command(subcommand)]
    Outbox(admin::OutboxCommand),
    /// Manage the OpenID Connect client apps.
    #[command(subcommand)]
    Client(clients::ClientCommand),
    /// Manage the webhook endpoints and read their delivery logs.
    #[command(subcommand)]
    Webhook(webhooks::WebhookCommand),
    /// Manage organizations and their members.
    #[command(subcommand)]
    Org(orgs::OrgCommand),
    /// Import accounts from another system, with their password hashes (`import FILE`), or
    /// count those still on an imported hash (`import status`).
    Import(import::ImportArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check email delivery.
    #[command(subcommand)]
    Mail(MailCommand),
    /// A development machine's conveniences (GATEHOUSE_DEV=true, loopback public URL only).
    #[command(subcommand)]
    Dev(DevCommand),
    /// Remove now what the server's housekeeping removes every ten minutes: expired sessions,
    /// links and codes, audit events past GATEHOUSE_AUDIT_RETENTION, old webhook deliveries.
    /// Safe while servers run: it deletes in batches of 1,000 rows, below normal CPU priority,
    /// at full speed (the servers' own sweep is paced to at most 500 rows a second).
    Purge,
    /// Run one round of the background work a server does on its own (the emails and webhook
    /// deliveries due, then the housekeeping sweep) and exit: for a scheduler.
    Work(work::WorkArgs),
    /// Serve as an AWS Lambda function: what the binary does, as the function's `bootstrap`,
    /// when the Lambda runtime starts it without arguments. The function's handler name
    /// (`_HANDLER`) picks `http` (the API, the default) or `work` (the background work).
    #[cfg(feature = "lambda")]
    Lambda,
    /// Print the OpenAPI 3.1 description of the HTTP API.
    Openapi,
    /// Exit 0 if the server on GATEHOUSE_BIND answers /healthz, 1 otherwise (for container
    /// health checks, where there is no shell or curl).
    Healthcheck,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an active account (the password is asked for, or read from standard input).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Print the account as JSON, as the HTTP API shows it.
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Manage(admin::UserCommand),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the effective configuration, secrets masked; exit 2 if a value is bad.
    Check,
}

#[derive(Subcommand, Debug)]
enum DevCommand {
    /// Print a token pair (as `POST /auth` answers it) for a test user, logged in without a
    /// password, for an app's test suite. Refused unless GATEHOUSE_DEV=true.
    Token {
        #[arg(long)]
        email: String,
        /// Make the account (active, with a password nobody knows) when there is none.
        #[arg(long)]
        create: bool,
        /// A session at level 2 (`aal` 2), as after a second factor.
        #[arg(long)]
        second_factor: bool,
    },
}

#[derive(Subcommand, Debug)]
enum MailCommand {
    /// Send one test message through the configured transport, now.
    Test {
        #[arg(long)]
        to: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(default_command);
    let loaded = match Config::load() {
        Ok(loaded) => loaded,
        Err(error) => return config_failed(&error),
    };
    match command {
        Command::Config(ConfigCommand::Check) => return config_check(&loaded),
        Command::Openapi => {
            println!("{}", crate::http::openapi::json());
            return ExitCode::SUCCESS;
        }
        Command::Healthcheck => return healthcheck(&loaded.config),
        _ => {}
    }
    let Loaded { config, warnings, .. } = loaded;
    if let Err(error) =
        crate::telemetry::init(&config.log, config.log_format, std::io::stderr().is_terminal(), std::io::stderr)
    {
        eprintln!("gatehouse: {error:#}");
        return ExitCode::from(2);
    }
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    if let Command::Purge = command {
        // Before the runtime starts its threads, which inherit it: the purge must not take the
        // cores from the server answering requests beside it.
        crate::priority::lower_this_thread("the purge");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gatehouse: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve | Command::Config(_) | Command::Openapi | Command::Healthcheck => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Copy { to } => copy_to(config, &to).await,
            Command::User(UserCommand::Create { email, username, admin, password_stdin, json }) => {
                create_user(config, NewUserArgs { email, username, admin, password_stdin, json }).await
            }
            Command::User(UserCommand::Manage(command)) => operate(config, admin::Operation::User(command)).await,
            Command::Keys(command) => operate(config, admin::Operation::Keys(command)).await,
            Command::Outbox(command) => operate(config, admin::Operation::Outbox(command)).await,
            Command::Client(command) => operate(config, admin::Operation::Client(command)).await,
            Command::Webhook(command) => operate(config, admin::Operation::Webhook(command)).await,
            Command::Org(command) => operate(config, admin::Operation::Org(command)).await,
            Command::Import(args) => operate(config, admin::Operation::Import(args)).await,
            Command::Mail(MailCommand::Test { to }) => mail_test(config, to).await,
            Command::Dev(DevCommand::Token { email, create, second_factor }) => {
                dev_token(config, &email, create, second_factor).await
            }
            Command::Purge => purge(config).await,
            Command::Work(args) => work::run(open(&config).await?, &config, args).await,
            #[cfg(feature = "lambda")]
            Command::Lambda => crate::app::lambda::run(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<ConfigError>() {
            Some(config_error) => config_failed(config_error),
            None if error.is::<answer::Refused>() => {
                eprintln!("gatehouse: {error}");
                ExitCode::FAILURE
            }
            None => {
                tracing::error!(error = %format!("{error:#}"), "gatehouse stopped");
                eprintln!("gatehouse: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Without a command: a Lambda function when the Lambda runtime started the binary, a server
/// otherwise.
fn default_command() -> Command {
    #[cfg(feature = "lambda")]
    if crate::app::lambda::started_by_lambda() {
        return Command::Lambda;
    }
    Command::Serve
}

fn config_failed(error: &ConfigError) -> ExitCode {
    eprintln!("gatehouse: {error}");
    eprintln!(
        "Set the variables in the environment, in .env, or in gatehouse.toml; `gatehouse config check` shows the result."
    );
    ExitCode::from(2)
}

/// A plain HTTP/1.1 GET of /healthz on the bind address (0.0.0.0 means this host).
fn healthcheck(config: &Config) -> ExitCode {
    use std::io::{Read, Write};
    let mut address = config.bind;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = Duration::from_secs(3);
    let answer = (|| -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        write!(stream, "GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    })();
    match answer {
        Ok(response) if response.starts_with("HTTP/1.1 200") => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("gatehouse at {address}: {}", response.lines().next().unwrap_or("no answer"));
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("gatehouse at {address}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn config_check(loaded: &Loaded) -> ExitCode {
    for warning in &loaded.warnings {
        println!("warning: {warning}");
    }
    let width = loaded.effective.iter().map(|e| e.name.len() + e.value.len()).max().unwrap_or(0) + 1;
    for setting in &loaded.effective {
        let line = format!("{}={}", setting.name, setting.value);
        println!("{line:<width$}    # {}", setting.source);
    }
    println!("configuration OK");
    ExitCode::SUCCESS
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(&config).await?;
    app.run_until_stopped().await
}

/// Opens the services for an operator command. A SQLite file that does not exist is refused,
/// not created: run in the wrong directory, a command would otherwise make an empty database
/// there and act on it (and `user create --admin` would put the first admin in an orphan).
async fn open(config: &Config) -> anyhow::Result<Services> {
    refuse_a_missing_file(config)?;
    let outbox = OutboxSettings { lease: config.outbox_lease, ..OutboxSettings::default() };
    Services::open(config, config.public_url.clone(), outbox, false, crate::clock::Clock::system()).await
}

/// A SQLite file that does not exist, refused (see [`open`]).
fn refuse_a_missing_file(config: &Config) -> anyhow::Result<()> {
    if let Some(path) = crate::app::sqlite_path(&config.database_url)
        && !path.exists()
    {
        return Err(ConfigError {
            problems: vec![format!(
                "there is no database at {} (GATEHOUSE_DATABASE_URL={}, read in {}): run the command where the \
                 server runs or point GATEHOUSE_DATABASE_URL at its database; `gatehouse migrate` creates a new one",
                path.display(),
                config.database_url,
                std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            )],
        }
        .into());
    }
    Ok(())
}

/// Where a command writes, for its confirmation: the SQLite file's absolute path, or the
/// server's URL with its password masked.
fn database_named(config: &Config) -> String {
    match crate::app::sqlite_path(&config.database_url) {
        Some(path) => path.display().to_string(),
        None => config.database_url.masked(),
    }
}

/// Brings the schema up to date and nothing else (no signing key is made), so that data can
/// be copied into a freshly migrated database.
async fn migrate(config: Config) -> anyhow::Result<()> {
    crate::app::migrate(&config).await?;
    println!("the database at {} is up to date", config.database_url);
    Ok(())
}

/// Copies the configured database into the one `to` names, saying how far it got on standard
/// error and what it copied on standard output.
async fn copy_to(config: Config, to: &str) -> anyhow::Result<()> {
    refuse_a_missing_file(&config)?;
    let to = crate::secret_url::SecretUrl::new(to);
    eprintln!("copying {} into {}", database_named(&config), to.masked());
    let progress = |copied: &crate::app::Copied| eprintln!("  {} accounts…", copied.accounts);
    match crate::app::copy_to(&config, &to, &progress).await {
        Ok(copied) => {
            copy::print(copied, &to.masked());
            Ok(())
        }
        Err(error) if error.is::<crate::app::CopyRefused>() => Err(answer::Refused(error.to_string()).into()),
        Err(error) => Err(error),
    }
}

async fn purge(config: Config) -> anyhow::Result<()> {
    let services = open(&config).await?;
    let started = std::time::Instant::now();
    let swept = crate::app::sweep(
        services.backend.store.as_ref(),
        services.capabilities.authentication.audit(),
        config.security.audit_retention,
        crate::priority::Pace::Full,
    )
    .await;
    services.close().await;
    anyhow::ensure!(!swept.failed, "the purge did not finish; the log above says why (run it again)");
    println!(
        "removed {} expired sessions, links and codes and {} audit events past retention in {:.1} s",
        swept.expired,
        swept.audit_events,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What `user create` was given.
struct NewUserArgs {
    email: String,
    username: Option<String>,
    admin: bool,
    password_stdin: bool,
    json: bool,
}

async fn create_user(config: Config, args: NewUserArgs) -> anyhow::Result<()> {
    let services = open(&config).await?;
    let password = match read_password(args.password_stdin) {
        Ok(password) => password,
        Err(error) => {
            services.close().await;
            return Err(error);
        }
    };
    let role = if args.admin { Role::Admin } else { Role::User };
    let created = services
        .capabilities
        .accounts
        .create_active_account(&args.email, args.username.as_deref(), password, role)
        .await;
    services.close().await;
    let account = created.map_err(|e| answer::explain(e, || "no such account".into()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&crate::contract::AccountBody::from(account))?);
        return Ok(());
    }
    println!("created {} account {} ({}) in {}", role.as_str(), account.email, account.id, database_named(&config));
    Ok(())
}

/// Runs an operator command, then writes out the audit events it queued.
async fn operate(config: Config, operation: admin::Operation) -> anyhow::Result<()> {
    let services = open(&config).await?;
    let result = admin::run(&services, config.access_token_ttl, &database_named(&config), operation).await;
    services.close().await;
    result
}

fn read_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        first
    };
    anyhow::ensure!(!password.is_empty(), "no password given");
    Ok(SecretString::from(password))
}

/// Prints a token pair for a test user (`gatehouse dev token`), on a development machine only.
async fn dev_token(config: Config, email: &str, create: bool, second_factor: bool) -> anyhow::Result<()> {
    if !config.dev {
        return Err(answer::Refused(
            "gatehouse dev token logs people in without a password, so it runs only with GATEHOUSE_DEV=true \
             (which the configuration allows only with a loopback GATEHOUSE_PUBLIC_URL)"
                .into(),
        )
        .into());
    }
    let services = open(&config).await?;
    let pair = services.capabilities.accounts.dev_login(email, create, second_factor).await;
    services.close().await;
    let pair = pair.map_err(|e| answer::explain(e, || format!("no account has {email}: add --create to make one")))?;
    println!("{}", serde_json::to_string_pretty(&crate::contract::TokenBody::from(pair))?);
    Ok(())
}

/// Sends one message through the configured transport; no database is opened.
async fn mail_test(config: Config, to: String) -> anyhow::Result<()> {
    let transport = crate::mail::smtp::transport(config.smtp_url.as_ref(), &config.mail_from)?;
    let rendered = Letters::new(&config.policy.texts, config.policy.texts.pick(None)).test_message();
    let id = uuid::Uuid::now_v7();
    let email = QueuedEmail {
        id,
        kind: rendered.kind.into(),
        recipient: to.clone(),
        subject: rendered.subject,
        text_body: rendered.text,
        html_body: rendered.html,
        message_id: format!("<{id}@{}>", config.public_url.host_str().unwrap_or("gatehouse")),
        attempts: 1,
    };
    transport.send(&email).await.map_err(|e| anyhow::anyhow!("sending through {}: {e}", transport.describe()))?;
    println!("sent a test message to {to} through {}", transport.describe());
    Ok(())
}
