//! Opening the database a configuration selects (`[storage]`): the SQLite file by default,
//! PostgreSQL when `storage.url` is set. Every command that reads or writes the service's data
//! opens it here, so they all agree on which database that is.

use std::sync::Arc;

use deskline_server::config::{Config, Storage};
use deskline_store::{
    PgOptions, PgStore, SchemaPolicy, SqliteOptions, SqliteStore, Store, StoreError,
};

/// Opens the configured database, migrating it or only checking its schema. A schema that is
/// behind under [`SchemaPolicy::RequireCurrent`] is reported with the command that fixes it.
pub async fn open(config: &Config, schema: SchemaPolicy) -> anyhow::Result<Arc<dyn Store>> {
    let storage = Storage::of(&config.storage);
    let opened: Result<Arc<dyn Store>, StoreError> = match &storage {
        Storage::Sqlite(path) => SqliteStore::open_with(
            path,
            SqliteOptions {
                schema,
                ..config.storage.sqlite_options()
            },
        )
        .await
        .map(|s| Arc::new(s) as Arc<dyn Store>),
        Storage::Postgres(url) => PgStore::connect_with(
            url,
            PgOptions {
                schema,
                ..PgOptions::default()
            },
        )
        .await
        .map(|s| Arc::new(s) as Arc<dyn Store>),
    };
    opened.map_err(|e| explain(e, &storage))
}

/// The error of opening `storage`, naming the database (never its password) and, when the
/// schema is behind, what to run.
pub fn explain(error: StoreError, storage: &Storage) -> anyhow::Error {
    let behind = matches!(error, StoreError::SchemaBehind { .. });
    let error = anyhow::Error::new(error)
        .context(format!("cannot open the database ({})", storage.describe()));
    if behind {
        error.context(
            "the database needs migrating: run `deskline migrate` with the same configuration \
             (or start `deskline serve` without --no-migrate, which applies them)",
        )
    } else {
        error
    }
}
