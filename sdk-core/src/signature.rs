//! Request signatures (token format v1): the SDK signs, the server verifies.
//!
//! A token is the **base64url encoding without padding** (RFC 4648 §5, strict:
//! no `=`, no whitespace, non-canonical trailing bits rejected) of these bytes:
//!
//! ```text
//! offset        size  field
//! 0             1     version        u8, = 1
//! 1             1     key_id_len     u8, 1..=32
//! 2             K     key_id         ASCII [A-Za-z0-9_-]
//! 2+K           8     timestamp_ms   i64 big-endian, Unix epoch milliseconds
//! 10+K          16    nonce          random bytes (replay protection is the server's job)
//! 26+K          1     device_id_len  u8, 0..=64
//! 27+K          D     device_id      printable ASCII (0x20..=0x7E)
//! 27+K+D        1     env_flags      bit0 root, bit1 hack, bit2 virtualEnv, bit3 crawler; bits 4-7 must be 0
//! 28+K+D        8     path_hash      SHA-256(path)[0..8]
//! 36+K+D        8     query_hash     SHA-256(canonical_query(query))[0..8]
//! 44+K+D        8     body_hash      SHA-256(body)[0..8]
//! 52+K+D        32    mac            HMAC-SHA256(secret, bytes 0 .. 52+K+D)
//! ```
//!
//! Total: 84 + K + D bytes, i.e. 85..=180 bytes (114..=240 base64url characters).
//! [`parse`] rejects anything longer than [`MAX_TOKEN_CHARS`] before decoding.
//!
//! The path is hashed exactly as given (UTF-8 bytes, without the query string);
//! the body is hashed as raw bytes. The query is first put in canonical form by
//! [`canonical_query`].
//!
//! # Canonical query
//!
//! * Input that starts with `{` (after leading whitespace) is a JSON object
//!   whose values are strings, numbers or booleans; numbers and booleans become
//!   their JSON text (`42`, `true`; floats use serde_json's shortest
//!   round-trip text, so SDKs should send floats as strings). `null`, arrays
//!   and nested objects are an error. Names and values are taken literally (no
//!   percent-decoding). A duplicated JSON name keeps its last value.
//! * Anything else is a query string: one leading `?` is dropped, the string
//!   is split on `&`, empty pieces are skipped, each piece is split at its
//!   first `=` (a piece without `=` has an empty value), then name and value
//!   are percent-decoded with `+` meaning space. A `%` not followed by two hex
//!   digits is kept literally (so `%zz` canonicalizes to `%25zz`). Duplicate
//!   names are all kept.
//! * Every name and value is then percent-encoded byte-wise: the RFC 3986
//!   unreserved characters `A-Z a-z 0-9 - . _ ~` stay as they are, every other
//!   byte becomes `%XX` with uppercase hex.
//! * The encoded pairs are sorted by (name, value), comparing the encoded
//!   ASCII strings byte-wise, and joined as `name=value` with `&`. No pairs
//!   gives the empty string.
//!
//! # Verification
//!
//! [`verify`] checks, in this order: the MAC in constant time (code 1401),
//! the time window (1501: older than `validity_ms`, or more than
//! [`MAX_FUTURE_SKEW_MS`] in the future), the path (1502), then query and body
//! (1503). It does not remember nonces: rejecting a replayed nonce within the
//! validity window, and looking up the key by [`Token::key_id`] (1402), is up
//! to the server.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Token format version produced and accepted by this module.
pub const VERSION: u8 = 1;
/// Default time a token stays valid after its timestamp, in milliseconds (5 min).
pub const DEFAULT_VALIDITY_MS: i64 = 300_000;
/// How far a token's timestamp may lie in the future (clock skew), in milliseconds.
pub const MAX_FUTURE_SKEW_MS: i64 = 60_000;
/// Longest token string [`parse`] looks at; longer input is a [`TokenError::Length`].
pub const MAX_TOKEN_CHARS: usize = 1024;
/// Longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 32;
/// Longest device id, in bytes.
pub const MAX_DEVICE_ID_LEN: usize = 64;

const NONCE_LEN: usize = 16;
const HASH_LEN: usize = 8;
const MAC_LEN: usize = 32;
/// Bytes of a token besides key id and device id.
const FIXED_LEN: usize = 1 + 1 + 8 + NONCE_LEN + 1 + 1 + 3 * HASH_LEN + MAC_LEN;

