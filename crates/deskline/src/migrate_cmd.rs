//! `deskline migrate`: brings the configured database's schema up to date, for operators who
//! apply migrations as a deploy step and start the service with `serve --no-migrate`.

use std::path::PathBuf;

use clap::Args;
use deskline_server::config::{self, ConfigError, Scope, Storage};
use deskline_store::{SchemaPolicy, StoreError};

use crate::store_open;

/// Options of `deskline migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// TOML configuration file; only its [storage] section is read.
    #[arg(long, short = 'c', env = "DESKLINE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Applies the migrations the database lacks and says which.
pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let loaded = config::read(args.config.as_deref(), Scope::Only(&["storage"]))?;
    let mut problems = loaded.unknown_keys;
    problems.extend(config::check_storage(&loaded.config.storage));
    if !problems.is_empty() {
        return Err(ConfigError { problems }.into());
    }
    let storage = Storage::of(&loaded.config.storage);
    // Check first, so the report can say what was applied; migrations take their own lock, so
    // another instance migrating meanwhile is harmless.
    let pending = match store_open::open(&loaded.config, SchemaPolicy::RequireCurrent).await {
        Ok(_) => Vec::new(),
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<StoreError>()) {
            Some(StoreError::SchemaBehind { pending }) => pending.clone(),
            _ => return Err(e),
        },
    };
    if !pending.is_empty() {
        store_open::open(&loaded.config, SchemaPolicy::Migrate).await?;
    }
    let versions: Vec<String> = pending.iter().map(i64::to_string).collect();
    match versions.len() {
        0 => println!("{}: the schema is up to date", storage.describe()),
        n => println!(
            "{}: applied {n} migration(s): {}",
            storage.describe(),
            versions.join(", ")
        ),
    }
    Ok(())
}
