//! `gatehouse-bench`: the benchmark's helper commands (see `bench/run.sh`, which runs them in
//! order). Output is one `name: value` per line.

// The commands' output is their stdout.
#![allow(clippy::print_stdout)]

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};
use gatehouse_bench::{
    BenchError,
    admin::{Admin, verify_requests},
    lists,
    requests::{self, RequestPlan},
    seed::{SeedPlan, seed},
};
use gatehouse_server::config::Config;

/// The server's allocator, so the seeding engine allocates as the server's does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Helpers of the Gatehouse benchmark.
#[derive(Debug, Parser)]
#[command(name = "gatehouse-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The random data every command draws from; give every command the same values.
#[derive(Debug, Args)]
struct DataArgs {
    /// Random seed of all generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Size of the IP lists relative to full size (about 850 000 entries).
    #[arg(long, default_value_t = 1.0)]
    list_scale: f64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the IP list files into a folder (for `ip_lists_dir`).
    Lists {
        /// Where.
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Fill a data dir through the engine (the server must not be running on it).
    Seed {
        /// The server's data dir.
        #[arg(long)]
        data_dir: PathBuf,
        /// The IP list folder the server will load.
        #[arg(long)]
        ip_lists_dir: Option<PathBuf>,
        /// The City database the server will load.
        #[arg(long)]
        geoip_city_db: Option<PathBuf>,
        /// The ASN database the server will load.
        #[arg(long)]
        geoip_asn_db: Option<PathBuf>,
        /// The tenant's name.
        #[arg(long, default_value = "bench")]
        tenant_name: String,
        /// The tenant's requests per minute.
        #[arg(long, default_value_t = 1_000_000_000)]
        rate_limit: u32,
        /// Identities to create (one signal each).
        #[arg(long, default_value_t = 100_000)]
        identities: u64,
        /// Click events to track.
        #[arg(long, default_value_t = 1_000_000)]
        clicks: u64,
        /// Visitors the events belong to [default: clicks / 10].
        #[arg(long)]
        visitors: Option<u64>,
        /// Days the data is spread over.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// Concurrent writers.
        #[arg(long, default_value_t = 64)]
        writers: u64,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write the request files ghz cycles through, one per RPC.
    Requests {
        /// Where.
        #[arg(long)]
        out_dir: PathBuf,
        /// Tells this run's new ids and idempotency keys apart.
        #[arg(long)]
        tag: String,
        /// Requests per file.
        #[arg(long, default_value_t = 50_000)]
        count: usize,
        /// Seeded identities.
        #[arg(long, default_value_t = 100_000)]
        identities: u64,
        /// Seeded visitors.
        #[arg(long, default_value_t = 100_000)]
        visitors: u64,
        /// The smart URL keyname.
        #[arg(long, default_value = "bench-landing")]
        keyname: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Create a smart URL through AdminService.
    SmartUrl {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The keyname.
        #[arg(long, default_value = "bench-landing")]
        keyname: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Create a signing key through AdminService and write Verify requests with fresh tokens.
    VerifyRequests {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// How many (each token distinct).
        #[arg(long, default_value_t = 50_000)]
        count: usize,
        /// The JSON file to write.
        #[arg(long)]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// How to reach the running server.
#[derive(Debug, Args)]
struct ServerArgs {
    /// Its gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// The admin token.
    #[arg(long, env = "GATEHOUSE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehouse-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), BenchError> {
    match command {
        Command::Lists { dir, data } => {
            let files = lists::generate(data.seed, data.list_scale);
            let written = lists::write(&dir, &files)?;
            println!("files: {}", files.len());
            println!("entries: {written}");
        }
        Command::Seed {
            data_dir,
            ip_lists_dir,
            geoip_city_db,
            geoip_asn_db,
            tenant_name,
            rate_limit,
            identities,
            clicks,
            visitors,
            days,
            writers,
            data,
        } => {
            let config = Config {
                data_dir,
                ip_lists_dir,
                geoip_city_db,
                geoip_asn_db,
                ..Config::default()
            };
            let files = lists::generate(data.seed, data.list_scale);
            let report = seed(
                &config,
                &files,
                SeedPlan {
                    tenant_name,
                    rate_limit_per_minute: rate_limit,
                    identities,
                    clicks,
                    visitors: visitors.unwrap_or((clicks / 10).max(1)),
                    days,
                    writers,
                    seed: data.seed,
                },
            )
            .await?;
            println!("tenant_id: {}", report.tenant_id);
            println!("secret_key: {}", report.secret_key);
            println!("publishable_key: {}", report.publishable_key);
            println!("identities: {}", report.identities);
            println!("click_events: {}", report.clicks);
            println!("decisions: {}", report.decisions);
            println!("seconds: {:.1}", report.seconds);
        }
        Command::Requests {
            out_dir,
            tag,
            count,
            identities,
            visitors,
            keyname,
            data,
        } => {
            std::fs::create_dir_all(&out_dir).map_err(|source| BenchError::Io {
                context: format!("cannot create {}", out_dir.display()),
                source,
            })?;
            let files = lists::generate(data.seed, data.list_scale);
            let plan = RequestPlan {
                seed: data.seed,
                identities,
                visitors,
                count,
                keyname,
                tag,
            };
            for (name, built) in requests::build(&plan, &files) {
                requests::write(&out_dir.join(name), &built)?;
                println!("{name}: {}", built.len());
            }
        }
        Command::SmartUrl {
            tenant,
            keyname,
            server,
        } => {
            let mut admin = Admin::connect(&server.server, &server.admin_token).await?;
            admin.create_smart_url(&tenant, &keyname).await?;
            println!("keyname: {keyname}");
        }
        Command::VerifyRequests {
            tenant,
            count,
            out,
            seed,
            server,
        } => {
            let mut admin = Admin::connect(&server.server, &server.admin_token).await?;
            let key = admin.create_signing_key(&tenant).await?;
            let now = gatehouse_server::time::now_ms();
            let built = verify_requests(&key, &tenant, count, seed, now)?;
            requests::write(&out, &built)?;
            println!("key_id: {}", key.key_id);
            println!("requests: {}", built.len());
        }
    }
    Ok(())
}
