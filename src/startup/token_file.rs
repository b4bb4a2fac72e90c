//! Where the first start leaves its bootstrap credential.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use crate::app::TokenSink;

/// Writes the bootstrap token, alone on one line, to a file only its owner can read.
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// A sink writing to `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl TokenSink for TokenFile {
    fn keep(&mut self, bearer: &str) -> std::io::Result<()> {
        // Write a private temporary file and rename it over the target, so
        // the token is never readable by others, not even for an instant.
        let temporary = self.path.with_extension("tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        writeln!(file, "{bearer}")?;
        file.sync_all()?;
        fs::rename(&temporary, &self.path)
    }

    fn discard(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
