//! Opening and migrating the database, with its files kept private.

use std::path::{Path, PathBuf};

use super::{StartupError, create_private_dir};
use crate::config::Settings;
use crate::store;

/// The writing and reading pools of one database.
#[derive(Debug, Clone)]
pub struct Databases {
    /// Writes and transactions.
    pub writer: store::DatabaseConnection,
    /// Reads outside transactions.
    pub reader: store::DatabaseConnection,
}

/// Opens the configured database, applies pending migrations, then opens the
/// reading pool (which on SQLite needs the migrated file).
///
/// The SQLite database and its `-wal`/`-shm` files hold password hashes and
/// token hashes, so they are made mode 0600 (tightened if they existed
/// looser) in a directory of mode 0700.
pub async fn open_database(settings: &Settings) -> Result<Databases, StartupError> {
    let sqlite_file = settings.sqlite_path();
    if let Some(file) = &sqlite_file {
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        // SQLite gives the -wal and -shm files the database file's mode, so a
        // private database file made before SQLite opens it keeps them private.
        restrict_sqlite_files(file, true)?;
    }
    let connect = store::ConnectSettings {
        url: settings.database_url(),
        max_connections: settings.database.max_connections,
        connect_timeout: settings.connect_timeout(),
    };
    let db = store::connect(&connect).await?;
    store::migrate(&db).await?;
    let reader = store::connect_reader(&connect, &db, settings.database.sqlite_readers).await?;
    if let Some(file) = &sqlite_file {
        restrict_sqlite_files(file, false)?;
    }
    Ok(Databases { writer: db, reader })
}

/// Makes the database file (created empty when `create` and missing) and its
/// companions mode 0600.
fn restrict_sqlite_files(file: &Path, create: bool) -> Result<(), StartupError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| StartupError::DataDir { path, source }
    };
    if create {
        crate::files::create_private_file(file).map_err(failed(file))?;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        crate::files::restrict_file(&path).map_err(failed(&path))?;
    }
    Ok(())
}