/// Environment flags reported by the client (bit layout of the `env_flags` byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EnvFlags {
    /// Bit 0: the device is rooted / jailbroken.
    pub root: bool,
    /// Bit 1: a hooking or tampering framework was detected.
    pub hack: bool,
    /// Bit 2: running in an emulator or virtual machine (`virtualEnv`).
    pub virtual_env: bool,
    /// Bit 3: the client identifies itself as a crawler.
    pub crawler: bool,
}

impl EnvFlags {
    const NAMES: [&'static str; 4] = ["root", "hack", "virtualEnv", "crawler"];

    /// The flags as the `env_flags` byte.
    pub fn bits(self) -> u8 {
        u8::from(self.root)
            | (u8::from(self.hack) << 1)
            | (u8::from(self.virtual_env) << 2)
            | (u8::from(self.crawler) << 3)
    }

    /// Flags from the `env_flags` byte; `None` if any of bits 4-7 is set.
    pub fn from_bits(bits: u8) -> Option<Self> {
        if bits & !0x0F != 0 {
            return None;
        }
        Some(Self {
            root: bits & 1 != 0,
            hack: bits & 2 != 0,
            virtual_env: bits & 4 != 0,
            crawler: bits & 8 != 0,
        })
    }

    /// Names of the set flags in bit order: `"root"`, `"hack"`, `"virtualEnv"`, `"crawler"`.
    pub fn names(self) -> Vec<&'static str> {
        let bits = self.bits();
        Self::NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, name)| *name)
            .collect()
    }

    /// Flags from names as returned by [`EnvFlags::names`]; `None` on an unknown name.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut bits = 0u8;
        for name in names {
            let i = Self::NAMES.iter().position(|n| *n == name)?;
            bits |= 1 << i;
        }
        Self::from_bits(bits)
    }
}

/// A signing key: a key id (sent in clear in the token) and a 32-byte HMAC secret.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id, 1..=32 ASCII characters from `[A-Za-z0-9_-]`.
    pub key_id: String,
    secret: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// A key from its id and raw 32-byte secret.
    pub fn new(key_id: &str, secret: [u8; 32]) -> Result<Self, SignatureError> {
        if !valid_key_id(key_id) {
            return Err(SignatureError::InvalidKeyId);
        }
        Ok(Self {
            key_id: key_id.to_owned(),
            secret,
        })
    }

    /// A key from its id and a secret of exactly 32 bytes, base64url-encoded without padding.
    pub fn from_base64url(key_id: &str, secret_b64: &str) -> Result<Self, SignatureError> {
        let bytes =
            URL_SAFE_NO_PAD
                .decode(secret_b64)
                .map_err(|_| SignatureError::InvalidSecret {
                    reason: "not base64url without padding",
                })?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SignatureError::InvalidSecret {
                reason: "must decode to exactly 32 bytes",
            })?;
        Self::new(key_id, secret)
    }
}

/// The parts of an HTTP request that a token covers.
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    /// Request path without the query string, e.g. `/api/v1/login`; hashed as is.
    pub path: &'a str,
    /// Query string (`a=1&b=2`, leading `?` allowed) or JSON object; see [`canonical_query`].
    pub query: &'a str,
    /// Raw request body.
    pub body: &'a [u8],
    /// Device id, at most 64 printable ASCII characters (may be empty).
    pub device_id: &'a str,
    /// Environment flags reported by the client.
    pub env: EnvFlags,
}

/// A parsed token. Its public fields are what the token claims; [`verify`]
/// checks the MAC over these fields, so changing one makes verification fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Format version (always [`VERSION`] after [`parse`]).
    pub version: u8,
    /// Key id; the server looks the secret up by it.
    pub key_id: String,
    /// Signing time, Unix epoch milliseconds.
    pub timestamp_ms: i64,
    /// Random nonce.
    pub nonce: [u8; 16],
    /// Device id (may be empty).
    pub device_id: String,
    /// Environment flags.
    pub env: EnvFlags,
    /// First 8 bytes of SHA-256 of the path.
    pub path_hash: [u8; 8],
    /// First 8 bytes of SHA-256 of the canonical query.
    pub query_hash: [u8; 8],
    /// First 8 bytes of SHA-256 of the body.
    pub body_hash: [u8; 8],
    mac: [u8; 32],
}

impl Token {
    /// The MAC carried by the token.
    pub fn mac(&self) -> [u8; 32] {
        self.mac
    }

