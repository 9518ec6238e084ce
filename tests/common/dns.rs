//! A real DNS server for the tests: authoritative for every name (the root zone, kept in
//! memory), over UDP and TCP on a loopback port, answering the TXT records a test publishes.
//! The application is pointed at it with `GATEHOUSE_DNS_RESOLVER`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

pub struct DnsServer {
    pub address: SocketAddr,
    zone: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    serial: AtomicU32,
    _server: Server<Catalog>,
}

impl DnsServer {
    pub async fn start() -> Self {
        let root = Name::root();
        let zone =
            InMemoryZoneHandler::<TokioRuntimeProvider>::empty(root.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            Name::from_ascii("ns.test.").unwrap(),
            Name::from_ascii("hostmaster.test.").unwrap(),
            1,
            3600,
            600,
            86400,
            0,
        );
        assert!(zone.upsert(Record::from_rdata(root.clone(), 60, RData::SOA(soa)), 1).await);
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&root), vec![zone.clone()]);
        // One port for UDP and TCP: the port a UDP socket got may be held by a TCP connection
        // of another test, so try again with another.
        let mut tries = 0;
        let (udp, tcp, address) = loop {
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let address = udp.local_addr().unwrap();
            match tokio::net::TcpListener::bind(address).await {
                Ok(tcp) => break (udp, tcp, address),
                Err(_) if tries < 50 => tries += 1,
                Err(error) => panic!("no port free for both UDP and TCP after {tries} tries: {error}"),
            }
        };
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65_535);
        Self { address, zone, serial: AtomicU32::new(1), _server: server }
    }

    /// Publishes a TXT record (beside any others at the name).
    pub async fn publish_txt(&self, name: &str, value: &str) {
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        let name = Name::from_ascii(format!("{}.", name.trim_end_matches('.'))).unwrap();
        let record = Record::from_rdata(name, 60, RData::TXT(TXT::new(vec![value.to_owned()])));
        assert!(self.zone.upsert(record, serial).await, "the record was published");
    }
}
