//! Finds the `ironbeat` binary under test.
//!
//! Cargo cannot make one package depend on another package's binary, so the
//! binary is built beforehand: `scripts/test-all.sh` runs
//! `cargo build -p ironbeat --bin ironbeat` before `cargo test`. The lookup
//! order is `$IRONBEAT_BIN`, then `<target>/<profile>/ironbeat` where target is
//! `$CARGO_TARGET_DIR` or the workspace's `target/` and profile is `debug`
//! (or `$IBT_PROFILE`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::bail;

use crate::Result;

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The target directory cargo builds into.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace_root().join(dir)
        };
    }
    workspace_root().join("target")
}

/// The path of the `ironbeat` binary; an error says how to build it.
pub fn ironbeat() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("IRONBEAT_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("IRONBEAT_BIN={} does not exist", path.display());
        }
        return Ok(path);
    }
    let profile = std::env::var("IBT_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target_dir().join(&profile).join("ironbeat");
    if !path.is_file() {
        bail!(
            "{} not found: build it first with `cargo build -p ironbeat --bin ironbeat{}` \
             (scripts/test-all.sh does), or point IRONBEAT_BIN at a binary",
            path.display(),
            if profile == "release" {
                " --release"
            } else {
                ""
            }
        );
    }
    warn_if_stale(&path);
    Ok(path)
}

/// Prints a warning when a source file is newer than the binary (a forgotten
/// rebuild makes tests exercise old code).
fn warn_if_stale(binary: &Path) {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return;
    };
    let root = workspace_root();
    let newest = ["src", "link/src"]
        .iter()
        .filter_map(|d| newest_rs(&root.join(d), 0))
        .max();
    if newest.is_some_and(|t| t > built) {
        eprintln!(
            "warning: {} is older than the sources; rebuild with `cargo build -p ironbeat --bin ironbeat`",
            binary.display()
        );
    }
}

fn newest_rs(dir: &Path, depth: u32) -> Option<SystemTime> {
    if depth > 6 {
        return None;
    }
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_rs(&path, depth + 1)
        } else if path.extension().is_some_and(|e| e == "rs") {
            entry.metadata().and_then(|m| m.modified()).ok()
        } else {
            None
        };
        newest = newest.max(t);
    }
    newest
}
