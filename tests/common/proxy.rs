//! A TCP proxy between gatehouse and one of its backing servers, which a test can cut (every
//! open connection dropped, new ones refused) or stall (connections kept, nothing passed on,
//! as in a partition that drops packets) and restore — an outage on demand.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

#[derive(Clone)]
pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    stalled: watch::Sender<bool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Passes on what `from` sends to `to`, holding it while stalled.
async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut stalled: watch::Receiver<bool>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stalled.wait_for(|stalled| !*stalled).await.is_err() || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    /// Starts forwarding a local port to `target` (host:port).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (stalled, _) = watch::channel(false);
        let (flag, open, gate) = (cut.clone(), links.clone(), stalled.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (target, gate) = (target.clone(), gate.clone());
                open.lock().await.push(tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        let ((client_in, client_out), (server_in, server_out)) =
                            (client.into_split(), server.into_split());
                        tokio::select! {
                            () = forward(client_in, server_out, gate.subscribe()) => {}
                            () = forward(server_in, client_out, gate.subscribe()) => {}
                        }
                    }
                }));
            }
        });
        Self { port, cut, stalled, links }
    }

    /// Keeps every connection open but passes nothing on, either way, until [`Self::restore`].
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Drops every open connection and refuses new ones.
    pub async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    /// Ends a cut or a stall.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.stalled.send_replace(false);
    }
}
