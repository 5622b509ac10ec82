//! Non-blocking stream-socket connect, which the standard library does not offer.
//!
//! This is the only place in the output code that calls the C library directly: `socket(2)`
//! and `connect(2)` on a descriptor created non-blocking and close-on-exec, so that a
//! `tcpsock` or `ustream` peer that is slow to accept never blocks the event loop. Everything
//! after the connect (writes, reads, `SO_ERROR`) goes through the standard library.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Where a stream socket connects to.
pub(crate) enum Peer<'a> {
    /// A TCP peer.
    Inet(SocketAddr),
    /// A unix stream socket path.
    Unix(&'a Path),
}

/// A socket address in the C layout `connect(2)` wants.
enum RawAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
    Unix(libc::sockaddr_un),
}

impl RawAddr {
    fn new(peer: &Peer) -> io::Result<RawAddr> {
        Ok(match peer {
            Peer::Inet(SocketAddr::V4(a)) => RawAddr::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            Peer::Inet(SocketAddr::V6(a)) => RawAddr::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            }),
            Peer::Unix(path) => {
                let bytes = path.as_os_str().as_bytes();
                let mut sun_path = [0 as libc::c_char; 108];
                // Keep room for the terminating NUL.
                if bytes.len() >= sun_path.len() || bytes.contains(&0) {
                    return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
                }
                for (dst, src) in sun_path.iter_mut().zip(bytes) {
                    *dst = *src as libc::c_char;
                }
                RawAddr::Unix(libc::sockaddr_un {
                    sun_family: libc::AF_UNIX as libc::sa_family_t,
                    sun_path,
                })
            }
        })
    }

    fn domain(&self) -> libc::c_int {
        match self {
            RawAddr::V4(_) => libc::AF_INET,
            RawAddr::V6(_) => libc::AF_INET6,
            RawAddr::Unix(_) => libc::AF_UNIX,
        }
    }

    fn ptr_len(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            RawAddr::V4(a) => (
                (a as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            RawAddr::V6(a) => (
                (a as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
            RawAddr::Unix(a) => (
                (a as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            ),
        }
    }
}

/// Creates a non-blocking, close-on-exec stream socket and starts connecting it to `peer`.
///
/// Returns the socket and whether the connection is already established (`false`: it is in
/// progress, and becomes writable when done). Any other failure is returned as the error.
pub(crate) fn connect_nonblocking(peer: &Peer) -> io::Result<(OwnedFd, bool)> {
    let addr = RawAddr::new(peer)?;
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket(2) takes plain integers and has no memory-safety preconditions.
    let raw = unsafe { libc::socket(addr.domain(), ty, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a descriptor socket(2) has just returned; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let (ptr, len) = addr.ptr_len();
    // SAFETY: `ptr` points to `addr`, an initialised sockaddr of `len` bytes that outlives
    // the call; connect(2) only reads it.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), ptr, len) };
    if rc == 0 {
        return Ok((fd, true));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINPROGRESS) | Some(libc::EINTR) => Ok((fd, false)),
        _ => Err(err),
    }
}
