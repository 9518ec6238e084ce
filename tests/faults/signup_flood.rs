//! Mail at the speed of sign-up: clients sign up as fast as the server accepts them (the
//! hashing pool full), at the defaults but for rate limits (see [`Backend::env`]), while a
//! server is killed with SIGKILL five times. On SQLite one server; on PostgreSQL + Redis two
//! replicas, one of which is killed and restarted while the other goes on. Every acknowledged
//! sign-up's confirmation email must arrive within 30 s of the last restart, and each address
//! gets one email: an identical copy (same Message-ID and link) is the documented resend of a
//! send a kill cut. A kill re-sends at most what the mail server had accepted and the worker had
//! not yet recorded: the emails in flight on its `GATEHOUSE_SMTP_CONNECTIONS` connections and
//! those finished while the last settlement gathered, held here to [`RESENDS_PER_KILL`] in all
//! (and one copy an address a kill).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;

use crate::mail_server::SmtpServer;
use crate::process::{Backend, PASSWORD, Server, exclusive};

const KILLS: usize = 5;
/// What one kill may leave to be sent again, at the defaults: twice the mail connections (8),
/// the emails in flight and as many again finished within the settlement's gathering.
const RESENDS_PER_KILL: usize = 2 * 8;
const MAIL_WITHIN: Duration = Duration::from_secs(30);
/// Enough clients to keep every replica's hashing pool busy: sign-ups arrive as fast as they
/// are accepted.
const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_sign_ups_email_arrives_within_30_s_of_the_last_kill_at_the_full_sign_up_rate() {
    let _alone = exclusive().await;
    for backend in Backend::all("signup flood", true).await {
        run(&backend).await;
    }
}

async fn run(backend: &Backend) {
    let mail = SmtpServer::start().await;
    let env = backend.env(&mail.url());
    let replicas = if backend.redis.is_some() { 2 } else { 1 };
    let mut servers = Vec::new();
    for _ in 0..replicas {
        servers.push(Server::start(env.clone()).await);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let sent = Arc::new(AtomicU64::new(0));

    let began = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, urls, stop, acknowledged, sent) =
                (client.clone(), urls.clone(), stop.clone(), acknowledged.clone(), sent.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Relaxed) {
                    let email = format!("flood{c}x{n}@example.com");
                    let url = format!("{}/user", urls[(c + n) % urls.len()]);
                    n += 1;
                    sent.fetch_add(1, Relaxed);
                    let answer = client.post(url).json(&json!({"email": email, "password": PASSWORD})).send().await;
                    match answer {
                        Ok(answer) if answer.status() == StatusCode::CREATED => {
                            acknowledged.lock().unwrap().insert(email, Instant::now());
                        }
                        // A killed server: the request is lost, and tried no more.
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect();

    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut last_restart = Instant::now();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(2000..4000))).await;
        servers[0].kill();
        last_restart = Instant::now();
        servers[0].restart().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Relaxed);
    for handle in clients {
        handle.await.unwrap();
    }
    let load_time = began.elapsed();
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Every acknowledged sign-up's email, within 30 s of the last restart.
    let settled = loop {
        let missing = acknowledged.keys().filter(|email| mail.messages_to(email).is_empty()).count();
        if missing == 0 {
            break last_restart.elapsed();
        }
        assert!(
            last_restart.elapsed() < MAIL_WITHIN,
            "{missing} of {} acknowledged sign-ups had no email {MAIL_WITHIN:?} after the last restart on {}",
            acknowledged.len(),
            backend.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // One email per address: identical copies only, at most RESENDS_PER_KILL more per kill.
    let mut by_address: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for message in mail.messages() {
        for to in &message.to {
            by_address.entry(to.to_lowercase()).or_default().push((message.message_id(), message.link("/activate")));
        }
    }
    let mut resent = 0;
    let mut problems = Vec::new();
    for (address, received) in &by_address {
        let mut distinct = received.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != 1 {
            problems.push(format!("{address}: {} different emails", distinct.len()));
        }
        if received.len() > 1 + KILLS {
            problems.push(format!("{address}: {} copies", received.len()));
        }
        resent += received.len() - 1;
    }
    eprintln!(
        "signup flood [{}]: {} sign-ups acknowledged in {:.1} s ({:.0}/s over {replicas} replica(s), {} sent), \
         {KILLS} kills; every email in {:.1} s after the last restart; {resent} identical resends",
        backend.name,
        acknowledged.len(),
        load_time.as_secs_f64(),
        acknowledged.len() as f64 / load_time.as_secs_f64(),
        sent.load(Relaxed),
        settled.as_secs_f64(),
    );
    if resent > KILLS * RESENDS_PER_KILL {
        problems.push(format!("{resent} identical resends for {KILLS} kills, over {RESENDS_PER_KILL} a kill"));
    }
    assert!(problems.is_empty(), "on {}:\n{}", backend.name, problems.join("\n"));
    assert!(acknowledged.len() > 200, "the load did too little: {} sign-ups", acknowledged.len());
}
