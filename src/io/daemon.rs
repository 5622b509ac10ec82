//! Becoming a daemon the way SEC does: `--user`/`--group` (drop root privileges),
//! `--umask`, `--detach` (chdir to `/` before the rule files are read, then fork, new
//! session, fork again, standard streams to `/dev/null`) and `--pid`. This module owns
//! those process-level steps and their messages; the order they run in is `app.rs`'s
//! (SEC's order: privileges and umask, log, chdir, rule files, inputs, fork, pid file).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::unistd::{Gid, Group, Uid, User};

/// Switches to `user` and `groups` (the first primary, the rest supplementary; the user's
/// primary group when none is given), as SEC does with `--user` and `--group`. The error
/// is SEC's message; SEC prints it to stderr and exits 1.
pub fn drop_privileges(user: &str, groups: &[String]) -> Result<(), String> {
    let u = match User::from_name(user) {
        Ok(Some(u)) => u,
        _ => return Err(format!("User name '{user}' does not exist, exiting!")),
    };
    let mut gids: Vec<Gid> = Vec::new();
    for g in groups {
        match Group::from_name(g) {
            Ok(Some(gr)) => gids.push(gr.gid),
            _ => return Err(format!("Group name '{g}' does not exist, exiting!")),
        }
    }
    if gids.is_empty() {
        gids.push(u.gid);
    }
    let primary = gids[0];
    nix::unistd::setgroups(&gids).map_err(|e| {
        format!(
            "Can't set supplementary groups to '{}' ({e})",
            gid_list(&gids)
        )
    })?;
    nix::unistd::setgid(primary)
        .map_err(|e| format!("Can't switch to group '{}' ({e})", primary))?;
    nix::unistd::setuid(u.uid).map_err(|e| format!("Can't switch to user '{user}' ({e})"))?;
    Ok(())
}

fn gid_list(g: &[Gid]) -> String {
    g.iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sets the file mode creation mask (`--umask`).
pub fn set_umask(mask: u32) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        mask as libc::mode_t,
    ));
}

/// `chdir /`, logged as SEC logs it. SEC does this before reading the rule files, so
/// relative `--conf` and `--input` names are taken from `/` with `--detach`.
pub fn chdir_root() {
    crate::debug!("Changing working directory to /");
    if let Err(e) = nix::unistd::chdir("/") {
        crate::crit!("Can't change working directory to / ({e})");
    }
}

/// The daemon's end of a pipe to the original process, which waits on it before it
/// exits: so that a service manager (`Type=forking`) finds the pid file in place when
/// the started command returns.
pub struct Detached {
    ready: Option<OwnedFd>,
}

impl Detached {
    /// Tells the waiting original process that startup is done (call after the pid file
    /// is written). Dropping the handle does the same.
    pub fn ready(&mut self) {
        if let Some(fd) = self.ready.take() {
            let mut f = std::fs::File::from(fd);
            let _ = f.write_all(b"1");
        }
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        self.ready();
    }
}

/// `--detach`: forks (the original process waits for [`Detached::ready`], then exits 0),
/// starts a new session, forks again so the daemon can never regain a terminal, and
/// points standard input, output and error at `/dev/null`. Call it only while rsec has
/// a single thread.
pub fn detach() -> Result<Detached, String> {
    let (rd, wr) = nix::unistd::pipe().map_err(|e| format!("Can't create pipe ({e})"))?;
    // SAFETY: rsec is single-threaded here (startup, before any worker exists), so the
    // child may run arbitrary code after fork.
    match unsafe { nix::unistd::fork() } {
        Err(e) => return Err(format!("Can't fork ({e})")),
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(wr);
            let mut f = std::fs::File::from(rd);
            let mut b = [0u8; 1];
            let _ = f.read(&mut b);
            std::process::exit(0);
        }
        Ok(nix::unistd::ForkResult::Child) => {}
    }
    drop(rd);
    if let Err(e) = nix::unistd::setsid() {
        crate::crit!("Can't start a new session ({e})");
    }
    // SAFETY: as above, still single-threaded.
    match unsafe { nix::unistd::fork() } {
        Err(e) => return Err(format!("Can't fork ({e})")),
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            // The session leader leaves at once; the write end stays with the daemon.
            std::process::exit(0);
        }
        Ok(nix::unistd::ForkResult::Child) => {}
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("Can't open /dev/null ({e})"))?;
    for fd in 0..=2 {
        let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
    }
    crate::debug!("Daemonization complete");
    Ok(Detached { ready: Some(wr) })
}

/// Writes the process id and a newline to `path` (`--pid`), logging SEC's message on
/// failure.
pub fn write_pid(path: &str) -> bool {
    let res = std::fs::write(path, format!("{}\n", std::process::id()));
    if let Err(e) = res {
        crate::crit!(
            "Can't open pidfile {path} ({})",
            crate::config::io_reason(&e)
        );
        return false;
    }
    true
}

/// The effective user and group ids and the supplementary groups (for the dump).
pub fn ids() -> (u32, u32, Vec<u32>) {
    let groups = nix::unistd::getgroups()
        .map(|g| g.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();
    (Uid::effective().as_raw(), Gid::effective().as_raw(), groups)
}
