//! Persisted node state: the generation (incarnation) counter.
//!
//! `DIR/generation` holds one decimal number. Every start reads it, adds one
//! and writes it back atomically (temporary file, fsync, rename, fsync of the
//! directory), so a crash at any point leaves either the old or the new value
//! and peers always see a restart as a higher generation.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::{Error, Generation};

/// Name of the generation file inside the state directory.
pub const GENERATION_FILE: &str = "generation";

/// Reads `dir/generation` (0 if absent), adds one, stores the result durably
/// and returns it. Creates `dir` if missing.
pub fn load_and_bump_generation(dir: &Path) -> Result<Generation, Error> {
    fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            format!("cannot create state directory {}", dir.display()),
            e,
        )
    })?;
    let path = dir.join(GENERATION_FILE);
    let previous = match fs::read_to_string(&path) {
        Ok(text) => parse(&text).ok_or_else(|| {
            Error::config(format!(
                "{}:1: not a generation number: {:?}; write a number larger than any \
                 generation this node used before, e.g. `date +%s > {}`",
                path.display(),
                text.trim(),
                path.display()
            ))
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let next = previous.checked_add(1).ok_or_else(|| {
        Error::config(format!(
            "{}:1: generation {previous} cannot grow further; write 1 to it and restart \
             every node of the cluster",
            path.display()
        ))
    })?;
    write_atomically(dir, &path, &format!("{next}\n"))?;
    Ok(Generation(next))
}

fn parse(text: &str) -> Option<u64> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn write_atomically(dir: &Path, path: &Path, contents: &str) -> Result<(), Error> {
    let tmp = dir.join(format!(".{GENERATION_FILE}.tmp"));
    let fail = |what: &str, e| Error::io(format!("cannot {what} {}", tmp.display()), e);
    let mut file = fs::File::create(&tmp).map_err(|e| fail("create", e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| fail("write", e))?;
    file.sync_all().map_err(|e| fail("fsync", e))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| {
        Error::io(
            format!("cannot rename {} to {}", tmp.display(), path.display()),
            e,
        )
    })?;
    // The rename is durable once the directory entry is.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot fsync directory {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ironbeat-state-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn generation_starts_at_one_and_grows_across_starts() {
        let dir = scratch("grow").join("nested");
        assert_eq!(load_and_bump_generation(&dir).unwrap(), Generation(1));
        assert_eq!(load_and_bump_generation(&dir).unwrap(), Generation(2));
        assert_eq!(load_and_bump_generation(&dir).unwrap(), Generation(3));
        assert_eq!(
            fs::read_to_string(dir.join(GENERATION_FILE)).unwrap(),
            "3\n"
        );
        assert!(!dir.join(".generation.tmp").exists());
        fs::write(dir.join(GENERATION_FILE), "1732240000").unwrap();
        assert_eq!(
            load_and_bump_generation(&dir).unwrap(),
            Generation(1_732_240_001)
        );
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn corrupt_file_names_the_file_and_the_fix() {
        let dir = scratch("corrupt");
        fs::create_dir_all(&dir).unwrap();
        for junk in ["", "seven\n", "-3", "12 13", "99999999999999999999999"] {
            fs::write(dir.join(GENERATION_FILE), junk).unwrap();
            let err = load_and_bump_generation(&dir).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            let msg = err.to_string();
            assert!(msg.contains("generation:1:"), "{msg}");
            assert!(msg.contains("date +%s"), "{msg}");
            // The file is left alone for the operator to inspect.
            assert_eq!(fs::read_to_string(dir.join(GENERATION_FILE)).unwrap(), junk);
        }
        fs::write(dir.join(GENERATION_FILE), u64::MAX.to_string()).unwrap();
        assert!(load_and_bump_generation(&dir)
            .unwrap_err()
            .to_string()
            .contains("cannot grow"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_directory_is_an_io_error() {
        let err = load_and_bump_generation(Path::new("/proc/ironbeat-state")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("/proc/ironbeat-state"));
    }
}
