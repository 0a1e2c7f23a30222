//! The database file and the directory it lives in, kept private: the database holds
//! provisioned Zendesk signing secrets and every stored request.
//!
//! On Unix a directory deskline creates is `0700` and the database `0600`; SQLite gives the
//! `-wal` and `-shm` files it creates the database's own permissions. A database, WAL or
//! shared-memory file found readable or writable by others (an older deskline created them
//! `0644`) is tightened to `0600` with a warning. A directory that already exists is left as
//! it is: it may be shared, such as the working directory.

use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// Creates `dir` and its missing parents, for the owner alone.
pub(super) async fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await
}

/// Makes the database at `path` private before SQLite opens it: creates it empty (SQLite
/// takes an empty file for a new database) for the owner alone when it is missing, and
/// tightens it and its companions when others may read them.
pub(super) async fn prepare(path: &Path) -> Result<(), StoreError> {
    let create = |source| StoreError::CreateFile {
        path: path.to_path_buf(),
        source,
    };
    match tokio::fs::metadata(path).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut options = tokio::fs::OpenOptions::new();
            options.write(true).create(true).truncate(false);
            #[cfg(unix)]
            options.mode(0o600);
            options.open(path).await.map_err(create)?;
        }
        Err(e) => return Err(create(e)),
    }
    #[cfg(unix)]
    for file in companions(path) {
        tighten(&file).await;
    }
    Ok(())
}

/// The database and the files SQLite keeps beside it in WAL mode.
fn companions(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

/// Takes away what others may do with `file`, if it exists; a failure is only a warning, since
/// the service works as before.
#[cfg(unix)]
async fn tighten(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = tokio::fs::metadata(file).await else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return;
    }
    let private = std::fs::Permissions::from_mode(0o600);
    match tokio::fs::set_permissions(file, private).await {
        Ok(()) => tracing::warn!(
            file = %file.display(),
            was = format!("{mode:o}"),
            "the database file was readable by others; made it 600 (owner only): it holds \
             Zendesk signing secrets"
        ),
        Err(e) => tracing::warn!(
            file = %file.display(),
            mode = format!("{mode:o}"),
            error = %e,
            "the database file is readable by others and could not be made 600 (owner only); \
             it holds Zendesk signing secrets: restrict it with chmod 600"
        ),
    }
}
