//! rtnetlink (`NETLINK_ROUTE`): links (look up, up/down, rename, move to another network
//! namespace), addresses and routes, and what a PF sets on its VFs (link state, InfiniBand
//! GUIDs).
//!
//! A [`Route`] acts in the network namespace its thread was in when it was opened.

mod address;
mod ifname;
mod link;
mod request;
mod vf;

pub use ifname::{validate_ifname, IFNAME_MAX};
pub use link::{Link, VfStatus};
pub use vf::{GuidKind, ParseVfLinkStateError, VfLinkState};

use super::error::{NetlinkError, Result};
use super::socket::{Failure, NlSocket, Reply};
use crate::Guid;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;

/// An rtnetlink socket of the network namespace it was opened in.
#[derive(Debug)]
pub struct Route {
    socket: NlSocket,
}

/// Turns a failure into the error of `op`, with no errno singled out.
fn failed(op: String, f: Failure) -> NetlinkError {
    match f {
        Failure::Io(source) => NetlinkError::Socket { op, source },
        Failure::Malformed(what) => NetlinkError::Malformed { op, what },
        Failure::Kernel(s) if s.errno == libc::EEXIST => NetlinkError::Exists {
            op,
            extack: s.extack,
        },
        Failure::Kernel(s) => NetlinkError::Kernel {
            op,
            source: io::Error::from_raw_os_error(s.errno),
            extack: s.extack,
        },
    }
}

fn errno_of(f: &Failure) -> Option<i32> {
    match f {
        Failure::Kernel(s) => Some(s.errno),
        _ => None,
    }
}

impl Route {
    /// Opens an rtnetlink socket in the calling thread's network namespace.
    pub fn open() -> Result<Route> {
        NlSocket::open(netlink_sys::constants::NETLINK_ROUTE)
            .map(|socket| Route { socket })
            .map_err(|source| NetlinkError::Socket {
                op: "open an rtnetlink socket".into(),
                source,
            })
    }

    fn request(&mut self, build: impl FnOnce(u32) -> Vec<u8>) -> Result<Vec<Reply>, Failure> {
        let seq = self.socket.next_seq();
        let msg = build(seq);
        self.socket.transact(&msg, false)
    }

    /// A change request about link `index`: `ENODEV` is [`NetlinkError::NoSuchIndex`],
    /// `EOPNOTSUPP` is [`NetlinkError::Unsupported`] with `unsupported` (verb phrase, reason)
    /// when given; the link's name (looked up only on failure) goes into the message.
    fn change(
        &mut self,
        index: u32,
        build: impl FnOnce(u32) -> Vec<u8>,
        op: impl FnOnce(&str) -> String,
        unsupported: Option<(&str, &str)>,
    ) -> Result<()> {
        let f = match self.request(build) {
            Ok(_) => return Ok(()),
            Err(f) => f,
        };
        if errno_of(&f) == Some(libc::ENODEV) {
            return Err(NetlinkError::NoSuchIndex(index));
        }
        let name = self.name_of(index);
        if let (Some((what, reason)), Failure::Kernel(s)) = (unsupported, &f) {
            if s.errno == libc::EOPNOTSUPP {
                return Err(NetlinkError::Unsupported {
                    op: what.to_owned(),
                    link: name,
                    reason: reason.to_owned(),
                    extack: s.extack.clone(),
                });
            }
        }
        Err(failed(op(&name), f))
    }

    /// The name of link `index` for an error message ("link #N" when it cannot be had).
    fn name_of(&mut self, index: u32) -> String {
        self.get_link(index, false)
            .map(|l| l.name)
            .unwrap_or_else(|_| format!("link #{index}"))
    }

    fn one_link(replies: Vec<Reply>) -> Result<link::Link, String> {
        let reply = replies
            .into_iter()
            .find(|r| r.ty == RTM_NEWLINK)
            .ok_or("the kernel acknowledged RTM_GETLINK without an RTM_NEWLINK")?;
        link::parse_link(&reply.payload)
    }

    fn get_link(&mut self, index: u32, with_vfs: bool) -> Result<Link> {
        let op = || format!("get link #{index}");
        match self.request(|seq| request::get_link_by_index(seq, index, with_vfs)) {
            Ok(r) => Self::one_link(r).map_err(|what| NetlinkError::Malformed { op: op(), what }),
            Err(f) if errno_of(&f) == Some(libc::ENODEV) => Err(NetlinkError::NoSuchIndex(index)),
            Err(f) => Err(failed(op(), f)),
        }
    }

    /// The link named `name`, with its VFs if it is an SR-IOV PF. A name no link has is
    /// [`NetlinkError::NoSuchLink`]; a name no link can have is [`NetlinkError::InvalidName`].
    pub fn link_by_name(&mut self, name: &str) -> Result<Link> {
        validate_ifname(name)?;
        let op = || format!("get link {name}");
        match self.request(|seq| request::get_link_by_name(seq, name)) {
            Ok(r) => Self::one_link(r).map_err(|what| NetlinkError::Malformed { op: op(), what }),
            Err(f) if errno_of(&f) == Some(libc::ENODEV) => {
                Err(NetlinkError::NoSuchLink(name.to_owned()))
            }
            Err(f) => Err(failed(op(), f)),
        }
    }

