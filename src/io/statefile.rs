//! The `--state` file on disk: its envelope (format name, version, time source, event
//! clock, input read positions, the engine's part as an opaque value), the atomic write
//! and the tolerant read. It knows nothing of what the engine's part holds (that is
//! `engine::state`) and never touches the inputs or the engine itself.
//!
//! Writing: the whole file goes to `FILE.tmp` in the same directory (mode 0600), is
//! fsynced, renamed over `FILE`, and the directory is fsynced, so that at every moment
//! (a kill -9 included) `FILE` is either the previous complete state or the new one.
//! Reading: a missing file means a fresh start; an unreadable, corrupt or other-version
//! file is logged and ignored (a fresh start too), never an error that stops rsec.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::io::input::Position;

/// The format name in every state file.
pub const FORMAT: &str = "rsec-state";
/// The version this build writes and reads.
pub const VERSION: u64 = 1;

/// A state file's contents.
#[derive(Clone, Debug, PartialEq)]
pub struct StateFile {
    /// `"wall"` or `"event"`.
    pub time_source: String,
    /// In event mode: the event clock's time (None before the first event).
    pub event_clock: Option<i64>,
    /// The read positions of the input files.
    pub inputs: Vec<Position>,
    /// For each input: a hash of the (up to) 64 bytes before its offset ([`tail_check`]),
    /// which tells a file rewritten in place (same inode, as long again) from the old one.
    pub checks: Vec<Option<u64>>,
    /// The engine's part (`Engine::save_state`).
    pub engine: Value,
}

impl StateFile {
    /// The file's JSON text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = json!({
            "format": FORMAT,
            "version": VERSION,
            "saved_at": crate::timefmt::now(),
            "time_source": self.time_source,
            "event_clock": self.event_clock,
            "inputs": self.inputs.iter().enumerate().map(|(k, (n, d, i, o))| json!({
                "name": n, "dev": d, "ino": i, "offset": o,
                "check": self.checks.get(k).copied().flatten().map(|c| format!("{c:016x}")),
            })).collect::<Vec<_>>(),
            "engine": self.engine,
        });
        let mut out = serde_json::to_vec(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Parses a state file's text; the error says why it is not usable.
    pub fn from_bytes(data: &[u8]) -> Result<StateFile, String> {
        let v: Value = serde_json::from_slice(data).map_err(|e| format!("not valid JSON ({e})"))?;
        if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err("not an rsec state file".into());
        }
        match v.get("version").and_then(Value::as_u64) {
            Some(VERSION) => {}
            Some(n) => return Err(format!("version {n}, this rsec reads version {VERSION}")),
            None => return Err("no version".into()),
        }
        let time_source = v
            .get("time_source")
            .and_then(Value::as_str)
            .ok_or("no time source")?
            .to_string();
        let event_clock = v.get("event_clock").and_then(Value::as_i64);
        let mut inputs = Vec::new();
        let mut checks = Vec::new();
        for i in v
            .get("inputs")
            .and_then(Value::as_array)
            .ok_or("no input positions")?
        {
            let n = i.get("name").and_then(Value::as_str);
            let u = |k: &str| i.get(k).and_then(Value::as_u64);
            match (n, u("dev"), u("ino"), u("offset")) {
                (Some(n), Some(d), Some(ino), Some(o)) => {
                    inputs.push((n.to_string(), d, ino, o));
                    checks.push(
                        i.get("check")
                            .and_then(Value::as_str)
                            .and_then(|c| u64::from_str_radix(c, 16).ok()),
                    );
                }
                _ => return Err("bad input position".into()),
            }
        }
        let engine = v.get("engine").cloned().ok_or("no engine state")?;
        Ok(StateFile {
            time_source,
            event_clock,
            inputs,
            checks,
            engine,
        })
    }
}

/// FNV-1a of the (up to) 64 bytes of the file before `pos.3`, if the file at `pos.0` is
/// still the saved inode.
pub fn tail_check(pos: &Position) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::MetadataExt;
    let (name, dev, ino, off) = pos;
    let mut f = std::fs::File::open(name).ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() || m.dev() != *dev || m.ino() != *ino || m.len() < *off {
        return None;
    }
    let start = off.saturating_sub(64);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = vec![0; (off - start) as usize];
    f.read_exact(&mut buf).ok()?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in &buf {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Some(h)
}