    /// The token string again; `None` if a public field was changed to an
    /// unencodable value (bad key id or device id).
    pub fn encode(&self) -> Option<String> {
        let mut bytes = self.signed_bytes()?;
        bytes.extend_from_slice(&self.mac);
        Some(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Every byte before the MAC, rebuilt from the fields.
    fn signed_bytes(&self) -> Option<Vec<u8>> {
        signed_bytes(&Fields {
            version: self.version,
            key_id: &self.key_id,
            timestamp_ms: self.timestamp_ms,
            nonce: &self.nonce,
            device_id: &self.device_id,
            env_bits: self.env.bits(),
            path_hash: &self.path_hash,
            query_hash: &self.query_hash,
            body_hash: &self.body_hash,
        })
    }
}

/// Why a token string could not be parsed; codes 1301-1304.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// 1301: not base64url without padding.
    #[error("token is not base64url without padding")]
    Encoding,
    /// 1302: too short, too long, or field lengths inconsistent with the total.
    #[error("token length is wrong")]
    Length,
    /// 1303: unsupported version byte.
    #[error("unsupported token version")]
    Version,
    /// 1304: a field holds a value outside its domain.
    #[error("invalid token field `{field}`")]
    Field {
        /// Name of the offending field (`key_id`, `device_id`, `env_flags`).
        field: &'static str,
    },
}

impl TokenError {
    /// Numeric verification code: 1301, 1302, 1303 or 1304.
    pub fn code(&self) -> u16 {
        match self {
            Self::Encoding => 1301,
            Self::Length => 1302,
            Self::Version => 1303,
            Self::Field { .. } => 1304,
        }
    }
}

/// Why a parsed token did not verify; codes 1401, 1501-1503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// 1401: the MAC does not match (wrong key, or token altered).
    #[error("bad signature")]
    BadSignature,
    /// 1501: timestamp too old, or too far in the future.
    #[error("token expired or timestamp out of range")]
    Expired,
    /// 1502: the token was signed for another path.
    #[error("path does not match the token")]
    PathMismatch,
    /// 1503: the token was signed for another query or body.
    #[error("query or body does not match the token")]
    QueryOrBodyMismatch,
}

impl VerifyError {
    /// Numeric verification code: 1401, 1501, 1502 or 1503.
    pub fn code(&self) -> u16 {
        match self {
            Self::BadSignature => 1401,
            Self::Expired => 1501,
            Self::PathMismatch => 1502,
            Self::QueryOrBodyMismatch => 1503,
        }
    }
}

/// Why a key could not be built or a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The key id is empty, longer than 32 bytes, or has a character outside `[A-Za-z0-9_-]`.
    #[error("invalid key_id: must be 1..=32 characters from [A-Za-z0-9_-]")]
    InvalidKeyId,
    /// The secret is not a 32-byte base64url value.
    #[error("invalid secret: {reason}")]
    InvalidSecret {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The device id is longer than 64 bytes or not printable ASCII.
    #[error("invalid device_id: must be at most 64 printable ASCII characters")]
    InvalidDeviceId,
    /// The query cannot be put in canonical form.
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong with it.
        reason: String,
    },
    /// The system clock is before the Unix epoch or beyond `i64` milliseconds.
    #[error("invalid timestamp_ms: system clock out of range")]
    Clock,
}

/// Signs `request` with `key` at `timestamp_ms` with `nonce`: the result depends
/// on these inputs only (used for test vectors). Use `sign_now` in production; on
/// `wasm32-unknown-unknown`, which has neither a system clock nor an OS random source, the
/// caller passes the time and a random nonce from the host (`Date.now()`,
/// `crypto.getRandomValues`) to this function instead.
pub fn sign(
    key: &SigningKey,
    request: &SignRequest<'_>,
    timestamp_ms: i64,
    nonce: [u8; 16],
) -> Result<String, SignatureError> {
    if !valid_key_id(&key.key_id) {
        return Err(SignatureError::InvalidKeyId);
    }
    if !valid_device_id(request.device_id) {
        return Err(SignatureError::InvalidDeviceId);
    }
    let canonical = canonical_query(request.query)?;
    let fields = Fields {
        version: VERSION,
        key_id: &key.key_id,
        timestamp_ms,
        nonce: &nonce,
        device_id: request.device_id,
        env_bits: request.env.bits(),
        path_hash: &short_hash(request.path.as_bytes()),
        query_hash: &short_hash(canonical.as_bytes()),
        body_hash: &short_hash(request.body),
    };
    // Key id and device id were checked above, so this cannot fail.
    let mut bytes = signed_bytes(&fields).ok_or(SignatureError::InvalidKeyId)?;
    let mut mac =
        HmacSha256::new_from_slice(&key.secret).map_err(|_| SignatureError::InvalidSecret {
            reason: "rejected by HMAC",
        })?;
    mac.update(&bytes);
    bytes.extend_from_slice(&mac.finalize().into_bytes());
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Signs `request` with the current system time and a random nonce.
///
/// Not on `wasm32-unknown-unknown`: `std::time::SystemTime::now` panics there and there is no OS
/// random source; call [`sign`] with the host's time and randomness.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn sign_now(key: &SigningKey, request: &SignRequest<'_>) -> Result<String, SignatureError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| SignatureError::Clock)?;
    let timestamp_ms = i64::try_from(now.as_millis()).map_err(|_| SignatureError::Clock)?;
    sign(key, request, timestamp_ms, rand::random())
}

