//! Ids that cross the engine, as newtypes: each is checked once, where it enters, and the engine
//! cannot mix one kind of id up with another. Their text is what is stored and sent, unchanged.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Why a client's id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// Empty.
    #[error("is empty")]
    Empty,
    /// Longer than the id may be, or with characters outside `[A-Za-z0-9_-]`.
    #[error("must be 1-{max} letters, digits, '_' or '-'")]
    Malformed {
        /// The longest it may be.
        max: usize,
    },
}

/// Checks `[A-Za-z0-9_-]{1,max}`, the form every client-chosen id shares: safe in storage keys
/// (no `/`), URLs and logs.
fn check(raw: &str, max: usize) -> Result<&str, InvalidId> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(InvalidId::Empty);
    }
    let well_formed = id.len() <= max
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if well_formed {
        Ok(id)
    } else {
        Err(InvalidId::Malformed { max })
    }
}

/// A click-fraud visitor (`vis_...` when the server made it; clients may choose their own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VisitorId(String);

impl VisitorId {
    /// The longest visitor id.
    pub const MAX_LEN: usize = 64;

    /// A visitor id a client sent.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        check(raw, Self::MAX_LEN).map(|id| Self(id.to_string()))
    }

    /// A new random visitor id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 10];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("vis_{}", hex::encode(bytes)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<VisitorId> for String {
    fn from(id: VisitorId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_ids_are_checked_once() {
        assert_eq!(VisitorId::parse(" vis_1a-B ").unwrap().as_str(), "vis_1a-B");
        assert_eq!(VisitorId::parse(""), Err(InvalidId::Empty));
        for bad in ["a/b", "a b", "é", &"x".repeat(65)] {
            assert_eq!(
                VisitorId::parse(bad),
                Err(InvalidId::Malformed { max: 64 }),
                "{bad}"
            );
        }
        let made = VisitorId::generate();
        assert!(made.as_str().starts_with("vis_"));
        assert_eq!(VisitorId::parse(made.as_str()).unwrap(), made);
        // Stored and sent as the bare text.
        assert_eq!(serde_json::to_string(&made).unwrap(), format!("\"{made}\""));
    }
}
