//! The SQLite file as the operator named it: where it is (an absolute path, for messages that
//! make sense whatever the working directory), whether the server can write there, and the
//! lock that keeps a second server off it.
//!
//! A missing directory, a directory the server may not write, or a read-only filesystem are
//! mistakes in the configuration, not outages: retrying cannot fix them, so they stop the start
//! with their cause instead of answering `503` for ever.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::secret_url::SecretUrl;

/// The file a `sqlite://` URL names, made absolute; `None` for another scheme or an in-memory
/// database.
pub fn path_of(url: &SecretUrl) -> Option<PathBuf> {
    if url.scheme() != "sqlite" {
        return None;
    }
    let rest = url.expose().trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.expose().contains("mode=memory") {
        return None;
    }
    let path = Path::new(path);
    Some(if path.is_absolute() { path.to_owned() } else { std::env::current_dir().ok()?.join(path) })
}

/// Why the server could not keep its database at `path`, in an operator's terms; `Ok` when it
/// can create or write the file.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let named = |cause: &str, advice: &str| {
        format!("GATEHOUSE_DATABASE_URL names the SQLite file {}, but {cause}; {advice}", path.display())
    };
    match dir.metadata() {
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Err(named(
                &format!("its directory {} does not exist", dir.display()),
                "create the directory, or point the URL at one that exists",
            ));
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(named(&format!("{} is not a directory", dir.display()), "point the URL at a directory"));
        }
        _ => {}
    }
    let attempt = if path.exists() {
        OpenOptions::new().read(true).write(true).open(path).map(drop)
    } else {
        // SQLite creates the file and, beside it, its WAL and shared-memory files.
        let probe = dir.join(format!(".gatehouse-write-check-{}", std::process::id()));
        let made = File::create(&probe).map(drop);
        let _ = std::fs::remove_file(&probe);
        made
    };
    match attempt {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::PermissionDenied => Err(named(
            "this process may not write there (permission denied)",
            "give the user gatehouse runs as write access to the file and its directory",
        )),
        Err(error) if error.kind() == ErrorKind::ReadOnlyFilesystem => {
            Err(named("it is on a read-only filesystem", "mount a writable volume there, or point the URL at one"))
        }
        Err(error) => Err(named(&format!("it cannot be written ({error})"), "check the disk and the path")),
    }
}

/// The lock a server holds on its SQLite file for as long as it runs, so that a second server
/// on the same file refuses to start. (Operator commands do not take it: they act beside a
/// running server.) It is an advisory lock of the whole file (`flock`), which SQLite's own byte
/// locks do not see; the kernel releases it when the process ends, however it ends.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
}

impl ServerLock {
    /// Takes the lock on the file at `path`, creating the file if need be.
    pub fn take(path: &Path) -> Result<Self, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("opening the SQLite file {} to lock it: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(format!(
                "another gatehouse server is running on the SQLite file {} (it holds the file's lock); run one \
                 server per SQLite file — several replicas need PostgreSQL or MariaDB",
                path.display()
            )),
            Err(TryLockError::Error(error)) => Err(format!("locking the SQLite file {}: {error}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_made_absolute_and_memory_databases_have_none() {
        let path = path_of(&SecretUrl::new("sqlite://data/g.db")).unwrap();
        assert!(path.is_absolute() && path.ends_with("data/g.db"), "{}", path.display());
        assert_eq!(path_of(&SecretUrl::new("sqlite:///var/lib/g.db?mode=rwc")).unwrap(), Path::new("/var/lib/g.db"));
        assert!(path_of(&SecretUrl::new("sqlite::memory:")).is_none());
        assert!(path_of(&SecretUrl::new("postgres://db/g")).is_none());
    }

    #[test]
    fn a_missing_directory_is_named_with_its_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("g.db");
        let error = check_writable(&path).unwrap_err();
        assert!(error.contains(&dir.path().join("missing").display().to_string()) && error.contains("does not exist"));
        assert!(check_writable(&dir.path().join("g.db")).is_ok());
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let first = ServerLock::take(&path).unwrap();
        let refused = ServerLock::take(&path).unwrap_err();
        assert!(refused.contains("another gatehouse server"), "{refused}");
        drop(first);
        assert!(ServerLock::take(&path).is_ok());
    }
}
