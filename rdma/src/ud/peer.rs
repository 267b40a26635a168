//! The destinations of a UD QP's sends: a table of [`Peer`]s, each an address handle with a
//! remote QP number and Q_Key, kept while sends to it are outstanding.

use super::UdQueuePair;
use crate::ah::AddressHandle;
use crate::error::{Error, Result};

/// A destination of a [`UdQueuePair`]'s sends, made by [`UdQueuePair::add_peer`]. A handle
/// that [`remove_peer`](UdQueuePair::remove_peer) took back, or of another QP, is refused
/// by posts (the table slot's generation no longer matches), never sent to another peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A slot of the peer table.
pub(crate) struct PeerSlot {
    /// `None`: free (reused by the next `add_peer`).
    pub(crate) ah: Option<AddressHandle>,
    pub(crate) qpn: u32,
    pub(crate) qkey: u32,
    /// Bumped when the slot is taken back, so earlier handles miss.
    pub(crate) generation: u32,
    /// The sequence number of the last send to it (0: none): once the send queue's tail has
    /// passed it, no outstanding send names the address handle.
    pub(crate) last_send: u64,
}

impl UdQueuePair {
    /// Adds a destination: the UD QP `qpn` at `ah`, sent to with `qkey` (the peer's Q_Key).
    /// The handle must be of this QP's protection domain. A Q_Key with the high bit set is
    /// refused: in a send it means "this QP's own Q_Key" (a controlled Q_Key), never the
    /// value given.
    pub fn add_peer(&mut self, ah: AddressHandle, qpn: u32, qkey: u32) -> Result<Peer> {
        if qpn > 0xff_ffff {
            return Err(Error::InvalidArgument(format!(
                "a QP number is 24 bits, {qpn:#x} is not"
            )));
        }
        if qkey & 0x8000_0000 != 0 {
            return Err(Error::InvalidArgument(format!(
                "Q_Key {qkey:#x} has the high bit set, which makes a send use the sending \
                 QP's own Q_Key instead: give the peer's Q_Key"
            )));
        }
        if !ah.is_of(&self.qp.pd) {
            return Err(Error::InvalidArgument(
                "the address handle belongs to another protection domain".into(),
            ));
        }
        let free = self.peers.iter().position(|p| p.ah.is_none());
        let i = match free {
            Some(i) => i,
            None => {
                self.peers.push(PeerSlot {
                    ah: None,
                    qpn: 0,
                    qkey: 0,
                    generation: 0,
                    last_send: 0,
                });
                self.peers.len() - 1
            }
        };
        let slot = &mut self.peers[i];
        slot.ah = Some(ah);
        slot.qpn = qpn;
        slot.qkey = qkey;
        slot.last_send = 0;
        Ok(Peer {
            index: i as u32,
            generation: slot.generation,
        })
    }

    /// The peer's address handle, remote QP number and Q_Key (`None` for a handle this QP
    /// does not hold).
    pub fn peer(&self, p: Peer) -> Option<(&AddressHandle, u32, u32)> {
        let s = self.peer_slot(p)?;
        Some((s.ah.as_ref()?, s.qpn, s.qkey))
    }

    /// Takes a destination back, once no outstanding send goes to it, and hands back its
    /// address handle.
    pub fn remove_peer(&mut self, p: Peer) -> Result<AddressHandle> {
        let tail = self.qp.sq.tail();
        let qpn = self.qp.qpn();
        let Some(slot) = self
            .peers
            .get_mut(p.index as usize)
            .filter(|s| s.generation == p.generation && s.ah.is_some())
        else {
            return Err(Error::InvalidArgument(format!(
                "no peer {} on UD QP {qpn:#x}",
                p.index
            )));
        };
        if slot.last_send >= tail {
            return Err(Error::InvalidArgument(format!(
                "peer {} of UD QP {qpn:#x} is the destination of outstanding sends: complete \
                 them first",
                p.index
            )));
        }
        slot.generation = slot.generation.wrapping_add(1);
        Ok(slot.ah.take().expect("checked is_some"))
    }

    /// The live slot `p` names.
    #[inline(always)]
    pub(crate) fn peer_slot(&self, p: Peer) -> Option<&PeerSlot> {
        self.peers
            .get(p.index as usize)
            .filter(|s| s.generation == p.generation && s.ah.is_some())
    }
}
