//! A blocking netlink socket that sends one request and collects its replies: data messages
//! until the ACK (`NLMSG_ERROR` with code 0) of a request, or until `NLMSG_DONE` of a dump.
//!
//! A netlink socket belongs to the network namespace of the thread that created it; every
//! request on it acts there, whichever thread sends it later.

use super::frame::{self, done_status, error_status, frames, Status};
use netlink_sys::{Socket, SocketAddr};
use std::io;

/// A data message of a reply (not `NLMSG_ERROR` / `NLMSG_DONE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `nlmsg_type`.
    pub ty: u16,
    /// The bytes after the message header.
    pub payload: Vec<u8>,
}

/// Why a request got no good answer.
#[derive(Debug)]
pub enum Failure {
    /// Sending or receiving failed.
    Io(io::Error),
    /// The kernel answered an errno (never 0).
    Kernel(Status),
    /// The kernel's answer could not be decoded.
    Malformed(String),
}

/// A bound netlink socket with its next sequence number.
#[derive(Debug)]
pub struct NlSocket {
    socket: Socket,
    seq: u32,
}

impl NlSocket {
    /// Opens and binds a socket of `protocol` (`NETLINK_ROUTE`, `NETLINK_RDMA`) in the calling
    /// thread's network namespace, asking for extended-ACK text and capped error messages
    /// (kernels without them still work: the errno is enough).
    pub fn open(protocol: isize) -> io::Result<Self> {
        let mut socket = Socket::new(protocol)?;
        socket.bind_auto()?;
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(NlSocket { socket, seq: 0 })
    }

    /// The sequence number for the next request.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `request` (a whole message whose header carries a sequence number from
    /// [`next_seq`](Self::next_seq)) and returns the data messages of its answer. A request
    /// (`dump` false) must carry `NLM_F_ACK`: its answer ends with the ACK; a dump's with
    /// `NLMSG_DONE`. Messages of other sequence numbers (late answers to earlier requests)
    /// are skipped.
    pub fn transact(&mut self, request: &[u8], dump: bool) -> Result<Vec<Reply>, Failure> {
        let seq = request
            .get(8..12)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| Failure::Malformed("request shorter than its header".into()))?;
        let kernel = SocketAddr::new(0, 0);
        let sent = self
            .socket
            .send_to(request, &kernel, 0)
            .map_err(Failure::Io)?;
        if sent != request.len() {
            return Err(Failure::Io(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {sent} of {} bytes", request.len()),
            )));
        }
        let mut replies = Vec::new();
        loop {
            let datagram = self.recv().map_err(Failure::Io)?;
            let Some(datagram) = datagram else { continue };
            for f in frames(&datagram).map_err(Failure::Malformed)? {
                if f.seq != seq {
                    continue;
                }
                match f.ty {
                    frame::NLMSG_NOOP => {}
                    frame::NLMSG_OVERRUN => {
                        return Err(Failure::Malformed("NLMSG_OVERRUN: data lost".into()))
                    }
                    frame::NLMSG_ERROR => {
                        let status =
                            error_status(f.flags, f.payload).map_err(Failure::Malformed)?;
                        if status.errno != 0 {
                            return Err(Failure::Kernel(status));
                        }
                        if !dump {
                            return Ok(replies);
                        }
                    }
                    frame::NLMSG_DONE => {
                        let status = done_status(f.flags, f.payload).map_err(Failure::Malformed)?;
                        if status.errno != 0 {
                            return Err(Failure::Kernel(status));
                        }
                        return Ok(replies);
                    }
                    ty => replies.push(Reply {
                        ty,
                        payload: f.payload.to_vec(),
                    }),
                }
            }
        }
    }

    /// Receives one whole datagram (its size peeked first, so nothing is truncated);
    /// `None` for a datagram that did not come from the kernel.
    fn recv(&self) -> io::Result<Option<Vec<u8>>> {
        let mut peek: Vec<u8> = Vec::new();
        let (len, _) = loop {
            match self
                .socket
                .recv_from(&mut peek, libc::MSG_PEEK | libc::MSG_TRUNC)
            {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        let mut buf = Vec::with_capacity(len.max(1));
        let (got, from) = loop {
            match self.socket.recv_from(&mut buf, 0) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        if got > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("netlink datagram of {got} bytes truncated to {}", buf.len()),
            ));
        }
        Ok((from.port_number() == 0).then_some(buf))
    }
}
