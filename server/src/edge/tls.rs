//! TLS for both listeners: rustls with ring, ALPN `h2` and `http/1.1`, the certificate and key
//! re-read when their files change or on SIGHUP, and optional client certificates (mTLS) that the
//! gate requires from callers using the admin token.
//!
//! A reload builds a whole new `ServerConfig` and swaps it in: handshakes after the swap use the
//! new certificate, connections already open keep theirs, and nothing is dropped. A reload that
//! fails (a half-written file, a key that does not match) keeps the old configuration and says
//! why in the log.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwap;
use rustls::{ServerConfig, server::WebPkiClientVerifier};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::TlsAcceptor;

/// How often the certificate files are checked for changes unless configured otherwise.
pub const DEFAULT_TLS_RELOAD_SECONDS: u64 = 10;

/// Where the TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM bundle of the CAs whose client certificates are accepted; none asks for no
    /// client certificate.
    pub client_ca: Option<PathBuf>,
    /// How often the files are checked for changes.
    pub reload_every: Duration,
}

/// Why the TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{setting}: cannot read {path}: {source}")]
    Read {
        /// The setting that names the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file holds no usable PEM item of the kind expected.
    #[error("{setting}: {path} holds no {what} in PEM form")]
    Empty {
        /// The setting that names the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
    },
    /// A PEM item could not be parsed.
    #[error("{setting}: {path} is not valid PEM: {message}")]
    Pem {
        /// The setting that names the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// The parser's words.
        message: String,
    },
    /// rustls refused the material (a key that does not match the certificate, a bad CA).
    #[error("tls: {0}")]
    Rustls(String),
}

/// The current TLS configuration, swapped on reload.
pub struct TlsConfig {
    settings: TlsSettings,
    current: ArcSwap<ServerConfig>,
    stamp: std::sync::Mutex<FileStamp>,
}

/// What the files looked like when last loaded: size and modification time of each.
type FileStamp = Vec<Option<(u64, SystemTime)>>;

impl TlsConfig {
    /// Loads the certificate, key and client CAs; an error here stops the server from starting.
    pub fn load(settings: TlsSettings) -> Result<Arc<Self>, TlsError> {
        let stamp = stamp(&settings);
        let config = build(&settings)?;
        Ok(Arc::new(Self {
            settings,
            current: ArcSwap::from_pointee(config),
            stamp: std::sync::Mutex::new(stamp),
        }))
    }

    /// An acceptor for the next handshake, with the configuration in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// Whether client certificates are asked for.
    pub fn verifies_clients(&self) -> bool {
        self.settings.client_ca.is_some()
    }

    /// Re-reads the files if they changed (or always, when `force`); true when a new
    /// configuration is in force.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let now = stamp(&self.settings);
        let mut last = self
            .stamp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !force && *last == now {
            return Ok(false);
        }
        // Remembered even when the files are broken: they are tried again when they change
        // (or on SIGHUP), not reported every tick.
        *last = now;
        let config = build(&self.settings)?;
        self.current.store(Arc::new(config));
        Ok(true)
    }

    /// Checks the files every `reload_every`, and reloads at once on SIGHUP.
    pub fn spawn_reloader(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(tls.settings.reload_every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut hangup = hangup_signal();
            loop {
                let forced = tokio::select! {
                    _ = ticker.tick() => false,
                    Some(()) = next_hangup(&mut hangup) => true,
                };
                let reloads = &crate::telemetry::metrics().tls_reloads;
                match tls.reload(forced) {
                    Ok(true) => {
                        reloads.with_label_values(&["ok"]).inc();
                        tracing::info!(
                            cert = %tls.settings.cert.display(),
                            "TLS certificate reloaded; new connections use it"
                        );
                    }
                    Ok(false) => {}
                    Err(error) => {
                        reloads.with_label_values(&["error"]).inc();
                        tracing::error!(
                            %error,
                            "TLS reload failed; the previous certificate stays in use"
                        );
                    }
                }
            }
        })
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; certificates reload on change only");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

#[cfg(unix)]
async fn next_hangup(hangup: &mut Hangup) -> Option<()> {
    match hangup {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_hangup: &mut Hangup) -> Option<()> {
    std::future::pending().await
}

fn stamp(settings: &TlsSettings) -> FileStamp {
    [
        Some(&settings.cert),
        Some(&settings.key),
        settings.client_ca.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        std::fs::metadata(path)
            .ok()
            .and_then(|meta| Some((meta.len(), meta.modified().ok()?)))
    })
    .collect()
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        setting,
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(setting, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem {
            setting,
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            setting,
            path: path.to_path_buf(),
            what: "certificate",
        });
    }
    Ok(certs)
}

fn build(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let chain = certificates("tls_cert", &settings.cert)?;
    let key_pem = read("tls_key", &settings.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| match error {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            setting: "tls_key",
            path: settings.key.clone(),
            what: "private key",
        },
        other => TlsError::Pem {
            setting: "tls_key",
            path: settings.key.clone(),
            message: other.to_string(),
        },
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Rustls(error.to_string()))?;
    let builder = match &settings.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificates("tls_client_ca", path)? {
                roots.add(ca).map_err(|error| {
                    TlsError::Rustls(format!("tls_client_ca {}: {error}", path.display()))
                })?;
            }
            // Client certificates are optional at the handshake: only admin-token callers
            // need one, and the gate checks that per request.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|error| TlsError::Rustls(format!("tls_client_ca: {error}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|error| {
        TlsError::Rustls(format!(
            "tls_cert {} and tls_key {} do not make a usable pair: {error}",
            settings.cert.display(),
            settings.key.display()
        ))
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    fn settings(cert: PathBuf, key: PathBuf) -> TlsSettings {
        TlsSettings {
            cert,
            key,
            client_ca: None,
            reload_every: Duration::from_secs(1),
        }
    }

    #[test]
    fn loads_a_pair_and_offers_h2_and_http1() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "localhost");
        let tls = TlsConfig::load(settings(cert, key)).unwrap();
        assert_eq!(
            tls.current.load().alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(!tls.verifies_clients());
    }

    #[test]
    fn bad_material_is_refused_by_setting_name() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "localhost");
        let missing = TlsConfig::load(settings(dir.path().join("nope.pem"), key.clone()))
            .err()
            .unwrap();
        assert!(
            missing.to_string().starts_with("tls_cert: cannot read"),
            "{missing}"
        );
        let swapped = TlsConfig::load(settings(key.clone(), cert.clone()))
            .err()
            .unwrap();
        assert!(swapped.to_string().contains("tls_cert"), "{swapped}");
        let other_dir = tempfile::tempdir().unwrap();
        let (other_cert, _) = write_pair(other_dir.path(), "other");
        let mismatched = TlsConfig::load(settings(other_cert, key)).err().unwrap();
        assert!(
            mismatched.to_string().contains("do not make a usable pair"),
            "{mismatched}"
        );
    }

    #[test]
    fn a_changed_file_reloads_and_a_broken_one_keeps_the_old_config() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "localhost");
        let tls = TlsConfig::load(settings(cert.clone(), key.clone())).unwrap();
        assert!(!tls.reload(false).unwrap(), "nothing changed");
        let before = tls.current.load_full();
        std::fs::write(&cert, "not a certificate").unwrap();
        assert!(tls.reload(false).is_err());
        assert!(Arc::ptr_eq(&before, &tls.current.load_full()));
        write_pair(dir.path(), "renewed.example");
        assert!(tls.reload(false).unwrap());
        assert!(!Arc::ptr_eq(&before, &tls.current.load_full()));
    }
}
