//! Reading `/sys/class/watchdog`: every watchdog the kernel knows.

use std::fs;
use std::path::Path;

use super::info::{SysfsEntry, SYSFS_ATTRIBUTES};
use crate::Error;

/// Where the kernel lists its watchdogs.
pub const SYSFS_CLASS: &str = "/sys/class/watchdog";

/// The legacy misc device `/dev/watchdog` (10,130): the first watchdog.
const MISC_WATCHDOG: (u32, u32) = (10, 130);

/// Every watchdog in `/sys/class/watchdog`, by name (`watchdog0`, …). An
/// absent class directory is an empty list (no driver loaded).
pub fn list() -> Result<Vec<SysfsEntry>, Error> {
    list_in(Path::new(SYSFS_CLASS))
}

/// [`list`] of another class directory.
pub fn list_in(class: &Path) -> Result<Vec<SysfsEntry>, Error> {
    let dir = match fs::read_dir(class) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", class.display()), e)),
    };
    let mut entries: Vec<SysfsEntry> = dir
        .filter_map(|d| d.ok())
        .filter_map(|d| {
            let name = d.file_name().to_str()?.to_string();
            name.starts_with("watchdog")
                .then(|| entry_in(&class.join(&name), &name))
        })
        .collect();
    // watchdog2 before watchdog10.
    entries.sort_by_key(|e| (e.name.len(), e.name.clone()));
    Ok(entries)
}

/// The entry `name` (`watchdog0`) of `/sys/class/watchdog`, if it exists.
pub fn entry(name: &str) -> Option<SysfsEntry> {
    let dir = Path::new(SYSFS_CLASS).join(name);
    dir.is_dir().then(|| entry_in(&dir, name))
}

fn entry_in(dir: &Path, name: &str) -> SysfsEntry {
    let driver = fs::read_link(dir.join("device/driver"))
        .ok()
        .and_then(|l| l.file_name().map(|n| n.to_string_lossy().into_owned()));
    SysfsEntry::parse(
        name,
        |attr| {
            SYSFS_ATTRIBUTES
                .contains(&attr)
                .then(|| fs::read(dir.join(attr)).ok())
                .flatten()
        },
        driver.as_deref(),
    )
}

/// The entry of the device with number `rdev` (`st_rdev` of its node):
/// the one whose `dev` matches, or `watchdog0` for the legacy
/// `/dev/watchdog`.
pub fn entry_for_rdev(rdev: u64) -> Option<SysfsEntry> {
    let wanted = (
        nix::sys::stat::major(rdev) as u32,
        nix::sys::stat::minor(rdev) as u32,
    );
    let all = list().ok()?;
    if let Some(found) = all.iter().find(|e| e.dev == Some(wanted)) {
        return Some(found.clone());
    }
    if wanted == MISC_WATCHDOG {
        return all.into_iter().find(|e| e.name == "watchdog0");
    }
    None
}
