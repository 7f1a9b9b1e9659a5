//! Repositories: one module per kind of record. Each owns its records' keys, the indexes that
//! keep its lists cheap, and their encoding, so the engine asks for records by what they are
//! (`events.page(tenant, filter, ..)`) and never builds a key.

pub mod events;

pub use events::{EventFilter, EventLog};
