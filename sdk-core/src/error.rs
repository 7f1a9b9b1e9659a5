//! The one error type every SDK call returns, with variants a caller can act on.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// What went wrong with a call, decided from the server's stable reason (the
/// `google.rpc.ErrorInfo` in the status details, or the `x-gatehouse-reason` metadata of older
/// servers) and, failing both, from the gRPC status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A field of the request is invalid; the message names it and says how to fix it.
    #[error("invalid request: {message}")]
    InvalidInput {
        /// The field the server named (`ErrorInfo` metadata `field`, or the first
        /// `BadRequest` violation).
        field: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The API key is missing, wrong, revoked, or may not make this call.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// The tenant's service or traffic is switched off.
    #[error("payment required: {message}")]
    PaymentRequired {
        /// The server's message.
        message: String,
    },
    /// The named resource does not exist.
    #[error("not found: {message}")]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// The resource already exists.
    #[error("conflict: {message}")]
    Conflict {
        /// The server's message.
        message: String,
    },
    /// Over the tenant's per-minute limit.
    #[error("rate limited; retry after {retry_after_seconds}s")]
    RateLimited {
        /// Seconds until the limit resets, from `x-ratelimit-reset`.
        retry_after_seconds: u64,
    },
    /// The server could not be reached or the connection broke.
    #[error("network: {message}")]
    Network {
        /// What happened.
        message: String,
    },
    /// The server failed.
    #[error("server error: {message}")]
    Server {
        /// The server's message.
        message: String,
    },
}

impl ClientError {
    /// The stable reason, as the server names it (`INVALID_REQUEST`, `UNAUTHORIZED`, ...), or
    /// `NETWORK` when the server was not reached.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientError::InvalidInput { .. } => "INVALID_REQUEST",
            ClientError::Unauthorized { .. } => "UNAUTHORIZED",
            ClientError::PaymentRequired { .. } => "PAYMENT_REQUIRED",
            ClientError::NotFound { .. } => "NOT_FOUND",
            ClientError::Conflict { .. } => "CONFLICT",
            ClientError::RateLimited { .. } => "RATE_LIMITED",
            ClientError::Network { .. } => "NETWORK",
            ClientError::Server { .. } => "INTERNAL",
        }
    }

    /// Maps a status, at time `now_unix_seconds` (for the retry delay).
    pub fn from_status_at(status: &Status, now_unix_seconds: u64) -> Self {
        let message = status.message().to_string();
        let details = status.get_error_details();
        let info = details.error_info();
        let reason = info
            .map(|info| info.reason.as_str())
            .or_else(|| {
                status
                    .metadata()
                    .get("x-gatehouse-reason")
                    .and_then(|value| value.to_str().ok())
            })
            .unwrap_or_default();
        match (reason, status.code()) {
            ("INVALID_REQUEST", _) | ("", Code::InvalidArgument) => ClientError::InvalidInput {
                field: info
                    .and_then(|info| info.metadata.get("field").cloned())
                    .or_else(|| {
                        details
                            .bad_request()
                            .and_then(|bad| bad.field_violations.first())
                            .map(|violation| violation.field.clone())
                    }),
                message,
            },
            ("UNAUTHORIZED", _) | ("", Code::Unauthenticated | Code::PermissionDenied) => {
                ClientError::Unauthorized { message }
            }
            ("PAYMENT_REQUIRED", _) | ("", Code::FailedPrecondition) => {
                ClientError::PaymentRequired { message }
            }
            ("NOT_FOUND", _) | ("", Code::NotFound) => ClientError::NotFound { message },
            ("CONFLICT", _) | ("", Code::AlreadyExists) => ClientError::Conflict { message },
            ("RATE_LIMITED", _) | ("", Code::ResourceExhausted) => {
                if let Some(delay) = details.retry_info().and_then(|retry| retry.retry_delay) {
                    return ClientError::RateLimited {
                        retry_after_seconds: delay.as_secs(),
                    };
                }
                let reset = status
                    .metadata()
                    .get("x-ratelimit-reset")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<u64>().ok())
                    .unwrap_or(now_unix_seconds + 60);
                ClientError::RateLimited {
                    retry_after_seconds: reset.saturating_sub(now_unix_seconds),
                }
            }
            ("UNAVAILABLE", _)
            | ("", Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled) => {
                ClientError::Network { message }
            }
            _ => ClientError::Server { message },
        }
    }
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        Self::from_status_at(&status, now)
    }
}

