//! Files only the server's user may read: the SQLite database (with its WAL and shared-memory
//! files) and everything under `<data_dir>/secrets`. They are created with mode 0600 (the
//! secrets directory 0700), and [`tighten`] / [`tighten_tree`] at start take away any group or
//! other bits a copy, a restore or a hand edit left on them. No-ops outside Unix.

use std::path::Path;

use anyhow::Context;

/// Creates an empty file at `path` readable by its owner only, unless one exists.
pub fn create_empty(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Creates `dir` (and its parents) if missing; `dir` itself gets mode 0700.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Sets `path` to 0600 (a directory to 0700) when group or others have any access; a missing
/// path is fine.
pub fn tighten(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        // A link is left alone: chmod would follow it to a file that may not be ours.
        if meta.file_type().is_symlink() || meta.permissions().mode() & 0o077 == 0 {
            return Ok(());
        }
        let mode = if meta.is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("restricting {} to its owner", path.display()))?;
        tracing::warn!(path = %path.display(), "was readable by others; restricted to the owner");
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// [`tighten`] on `dir` and everything below it; a missing `dir` is fine.
pub fn tighten_tree(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.with_context(|| format!("walking {}", dir.display()))?;
        tighten(entry.path())?;
    }
    Ok(())
}

/// The database file and the files SQLite keeps beside it.
pub fn database_files(db: &Path) -> [std::path::PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}
