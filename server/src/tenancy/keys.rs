//! API keys and the admin token: generation, hashing and constant-time comparison.
//!
//! Keys are 160 random bits, so a plain SHA-256 is enough to store them safely (there is nothing
//! to brute-force); only hashes are ever stored, and comparisons run in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `pk_...`: client signals and SDK calls only.
    Publishable,
    /// `sk_...`: everything for its own tenant.
    Secret,
}

impl KeyKind {
    /// The prefix every key of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Publishable => "pk_",
            KeyKind::Secret => "sk_",
        }
    }
}

/// SHA-256 of a key or token, the only form in which it is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even a hash is kept out of logs.
        f.write_str("KeyHash(..)")
    }
}

impl KeyHash {
    /// Hashes a presented key or token.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Compares in constant time.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new API key of `kind`: the prefix and 40 hex characters (160 random bits).
pub fn generate_api_key(kind: KeyKind) -> String {
    format!("{}{}", kind.prefix(), random_hex(20))
}

/// A new admin token: 256 random bits as hex.
pub fn generate_admin_token() -> String {
    format!("gat_{}", random_hex(32))
}

/// The first characters of a key, enough to recognise it in a list.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(7).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_kind_and_differ() {
        let secret = generate_api_key(KeyKind::Secret);
        let publishable = generate_api_key(KeyKind::Publishable);
        assert!(secret.starts_with("sk_") && secret.len() == 43);
        assert!(publishable.starts_with("pk_"));
        assert_ne!(generate_api_key(KeyKind::Secret), secret);
    }

    #[test]
    fn hashes_match_only_the_same_key() {
        let key = generate_api_key(KeyKind::Secret);
        assert!(KeyHash::of(&key).matches(&KeyHash::of(&key)));
        assert!(!KeyHash::of(&key).matches(&KeyHash::of(&format!("{key}x"))));
    }
}
