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

fn init_logs(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: in a file or journald the escape codes are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => match Config::load(args.config.as_deref(), &args.overrides()) {
            Ok(config) => {
                init_logs(config.log_format, &config.log_level);
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
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}