    /// The link with index `index`, with its VFs if it is an SR-IOV PF; an index no link has
    /// is [`NetlinkError::NoSuchIndex`].
    pub fn link_by_index(&mut self, index: u32) -> Result<Link> {
        self.get_link(index, true)
    }

    /// The IPv4 and IPv6 addresses of link `index`, with their prefix lengths.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<(IpAddr, u8)>> {
        let op = || format!("list the addresses of link #{index}");
        let seq = self.socket.next_seq();
        let replies = self
            .socket
            .transact(&request::get_addresses(seq), true)
            .map_err(|f| failed(op(), f))?;
        let mut out = Vec::new();
        for r in replies.iter().filter(|r| r.ty == RTM_NEWADDR) {
            let parsed = address::parse_address(&r.payload)
                .map_err(|what| NetlinkError::Malformed { op: op(), what })?;
            if let Some((i, addr, prefix)) = parsed {
                if i == index {
                    out.push((addr, prefix));
                }
            }
        }
        Ok(out)
    }

    /// Sets link `index` administratively up or down.
    pub fn set_up(&mut self, index: u32, up: bool) -> Result<()> {
        let word = if up { "up" } else { "down" };
        self.change(
            index,
            |seq| request::set_up(seq, index, up),
            |name| format!("set {name} {word}"),
            None,
        )
    }

    /// Renames link `index` (which must be down) to `new_name`. The name is checked first
    /// ([`validate_ifname`]); a name another link has is [`NetlinkError::Exists`].
    pub fn rename(&mut self, index: u32, new_name: &str) -> Result<()> {
        validate_ifname(new_name)?;
        self.change(
            index,
            |seq| request::rename(seq, index, new_name),
            |name| format!("rename {name} to {new_name}"),
            None,
        )
    }

    /// Moves link `index` into the network namespace `netns_fd` (an open `/proc/PID/ns/net`
    /// or `/run/netns/NAME`). Its index may change there: look it up again by name.
    pub fn move_to_netns(&mut self, index: u32, netns_fd: BorrowedFd<'_>) -> Result<()> {
        let fd = netns_fd.as_raw_fd();
        self.change(
            index,
            |seq| request::move_to_netns(seq, index, fd),
            |name| format!("move {name} to network namespace fd {fd}"),
            None,
        )
    }

    /// Adds `addr/prefix_len` to link `index` (for IPv4 with its broadcast address, as the
    /// Go plugin does). An address the link already has is [`NetlinkError::Exists`].
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix_len: u8) -> Result<()> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(NetlinkError::InvalidArgument {
                op: format!("add address {addr}/{prefix_len}"),
                reason: format!("the prefix length is over {max}"),
            });
        }
        self.change(
            index,
            |seq| request::add_address(seq, index, addr, prefix_len),
            |name| format!("add address {addr}/{prefix_len} to {name}"),
            None,
        )
    }

    /// Adds a route to `dst/prefix_len` (host bits of `dst` ignored) through link `oif`, via
    /// `gateway` if given (same address family as `dst`), to the main table.
    ///
    /// A route the kernel already has for that destination (e.g. the prefix route it made for
    /// an address) is [`NetlinkError::Exists`]: not treated as success here, the caller
    /// decides.
    pub fn add_route(
        &mut self,
        dst: IpAddr,
        prefix_len: u8,
        gateway: Option<IpAddr>,
        oif: u32,
    ) -> Result<()> {
        let via = gateway.map(|g| format!(" via {g}")).unwrap_or_default();
        let what = format!("add route {dst}/{prefix_len}{via}");
        let max = if dst.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(NetlinkError::InvalidArgument {
                op: what,
                reason: format!("the prefix length is over {max}"),
            });
        }
        if gateway.is_some_and(|g| g.is_ipv4() != dst.is_ipv4()) {
            return Err(NetlinkError::InvalidArgument {
                op: what,
                reason: "the gateway and the destination are of different address families".into(),
            });
        }
        self.change(
            oif,
            |seq| request::add_route(seq, dst, prefix_len, gateway, oif),
            |name| format!("{what} dev {name}"),
            None,
        )
    }

    /// Sets the administrative link state of VF `vf` of the PF with index `pf_index`. A link
    /// whose driver has no VF link state (not an SR-IOV PF) is
    /// [`NetlinkError::Unsupported`].
    pub fn set_vf_link_state(&mut self, pf_index: u32, vf: u32, state: VfLinkState) -> Result<()> {
        self.change(
            pf_index,
            |seq| request::set_vf_link_state(seq, pf_index, vf, state),
            |name| format!("set VF {vf} link state {state} on {name}"),
            Some((
                "set VF link state",
                "it is not an SR-IOV PF (its driver does not manage VF link state)",
            )),
        )
    }

    /// Sets the node or port GUID of VF `vf` of the InfiniBand PF with index `pf_index`
    /// (the VF's driver must be rebound for the VF to use it). A link whose driver cannot set
    /// VF GUIDs is [`NetlinkError::Unsupported`].
    pub fn set_vf_guid(
        &mut self,
        pf_index: u32,
        vf: u32,
        kind: GuidKind,
        guid: Guid,
    ) -> Result<()> {
        self.change(
            pf_index,
            |seq| request::set_vf_guid(seq, pf_index, vf, kind, guid),
            |name| format!("set VF {vf} {kind} GUID {guid} on {name}"),
            Some(("set VF GUIDs", "it is not an SR-IOV InfiniBand PF")),
        )
    }
}
