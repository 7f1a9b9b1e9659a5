//! The format of a data dir, and the steps that bring an older one up to date at start-up.
//!
//! [`Keyspace::Meta`] holds the format version. A store without one is either new (no tenants:
//! it gets the current version) or was written by a release before versions were recorded
//! (format 1). Each step is safe to run again, and the version is written only after its step,
//! so a crash during a migration repeats the step at the next start.
//!
//! Some steps rebuild data that only the engine can derive (decisions need the rules and the
//! intelligence data, which load after the store opens). Such a step records a [`Rebuild`] as
//! pending; the server runs it once the engine is up and before it serves, and marks it done
//! only then, so a crash in between runs it again.

use super::{
    Keyspace, Store, StoreError, WriteBatch,
    repositories::{Bans, ClickDecisions, EventLog},
};

/// The format this build writes.
pub const FORMAT_VERSION: u64 = 3;

/// Where the format version is kept in [`Keyspace::Meta`].
const VERSION_KEY: &[u8] = b"format_version";

/// Derived data that a migration left for the engine to rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuild {
    /// Click decisions: format 3 decides visitors when their events arrive, and keeps every
    /// rule that fired; visitors of older data dirs are decided again from their events.
    ClickDecisions,
}

impl Rebuild {
    fn key(self) -> &'static [u8] {
        match self {
            Rebuild::ClickDecisions => b"rebuild/click_decisions",
        }
    }
}

/// True when `what` waits to be rebuilt.
pub async fn pending(store: &dyn Store, what: Rebuild) -> Result<bool, StoreError> {
    Ok(store.get(Keyspace::Meta, what.key()).await?.is_some())
}

/// Marks `what` rebuilt, durably.
pub async fn rebuilt(store: &dyn Store, what: Rebuild) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    batch.delete(Keyspace::Meta, what.key());
    store.apply(batch).await?;
    store.durable().await
}

async fn ask_rebuild(store: &dyn Store, what: Rebuild) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    batch.put(Keyspace::Meta, what.key(), vec![1]);
    store.apply(batch).await
}

/// What went wrong bringing a data dir up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The data dir was written by a newer build; reading it could lose data.
    #[error(
        "the data dir is in format {found}, written by a newer Gatehouse; this build reads \
         formats up to {FORMAT_VERSION}: run the newer build or restore a backup"
    )]
    TooNew {
        /// The version on disk.
        found: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The format found (the current one for a new store).
    pub from: u64,
    /// The format now on disk.
    pub to: u64,
}

/// The data dir's format version, as recorded or inferred.
async fn found_version(store: &dyn Store) -> Result<u64, StoreError> {
    if let Some(bytes) = store.get(Keyspace::Meta, VERSION_KEY).await? {
        let raw = <[u8; 8]>::try_from(bytes.as_slice()).map_err(|_| StoreError::Corrupt {
            keyspace: Keyspace::Meta.tree_name(),
            detail: "the format version is not 8 bytes".into(),
        })?;
        return Ok(u64::from_be_bytes(raw));
    }
    let tenants = store.scan_prefix(Keyspace::Tenants, b"", None, 1).await?;
    Ok(if tenants.is_empty() {
        FORMAT_VERSION
    } else {
        1
    })
}

/// Brings the store to [`FORMAT_VERSION`]; call before serving.
pub async fn migrate(store: &dyn Store) -> Result<Migration, MigrateError> {
    let from = found_version(store).await?;
    if from > FORMAT_VERSION {
        return Err(MigrateError::TooNew { found: from });
    }
    let mut version = from;
    while version < FORMAT_VERSION {
        // One step per format change; each brings `version` to `version + 1`.
        if version == 1 {
            let indexed = EventLog::build_index(store).await?;
            tracing::info!(
                indexed,
                "migration to format 2: indexed the identity events"
            );
        }
        if version == 2 {
            let blocklist = ClickDecisions::build_blocklist_index(store).await?;
            let bans = Bans::build_in_force_index(store).await?;
            ask_rebuild(store, Rebuild::ClickDecisions).await?;
            tracing::info!(
                blocklist,
                bans,
                "migration to format 3: indexed the blocklist and the bans in force; click \
                 visitors will be decided again"
            );
        }
        version += 1;
        record(store, version).await?;
    }
    if from == FORMAT_VERSION {
        // New stores record theirs; existing ones already have it.
        record(store, FORMAT_VERSION).await?;
    }
    Ok(Migration {
        from,
        to: FORMAT_VERSION,
    })
}

async fn record(store: &dyn Store, version: u64) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    batch.put(Keyspace::Meta, VERSION_KEY, version.to_be_bytes().to_vec());
    store.apply(batch).await?;
    store.durable().await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::SledStore;

    #[tokio::test]
    async fn a_new_store_records_the_current_format_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let first = migrate(store.as_ref()).await.unwrap();
        assert_eq!((first.from, first.to), (FORMAT_VERSION, FORMAT_VERSION));
        assert_eq!(found_version(store.as_ref()).await.unwrap(), FORMAT_VERSION);

        record(store.as_ref(), FORMAT_VERSION + 1).await.unwrap();
        let refused = migrate(store.as_ref()).await.unwrap_err();
        assert!(matches!(refused, MigrateError::TooNew { found } if found == FORMAT_VERSION + 1));
        assert!(refused.to_string().contains("newer Gatehouse"), "{refused}");
    }

    #[tokio::test]
    async fn a_store_with_tenants_and_no_version_is_format_one() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let mut batch = WriteBatch::new();
        batch.put(Keyspace::Tenants, b"tn_old".to_vec(), b"{}".to_vec());
        store.apply(batch).await.unwrap();
        assert_eq!(found_version(store.as_ref()).await.unwrap(), 1);
        let migrated = migrate(store.as_ref()).await.unwrap();
        assert_eq!((migrated.from, migrated.to), (1, FORMAT_VERSION));
        assert_eq!(found_version(store.as_ref()).await.unwrap(), FORMAT_VERSION);
        assert!(
            pending(store.as_ref(), Rebuild::ClickDecisions)
                .await
                .unwrap()
        );
        rebuilt(store.as_ref(), Rebuild::ClickDecisions)
            .await
            .unwrap();
        assert!(
            !pending(store.as_ref(), Rebuild::ClickDecisions)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_new_store_has_nothing_to_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        migrate(store.as_ref()).await.unwrap();
        assert!(
            !pending(store.as_ref(), Rebuild::ClickDecisions)
                .await
                .unwrap()
        );
    }
}
