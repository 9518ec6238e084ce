//! What the application logs during a test process, captured in memory so that tests can read
//! it back (`logs()`): the log subscriber is process-wide, so it is set up once, with the
//! first filter asked for.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything the application logged during this test process.
pub fn logs() -> String {
    String::from_utf8_lossy(&buffer().lock().unwrap()).into_owned()
}

/// Sends the application's log lines (as `filter` lets through) to the capture.
pub fn capture(filter: &str) {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = gatehouse::telemetry::init(filter, gatehouse::config::LogFormat::Text, false, || BufferWriter);
    });
}

fn buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct BufferWriter;

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        buffer().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
