//! The one error every binding call raises: a variant per stable reason, each with a readable
//! `message` (a Python exception's `str()` is its field list, so the message is a field).

use gatehouse_sdk_core::{ClientError, signature::SignatureError};

/// Why a call failed. The variant is the server's stable reason; see its `reason()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum GatehouseError {
    /// `INVALID_REQUEST`: a field of the request (or of the client's configuration) is invalid.
    #[error("{message}")]
    InvalidRequest {
        /// The field at fault, when known (`settings.retention_days`, `api_key`, `secret`).
        field: Option<String>,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// `UNAUTHORIZED`: the API key is missing, wrong, revoked, or may not make this call.
    #[error("{message}")]
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// `PAYMENT_REQUIRED`: the tenant's service or traffic is switched off.
    #[error("{message}")]
    PaymentRequired {
        /// The server's message.
        message: String,
    },
    /// `NOT_FOUND`: the named resource does not exist.
    #[error("{message}")]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// `CONFLICT`: the resource already exists, or an idempotency key was reused.
    #[error("{message}")]
    Conflict {
        /// The server's message.
        message: String,
    },
    /// `RATE_LIMITED`: over the tenant's per-minute limit.
    #[error("{message}")]
    RateLimited {
        /// Seconds until the limit resets.
        retry_after_seconds: u64,
        /// A readable summary.
        message: String,
    },
    /// `NETWORK`: the server could not be reached or the connection broke.
    #[error("{message}")]
    Network {
        /// What happened.
        message: String,
    },
    /// `INTERNAL`: the server (or, rarely, the client) failed.
    #[error("{message}")]
    Internal {
        /// What happened.
        message: String,
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
            ClientError::InvalidInput { field, message } => {
                GatehouseError::InvalidRequest { field, message }
            }
            ClientError::Unauthorized { message } => GatehouseError::Unauthorized { message },
            ClientError::PaymentRequired { message } => GatehouseError::PaymentRequired { message },
            ClientError::NotFound { message } => GatehouseError::NotFound { message },
            ClientError::Conflict { message } => GatehouseError::Conflict { message },
            ClientError::RateLimited {
                retry_after_seconds,
            } => GatehouseError::RateLimited {
                retry_after_seconds,
                message: summary,
            },
            ClientError::Network { message } => GatehouseError::Network { message },
            ClientError::Server { message } => GatehouseError::Internal { message },
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
                    message: error.to_string(),
                };
            }
        };
        GatehouseError::InvalidRequest {
            field: Some(field.to_string()),
            message: error.to_string(),
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
                message: "rate limited; retry after 7s".into()
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
                message: "invalid secret: must decode to exactly 32 bytes".into()
            }
        );
    }
}