/// The saved positions still valid for resuming: an input whose bytes before the offset
/// changed (rewritten or truncated and written again) is dropped, so it is read from its
/// start (logged).
pub fn still_valid(state: &StateFile) -> Vec<Position> {
    state
        .inputs
        .iter()
        .enumerate()
        .filter(|(k, pos)| {
            let Some(want) = state.checks.get(*k).copied().flatten() else {
                return true;
            };
            match tail_check(pos) {
                Some(got) if got != want => {
                    crate::notice!(
                        "Input file {} was rewritten since the last run, processing it from the start",
                        pos.0
                    );
                    false
                }
                _ => true,
            }
        })
        .map(|(_, p)| p.clone())
        .collect()
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `data` to `path` atomically (see the module doc).
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // A directory that cannot be opened for fsync (odd file systems) still has the rename.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Saves a state, logging the outcome; false on failure.
pub fn save(path: &str, state: &StateFile) -> bool {
    match write_atomic(Path::new(path), &state.to_bytes()) {
        Ok(()) => {
            crate::debug!("State saved to {path}");
            true
        }
        Err(e) => {
            crate::err!(
                "Can't save state to {path} ({})",
                crate::config::io_reason(&e)
            );
            false
        }
    }
}

/// Reads a state file: None (logged) when it is missing, unreadable, corrupt or of
/// another version.
pub fn load(path: &str) -> Option<StateFile> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::notice!("State file {path} does not exist yet, starting with no saved state");
            return None;
        }
        Err(e) => {
            crate::err!(
                "Can't read state file {path} ({}), starting with no saved state",
                crate::config::io_reason(&e)
            );
            return None;
        }
    };
    match StateFile::from_bytes(&data) {
        Ok(s) => Some(s),
        Err(e) => {
            crate::err!("Ignoring state file {path}: {e}; starting with no saved state");
            None
        }
    }
}

/// The rest of a rotated-away input: when the saved file (`pos`) is no longer what its
/// name points to (another inode, or shorter than the saved offset) but `NAME.1` is the
/// saved inode and longer than the offset, its name and the bytes after the offset.
pub fn rotated_rest(pos: &Position) -> Option<(String, Vec<u8>)> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::MetadataExt;
    let (name, dev, ino, off) = pos;
    let same = |m: &std::fs::Metadata| m.dev() == *dev && m.ino() == *ino;
    if let Ok(m) = std::fs::metadata(name) {
        if same(&m) && m.len() >= *off {
            return None;
        }
    }
    let old = format!("{name}.1");
    let m = std::fs::metadata(&old).ok()?;
    if !m.is_file() || !same(&m) || m.len() <= *off {
        return None;
    }
    let mut f = std::fs::File::open(&old).ok()?;
    f.seek(SeekFrom::Start(*off)).ok()?;
    let mut data = Vec::new();
    if let Err(e) = f.read_to_end(&mut data) {
        crate::err!("Can't read rotated input file {old} ({e})");
        return None;
    }
    Some((old, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_atomic_and_private() {
        let dir = std::env::temp_dir().join(format!("rsec-statefile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.json");
        let s = StateFile {
            time_source: "event".into(),
            event_clock: Some(1234),
            inputs: vec![("a.log".into(), 1, 2, 3)],
            checks: vec![Some(77)],
            engine: json!({"x": 1}),
        };
        write_atomic(&path, &s.to_bytes()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!tmp_path(&path).exists());
        let back = StateFile::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_garbage_and_other_versions() {
        assert!(StateFile::from_bytes(b"{\"format\":\"rsec-state\",\"ver").is_err());
        assert!(StateFile::from_bytes(b"[]").is_err());
        let other =
            br#"{"format":"rsec-state","version":99,"time_source":"wall","inputs":[],"engine":{}}"#;
        assert!(StateFile::from_bytes(other)
            .unwrap_err()
            .contains("version 99"));
    }
}
