//! The `gatehouse` command line: `serve`, and the operator commands that talk to a running server
//! through AdminService.

// The operator commands' output is their stdout: one `name: value` per line.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use gatehouse_proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use tonic::{
    metadata::MetadataValue,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

use crate::config::{ADMIN_TOKEN_FILE, ConfigOverrides, DEFAULT_DATA_DIR, LogFormat};

/// Gatehouse: self-hostable bot, fraud and click-fraud detection.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage tenants (needs the admin token).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's API keys (needs the admin token).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Fetch the intelligence feeds (Tor, cloud ranges, reputation lists, GeoIP databases) and
    /// show their state. Works on the data dir directly; no running server is needed.
    #[command(subcommand)]
    Intel(IntelCommand),
}

/// Where the intel commands find the configuration: the same as `gatehouse serve`.
#[derive(Debug, Args)]
pub struct IntelConfig {
    /// TOML configuration file (the server's).
    #[arg(long, value_name = "FILE", env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder of the embedded store [default: ./gatehouse-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder of IP list files (where list feeds write).
    #[arg(long, value_name = "DIR")]
    pub ip_lists_dir: Option<PathBuf>,
}

impl IntelConfig {
    fn load(&self) -> Result<crate::config::Config, CliError> {
        crate::config::Config::load(
            self.config.as_deref(),
            &ConfigOverrides {
                data_dir: self.data_dir.clone(),
                ip_lists_dir: self.ip_lists_dir.clone(),
                ..Default::default()
            },
        )
        .map_err(|error| CliError::Config(error.to_string()))
    }
}

/// `gatehouse intel ...`
#[derive(Debug, Subcommand)]
pub enum IntelCommand {
    /// Fetch every enabled feed once (or only --feed), keeping the last good data of any that
    /// fails; exits non-zero when one failed.
    Update {
        /// Only this feed (enabled or not), by name.
        #[arg(long, value_name = "NAME")]
        feed: Option<String>,
        /// Where the configuration is.
        #[command(flatten)]
        config: IntelConfig,
    },
    /// Show every feed: enabled, last success and age, entries, last error.
    Status {
        /// Where the configuration is.
        #[command(flatten)]
        config: IntelConfig,
    },
}

/// Flags of `gatehouse serve`; each overrides the config file and `GATEHOUSE_*` variables.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// gRPC address [default: 127.0.0.1:50051].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// HTTP address for /healthz and smart URL redirects [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<std::net::SocketAddr>,
    /// Folder of the embedded store [default: ./gatehouse-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// MaxMind-format City database.
    #[arg(long, value_name = "FILE")]
    pub geoip_city_db: Option<PathBuf>,
    /// MaxMind-format ASN database.
    #[arg(long, value_name = "FILE")]
    pub geoip_asn_db: Option<PathBuf>,
    /// Folder of IP list files.
    #[arg(long, value_name = "DIR")]
    pub ip_lists_dir: Option<PathBuf>,
    /// PEM certificate chain: both listeners serve TLS (with --tls-key).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

impl ServeArgs {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            listen: self.listen,
            http_listen: self.http_listen,
            data_dir: self.data_dir.clone(),
            log_format: self.log_format,
            geoip_city_db: self.geoip_city_db.clone(),
            geoip_asn_db: self.geoip_asn_db.clone(),
            ip_lists_dir: self.ip_lists_dir.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
        }
    }
}