/// Parses a token string. Never panics; input longer than [`MAX_TOKEN_CHARS`] is
/// rejected as [`TokenError::Length`] without being decoded. Does not check the MAC.
pub fn parse(token: &str) -> Result<Token, TokenError> {
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
        return Err(TokenError::Length);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Encoding)?;
    let mut r = Reader { buf: &bytes };
    let version = r.u8()?;
    if version != VERSION {
        return Err(TokenError::Version);
    }
    if bytes.len() < FIXED_LEN + 1 || bytes.len() > FIXED_LEN + MAX_KEY_ID_LEN + MAX_DEVICE_ID_LEN {
        return Err(TokenError::Length);
    }
    let key_id_len = usize::from(r.u8()?);
    if key_id_len == 0 || key_id_len > MAX_KEY_ID_LEN {
        return Err(TokenError::Field { field: "key_id" });
    }
    let key_id = ascii_field(r.take(key_id_len)?, valid_key_id, "key_id")?;
    let timestamp_ms = i64::from_be_bytes(r.array()?);
    let nonce = r.array()?;
    let device_id_len = usize::from(r.u8()?);
    if device_id_len > MAX_DEVICE_ID_LEN {
        return Err(TokenError::Field { field: "device_id" });
    }
    let device_id = ascii_field(r.take(device_id_len)?, valid_device_id, "device_id")?;
    let env = EnvFlags::from_bits(r.u8()?).ok_or(TokenError::Field { field: "env_flags" })?;
    let path_hash = r.array()?;
    let query_hash = r.array()?;
    let body_hash = r.array()?;
    let mac = r.array()?;
    if !r.buf.is_empty() {
        return Err(TokenError::Length);
    }
    Ok(Token {
        version,
        key_id,
        timestamp_ms,
        nonce,
        device_id,
        env,
        path_hash,
        query_hash,
        body_hash,
        mac,
    })
}

/// Verifies a parsed token against the request the server received.
///
/// Checks the MAC in constant time (hmac's `verify_slice`; a token whose
/// `key_id` differs from `key.key_id` also fails as [`VerifyError::BadSignature`]),
/// then that `now_ms - validity_ms <= timestamp_ms <= now_ms + MAX_FUTURE_SKEW_MS`,
/// then the path, then query and body. A query that cannot be canonicalized
/// is a [`VerifyError::QueryOrBodyMismatch`].
pub fn verify(
    token: &Token,
    key: &SigningKey,
    path: &str,
    query: &str,
    body: &[u8],
    now_ms: i64,
    validity_ms: i64,
) -> Result<(), VerifyError> {
    if token.key_id != key.key_id {
        return Err(VerifyError::BadSignature);
    }
    let signed = token.signed_bytes().ok_or(VerifyError::BadSignature)?;
    let mut mac = HmacSha256::new_from_slice(&key.secret).map_err(|_| VerifyError::BadSignature)?;
    mac.update(&signed);
    mac.verify_slice(&token.mac)
        .map_err(|_| VerifyError::BadSignature)?;

    let age = i128::from(now_ms) - i128::from(token.timestamp_ms);
    if age > i128::from(validity_ms) || -age > i128::from(MAX_FUTURE_SKEW_MS) {
        return Err(VerifyError::Expired);
    }
    if short_hash(path.as_bytes()) != token.path_hash {
        return Err(VerifyError::PathMismatch);
    }
    let canonical = canonical_query(query).map_err(|_| VerifyError::QueryOrBodyMismatch)?;
    if short_hash(canonical.as_bytes()) != token.query_hash || short_hash(body) != token.body_hash {
        return Err(VerifyError::QueryOrBodyMismatch);
    }
    Ok(())
}

