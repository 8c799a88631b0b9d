//! Finds the binaries under test (`ironbeat`, `stonith`, `fence_ironbeat`).
//!
//! Cargo cannot make one package depend on another package's binary, so the
//! binaries are built beforehand: `scripts/test-all.sh` runs
//! `cargo build -p ironbeat --bins` before `cargo test`. The lookup order is
//! `$IRONBEAT_BIN` (and its directory for the others), then
//! `<target>/<profile>/NAME` where target is `$CARGO_TARGET_DIR` or the
//! workspace's `target/` and profile is `debug` (or `$IBT_PROFILE`).

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
    named("ironbeat")
}

/// The path of one of the root package's binaries (`ironbeat`, `stonith`,
/// `fence_ironbeat`): `$IRONBEAT_BIN` for `ironbeat`, else the one beside
/// it in the target directory. An error says how to build it; a binary older
/// than the sources gets a warning.
pub fn named(name: &str) -> Result<PathBuf> {
    let profile = std::env::var("IBT_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = match std::env::var_os("IRONBEAT_BIN") {
        Some(bin) if name == "ironbeat" => {
            let path = PathBuf::from(bin);
            if !path.is_file() {
                bail!("IRONBEAT_BIN={} does not exist", path.display());
            }
            return Ok(path);
        }
        Some(bin) => {
            let bin = PathBuf::from(bin);
            bin.parent().unwrap_or(Path::new(".")).join(name)
        }
        None => target_dir().join(&profile).join(name),
    };
    if !path.is_file() {
        bail!(
            "{} not found: build it first with `cargo build -p ironbeat --bins{}` \
             (scripts/test-all.sh does), or point IRONBEAT_BIN at the ironbeat binary beside it",
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
    let newest = ["src", "link/src", "fence/src"]
        .iter()
        .filter_map(|d| newest_rs(&root.join(d), 0))
        .max();
    if newest.is_some_and(|t| t > built) {
        eprintln!(
            "warning: {} is older than the sources; rebuild with `cargo build -p ironbeat --bins`",
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
