//! Starting and stopping the real server binary.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use gatehouse_proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use tonic::{
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_gatehouse");

/// A token long enough for the server's check.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef";

/// A running `gatehouse serve`.
pub struct Server {
    child: Option<Child>,
    /// The gRPC address, `http://127.0.0.1:PORT`.
    pub grpc_url: String,
    /// The HTTP port.
    pub http_port: u16,
    /// The data dir; kept when the server is restarted.
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port")
}

impl Server {
    /// Starts a server with a fresh data dir and the test admin token.
    pub async fn start() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().to_path_buf();
        let mut server = Self::spawn(&data_dir, Some(ADMIN_TOKEN), &[]);
        server._temp = Some(temp);
        server.wait_ready().await;
        server
    }

    /// Starts a server on `data_dir` (kept by the caller), with extra arguments.
    pub fn spawn(data_dir: &Path, admin_token: Option<&str>, extra: &[&str]) -> Self {
        Self::spawn_with_env(data_dir, admin_token, extra, &[])
    }

    /// Starts a server with a fresh data dir, extra arguments and `GATEHOUSE_*` variables, and
    /// waits until it is ready.
    pub async fn start_with(extra: &[&str], envs: &[(&str, String)]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().to_path_buf();
        let mut server = Self::spawn_with_env(&data_dir, Some(ADMIN_TOKEN), extra, envs);
        server._temp = Some(temp);
        server.wait_ready().await;
        server
    }

    /// Starts a server on `data_dir` with extra arguments and environment variables.
    pub fn spawn_with_env(
        data_dir: &Path,
        admin_token: Option<&str>,
        extra: &[&str],
        envs: &[(&str, String)],
    ) -> Self {
        let grpc_port = free_port();
        let http_port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.with_extension("log"))
            .expect("log file");
        let mut command = Command::new(BINARY);
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("--http-listen")
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env_remove("GATEHOUSE_ADMIN_TOKEN")
            .env_remove("GATEHOUSE_CONFIG")
            // No real DNS here: tests that need reverse DNS start their own server.
            .env("GATEHOUSE_RDNS_ENABLED", "false")
            // No feeds from the internet either: tests that need feeds serve them locally.
            .env("GATEHOUSE_INTEL_UPDATE", "false")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        if let Some(token) = admin_token {
            command.env("GATEHOUSE_ADMIN_TOKEN", token);
        }
        for (name, value) in envs {
            command.env(name, value);
        }
        let child = command.spawn().expect("start the gatehouse binary");
        Self {
            child: Some(child),
            grpc_url: format!("http://127.0.0.1:{grpc_port}"),
            http_port,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
        }
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.with_extension("log")).unwrap_or_default()
    }

    /// The gRPC port.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("port in grpc_url")
    }

    /// The server's process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The server's log once `ready` holds for it (log lines are written by a background thread,
    /// a moment after the event), or after 10 s.
    pub async fn log_when(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if ready(&log) || Instant::now() >= deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the gRPC health check answers SERVING.
    pub async fn wait_ready(&mut self) {
        let url = self.grpc_url.clone();
        self.wait_ready_with(move || Endpoint::from_shared(url.clone()).expect("url"))
            .await;
    }

    /// Waits until the health check answers SERVING on the endpoint `endpoint` makes (a TLS one,
    /// say).
    pub async fn wait_ready_with(&mut self, endpoint: impl Fn() -> Endpoint) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                panic!(
                    "server exited with {status} before it was ready:\n{}",
                    self.log()
                );
            }
            if let Ok(channel) = endpoint().connect().await {
                let answer = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if let Ok(answer) = answer {
                    if answer.into_inner().status == ServingStatus::Serving as i32 {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "server not ready in 30s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A channel to the gRPC port.
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(self.grpc_url.clone())
            .expect("url")
            .connect()
            .await
            .expect("connect")
    }

    /// An AdminService client.
    pub async fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel().await)
    }

    /// Kills the server with SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reap");
        }
    }

    /// Sends SIGTERM and waits for the exit status (without blocking the test's runtime, so
    /// the test's own connections can answer the server's goodbye).
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server ignored SIGTERM:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Wraps a message with `authorization: Bearer <credential>`.
pub fn bearer<T>(message: T, credential: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value: MetadataValue<_> = format!("Bearer {credential}").parse().expect("ascii");
    request.metadata_mut().insert("authorization", value);
    request
}

/// Wraps a message with `x-api-key: <key>`.
pub fn api_key<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-api-key", key.parse().expect("ascii"));
    request
}

/// A tenant made for a test, with its keys.
pub struct TestTenant {
    /// Its id.
    pub id: String,
    /// Its publishable key.
    pub publishable_key: String,
    /// Its secret key.
    pub secret_key: String,
}

/// Creates a tenant through AdminService with the admin token.
pub async fn create_tenant(
    server: &Server,
    name: &str,
    settings: Option<pb::TenantSettings>,
) -> TestTenant {
    let created = server
        .admin()
        .await
        .create_tenant(bearer(
            pb::CreateTenantRequest {
                name: name.into(),
                settings,
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("create tenant")
        .into_inner();
    TestTenant {
        id: created.tenant.expect("tenant").tenant_id,
        publishable_key: created.publishable_key,
        secret_key: created.secret_key,
    }
}

/// The reason metadata of a refusal.
pub fn reason(status: &tonic::Status) -> String {
    status
        .metadata()
        .get("x-gatehouse-reason")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Runs the CLI and returns its `name: value` lines (first occurrence of each name).
pub fn cli(args: &[&str], envs: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("GATEHOUSE_ADMIN_TOKEN")
        .env_remove("GATEHOUSE_SERVER")
        .env_remove("GATEHOUSE_DATA_DIR");
    for (name, value) in envs {
        command.env(name, value);
    }
    let output = command.output().expect("run the CLI");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect())
}

/// The value of `name` in CLI output.
pub fn field<'a>(lines: &'a [(String, String)], name: &str) -> &'a str {
    lines
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
}

/// Debian's Chromium, headless, opening `url` as a person's browser with user agent `user_agent`
/// (a headless user agent is a bot), with `extra` switches; its profile lives in `profile`.
pub fn headless_chromium(
    url: &str,
    user_agent: &str,
    profile: &Path,
    extra: &[String],
) -> std::process::Child {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("Chromium is missing: apt-get install chromium (scripts/check.sh does)");
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--user-agent={user_agent}"))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium")
}

/// Visits `url` as a person's browser (user agent `user_agent`) until it answers `302` (a browser
/// elsewhere confirmed JavaScript for this address); the `Location` it sends. Panics with
/// `context` after a minute.
pub async fn await_redirect(
    client: &reqwest::Client,
    url: &str,
    user_agent: &str,
    context: impl Fn() -> String,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = client
            .get(url)
            .header("user-agent", user_agent)
            .send()
            .await
            .expect("the link answers");
        if response.status() == 302 {
            return response.headers()["location"]
                .to_str()
                .expect("ascii location")
                .to_string();
        }
        assert!(Instant::now() < deadline, "{}", context());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A MaxMind test database fetched by `scripts/fetch-test-mmdb.sh`.
pub fn test_mmdb(name: &str) -> PathBuf {
    let root = std::env::var_os("GATEHOUSE_TEST_DATA")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/gatehouse-test-data"))
        })
        .expect("HOME or GATEHOUSE_TEST_DATA");
    let path = root.join("mmdb").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-test-mmdb.sh (scripts/check.sh does)",
        path.display()
    );
    path
}

/// The wall clock in Unix milliseconds, as the server reads it.
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}
