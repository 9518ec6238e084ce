//! Crash safety: a steady load of sign-ups, activations, logins and password changes while the
//! server is killed with SIGKILL at random moments and started again on the same database and
//! port. Every answer a client got is a promise; afterwards each one is checked against the
//! database, the mail server and the API.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;

use crate::mail_server::SmtpServer;
use crate::process::{Backend, PASSWORD, Server, exclusive};

const KILLS: usize = 10;
/// How soon after the last restart every acknowledged email must have been delivered.
const MAIL_WITHIN: Duration = Duration::from_secs(30);
const CLIENTS: usize = 48;
const ACTIVATE: &str = "/activate?token=";

/// At the default settings (but rate limits: see [`Backend::env`]), on SQLite and on
/// PostgreSQL with Redis sessions when they are configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_request_survives_repeated_kill_9_under_load() {
    let _alone = exclusive().await;
    for backend in Backend::all("crash", true).await {
        run(&backend).await;
    }
}

/// What the clients were told, and what they must find afterwards.
#[derive(Debug, Default)]
struct User {
    email: String,
    /// Answered 201.
    signup_acknowledged: bool,
    /// Answered 201, or 409 to a retry with the same password: the account exists.
    exists: bool,
    /// An activation answered 200.
    activated: bool,
    /// The password in effect.
    password: String,
    /// A change whose answer was lost: this password may be in effect instead.
    unsettled: Option<String>,
    /// Passwords replaced by an acknowledged change: each must now fail.
    replaced: Vec<String>,
    changes: u32,
    /// The access token of the last acknowledged login, if no password change came after it.
    session: Option<String>,
}

#[derive(Debug, Default)]
struct Tally {
    sent: AtomicU64,
    signups: AtomicU64,
    activations: AtomicU64,
    logins: AtomicU64,
    changes: AtomicU64,
    token_checks: AtomicU64,
    unanswered: AtomicU64,
    /// Answers that no request here may get (a 500, or a refused known password).
    wrong: Mutex<Vec<String>>,
}

impl Tally {
    fn acknowledged(&self) -> u64 {
        [&self.signups, &self.activations, &self.logins, &self.changes, &self.token_checks]
            .iter()
            .map(|n| n.load(Relaxed))
            .sum()
    }
}

struct Load {
    client: reqwest::Client,
    base: String,
    stop: AtomicBool,
    tally: Tally,
    /// The activation link emailed to each address, as indexed from the mail server.
    links: Mutex<HashMap<String, String>>,
}

