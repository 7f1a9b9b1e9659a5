//! The `gatehouse` binary.

use std::process::ExitCode;

use clap::Parser;
use gatehouse_server::{
    cli::{Cli, Command},
    config::{Config, LogFormat},
    server,
};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc malloc: the request path allocates many small short-lived buffers
/// (protobuf, JSON records, sled nodes) from several threads, where glibc spends measurably more
/// CPU and keeps more memory in per-thread arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sets up logging to stderr. Lines are formatted where they happen and written by a background
/// thread, so a request never waits for a `write` to stderr (with the access log on, that is one
/// line per request); when the thread falls behind, writers wait rather than drop lines. The
/// guard flushes what is queued when it is dropped, at exit.
fn init_logs(format: LogFormat, filter: &str) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("gatehouse-log")
        .finish(std::io::stderr());
    // Colours only on a terminal: in a file or journald the escape codes are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    guard
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => match Config::load(args.config.as_deref(), &args.overrides()) {
            Ok(config) => {
                let _log_writer = init_logs(config.log_format, &config.log_level);
                server::serve(config)
                    .await
                    .map_err(|error| error.to_string())
            }
            Err(error) => Err(error.to_string()),
        },
        Command::Tenant(command) => gatehouse_server::cli::run_tenant(command)
            .await
            .map_err(|error| error.to_string()),
        Command::Key(command) => gatehouse_server::cli::run_key(command)
            .await
            .map_err(|error| error.to_string()),
        Command::Intel(command) => {
            // Feed warnings go to stderr; the report is stdout.
            let _log_writer = init_logs(LogFormat::Text, "warn");
            gatehouse_server::cli::run_intel(command)
                .await
                .map_err(|error| error.to_string())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}
