//! How errors cross into JavaScript.
//!
//! A napi error carries a code and a message, and the code of a rejected `async` call cannot be
//! chosen, so the details travel in the message: a JSON object
//! `{"reason": "UNAUTHORIZED", "message": "...", "field": "...", "retryAfterSeconds": 60}` with
//! the stable reason of [`ClientError::reason`] (`field` and `retryAfterSeconds` only where they
//! apply). The package's JavaScript layer parses it into `GatehouseError` and its subclasses
//! (`UnauthorizedError`, `InvalidRequestError` with `.field`, `RateLimitedError` with
//! `.retryAfterSeconds`, ...). Local mistakes (a bad secret, a device id that is too long) use the
//! same reasons as the server, so a caller handles one set.

use gatehouse_sdk_core::{ClientError, signature::SignatureError};
use napi::Status;

/// The details of one error, written into the napi error's message as JSON.
fn error_json(
    reason: &str,
    message: &str,
    field: Option<&str>,
    retry_after_seconds: Option<u64>,
) -> napi::Error {
    let mut details = serde_json::Map::new();
    details.insert("reason".into(), reason.into());
    details.insert("message".into(), message.into());
    if let Some(field) = field {
        details.insert("field".into(), field.into());
    }
    if let Some(seconds) = retry_after_seconds {
        details.insert("retryAfterSeconds".into(), seconds.into());
    }
    napi::Error::new(
        Status::GenericFailure,
        serde_json::Value::Object(details).to_string(),
    )
}

/// An invalid argument, named by its JavaScript field name.
pub(crate) fn invalid_input(field: &str, message: &str) -> napi::Error {
    error_json("INVALID_REQUEST", message, Some(field), None)
}

/// A failed call, with the reason the core decided.
pub(crate) fn from_client_error(error: ClientError) -> napi::Error {
    let message = error.to_string();
    match &error {
        ClientError::InvalidInput { field, .. } => {
            error_json(error.reason(), &message, field.as_deref(), None)
        }
        ClientError::RateLimited {
            retry_after_seconds,
        } => error_json(error.reason(), &message, None, Some(*retry_after_seconds)),
        _ => error_json(error.reason(), &message, None, None),
    }
}

/// A request that could not be signed: an invalid argument, except a broken system clock.
pub(crate) fn from_signature_error(error: SignatureError) -> napi::Error {
    let message = error.to_string();
    let field = match error {
        SignatureError::InvalidKeyId => "keyId",
        SignatureError::InvalidSecret { .. } => "secret",
        SignatureError::InvalidDeviceId => "deviceId",
        SignatureError::InvalidQuery { .. } => "query",
        SignatureError::Clock => return error_json("INTERNAL", &message, None, None),
    };
    invalid_input(field, &message)
}
