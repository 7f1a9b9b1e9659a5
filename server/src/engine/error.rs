//! What can go wrong inside the engine, in the engine's own words: which record is missing,
//! which rule of the domain a request breaks. The engine never names wire fields or picks
//! status codes; `crate::error` maps each case once to the API's answer.

use crate::store::StoreError;

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An idempotency key seen within its window came with a different signal.
    #[error("the idempotency key was used for a different signal")]
    IdempotencyKeyReused,
    /// No such identity.
    #[error("identity {0} does not exist")]
    IdentityMissing(String),
    /// A signal names an identity this tenant does not have.
    #[error("the signal's identity {0} does not exist")]
    SignalIdentityMissing(String),
    /// A client (publishable key) tried to link a user id to an identity.
    #[error("a client may not link a user id to an identity")]
    ClientMayNotLink,
    /// A client signal names a user the tenant's server never introduced.
    #[error("user {0:?} is unknown")]
    UserUnknown(String),
    /// The user id is already linked to another identity.
    #[error("user {user_id:?} belongs to identity {linked}, not {identity_id}")]
    UserOfAnotherIdentity {
        /// The user.
        user_id: String,
        /// The identity it is linked to.
        linked: String,
        /// The identity the request named.
        identity_id: String,
    },
    /// No identity is linked to the user id.
    #[error("user {0:?} has no identity")]
    UserWithoutIdentity(String),
    /// Neither an identity id nor a user id was given.
    #[error("no identity id or user id")]
    NoIdentityNamed,
    /// No such event.
    #[error("event {0} does not exist")]
    EventMissing(String),
    /// No such ban.
    #[error("ban {0} does not exist")]
    BanMissing(String),
    /// The event already has an approval.
    #[error("event {0} already has an approval")]
    EventHasApproval(String),
    /// The approval token is unknown or was used.
    #[error("unknown or already used approval token")]
    ApprovalTokenUnknown,
    /// The approval was already answered.
    #[error("approval {0} was already answered")]
    ApprovalAnswered(String),
    /// The approval expired.
    #[error("the approval expired")]
    ApprovalExpired,
    /// The identity of an approval was removed.
    #[error("the approval's identity no longer exists")]
    ApprovalIdentityGone,
    /// A smart URL keyname breaks the keyname rules.
    #[error("invalid smart URL keyname")]
    KeynameInvalid,
    /// A smart URL keyname belongs to a link already (of any tenant).
    #[error("keyname {0:?} is taken")]
    KeynameTaken(String),
    /// No such smart URL.
    #[error("smart URL {0:?} does not exist")]
    SmartUrlMissing(String),
    /// No events were tracked for the visitor.
    #[error("no events for visitor {0:?}")]
    VisitorUnknown(String),
    /// A page token this server did not make.
    #[error("invalid page token")]
    PageTokenInvalid,
    /// The tenant has as many signing keys as it may.
    #[error("{0} signing keys already")]
    TooManySigningKeys(usize),
    /// No such signing key.
    #[error("signing key {0} does not exist")]
    SigningKeyMissing(String),
}
