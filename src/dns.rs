//! DNS TXT look-ups: how an organization proves it holds a domain. The servers asked are the
//! system's (`/etc/resolv.conf`) unless `GATEHOUSE_DNS_RESOLVER` names others. Nothing is
//! cached here: a verification asks afresh, so a record just published counts as soon as the
//! servers asked have it (a caching resolver in between may keep an earlier "none" for its
//! negative TTL).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// How long one server is given to answer, and how many times it is asked.
const TIMEOUT: Duration = Duration::from_secs(4);
const ATTEMPTS: usize = 2;
/// Look-ups under way at once, whatever the organizations asking: the rest wait their turn,
/// so many organizations asking together cannot tie up the server's sockets.
const AT_ONCE: usize = 8;

/// The resolver, or why there is none (no system configuration and none given).
#[derive(Clone)]
pub struct Dns {
    resolver: Result<TokioResolver, String>,
    turns: std::sync::Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns").field("ready", &self.resolver.is_ok()).finish()
    }
}

/// The servers could not be asked, or did not answer: not an answer about the name.
#[derive(Debug, thiserror::Error)]
#[error("DNS look-up failed: {0}")]
pub struct DnsUnavailable(pub String);

fn options() -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.timeout = TIMEOUT;
    opts.attempts = ATTEMPTS;
    opts.cache_size = 0;
    opts
}

impl Dns {
    /// A resolver asking `servers` (UDP, then TCP for long answers), or the system's when none
    /// are given.
    pub fn new(servers: &[SocketAddr]) -> Self {
        let provider = TokioRuntimeProvider::default();
        let resolver = match servers {
            [] => Resolver::builder(provider).map_err(|e| {
                format!("the system's DNS configuration could not be read ({e}); set GATEHOUSE_DNS_RESOLVER")
            }),
            servers => {
                let name_servers = servers
                    .iter()
                    .map(|server| {
                        let connection = |mut c: ConnectionConfig| {
                            c.port = server.port();
                            c
                        };
                        NameServerConfig::new(
                            server.ip(),
                            true,
                            vec![connection(ConnectionConfig::udp()), connection(ConnectionConfig::tcp())],
                        )
                    })
                    .collect();
                Ok(Resolver::builder_with_config(ResolverConfig::from_name_servers(name_servers), provider))
            }
        };
        let resolver = resolver.and_then(|mut builder| {
            *builder.options_mut() = options();
            builder.build().map_err(|e| format!("the DNS resolver could not be made: {e}"))
        });
        if let Err(why) = &resolver {
            tracing::warn!(%why, "no DNS resolver: domains cannot be verified");
        }
        Self { resolver, turns: std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE)) }
    }

    /// The TXT records at `name` (a fully qualified name; each record's strings joined), none
    /// when the name or its TXT records do not exist.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsUnavailable> {
        let resolver = self.resolver.as_ref().map_err(|why| DnsUnavailable(why.clone()))?;
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let _turn = self.turns.acquire().await.map_err(|e| DnsUnavailable(e.to_string()))?;
        match resolver.txt_lookup(fqdn).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                    }
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(DnsUnavailable(e.to_string())),
        }
    }
}