/// Canonical form of a query string or JSON object (see the module docs).
///
/// ```text
/// "?b=2&a=1"             -> "a=1&b=2"
/// "x=%7e&y=a+b&z=a%20b"  -> "x=~&y=a%20b&z=a%20b"
/// "{\"b\":\"2\",\"a\":1}"  -> "a=1&b=2"
/// ```
pub fn canonical_query(raw: &str) -> Result<String, SignatureError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if raw.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| SignatureError::InvalidQuery {
                reason: format!("not a JSON object: {e}"),
            })?;
        let serde_json::Value::Object(map) = value else {
            return Err(SignatureError::InvalidQuery {
                reason: "not a JSON object".to_owned(),
            });
        };
        for (name, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(SignatureError::InvalidQuery {
                        reason: format!(
                            "JSON value of `{name}` must be a string, number or boolean"
                        ),
                    });
                }
            };
            pairs.push((
                percent_encode(name.as_bytes()),
                percent_encode(text.as_bytes()),
            ));
        }
    } else {
        let raw = raw.strip_prefix('?').unwrap_or(raw);
        for piece in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            pairs.push((
                percent_encode(&percent_decode(name)),
                percent_encode(&percent_decode(value)),
            ));
        }
    }
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------

struct Fields<'a> {
    version: u8,
    key_id: &'a str,
    timestamp_ms: i64,
    nonce: &'a [u8; 16],
    device_id: &'a str,
    env_bits: u8,
    path_hash: &'a [u8; 8],
    query_hash: &'a [u8; 8],
    body_hash: &'a [u8; 8],
}

/// Serializes everything before the MAC; `None` if key id or device id is invalid.
fn signed_bytes(f: &Fields<'_>) -> Option<Vec<u8>> {
    if !valid_key_id(f.key_id) || !valid_device_id(f.device_id) {
        return None;
    }
    let key_id_len = u8::try_from(f.key_id.len()).ok()?;
    let device_id_len = u8::try_from(f.device_id.len()).ok()?;
    let mut out = Vec::with_capacity(FIXED_LEN + f.key_id.len() + f.device_id.len());
    out.push(f.version);
    out.push(key_id_len);
    out.extend_from_slice(f.key_id.as_bytes());
    out.extend_from_slice(&f.timestamp_ms.to_be_bytes());
    out.extend_from_slice(f.nonce);
    out.push(device_id_len);
    out.extend_from_slice(f.device_id.as_bytes());
    out.push(f.env_bits);
    out.extend_from_slice(f.path_hash);
    out.extend_from_slice(f.query_hash);
    out.extend_from_slice(f.body_hash);
    Some(out)
}

fn short_hash(data: &[u8]) -> [u8; HASH_LEN] {
    let digest = Sha256::digest(data);
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(&digest[..HASH_LEN]);
    out
}