/// How the operator commands reach the server.
#[derive(Debug, Args)]
pub struct Connection {
    /// The server's gRPC address; `https://` when it serves TLS.
    #[arg(
        long,
        env = "GATEHOUSE_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// The admin token [default: $GATEHOUSE_ADMIN_TOKEN, else the file admin-token in --data-dir].
    #[arg(long, env = "GATEHOUSE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The server's data dir, to find a generated admin token.
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// PEM CA that signed an https:// server's certificate [default: the Mozilla roots].
    #[arg(long, value_name = "FILE", env = "GATEHOUSE_CLI_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate, for a server that wants one with the admin token (mTLS).
    #[arg(
        long,
        value_name = "FILE",
        env = "GATEHOUSE_CLI_TLS_CLIENT_CERT",
        requires = "tls_client_key"
    )]
    pub tls_client_cert: Option<PathBuf>,
    /// PEM private key of --tls-client-cert.
    #[arg(
        long,
        value_name = "FILE",
        env = "GATEHOUSE_CLI_TLS_CLIENT_KEY",
        requires = "tls_client_cert"
    )]
    pub tls_client_key: Option<PathBuf>,
}

impl Connection {
    /// The endpoint, with TLS for an https:// server.
    fn endpoint(&self) -> Result<Endpoint, CliError> {
        let connect_error = |source| CliError::Connect {
            server: self.server.clone(),
            source,
        };
        let endpoint = Endpoint::from_shared(self.server.clone()).map_err(connect_error)?;
        if !self.server.starts_with("https://") {
            if self.tls_ca.is_some() || self.tls_client_cert.is_some() {
                return Err(CliError::TlsNeedsHttps);
            }
            return Ok(endpoint);
        }
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| CliError::TlsFile {
                path: path.display().to_string(),
                source,
            })
        };
        let mut tls = match &self.tls_ca {
            Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?)),
            None => ClientTlsConfig::new().with_enabled_roots(),
        };
        if let (Some(cert), Some(key)) = (&self.tls_client_cert, &self.tls_client_key) {
            tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        endpoint.tls_config(tls).map_err(connect_error)
    }
}

/// `gatehouse tenant ...`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id and keys (shown only once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Requests per minute [default: 1000].
        #[arg(long)]
        rate_limit: Option<u32>,
        /// How to reach the server.
        #[command(flatten)]
        connection: Connection,
    },
    /// List tenants.
    List {
        /// How to reach the server.
        #[command(flatten)]
        connection: Connection,
    },
}

/// Which kind of API key.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyKindArg {
    /// pk_...: for apps and browsers.
    Publishable,
    /// sk_...: for servers.
    Secret,
}

/// `gatehouse key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issue a new key and print it (shown only once).
    Rotate {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Which kind of key.
        #[arg(long, value_enum, default_value = "secret")]
        kind: KeyKindArg,
        /// Revoke the tenant's other keys of that kind at once.
        #[arg(long)]
        revoke_previous: bool,
        /// How to reach the server.
        #[command(flatten)]
        connection: Connection,
    },
    /// Revoke a key at once.
    Revoke {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The key's id (key_...), from `gatehouse key list`.
        #[arg(long)]
        key_id: String,
        /// How to reach the server.
        #[command(flatten)]
        connection: Connection,
    },
    /// List a tenant's keys (without secrets).
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// How to reach the server.
        #[command(flatten)]
        connection: Connection,
    },
}

