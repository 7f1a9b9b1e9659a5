//! Errors the services return, and their one mapping to gRPC status codes.
//!
//! Every refusal carries a stable [`ErrorReason`] twice: in the `x-gatehouse-reason` metadata and
//! in the standard gRPC error model's `google.rpc.ErrorInfo` (reason, domain [`ERROR_DOMAIN`], and
//! the field in its metadata), with `google.rpc.BadRequest` field violations for invalid input and
//! `google.rpc.RetryInfo` on rate limits. The message names the field or the fix. Internal
//! failures are logged with their cause and answered with a generic message, so nothing about the
//! server's insides leaks to callers. Statuses made by tonic itself (an undecodable body, an
//! unknown method) get the same details in [`complete_status`], so every error a client sees
//! has them.

use std::collections::HashMap;

use tonic::{Code, Status, metadata::MetadataValue};
use tonic_types::{ErrorDetails, StatusExt};

use crate::store::StoreError;

/// The metadata key that carries the [`ErrorReason`] of a refusal.
pub const REASON_METADATA_KEY: &str = "x-gatehouse-reason";

/// The `domain` of every `google.rpc.ErrorInfo` Gatehouse sends.
pub const ERROR_DOMAIN: &str = "gatehouse";

/// The `google.rpc.ErrorInfo` metadata key that names the invalid field.
pub const FIELD_METADATA_KEY: &str = "field";

/// The stable, machine-readable reason of a refusal (mirrors `gatehouse.v1.ErrorReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorReason {
    /// Malformed request or invalid field.
    InvalidRequest,
    /// Missing, wrong or insufficient credentials.
    Unauthorized,
    /// The tenant's service or traffic is switched off.
    PaymentRequired,
    /// No such resource for this tenant.
    NotFound,
    /// Over the tenant's per-minute limit.
    RateLimited,
    /// The resource already exists.
    Conflict,
    /// A failure inside the server.
    Internal,
    /// No such method: the client and server disagree on the contract.
    Unimplemented,
    /// The server cannot answer right now (shutting down, a dependency down); retry later.
    Unavailable,
}

impl ErrorReason {
    /// The name sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::InvalidRequest => "INVALID_REQUEST",
            ErrorReason::Unauthorized => "UNAUTHORIZED",
            ErrorReason::PaymentRequired => "PAYMENT_REQUIRED",
            ErrorReason::NotFound => "NOT_FOUND",
            ErrorReason::RateLimited => "RATE_LIMITED",
            ErrorReason::Conflict => "CONFLICT",
            ErrorReason::Internal => "INTERNAL",
            ErrorReason::Unimplemented => "UNIMPLEMENTED",
            ErrorReason::Unavailable => "UNAVAILABLE",
        }
    }

    /// The reason of a status that did not come from an [`ApiError`], from its code.
    pub fn of_code(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => ErrorReason::InvalidRequest,
            Code::Unauthenticated | Code::PermissionDenied => ErrorReason::Unauthorized,
            Code::FailedPrecondition => ErrorReason::PaymentRequired,
            Code::NotFound => ErrorReason::NotFound,
            Code::AlreadyExists | Code::Aborted => ErrorReason::Conflict,
            Code::ResourceExhausted => ErrorReason::RateLimited,
            Code::Unimplemented => ErrorReason::Unimplemented,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                ErrorReason::Unavailable
            }
            Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => ErrorReason::Internal,
        }
    }

    /// The HTTP status the same refusal has on an HTTP surface.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorReason::InvalidRequest => 400,
            ErrorReason::Unauthorized => 401,
            ErrorReason::PaymentRequired => 402,
            ErrorReason::NotFound => 404,
            ErrorReason::Conflict => 409,
            ErrorReason::RateLimited => 429,
            ErrorReason::Internal => 500,
            ErrorReason::Unimplemented => 501,
            ErrorReason::Unavailable => 503,
        }
    }
}

