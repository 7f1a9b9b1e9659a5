//! The one error every binding call raises: a variant per stable reason, each with a readable
//! `detail` field (a Python exception's `str()` is its field list, so the text must be a field;
//! it is not called `message` because Kotlin exceptions already have one and uniffi's Kotlin
//! would not compile, mozilla/uniffi-rs#1434). `Display` is exported too, for Kotlin's and
//! Swift's string forms.

use gatehouse_sdk_core::{ClientError, signature::SignatureError};

/// Why a call failed. The variant is the server's stable reason; see its `reason()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum GatehouseError {
    /// `INVALID_REQUEST`: a field of the request (or of the client's configuration) is invalid.
    #[error("{detail}")]
    InvalidRequest {
        /// The field at fault, when known (`settings.retention_days`, `api_key`, `secret`).
        field: Option<String>,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// `UNAUTHORIZED`: the API key is missing, wrong, revoked, or may not make this call.
    #[error("{detail}")]
    Unauthorized {
        /// The server's message.
        detail: String,
    },
    /// `PAYMENT_REQUIRED`: the tenant's service or traffic is switched off.
    #[error("{detail}")]
    PaymentRequired {
        /// The server's message.
        detail: String,
    },
    /// `NOT_FOUND`: the named resource does not exist.
    #[error("{detail}")]
    NotFound {
        /// The server's message.
        detail: String,
    },
    /// `CONFLICT`: the resource already exists, or an idempotency key was reused.
    #[error("{detail}")]
    Conflict {
        /// The server's message.
        detail: String,
    },
    /// `RATE_LIMITED`: over the tenant's per-minute limit.
    #[error("{detail}")]
    RateLimited {
        /// Seconds until the limit resets.
        retry_after_seconds: u64,
        /// A readable summary.
        detail: String,
    },
    /// `NETWORK`: the server could not be reached or the connection broke.
    #[error("{detail}")]
    Network {
        /// What happened.
        detail: String,
    },
    /// `INTERNAL`: the server (or, rarely, the client) failed.
    #[error("{detail}")]
    Internal {
        /// What happened.
        detail: String,
    },
}

#[uniffi::export]
impl GatehouseError {
    /// The stable reason: `INVALID_REQUEST`, `UNAUTHORIZED`, `PAYMENT_REQUIRED`, `NOT_FOUND`,
    /// `CONFLICT`, `RATE_LIMITED`, `NETWORK` or `INTERNAL`.
    pub fn reason(&self) -> String {
        match self {
            GatehouseError::InvalidRequest { .. } => "INVALID_REQUEST",
            GatehouseError::Unauthorized { .. } => "UNAUTHORIZED",
            GatehouseError::PaymentRequired { .. } => "PAYMENT_REQUIRED",
            GatehouseError::NotFound { .. } => "NOT_FOUND",
            GatehouseError::Conflict { .. } => "CONFLICT",
            GatehouseError::RateLimited { .. } => "RATE_LIMITED",
            GatehouseError::Network { .. } => "NETWORK",
            GatehouseError::Internal { .. } => "INTERNAL",
        }
        .to_string()
    }
}

impl From<ClientError> for GatehouseError {
    fn from(error: ClientError) -> Self {
        let summary = error.to_string();
        match error {
            ClientError::InvalidInput { field, message } => GatehouseError::InvalidRequest {
                field,
                detail: message,
            },
            ClientError::Unauthorized { message } => {
                GatehouseError::Unauthorized { detail: message }
            }
            ClientError::PaymentRequired { message } => {
                GatehouseError::PaymentRequired { detail: message }
            }
            ClientError::NotFound { message } => GatehouseError::NotFound { detail: message },
            ClientError::Conflict { message } => GatehouseError::Conflict { detail: message },
            ClientError::RateLimited {
                retry_after_seconds,
            } => GatehouseError::RateLimited {
                retry_after_seconds,
                detail: summary,
            },
            ClientError::Network { message } => GatehouseError::Network { detail: message },
            ClientError::Server { message } => GatehouseError::Internal { detail: message },
        }
    }
}

impl From<SignatureError> for GatehouseError {
    fn from(error: SignatureError) -> Self {
        let field = match &error {
            SignatureError::InvalidKeyId => "key_id",
            SignatureError::InvalidSecret { .. } => "secret",
            SignatureError::InvalidDeviceId => "device_id",
            SignatureError::InvalidQuery { .. } => "query",
            SignatureError::Clock => {
                return GatehouseError::Internal {
                    detail: error.to_string(),
                };
            }
        };
        GatehouseError::InvalidRequest {
            field: Some(field.to_string()),
            detail: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_error_keeps_its_reason_and_message() {
        let cases = [
            ClientError::InvalidInput {
                field: Some("ip".into()),
                message: "ip: not an address".into(),
            },
            ClientError::Unauthorized {
                message: "bad key".into(),
            },
            ClientError::PaymentRequired {
                message: "off".into(),
            },
            ClientError::NotFound {
                message: "no such".into(),
            },
            ClientError::Conflict {
                message: "exists".into(),
            },
            ClientError::RateLimited {
                retry_after_seconds: 7,
            },
            ClientError::Network {
                message: "refused".into(),
            },
            ClientError::Server {
                message: "boom".into(),
            },
        ];
        for core in cases {
            let reason = core.reason();
            let binding = GatehouseError::from(core.clone());
            assert_eq!(binding.reason(), reason);
            assert!(
                core.to_string().ends_with(&binding.to_string()),
                "{core} / {binding}"
            );
        }
        assert_eq!(
            GatehouseError::from(ClientError::RateLimited {
                retry_after_seconds: 7
            }),
            GatehouseError::RateLimited {
                retry_after_seconds: 7,
                detail: "rate limited; retry after 7s".into()
            }
        );
    }

    #[test]
    fn signature_errors_name_the_field() {
        let error = GatehouseError::from(SignatureError::InvalidSecret {
            reason: "must decode to exactly 32 bytes",
        });
        assert_eq!(
            error,
            GatehouseError::InvalidRequest {
                field: Some("secret".into()),
                detail: "invalid secret: must decode to exactly 32 bytes".into()
            }
        );
    }
}
