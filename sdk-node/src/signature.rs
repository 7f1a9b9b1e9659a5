//! The request signature: sign, parse and verify tokens with the core's format.

use gatehouse_sdk_core::signature::{
    self as core, DEFAULT_VALIDITY_MS, SignRequest, SigningKey, TokenError, VerifyError,
};
use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;

use crate::{
    error::{from_signature_error, invalid_input},
    fingerprint::EnvRisks,
};

/// Environment flags to put in a token; absent flags are false. A fingerprint's `env` fits here.
#[napi(object)]
pub struct EnvFlags {
    /// The device is rooted or jailbroken.
    pub root: Option<bool>,
    /// A hooking or tampering framework was detected.
    pub hack: Option<bool>,
    /// Running in an emulator or virtual machine.
    pub virtual_env: Option<bool>,
    /// The client is a crawler or automated browser.
    pub crawler: Option<bool>,
}

impl From<&EnvFlags> for core::EnvFlags {
    fn from(js: &EnvFlags) -> Self {
        Self {
            root: js.root.unwrap_or_default(),
            hack: js.hack.unwrap_or_default(),
            virtual_env: js.virtual_env.unwrap_or_default(),
            crawler: js.crawler.unwrap_or_default(),
        }
    }
}

impl From<core::EnvFlags> for EnvRisks {
    fn from(flags: core::EnvFlags) -> Self {
        Self {
            root: flags.root,
            hack: flags.hack,
            virtual_env: flags.virtual_env,
            crawler: flags.crawler,
        }
    }
}

/// A request to sign, and the SDK signing key to sign it with.
#[napi(object)]
pub struct SignInput {
    /// The signing key's id (`AdminService.CreateSigningKey` returns it).
    pub key_id: String,
    /// The signing key's secret: 32 bytes, base64url without padding, as created.
    pub secret: String,
    /// Request path without the query string, e.g. `/api/v1/login`.
    pub path: String,
    /// Query string (`a=1&b=2`, a leading `?` allowed) or a JSON object's text; empty when absent.
    pub query: Option<String>,
    /// Raw request body, as bytes or as a string (UTF-8); empty when absent.
    pub body: Option<Either<Buffer, String>>,
    /// The device id from `fingerprint` (at most 64 printable ASCII characters).
    pub device_id: Option<String>,
    /// Environment flags, for example a fingerprint's `env`.
    pub env: Option<EnvFlags>,
}

fn body_bytes(body: &Option<Either<Buffer, String>>) -> &[u8] {
    match body {
        Some(Either::A(buffer)) => buffer,
        Some(Either::B(text)) => text.as_bytes(),
        None => &[],
    }
}

fn signing_key(key_id: &str, secret: &str) -> napi::Result<SigningKey> {
    SigningKey::from_base64url(key_id, secret).map_err(from_signature_error)
}

fn sign_request(input: &SignInput) -> SignRequest<'_> {
    SignRequest {
        path: &input.path,
        query: input.query.as_deref().unwrap_or_default(),
        body: body_bytes(&input.body),
        device_id: input.device_id.as_deref().unwrap_or_default(),
        env: input.env.as_ref().map(Into::into).unwrap_or_default(),
    }
}

/// Signs a request now, with a random nonce, and returns the token to send with it.
///
/// Synchronous only: an HMAC over a few hashes takes microseconds.
#[napi]
pub fn sign(input: SignInput) -> napi::Result<String> {
    let key = signing_key(&input.key_id, &input.secret)?;
    core::sign_now(&key, &sign_request(&input)).map_err(from_signature_error)
}

/// Signs a request at a given time with a given 16-byte nonce: the token depends on the inputs
/// only, which is what test vectors need. Use `sign` for real requests.
#[napi]
pub fn sign_at(input: SignInput, timestamp_ms: i64, nonce: Buffer) -> napi::Result<String> {
    let key = signing_key(&input.key_id, &input.secret)?;
    let nonce: [u8; 16] = nonce
        .as_ref()
        .try_into()
        .map_err(|_| invalid_input("nonce", "nonce: must be exactly 16 bytes"))?;
    core::sign(&key, &sign_request(&input), timestamp_ms, nonce).map_err(from_signature_error)
}