/// Why a call was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field is missing or invalid.
    #[error("{field}: {problem}")]
    InvalidArgument {
        /// The field, as named in the proto (`settings.rate_limit_per_minute`).
        field: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// No valid credential was sent.
    #[error("{0}")]
    Unauthenticated(String),
    /// The credential is valid but may not make this call.
    #[error("{0}")]
    PermissionDenied(String),
    /// The tenant's service or traffic is switched off.
    #[error("{0}")]
    PaymentRequired(String),
    /// The resource does not exist for this tenant.
    #[error("{0}")]
    NotFound(String),
    /// The resource already exists.
    #[error("{0}")]
    Conflict(String),
    /// Over the per-minute limit.
    #[error(
        "rate limit of {limit} requests per minute exceeded; retry after {retry_after_seconds}s"
    )]
    RateLimited {
        /// The tenant's limit.
        limit: u32,
        /// Seconds until the window resets.
        retry_after_seconds: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Any other failure inside the server.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Shorthand for [`ApiError::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ApiError::InvalidArgument {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The stable reason of this error.
    pub fn reason(&self) -> ErrorReason {
        match self {
            ApiError::InvalidArgument { .. } => ErrorReason::InvalidRequest,
            ApiError::Unauthenticated(_) | ApiError::PermissionDenied(_) => {
                ErrorReason::Unauthorized
            }
            ApiError::PaymentRequired(_) => ErrorReason::PaymentRequired,
            ApiError::NotFound(_) => ErrorReason::NotFound,
            ApiError::Conflict(_) => ErrorReason::Conflict,
            ApiError::RateLimited { .. } => ErrorReason::RateLimited,
            ApiError::Store(_) | ApiError::Internal(_) => ErrorReason::Internal,
        }
    }

    /// The gRPC status code of this error.
    pub fn code(&self) -> Code {
        match self {
            ApiError::InvalidArgument { .. } => Code::InvalidArgument,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::PermissionDenied(_) => Code::PermissionDenied,
            ApiError::PaymentRequired(_) => Code::FailedPrecondition,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::Conflict(_) => Code::AlreadyExists,
            ApiError::RateLimited { .. } => Code::ResourceExhausted,
            ApiError::Store(_) | ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl From<crate::engine::EngineError> for ApiError {
    fn from(error: crate::engine::EngineError) -> Self {
        use crate::engine::EngineError as E;
        match error {
            E::Store(error) => ApiError::Store(error),
            E::IdempotencyKeyReused => ApiError::Conflict(
                "idempotency_key: was used in the last 24 h for a different signal; use a new \
                 key for each signal"
                    .into(),
            ),
            E::IdentityMissing(id) => ApiError::NotFound(format!("identity {id} does not exist")),
            E::SignalIdentityMissing(id) => ApiError::NotFound(format!(
                "identifiers.identity_id: identity {id} does not exist for this tenant"
            )),
            E::ClientMayNotLink => ApiError::PermissionDenied(
                "identifiers: a publishable key may not link a user id to an identity; send \
                 either the user id or the identity id, or link them from your server"
                    .into(),
            ),
            E::UserUnknown(user_id) => ApiError::NotFound(format!(
                "identifiers.user_id: user {user_id:?} is unknown; identities are created by \
                 signals sent with the secret key"
            )),
            E::UserOfAnotherIdentity {
                user_id,
                linked,
                identity_id,
            } => ApiError::invalid(
                "identifiers.user_id",
                format!("user {user_id:?} belongs to identity {linked}, not {identity_id}"),
            ),
            E::UserWithoutIdentity(user_id) => {
                ApiError::NotFound(format!("user {user_id:?} has no identity"))
            }
            E::NoIdentityNamed => ApiError::invalid("identity_id", "give identity_id or user_id"),
            E::EventMissing(id) => ApiError::NotFound(format!("event {id} does not exist")),
            E::BanMissing(id) => ApiError::NotFound(format!("ban {id} does not exist")),
            E::EventHasApproval(id) => {
                ApiError::Conflict(format!("event {id} already has an approval"))
            }
            E::ApprovalTokenUnknown => {
                ApiError::NotFound("approval_token: unknown or already used token".into())
            }
            E::ApprovalAnswered(id) => {
                ApiError::Conflict(format!("approval {id} was already answered"))
            }
            E::ApprovalExpired => {
                ApiError::invalid("approval_token", "the approval expired; ask for a new one")
            }
            E::ApprovalIdentityGone => {
                ApiError::NotFound("the approval's identity no longer exists".into())
            }
            E::KeynameInvalid => ApiError::invalid(
                "smart_url.keyname",
                "must be 3-64 letters, digits, '_' or '-' (or empty to generate one)",
            ),
            E::KeynameTaken(keyname) => ApiError::Conflict(format!(
                "smart_url.keyname: {keyname:?} is taken; choose another or leave it empty"
            )),
            E::SmartUrlMissing(keyname) => {
                ApiError::NotFound(format!("smart URL {keyname:?} does not exist"))
            }
            E::VisitorUnknown(visitor_id) => ApiError::NotFound(format!(
                "visitor_id: no events for visitor {visitor_id:?}; track events first"
            )),
            E::PageTokenInvalid => ApiError::invalid(
                "page_token",
                "is not a token this call returned; pass next_page_token as is",
            ),
            E::TooManySigningKeys(max) => ApiError::invalid(
                "tenant_id",
                format!("has {max} signing keys already: revoke and delete old ones"),
            ),
            E::SigningKeyMissing(id) => {
                ApiError::NotFound(format!("signing key {id} does not exist"))
            }
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = match &error {
            ApiError::Store(_) | ApiError::Internal(_) => {
                tracing::error!(error = %error, "internal error");
                "internal error; the server log has the details".to_string()
            }
            other => other.to_string(),
        };
        let reason = error.reason();
        let mut metadata = HashMap::new();
        let mut details = ErrorDetails::new();
        match &error {
            ApiError::InvalidArgument { field, problem } => {
                metadata.insert(FIELD_METADATA_KEY.to_string(), field.clone());
                details.add_bad_request_violation(field.clone(), problem.clone());
            }
            ApiError::RateLimited {
                limit,
                retry_after_seconds,
            } => {
                metadata.insert("limit_per_minute".to_string(), limit.to_string());
                details.set_retry_info(Some(std::time::Duration::from_secs(*retry_after_seconds)));
            }
            _ => {}
        }
        details.set_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
        with_reason(
            Status::with_error_details(error.code(), message, details),
            reason,
        )
    }
}

fn with_reason(mut status: Status, reason: ErrorReason) -> Status {
    status.metadata_mut().insert(
        REASON_METADATA_KEY,
        MetadataValue::from_static(reason.as_str()),
    );
    status
}

/// The same status with the details every Gatehouse error carries, for a status that lacks them
/// (one tonic made itself: a body that does not decode, a message over the size limit, an
/// unknown method); `None` when it already has them or is not an error.
pub fn complete_status(status: &Status) -> Option<Status> {
    if status.code() == Code::Ok || !status.details().is_empty() {
        return None;
    }
    let reason = ErrorReason::of_code(status.code());
    let details = ErrorDetails::with_error_info(reason.as_str(), ERROR_DOMAIN, HashMap::new());
    Some(with_reason(
        Status::with_error_details(status.code(), status.message(), details),
        reason,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_code_and_reason() {
        let cases = [
            (
                ApiError::invalid("name", "must not be empty"),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (
                ApiError::Unauthenticated("x".into()),
                Code::Unauthenticated,
                "UNAUTHORIZED",
            ),
            (
                ApiError::PermissionDenied("x".into()),
                Code::PermissionDenied,
                "UNAUTHORIZED",
            ),
            (
                ApiError::PaymentRequired("x".into()),
                Code::FailedPrecondition,
                "PAYMENT_REQUIRED",
            ),
            (ApiError::NotFound("x".into()), Code::NotFound, "NOT_FOUND"),
            (
                ApiError::Conflict("x".into()),
                Code::AlreadyExists,
                "CONFLICT",
            ),
            (
                ApiError::RateLimited {
                    limit: 5,
                    retry_after_seconds: 3,
                },
                Code::ResourceExhausted,
                "RATE_LIMITED",
            ),
            (
                ApiError::Internal("boom".into()),
                Code::Internal,
                "INTERNAL",
            ),
        ];
        for (error, code, reason) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code);
            assert_eq!(status.metadata().get(REASON_METADATA_KEY).unwrap(), reason);
        }
    }

    #[test]
    fn every_error_carries_error_info_and_the_field() {
        let status = Status::from(ApiError::invalid("ip", "must be an IP address"));
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "INVALID_REQUEST");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(info.metadata.get(FIELD_METADATA_KEY).unwrap(), "ip");
        let violations = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "ip");
        let limited = Status::from(ApiError::RateLimited {
            limit: 5,
            retry_after_seconds: 7,
        });
        assert_eq!(
            limited.get_details_retry_info().unwrap().retry_delay,
            Some(std::time::Duration::from_secs(7))
        );
        assert_eq!(
            Status::from(ApiError::NotFound("x".into()))
                .get_details_error_info()
                .unwrap()
                .reason,
            "NOT_FOUND"
        );
    }

    #[test]
    fn statuses_tonic_makes_are_completed_once() {
        let completed =
            complete_status(&Status::invalid_argument("request body does not decode")).unwrap();
        assert_eq!(completed.code(), Code::InvalidArgument);
        assert_eq!(completed.message(), "request body does not decode");
        assert_eq!(
            completed.get_details_error_info().unwrap().reason,
            "INVALID_REQUEST"
        );
        assert_eq!(
            completed.metadata().get(REASON_METADATA_KEY).unwrap(),
            "INVALID_REQUEST"
        );
        assert!(complete_status(&completed).is_none(), "already complete");
        assert!(complete_status(&Status::ok("")).is_none());
        assert_eq!(
            complete_status(&Status::unimplemented(""))
                .unwrap()
                .get_details_error_info()
                .unwrap()
                .reason,
            "UNIMPLEMENTED"
        );
    }

    #[test]
    fn internal_details_do_not_leak() {
        let status = Status::from(ApiError::Internal("secret path /var/x".into()));
        assert!(!status.message().contains("/var/x"));
    }

    #[test]
    fn invalid_argument_names_the_field() {
        let status = Status::from(ApiError::invalid(
            "settings.retention_days",
            "must be 1-3650",
        ));
        assert_eq!(status.message(), "settings.retention_days: must be 1-3650");
    }
}