impl Load {
    /// Sends one request; `None` when no answer came (the server was killed, or refused the
    /// connection while down).
    async fn send(&self, request: reqwest::RequestBuilder) -> Option<StatusCode> {
        self.tally.sent.fetch_add(1, Relaxed);
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    let body = response.text().await.unwrap_or_default();
                    self.tally.wrong.lock().unwrap().push(format!("500: {body}"));
                }
                Some(status)
            }
            Err(_) => {
                self.tally.unanswered.fetch_add(1, Relaxed);
                None
            }
        }
    }

    fn post(&self, path: &str, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.base)).json(&body)
    }

    async fn sign_up(&self, user: &mut User) {
        let body = json!({"email": user.email, "password": user.password});
        match self.send(self.post("/user", body)).await {
            Some(StatusCode::CREATED) => {
                user.signup_acknowledged = true;
                user.exists = true;
                self.tally.signups.fetch_add(1, Relaxed);
            }
            // An earlier attempt was committed but its answer was lost.
            Some(StatusCode::CONFLICT) => user.exists = true,
            _ => {}
        }
    }

    async fn activate(&self, user: &mut User, link: &str) {
        if self.send(self.client.get(link)).await == Some(StatusCode::OK) {
            user.activated = true;
            self.tally.activations.fetch_add(1, Relaxed);
        }
    }

    async fn log_in(&self, user: &mut User) {
        let body = json!({"email": user.email, "password": user.password});
        let request = self.post("/auth", body);
        self.tally.sent.fetch_add(1, Relaxed);
        match request.send().await {
            Ok(response) if response.status() == StatusCode::OK => {
                let tokens: serde_json::Value = response.json().await.unwrap_or_default();
                user.session = tokens["access_token"].as_str().map(str::to_owned);
                self.tally.logins.fetch_add(1, Relaxed);
            }
            Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                let wrong = format!("{}: the password in effect was refused", user.email);
                self.tally.wrong.lock().unwrap().push(wrong);
            }
            Ok(_) => {}
            Err(_) => {
                self.tally.unanswered.fetch_add(1, Relaxed);
            }
        }
    }

    /// Uses the session of the last acknowledged login: it must still be live.
    async fn check_token(&self, user: &User) {
        let token = user.session.as_deref().unwrap();
        let request = self.client.get(format!("{}/protected", self.base)).bearer_auth(token);
        match self.send(request).await {
            Some(StatusCode::OK) => {
                self.tally.token_checks.fetch_add(1, Relaxed);
            }
            Some(StatusCode::UNAUTHORIZED) => {
                let wrong = format!("{}: the session of an acknowledged login was refused", user.email);
                self.tally.wrong.lock().unwrap().push(wrong);
            }
            _ => {}
        }
    }

    /// Changes the password, or settles a change whose answer was lost by trying it again.
    async fn change_password(&self, user: &mut User) {
        let new = match &user.unsettled {
            Some(new) => new.clone(),
            None => {
                user.changes += 1;
                format!("{} passphrase number {}", user.email, user.changes)
            }
        };
        user.session = None; // a change ends every session, even one whose answer is lost
        let body = json!({"email": user.email, "current_password": user.password, "new_password": new});
        match self.send(self.post("/password/change", body)).await {
            Some(StatusCode::NO_CONTENT) => {
                user.replaced.push(std::mem::replace(&mut user.password, new));
                user.unsettled = None;
                self.tally.changes.fetch_add(1, Relaxed);
            }
            // The lost change was committed: the old password no longer opens the account.
            Some(StatusCode::UNAUTHORIZED) if user.unsettled.is_some() => {
                user.password = new;
                user.unsettled = None;
            }
            _ => user.unsettled = Some(new),
        }
    }
}