/// What a token claims, read without checking its signature.
#[napi(object)]
pub struct ParsedToken {
    /// Format version (1).
    pub version: u32,
    /// The signing key's id.
    pub key_id: String,
    /// Signing time, Unix epoch milliseconds.
    pub timestamp_ms: i64,
    /// The 16-byte nonce.
    pub nonce: Buffer,
    /// The device id (may be empty).
    pub device_id: String,
    /// The environment flags.
    pub env: EnvRisks,
    /// First 8 bytes of SHA-256 of the path.
    pub path_hash: Buffer,
    /// First 8 bytes of SHA-256 of the canonical query.
    pub query_hash: Buffer,
    /// First 8 bytes of SHA-256 of the body.
    pub body_hash: Buffer,
    /// The HMAC-SHA256 over everything before it.
    pub mac: Buffer,
}

/// Reads a token's fields without checking its signature; throws an `InvalidRequestError` on
/// field `token` when it is not a well-formed token.
#[napi]
pub fn parse_token(token: String) -> napi::Result<ParsedToken> {
    let parsed = core::parse(&token).map_err(|error| token_error(&error))?;
    Ok(ParsedToken {
        version: u32::from(parsed.version),
        key_id: parsed.key_id.clone(),
        timestamp_ms: parsed.timestamp_ms,
        nonce: parsed.nonce.to_vec().into(),
        device_id: parsed.device_id.clone(),
        env: parsed.env.into(),
        path_hash: parsed.path_hash.to_vec().into(),
        query_hash: parsed.query_hash.to_vec().into(),
        body_hash: parsed.body_hash.to_vec().into(),
        mac: parsed.mac().to_vec().into(),
    })
}

fn token_error(error: &TokenError) -> napi::Error {
    invalid_input("token", &format!("token: {error} ({})", error.code()))
}

/// The code of a token that verified: `VERIFY_STATUS_PASS` of the server's `VerifyService`.
const PASS_CODE: u32 = 1200;

/// A token and the request it should cover, checked with the signing key's secret.
#[napi(object)]
pub struct VerifyTokenInput {
    /// The token the client sent.
    pub token: String,
    /// The signing key's id.
    pub key_id: String,
    /// The signing key's secret (base64url without padding).
    pub secret: String,
    /// The path the request arrived on.
    pub path: String,
    /// The query as received; empty when absent.
    pub query: Option<String>,
    /// The body as received; empty when absent.
    pub body: Option<Either<Buffer, String>>,
    /// "Now" in Unix epoch milliseconds; the system clock when absent.
    pub now_ms: Option<i64>,
    /// How long a token stays valid, in milliseconds; 300 000 (5 minutes) when absent.
    pub validity_ms: Option<i64>,
}

/// The outcome of `verifyToken`, with the numeric code the server's VerifyService would give.
#[napi(object)]
pub struct VerifyTokenResult {
    /// True when the token is valid for this request.
    pub valid: bool,
    /// 1200 when valid; otherwise 1301-1304 (malformed token), 1401 (bad signature), 1501
    /// (expired), 1502 (path mismatch) or 1503 (query or body mismatch).
    pub code: u32,
    /// `"pass"` or what is wrong.
    pub message: String,
}

/// Checks a token locally against the request it arrived with: the format, the signature (in
/// constant time), the time window, the path, the query and the body. Replays and unknown or
/// revoked keys are the server's to detect (`VerifyService.Verify`).
#[napi]
pub fn verify_token(input: VerifyTokenInput) -> napi::Result<VerifyTokenResult> {
    let key = signing_key(&input.key_id, &input.secret)?;
    let now_ms = match input.now_ms {
        Some(now_ms) => now_ms,
        None => now_unix_ms()?,
    };
    let outcome = core::parse(&input.token)
        .map_err(|error| (u32::from(error.code()), error.to_string()))
        .and_then(|token| {
            core::verify(
                &token,
                &key,
                &input.path,
                input.query.as_deref().unwrap_or_default(),
                body_bytes(&input.body),
                now_ms,
                input.validity_ms.unwrap_or(DEFAULT_VALIDITY_MS),
            )
            .map_err(|error: VerifyError| (u32::from(error.code()), error.to_string()))
        });
    Ok(match outcome {
        Ok(()) => VerifyTokenResult {
            valid: true,
            code: PASS_CODE,
            message: "pass".into(),
        },
        Err((code, message)) => VerifyTokenResult {
            valid: false,
            code,
            message,
        },
    })
}

fn now_unix_ms() -> napi::Result<i64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|elapsed| i64::try_from(elapsed.as_millis()).ok())
        .ok_or_else(|| from_signature_error(core::SignatureError::Clock))
}