impl From<tonic::transport::Error> for ClientError {
    fn from(error: tonic::transport::Error) -> Self {
        ClientError::Network {
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: Code, reason: &str, message: &str) -> Status {
        let mut status = Status::new(code, message);
        status
            .metadata_mut()
            .insert("x-gatehouse-reason", reason.parse().unwrap());
        status
    }

    #[test]
    fn the_field_and_the_retry_delay_come_from_the_details_not_the_message() {
        use std::collections::HashMap;

        use tonic_types::ErrorDetails;

        let mut details = ErrorDetails::with_error_info(
            "INVALID_REQUEST",
            "gatehouse",
            HashMap::from([("field".to_string(), "settings.retention_days".to_string())]),
        );
        details.add_bad_request_violation("settings.retention_days", "must be 1-3650");
        // The message deliberately does not start with the field.
        let invalid = Status::with_error_details(
            Code::InvalidArgument,
            "must be between 1 and 3650",
            details,
        );
        assert_eq!(
            ClientError::from_status_at(&invalid, 0),
            ClientError::InvalidInput {
                field: Some("settings.retention_days".into()),
                message: "must be between 1 and 3650".into()
            }
        );
        let only_violation = Status::with_error_details(
            Code::InvalidArgument,
            "bad",
            ErrorDetails::with_bad_request_violation("ip", "not an address"),
        );
        assert!(matches!(
            ClientError::from_status_at(&only_violation, 0),
            ClientError::InvalidInput { field: Some(field), .. } if field == "ip"
        ));
        let mut limited =
            ErrorDetails::with_error_info("RATE_LIMITED", "gatehouse", HashMap::new());
        limited.set_retry_info(Some(std::time::Duration::from_secs(17)));
        assert_eq!(
            ClientError::from_status_at(
                &Status::with_error_details(Code::ResourceExhausted, "slow down", limited),
                0
            ),
            ClientError::RateLimited {
                retry_after_seconds: 17
            }
        );
    }

    #[test]
    fn reasons_map_to_actionable_variants() {
        let invalid = ClientError::from_status_at(
            &status(
                Code::InvalidArgument,
                "INVALID_REQUEST",
                "settings.retention_days: must be 1-3650",
            ),
            0,
        );
        assert_eq!(
            invalid,
            ClientError::InvalidInput {
                field: None,
                message: "settings.retention_days: must be 1-3650".into()
            }
        );
        let mut limited = status(Code::ResourceExhausted, "RATE_LIMITED", "slow down");
        limited
            .metadata_mut()
            .insert("x-ratelimit-reset", "1060".parse().unwrap());
        assert_eq!(
            ClientError::from_status_at(&limited, 1000),
            ClientError::RateLimited {
                retry_after_seconds: 60
            }
        );
        let denied =
            ClientError::from_status_at(&status(Code::PermissionDenied, "UNAUTHORIZED", "no"), 0);
        assert_eq!(denied.reason(), "UNAUTHORIZED");
    }

    #[test]
    fn plain_statuses_fall_back_to_the_code() {
        let unreachable =
            ClientError::from_status_at(&Status::unavailable("connection refused"), 0);
        assert_eq!(unreachable.reason(), "NETWORK");
        let internal = ClientError::from_status_at(&Status::internal("boom"), 0);
        assert_eq!(internal.reason(), "INTERNAL");
    }
}
