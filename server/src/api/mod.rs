//! The gRPC faces: one module per service, each a thin adapter from the wire types to the engine
//! and back. No detection or storage logic lives here.

pub mod admin;
pub mod blocker;
pub mod convert;
pub mod decision;
pub mod identity;
pub mod signal;
pub mod smart_url;
pub mod verify;

use crate::error::ApiError;

/// The default page size of list calls.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest page size of list calls.
pub const MAX_PAGE_SIZE: usize = 500;

/// Checks a requested page size; 0 means the default.
pub fn page_size(requested: i32, field: &str) -> Result<usize, ApiError> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(size) if size <= MAX_PAGE_SIZE => Ok(size),
        _ => Err(ApiError::invalid(
            field,
            format!("must be between 0 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"),
        )),
    }
}

/// Turns an [`ApiError`] result into a gRPC result.
pub fn reply<T>(result: Result<T, ApiError>) -> Result<tonic::Response<T>, tonic::Status> {
    result
        .map(tonic::Response::new)
        .map_err(tonic::Status::from)
}

/// Like [`reply`], with the face's verdict on the response for the metrics and access log.
pub fn reply_judged<T>(
    result: Result<(T, crate::telemetry::Verdict), ApiError>,
) -> Result<tonic::Response<T>, tonic::Status> {
    let (answer, verdict) = result.map_err(tonic::Status::from)?;
    let mut response = tonic::Response::new(answer);
    response.extensions_mut().insert(verdict);
    Ok(response)
}

/// Checks a free-text field: at most `max` bytes and no control characters.
pub fn bounded_text(value: &str, field: &str, max: usize) -> Result<String, ApiError> {
    if value.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("is longer than {max} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_string())
}