/// One client: its own users, one request at a time, each step chosen at random.
async fn one_client(id: usize, load: Arc<Load>) -> Vec<User> {
    let mut rng = StdRng::from_entropy();
    let mut users: Vec<User> = Vec::new();
    while !load.stop.load(Relaxed) {
        let roll = rng.gen_range(0..100);
        let unanswered = load.tally.unanswered.load(Relaxed);
        let with_session: Vec<usize> = (0..users.len()).filter(|&i| users[i].session.is_some()).collect();
        let active: Vec<usize> = (0..users.len()).filter(|&i| users[i].activated).collect();
        if let Some(user) = users.iter_mut().find(|u| !u.exists) {
            load.sign_up(user).await;
        } else if let Some(user) = users.iter_mut().find(|u| u.unsettled.is_some()) {
            load.change_password(user).await;
        } else if roll < 50 && !with_session.is_empty() {
            let i = with_session[rng.gen_range(0..with_session.len())];
            load.check_token(&users[i]).await;
        } else if roll < 70
            && let Some((user, link)) = users
                .iter_mut()
                .filter(|u| !u.activated)
                .find_map(|u| load.links.lock().unwrap().get(&u.email).cloned().map(|link| (u, link)))
        {
            load.activate(user, &link).await;
        } else if roll < 80 && !active.is_empty() {
            let i = active[rng.gen_range(0..active.len())];
            load.log_in(&mut users[i]).await;
        } else if roll < 88 && !active.is_empty() {
            let i = active[rng.gen_range(0..active.len())];
            load.change_password(&mut users[i]).await;
        } else {
            let email = format!("c{id}u{}-{}@example.com", users.len(), rng.r#gen::<u32>());
            users.push(User { email, password: PASSWORD.to_owned(), ..User::default() });
            let user = users.last_mut().unwrap();
            load.sign_up(user).await;
        }
        if load.tally.unanswered.load(Relaxed) > unanswered {
            // Do not spin while the server is down.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    users
}

/// Keeps `links` up to date with the activation links the mail server received.
async fn index_links(load: Arc<Load>, mail: SmtpServer) {
    let mut seen = 0;
    while !load.stop.load(Relaxed) {
        let messages = mail.messages();
        for message in &messages[seen..] {
            if message.text().contains(ACTIVATE) {
                let link = message.link(ACTIVATE);
                let mut links = load.links.lock().unwrap();
                for to in &message.to {
                    links.entry(to.to_lowercase()).or_insert_with(|| link.clone());
                }
            }
        }
        seen = messages.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run(backend: &Backend) {
    let began = Instant::now();
    let mail = SmtpServer::start().await;
    let mut server = Server::start(backend.env(&mail.url())).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let load = Arc::new(Load {
        client: client.clone(),
        base: server.url.clone(),
        stop: AtomicBool::new(false),
        tally: Tally::default(),
        links: Mutex::new(HashMap::new()),
    });

    // Load, and ten kills at random moments.
    let indexer = tokio::spawn(index_links(load.clone(), mail.clone()));
    let clients: Vec<_> = (0..CLIENTS).map(|id| tokio::spawn(one_client(id, load.clone()))).collect();
    let mut rng = StdRng::from_entropy();
    let mut restart_times = Vec::new();
    let mut last_restart = Instant::now();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(1500..4000))).await;
        server.kill();
        last_restart = Instant::now();
        server.restart().await; // asserts that it becomes ready
        restart_times.push(last_restart.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop.store(true, Relaxed);
    let mut users = Vec::new();
    for handle in clients {
        users.extend(handle.await.unwrap());
    }
    indexer.await.unwrap();
    let load_time = began.elapsed();

    // Every email is delivered within seconds of the last restart, including those a killed
    // process had claimed: their claims run out after the default lease.
    let outbox_settled = loop {
        let waiting = backend
            .db
            .count("SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status IN ('queued', 'sending')")
            .await;
        if waiting == 0 {
            break last_restart.elapsed();
        }
        assert!(
            last_restart.elapsed() < MAIL_WITHIN,
            "{waiting} email(s) still in the outbox {MAIL_WITHIN:?} after the last restart on {}",
            backend.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let mut lost: Vec<String> = load.tally.wrong.lock().unwrap().clone();
    let mut checked = 0_u64;

    // Accounts: each acknowledged one exists once, with the status it was promised.
    let mut conn = backend.db.connect().await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT email_normalized, status FROM accounts").fetch_all(&mut conn).await.unwrap();
    let mut accounts: HashMap<String, Vec<String>> = HashMap::new();
    for (email, status) in rows {
        accounts.entry(email).or_default().push(status);
    }
    for (email, statuses) in &accounts {
        if statuses.len() != 1 {
            lost.push(format!("{email}: {} accounts", statuses.len()));
        }
    }
    for user in users.iter().filter(|u| u.exists) {
        checked += 1;
        match accounts.get(&user.email).map(Vec::as_slice) {
            None => lost.push(format!("{}: acknowledged sign-up, no account", user.email)),
            Some([status]) if user.activated && status != "active" => {
                lost.push(format!("{}: acknowledged activation, status {status}", user.email))
            }
            Some(_) => {}
        }
        checked += u64::from(user.activated);
    }
    let failed = backend.db.count("SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'failed'").await;
    if failed > 0 {
        lost.push(format!("{failed} email(s) failed"));
    }

    // Emails: every account got its confirmation, perhaps twice but then identical.
    let mut resent = 0;
    let all_mail = mail.messages();
    let mut confirmations: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for message in all_mail.iter().filter(|m| m.text().contains(ACTIVATE)) {
        for to in &message.to {
            confirmations.entry(to.to_lowercase()).or_default().push((message.message_id(), message.link(ACTIVATE)));
        }
    }
    for email in accounts.keys() {
        checked += 1;
        let received = confirmations.get(email).map(Vec::as_slice).unwrap_or_default();
        let distinct: HashSet<&(String, String)> = received.iter().collect();
        match (received.len(), distinct.len()) {
            (0, _) => lost.push(format!("{email}: no confirmation email")),
            (_, 1) => resent += received.len() - 1,
            _ => lost.push(format!("{email}: {} different confirmation emails", distinct.len())),
        }
    }

    // Sessions from acknowledged logins are still live; passwords are the acknowledged ones.
    let mut checks = Vec::new();
    for user in users.into_iter().filter(|u| u.exists) {
        let (client, base) = (client.clone(), server.url.clone());
        checks.push(tokio::spawn(async move { check_user(&client, &base, &user).await }));
    }
    for check in checks {
        let (n, problems) = check.await.unwrap();
        checked += n;
        lost.extend(problems);
    }

    let tally = &load.tally;
    eprintln!(
        "crash [{}]: {KILLS} kills (restarts ready in {:?}; outbox empty {:.1} s after the last), {} requests sent in {:.1} s, {} acknowledged \
         ({} sign-ups, {} activations, {} logins, {} password changes, {} token checks), {} unanswered, {} accounts, \
         {checked} promises checked, {resent} identical email resends, lost: {}",
        backend.name,
        restart_times.iter().max().unwrap(),
        outbox_settled.as_secs_f64(),
        tally.sent.load(Relaxed),
        load_time.as_secs_f64(),
        tally.acknowledged(),
        tally.signups.load(Relaxed),
        tally.activations.load(Relaxed),
        tally.logins.load(Relaxed),
        tally.changes.load(Relaxed),
        tally.token_checks.load(Relaxed),
        tally.unanswered.load(Relaxed),
        accounts.len(),
        lost.len(),
    );
    assert!(lost.is_empty(), "broken promises on {}:\n{}", backend.name, lost.join("\n"));
    assert!(tally.signups.load(Relaxed) > 0 && tally.changes.load(Relaxed) > 0, "the load did too little");
}

/// Checks one user's promises over the API: the last acknowledged login's session is live,
/// the password in effect opens the account, every replaced one does not.
async fn check_user(client: &reqwest::Client, base: &str, user: &User) -> (u64, Vec<String>) {
    let mut problems = Vec::new();
    let mut checked = 0;
    if let Some(token) = &user.session {
        checked += 1;
        let status = client.get(format!("{base}/protected")).bearer_auth(token).send().await.unwrap().status();
        if status != StatusCode::OK {
            problems.push(format!("{}: the session of an acknowledged login answers {status}", user.email));
        }
    }
    if !user.activated || (user.replaced.is_empty() && user.unsettled.is_none()) {
        return (checked, problems);
    }
    let log_in = |password: String| async move {
        loop {
            let body = json!({"email": user.email, "password": password});
            let status = client.post(format!("{base}/auth")).json(&body).send().await.unwrap().status();
            if status != StatusCode::SERVICE_UNAVAILABLE {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    checked += 1;
    let mut works = log_in(user.password.clone()).await == StatusCode::OK;
    if !works && let Some(unsettled) = &user.unsettled {
        works = log_in(unsettled.clone()).await == StatusCode::OK;
    }
    if !works {
        problems.push(format!("{}: the acknowledged password does not open the account", user.email));
    }
    for old in &user.replaced {
        checked += 1;
        let status = log_in(old.clone()).await;
        if status != StatusCode::UNAUTHORIZED {
            problems.push(format!("{}: a replaced password answers {status}", user.email));
        }
    }
    (checked, problems)
}
