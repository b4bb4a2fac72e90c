//! Files that hold secrets (the SQLite database, mail with live links, the
//! bootstrap token) and the directories they live in: readable by the
//! service's own user only, whatever mode they had before or the umask says.

use std::io;
use std::path::Path;

/// The mode of a private directory: the owner may list, enter and write.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// The mode of a private file: the owner may read and write.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) if missing, and makes it mode 0700 even if
/// it existed with a looser mode.
///
/// A directory with the sticky bit (one that users share, like `/tmp`) is
/// refused rather than changed: tightening it would break the system, and
/// secrets do not belong there.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o1000 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is shared with other users (mode {:o}); give identityd a directory of its own",
                    dir.display(),
                    mode & 0o7777
                ),
            ));
        }
        if mode & 0o7777 != PRIVATE_DIR_MODE {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE_DIR_MODE))?;
        }
    }
    Ok(())
}

/// Makes `path` mode 0600 if it exists; a missing file is not an error.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        // A symbolic link's own mode means nothing; its target is not ours to change.
        if metadata.is_file() && metadata.permissions().mode() & 0o7777 != PRIVATE_FILE_MODE {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes every `*.<extension>` file directly in `dir` mode 0600.
pub fn restrict_files_in(dir: &Path, extension: &str) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == extension) {
            restrict_file(&path)?;
        }
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 if it does not exist, so that a
/// program that creates it later (SQLite) finds it private from the start.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    options.open(path)?;
    restrict_file(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn an_existing_open_directory_and_its_files_are_tightened() {
        let root = tempfile::tempdir().expect("temporary directory");
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).expect("create");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mail = dir.join("one.eml");
        std::fs::write(&mail, "x").expect("write");
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o644)).expect("chmod");

        private_dir(&dir).expect("private dir");
        restrict_files_in(&dir, "eml").expect("restrict");

        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&mail), 0o600);
    }

    #[test]
    fn a_shared_sticky_directory_is_refused_not_changed() {
        let root = tempfile::tempdir().expect("temporary directory");
        let shared = root.path().join("shared");
        std::fs::create_dir(&shared).expect("create");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");

        let err = private_dir(&shared).expect_err("shared directories are refused");

        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(mode(&shared), 0o1777);
    }

    #[test]
    fn a_new_private_file_is_0600_and_keeps_its_contents() {
        let root = tempfile::tempdir().expect("temporary directory");
        let path = root.path().join("db");
        std::fs::write(&path, "kept").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");

        create_private_file(&path).expect("create");

        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "kept");
        restrict_file(&root.path().join("missing")).expect("a missing file is fine");
    }
}
