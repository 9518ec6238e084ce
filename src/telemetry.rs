//! Logging: `tracing` with a span per request, as text or JSON lines (`GATEHOUSE_LOG_FORMAT`),
//! filtered by `GATEHOUSE_LOG`. No password, hash or token is ever a field of an event; query
//! strings are never logged.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to `writer`. Returns an error if one is installed
/// already (tests install theirs once per process).
/// Colours are used only when `ansi` is set (the CLI sets it when stderr is a terminal).
pub fn init<W>(filter: &str, format: LogFormat, ansi: bool, writer: W) -> anyhow::Result<()>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter)?;
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_target(true).with_ansi(ansi);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}