fn valid_key_id(s: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_device_id(s: &str) -> bool {
    s.len() <= MAX_DEVICE_ID_LEN && s.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

fn ascii_field(
    bytes: &[u8],
    valid: fn(&str) -> bool,
    field: &'static str,
) -> Result<String, TokenError> {
    match std::str::from_utf8(bytes) {
        Ok(s) if valid(s) => Ok(s.to_owned()),
        _ => Err(TokenError::Field { field }),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        if self.buf.len() < n {
            return Err(TokenError::Length);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, TokenError> {
        Ok(self.array::<1>()?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TokenError> {
        self.take(N)?.try_into().map_err(|_| TokenError::Length)
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                b.get(i + 1).and_then(hex_val),
                b.get(i + 2).and_then(hex_val),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    out
}

fn hex_val(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn percent_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_750_000_000_000;
    const NONCE: [u8; 16] = [7; 16];

    fn key() -> SigningKey {
        let mut secret = [0u8; 32];
        for (i, b) in secret.iter_mut().enumerate() {
            *b = i as u8;
        }
        SigningKey::new("k1", secret).unwrap()
    }

    fn request() -> SignRequest<'static> {
        SignRequest {
            path: "/api/login",
            query: "b=2&a=1",
            body: b"{\"user\":\"alice\"}",
            device_id: "dev-123",
            env: EnvFlags {
                root: true,
                ..EnvFlags::default()
            },
        }
    }

    fn token_at(ts: i64) -> String {
        sign(&key(), &request(), ts, NONCE).unwrap()
    }

    fn check(token: &str, path: &str, query: &str, body: &[u8], now: i64) -> Result<(), u16> {
        let t = parse(token).map_err(|e| e.code())?;
        verify(&t, &key(), path, query, body, now, DEFAULT_VALIDITY_MS).map_err(|e| e.code())
    }

    fn check_req(token: &str) -> Result<(), u16> {
        let r = request();
        check(token, r.path, r.query, r.body, NOW)
    }

    /// Decodes, lets `edit` change the bytes, recomputes the MAC with `key()`, re-encodes.
    fn forge(edit: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(token_at(NOW)).unwrap();
        bytes.truncate(bytes.len() - MAC_LEN);
        edit(&mut bytes);
        let mut mac = HmacSha256::new_from_slice(&key().secret).unwrap();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn passes() {
        let token = token_at(NOW);
        assert_eq!(check_req(&token), Ok(()));
        let t = parse(&token).unwrap();
        assert_eq!(t.key_id, "k1");
        assert_eq!(t.device_id, "dev-123");
        assert_eq!(t.env.names(), vec!["root"]);
        assert_eq!(t.timestamp_ms, NOW);
        assert_eq!(t.nonce, NONCE);
        assert_eq!(t.encode().as_deref(), Some(token.as_str()));
        // The equivalent JSON query and the edges of the window pass too.
        let r = request();
        assert_eq!(
            check(&token, r.path, r#"{"a":"1","b":2}"#, r.body, NOW),
            Ok(())
        );
        assert_eq!(
            check(&token, r.path, r.query, r.body, NOW + DEFAULT_VALIDITY_MS),
            Ok(())
        );
        assert_eq!(
            check(&token, r.path, r.query, r.body, NOW - MAX_FUTURE_SKEW_MS),
            Ok(())
        );
    }

    #[test]
    fn code_1301_not_base64url() {
        let token = token_at(NOW);
        for bad in [
            format!("{token}="),
            token.replace('-', "+"),
            format!("{token} "),
            "!!!!".to_owned(),
        ] {
            // `replace` may leave the token unchanged if it had no '-'.
            if bad != token {
                assert_eq!(parse(&bad).map(|_| ()), Err(TokenError::Encoding), "{bad}");
            }
        }
        assert_eq!(TokenError::Encoding.code(), 1301);
    }

    #[test]
    fn code_1302_truncated_or_too_long() {
        let mut bytes = URL_SAFE_NO_PAD.decode(token_at(NOW)).unwrap();
        bytes.pop();
        assert_eq!(check_req(&URL_SAFE_NO_PAD.encode(&bytes)), Err(1302));
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(check_req(&URL_SAFE_NO_PAD.encode(&bytes)), Err(1302));
        assert_eq!(check_req(""), Err(1302));
        assert_eq!(check_req(&"A".repeat(MAX_TOKEN_CHARS + 4)), Err(1302));
    }

    #[test]
    fn code_1303_version_2() {
        assert_eq!(check_req(&forge(|b| b[0] = 2)), Err(1303));
        assert_eq!(check_req(&URL_SAFE_NO_PAD.encode([2u8])), Err(1303));
    }

    #[test]
    fn code_1304_bad_fields() {
        // Layout with key id "k1" (2 bytes) and device id "dev-123" (7 bytes).
        let env_at = 2 + 2 + 8 + 16 + 1 + 7;
        let bad_env = forge(|b| b[env_at] |= 0x10);
        assert_eq!(
            parse(&bad_env),
            Err(TokenError::Field { field: "env_flags" })
        );
        let bad_key_id = forge(|b| b[2] = b'!');
        assert_eq!(
            parse(&bad_key_id),
            Err(TokenError::Field { field: "key_id" })
        );
        assert_eq!(check_req(&bad_key_id), Err(1304));
        let bad_device = forge(|b| b[29] = 0x7F);
        assert_eq!(
            parse(&bad_device),
            Err(TokenError::Field { field: "device_id" })
        );
        let zero_key_len = forge(|b| b[1] = 0);
        assert_eq!(check_req(&zero_key_len), Err(1304));
    }

    #[test]
    fn code_1401_tampered() {
        let token = token_at(NOW);
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let mac_at = bytes.len() - MAC_LEN;
        // A flipped MAC byte, and a flipped byte in every signed position.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let res = check_req(&URL_SAFE_NO_PAD.encode(&b));
            assert!(res.is_err(), "flip at {i} verified");
            if i >= mac_at {
                assert_eq!(res, Err(1401));
            }
        }
        // Timestamp byte flip parses fine and fails on the MAC.
        let mut b = bytes.clone();
        b[11] ^= 0x01;
        assert_eq!(check_req(&URL_SAFE_NO_PAD.encode(&b)), Err(1401));
        // Wrong secret, wrong key id, changed public field.
        let other = SigningKey::new("k1", [9; 32]).unwrap();
        let t = parse(&token).unwrap();
        let r = request();
        assert_eq!(
            verify(
                &t,
                &other,
                r.path,
                r.query,
                r.body,
                NOW,
                DEFAULT_VALIDITY_MS
            ),
            Err(VerifyError::BadSignature)
        );
        let renamed = SigningKey::new("k2", key().secret).unwrap();
        assert_eq!(
            verify(
                &t,
                &renamed,
                r.path,
                r.query,
                r.body,
                NOW,
                DEFAULT_VALIDITY_MS
            )
            .map_err(|e| e.code()),
            Err(1401)
        );
        let mut changed = t.clone();
        changed.env.crawler = true;
        assert_eq!(
            verify(
                &changed,
                &key(),
                r.path,
                r.query,
                r.body,
                NOW,
                DEFAULT_VALIDITY_MS
            ),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn code_1501_old_and_future() {
        assert_eq!(
            check_req(&token_at(NOW - DEFAULT_VALIDITY_MS - 1)),
            Err(1501)
        );
        assert_eq!(
            check_req(&token_at(NOW + MAX_FUTURE_SKEW_MS + 1)),
            Err(1501)
        );
        assert_eq!(check_req(&token_at(i64::MIN)), Err(1501));
        assert_eq!(check_req(&token_at(i64::MAX)), Err(1501));
    }

    #[test]
    fn code_1502_path() {
        let r = request();
        assert_eq!(
            check(&token_at(NOW), "/api/logout", r.query, r.body, NOW),
            Err(1502)
        );
    }

    #[test]
    fn code_1503_query_and_body() {
        let r = request();
        let token = token_at(NOW);
        assert_eq!(check(&token, r.path, "a=1&b=3", r.body, NOW), Err(1503));
        assert_eq!(check(&token, r.path, "{\"a\":{}}", r.body, NOW), Err(1503));
        assert_eq!(check(&token, r.path, r.query, b"{}", NOW), Err(1503));
    }

    #[test]
    fn canonical_query_cases() {
        let c = |q: &str| canonical_query(q).unwrap();
        assert_eq!(c(""), "");
        assert_eq!(c("?"), "");
        assert_eq!(c("{}"), "");
        assert_eq!(c("?b=2&a=1"), "a=1&b=2");
        assert_eq!(c("a=2&a=1&b"), "a=1&a=2&b=");
        assert_eq!(c("x=%7e&y=%7E"), "x=~&y=~");
        assert_eq!(c("q=a+b"), c("q=a%20b"));
        assert_eq!(c("q=a+b"), "q=a%20b");
        assert_eq!(c("q=%2b"), "q=%2B");
        assert_eq!(
            c("p=/x&r=caf%C3%A9&s=café"),
            "p=%2Fx&r=caf%C3%A9&s=caf%C3%A9"
        );
        assert_eq!(c("a=%zz&b=%4&c=%"), "a=%25zz&b=%254&c=%25");
        assert_eq!(c("&&a=1&&"), "a=1");
        assert_eq!(c(r#"{"b":"2","a":"1"}"#), c("b=2&a=1"));
        assert_eq!(c(r#" {"n":42,"t":true,"s":"a b"}"#), "n=42&s=a%20b&t=true");
        assert!(canonical_query(r#"{"a":{"b":"c"}}"#).is_err());
        assert!(canonical_query(r#"{"a":[1]}"#).is_err());
        assert!(canonical_query(r#"{"a":null}"#).is_err());
        assert!(canonical_query("{not json").is_err());
    }

    #[test]
    fn keys_and_flags() {
        assert!(SigningKey::new("", [0; 32]).is_err());
        assert!(SigningKey::new(&"a".repeat(33), [0; 32]).is_err());
        assert!(SigningKey::new("a.b", [0; 32]).is_err());
        let k = SigningKey::from_base64url("k_-9", &URL_SAFE_NO_PAD.encode([5u8; 32])).unwrap();
        assert!(!format!("{k:?}").contains("5, 5"));
        assert!(SigningKey::from_base64url("k", &URL_SAFE_NO_PAD.encode([5u8; 31])).is_err());
        for bits in 0..16u8 {
            let f = EnvFlags::from_bits(bits).unwrap();
            assert_eq!(f.bits(), bits);
            assert_eq!(EnvFlags::from_names(f.names()), Some(f));
        }
        assert_eq!(EnvFlags::from_bits(0x10), None);
        let mut r = request();
        let long = "d".repeat(65);
        r.device_id = &long;
        assert!(matches!(
            sign(&key(), &r, NOW, NONCE),
            Err(SignatureError::InvalidDeviceId)
        ));
        r.device_id = "tab\t";
        assert!(matches!(
            sign(&key(), &r, NOW, NONCE),
            Err(SignatureError::InvalidDeviceId)
        ));
        assert!(sign_now(&key(), &request()).is_ok());
    }

    fn arb_request() -> impl Strategy<Value = (String, String, Vec<u8>, String, u8)> {
        (
            any::<String>(),
            prop_oneof![
                "[a-zA-Z0-9=&%+~ ._?-]{0,40}",
                any::<String>().prop_filter("not JSON", |s| !s.trim_start().starts_with('{'))
            ],
            prop::collection::vec(any::<u8>(), 0..256),
            "[ -~]{0,64}",
            0u8..16,
        )
    }

    proptest! {
        // The parser's fuzz target: it sees every token from the network before any MAC check.
        // 10 000 inputs each take seconds in a debug build, so CI runs them on every push.
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn parse_never_panics_on_strings(s in any::<String>()) {
            let _ = parse(&s);
        }

        #[test]
        fn parse_never_panics_on_base64url(mut bytes in prop::collection::vec(any::<u8>(), 0..300), v1 in any::<bool>()) {
            if v1 && !bytes.is_empty() {
                bytes[0] = VERSION;
            }
            let _ = parse(&URL_SAFE_NO_PAD.encode(&bytes));
        }
    }

    proptest! {

        #[test]
        fn sign_parse_verify_round_trip(
            key_id in "[A-Za-z0-9_-]{1,32}",
            secret in any::<[u8; 32]>(),
            (path, query, body, device_id, bits) in arb_request(),
            ts in any::<i64>(),
            nonce in any::<[u8; 16]>(),
        ) {
            let key = SigningKey::new(&key_id, secret).unwrap();
            let env = EnvFlags::from_bits(bits).unwrap();
            let req = SignRequest { path: &path, query: &query, body: &body, device_id: &device_id, env };
            let token = sign(&key, &req, ts, nonce).unwrap();
            prop_assert!(token.len() <= MAX_TOKEN_CHARS);
            let t = parse(&token).unwrap();
            prop_assert_eq!(&t.key_id, &key_id);
            prop_assert_eq!(&t.device_id, &device_id);
            prop_assert_eq!(t.env, env);
            prop_assert_eq!(t.timestamp_ms, ts);
            prop_assert_eq!(t.nonce, nonce);
            prop_assert_eq!(t.encode(), Some(token.clone()));
            prop_assert_eq!(verify(&t, &key, &path, &query, &body, ts, DEFAULT_VALIDITY_MS), Ok(()));
        }

        #[test]
        fn single_byte_change_never_verifies(
            ts in any::<i64>(),
            nonce in any::<[u8; 16]>(),
            index in any::<prop::sample::Index>(),
            xor in 1u8..=255,
            replacement in "[A-Za-z0-9_-]",
        ) {
            let r = request();
            let token = sign(&key(), &r, ts, nonce).unwrap();
            let verifies = |s: &str| parse(s).ok().is_some_and(|t| verify(&t, &key(), r.path, r.query, r.body, ts, DEFAULT_VALIDITY_MS).is_ok());
            prop_assert!(verifies(&token));
            // A changed decoded byte.
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
            let i = index.index(bytes.len());
            bytes[i] ^= xor;
            prop_assert!(!verifies(&URL_SAFE_NO_PAD.encode(&bytes)));
            // A changed character of the token string.
            let j = index.index(token.len());
            if token.as_bytes()[j] != replacement.as_bytes()[0] {
                let mut s = token.clone().into_bytes();
                s[j] = replacement.as_bytes()[0];
                let s = String::from_utf8(s).unwrap();
                prop_assert!(!verifies(&s));
            }
        }
    }
}