/// What can make an operator command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No admin token could be found.
    #[error(
        "no admin token: set GATEHOUSE_ADMIN_TOKEN, pass --admin-token, or point --data-dir at the \
         server's data dir ({0} not readable)"
    )]
    NoAdminToken(String),
    /// The server could not be reached.
    #[error("cannot reach the server at {server}: {source}; is `gatehouse serve` running?")]
    Connect {
        /// The address tried.
        server: String,
        /// The cause.
        source: tonic::transport::Error,
    },
    /// The server refused or failed the call.
    #[error("{}: {}", .0.code(), .0.message())]
    Call(#[from] tonic::Status),
    /// The token cannot be sent as metadata.
    #[error("the admin token contains characters that cannot be sent: check it")]
    BadToken,
    /// A TLS file could not be read.
    #[error("cannot read {path}: {source}")]
    TlsFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS options with a plain-text server address.
    #[error("--tls-ca and --tls-client-cert need an https:// --server")]
    TlsNeedsHttps,
    /// The configuration is invalid.
    #[error("{0}")]
    Config(String),
    /// No feed has the name given.
    #[error("no feed is called {0:?}: `gatehouse intel status` lists them")]
    UnknownFeed(String),
    /// Feeds failed (their last good data stays in use).
    #[error("{0} feed(s) not updated; their last good data stays in use (see above)")]
    FeedsFailed(usize),
    /// The feeds could not run at all.
    #[error(transparent)]
    Feeds(#[from] crate::intel::feeds::FeedError),
}

/// Runs an intel command.
pub async fn run_intel(command: IntelCommand) -> Result<(), CliError> {
    use crate::intel::feeds::{self, Outcome, state};
    match command {
        IntelCommand::Update { feed, config } => {
            let settings = config
                .load()?
                .feeds()
                .map_err(|error| CliError::Config(error.to_string()))?;
            if let Some(name) = &feed
                && settings.feed(name).is_none()
            {
                return Err(CliError::UnknownFeed(name.clone()));
            }
            let reports = feeds::update_all(&settings, feed.as_deref()).await?;
            let mut failed = 0;
            for report in &reports {
                let error = report
                    .error
                    .as_deref()
                    .map(|error| format!(" ({error})"))
                    .unwrap_or_default();
                println!(
                    "{}: {} entries={}{error}",
                    report.name,
                    report.outcome.tag(),
                    report.entries
                );
                if matches!(report.outcome, Outcome::Failed | Outcome::Refused) {
                    failed += 1;
                }
            }
            if failed > 0 {
                return Err(CliError::FeedsFailed(failed));
            }
        }
        IntelCommand::Status { config } => {
            let settings = config
                .load()?
                .feeds()
                .map_err(|error| CliError::Config(error.to_string()))?;
            let states = state::FeedStates::read(&settings.state_file);
            let now = state::now();
            for (index, feed) in settings.feeds.iter().enumerate() {
                if index > 0 {
                    println!();
                }
                let runs = settings
                    .runnable()
                    .any(|runnable| runnable.name == feed.name);
                let feed_state = states.feeds.get(&feed.name).cloned().unwrap_or_default();
                println!("feed: {}", feed.name);
                println!("kind: {}", feed.kind.tag());
                println!("label: {}", feed.label);
                println!("enabled: {runs}");
                if feed.enabled && !runs {
                    println!("note: needs maxmind_license_key");
                }
                println!("url: {}", feed.url.replace("{license_key}", "…"));
                println!("licence: {}", feed.licence);
                println!("interval_seconds: {}", feed.interval.as_secs());
                println!("path: {}", settings.target(feed).display());
                match feed_state.last_success {
                    Some(success) => {
                        println!("last_success: {}", state::format_utc(success));
                        println!("age_seconds: {}", now.saturating_sub(success));
                    }
                    None => println!("last_success: never"),
                }
                println!("entries: {}", feed_state.entries);
                println!(
                    "last_error: {}",
                    feed_state.last_error.as_deref().unwrap_or("none")
                );
            }
        }
    }
    Ok(())
}

async fn admin_client(
    connection: &Connection,
) -> Result<
    (
        AdminServiceClient<Channel>,
        MetadataValue<tonic::metadata::Ascii>,
    ),
    CliError,
> {
    let token = match &connection.admin_token {
        Some(token) => token.trim().to_string(),
        None => {
            let path = connection.data_dir.join(ADMIN_TOKEN_FILE);
            std::fs::read_to_string(&path)
                .map(|token| token.trim().to_string())
                .map_err(|_| CliError::NoAdminToken(path.display().to_string()))?
        }
    };
    let token: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .map_err(|_| CliError::BadToken)?;
    let channel = connection
        .endpoint()?
        .connect()
        .await
        .map_err(|source| CliError::Connect {
            server: connection.server.clone(),
            source,
        })?;
    Ok((AdminServiceClient::new(channel), token))
}

fn authorized<T>(message: T, token: &MetadataValue<tonic::metadata::Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

fn print_tenant(tenant: &pb::Tenant) {
    println!("tenant_id: {}", tenant.tenant_id);
    println!("name: {}", tenant.name);
    if let Some(limit) = tenant
        .settings
        .as_ref()
        .and_then(|settings| settings.rate_limit_per_minute)
    {
        println!("rate_limit_per_minute: {limit}");
    }
}

fn print_key(key: &pb::ApiKey) {
    let kind = match pb::KeyKind::try_from(key.kind) {
        Ok(pb::KeyKind::Publishable) => "publishable",
        Ok(pb::KeyKind::Secret) => "secret",
        _ => "unknown",
    };
    println!("key_id: {}", key.key_id);
    println!("kind: {kind}");
    println!("prefix: {}", key.prefix);
    println!("revoked: {}", key.revoked_ms != 0);
}

/// Runs a tenant command.
pub async fn run_tenant(command: TenantCommand) -> Result<(), CliError> {
    match command {
        TenantCommand::Create {
            name,
            rate_limit,
            connection,
        } => {
            let (mut client, token) = admin_client(&connection).await?;
            let settings = rate_limit.map(|limit| pb::TenantSettings {
                rate_limit_per_minute: Some(limit),
                ..Default::default()
            });
            let created = client
                .create_tenant(authorized(
                    pb::CreateTenantRequest { name, settings },
                    &token,
                ))
                .await?
                .into_inner();
            if let Some(tenant) = &created.tenant {
                print_tenant(tenant);
            }
            println!("publishable_key: {}", created.publishable_key);
            println!("secret_key: {}", created.secret_key);
        }
        TenantCommand::List { connection } => {
            let (mut client, token) = admin_client(&connection).await?;
            let mut page_token = String::new();
            let mut first = true;
            loop {
                let page = client
                    .list_tenants(authorized(
                        pb::ListTenantsRequest {
                            page_size: 500,
                            page_token,
                        },
                        &token,
                    ))
                    .await?
                    .into_inner();
                for tenant in &page.tenants {
                    if !first {
                        println!();
                    }
                    first = false;
                    print_tenant(tenant);
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
    }
    Ok(())
}

/// Runs a key command.
pub async fn run_key(command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Rotate {
            tenant,
            kind,
            revoke_previous,
            connection,
        } => {
            let (mut client, token) = admin_client(&connection).await?;
            let kind = match kind {
                KeyKindArg::Publishable => pb::KeyKind::Publishable,
                KeyKindArg::Secret => pb::KeyKind::Secret,
            };
            let rotated = client
                .rotate_key(authorized(
                    pb::RotateKeyRequest {
                        tenant_id: tenant,
                        kind: kind.into(),
                        revoke_previous,
                    },
                    &token,
                ))
                .await?
                .into_inner();
            if let Some(key) = &rotated.key {
                print_key(key);
            }
            println!("api_key: {}", rotated.api_key);
            for revoked in &rotated.revoked_key_ids {
                println!("revoked_key_id: {revoked}");
            }
        }
        KeyCommand::Revoke {
            tenant,
            key_id,
            connection,
        } => {
            let (mut client, token) = admin_client(&connection).await?;
            let revoked = client
                .revoke_key(authorized(
                    pb::RevokeKeyRequest {
                        tenant_id: tenant,
                        key_id,
                    },
                    &token,
                ))
                .await?
                .into_inner();
            if let Some(key) = &revoked.key {
                print_key(key);
            }
        }
        KeyCommand::List { tenant, connection } => {
            let (mut client, token) = admin_client(&connection).await?;
            let keys = client
                .list_keys(authorized(
                    pb::ListKeysRequest { tenant_id: tenant },
                    &token,
                ))
                .await?
                .into_inner();
            for (index, key) in keys.keys.iter().enumerate() {
                if index > 0 {
                    println!();
                }
                print_key(key);
            }
        }
    }
    Ok(())
}
