//! [`Channel`]: the link to the peer with one exchange per perftest message (version, system
//! data, MTU, keys, BW report, `"done"`) and rdma-perf's own options message, and the
//! [preamble](Channel::preamble) that opens every test.

use std::time::Duration;

use rdma_verbs::Mtu;

use super::error::ChannelError;
use crate::perftest::peer::PeerParams;
use crate::perftest::transport::{Link, Role};
use crate::perftest::wire::{
    encode_mtu, parse_mtu, BwReportMsg, KeyMsg, SysData, VersionMsg, BW_REPORT_FIELD_LEN, DONE_MSG,
    MTU_MSG_LEN, SYS_DATA_FIELD_LEN,
};

/// What a side announces before the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preamble {
    /// The version string ([`VersionMsg::ours`]).
    pub version: VersionMsg,
    /// Page and cache line size ([`SysData::local`]).
    pub sys: SysData,
    /// The port's active MTU (or `-m`).
    pub mtu: Mtu,
}

impl Preamble {
    /// Our version, this host's system data and `mtu`.
    pub fn local(mtu: Mtu) -> Preamble {
        Preamble {
            version: VersionMsg::ours(),
            sys: SysData::local(),
            mtu,
        }
    }
}

/// What both sides agreed on in the preamble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    /// The peer's version.
    pub remote_version: VersionMsg,
    /// The maximum of both sides' page and cache line sizes.
    pub sys: SysData,
    /// The minimum of both MTUs: the path MTU to use (and to print in the banner).
    pub mtu: Mtu,
}

/// perftest's out-of-band channel: a [`Link`] (TCP, or rdma_cm with `-R`) that exchanges
/// perftest's messages.
#[derive(Debug)]
pub struct Channel {
    link: Link,
    /// The GID index sent in the raw keys over rdma_cm (`-R`).
    gid_index: Option<u32>,
}

impl Channel {
    /// The channel over `link`. `gid_index` is what the raw keys carry over rdma_cm (`-R`;
    /// perftest's `my_dest->gid_index`, which the peer does not read).
    pub fn new(link: Link, gid_index: Option<u32>) -> Channel {
        Channel { link, gid_index }
    }

    /// The link under the channel.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The link under the channel, to change its deadline or exchange raw bytes.
    pub fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.link.role()
    }

    fn exchange(&mut self, what: &'static str, mine: &[u8]) -> Result<Vec<u8>, ChannelError> {
        Ok(self.link.exchange(what, mine)?)
    }

    /// `exchange_versions` (16 bytes).
    pub fn exchange_version(&mut self, mine: &VersionMsg) -> Result<VersionMsg, ChannelError> {
        let theirs = self.exchange("version", &mine.encode())?;
        Ok(VersionMsg::parse(&theirs)?)
    }

    /// rdma-perf's own options exchange ([`peer`](crate::perftest::peer)); only between two
    /// rdma-perf peers (both version messages carry the marker), right after the preamble.
    pub fn exchange_peer_params(&mut self, mine: &PeerParams) -> Result<PeerParams, ChannelError> {
        let theirs = self.exchange("rdma-perf options", &mine.encode()?)?;
        Ok(PeerParams::parse(&theirs)?)
    }

    /// `check_sys_data`: two 4-byte exchanges; returns the peer's values (merge them
    /// with [`SysData::merge`]).
    pub fn exchange_sys_data(&mut self, mine: &SysData) -> Result<SysData, ChannelError> {
        let a = self.exchange("page size", &mine.encode_cycle_buffer())?;
        let cycle_buffer = SysData::parse_field("cycle_buffer", &a)?;
        let b = self.exchange("cache line size", &mine.encode_cache_line_size())?;
        let cache_line_size = SysData::parse_field("cache_line_size", &b)?;
        debug_assert_eq!(a.len() + b.len(), 2 * SYS_DATA_FIELD_LEN);
        Ok(SysData {
            cycle_buffer,
            cache_line_size,
        })
    }

    /// `check_mtu`: one 2-byte exchange; returns the peer's MTU.
    pub fn exchange_mtu(&mut self, mine: Mtu) -> Result<Mtu, ChannelError> {
        let theirs = self.exchange("mtu", &encode_mtu(mine))?;
        debug_assert_eq!(theirs.len(), MTU_MSG_LEN);
        Ok(parse_mtu(&theirs)?)
    }

    /// Everything before the keys: version, compatibility check (remote >= 5.70, so
    /// every later version gate is open), system data, MTU.
    pub fn preamble(&mut self, local: &Preamble) -> Result<Agreed, ChannelError> {
        let remote_version = self.exchange_version(&local.version)?;
        if !remote_version.is_compatible() {
            return Err(ChannelError::Incompatible(
                remote_version.as_str().to_string(),
            ));
        }
        let sys = local.sys.merge(&self.exchange_sys_data(&local.sys)?);
        let mtu = local.mtu.min(self.exchange_mtu(local.mtu)?);
        Ok(Agreed {
            remote_version,
            sys,
            mtu,
        })
    }

    /// `ctx_hand_shake`: one keys exchange. The peer's message must have the form of
    /// ours (with a GID or without), as perftest reads the form it writes.
    pub fn exchange_keys(&mut self, mine: &KeyMsg) -> Result<KeyMsg, ChannelError> {
        let timeout = self.link.timeout();
        self.exchange_keys_within(mine, timeout)
    }

    /// [`exchange_keys`](Self::exchange_keys) with its own deadline, for the
    /// handshakes that wait for the peer's run.
    pub fn exchange_keys_within(
        &mut self,
        mine: &KeyMsg,
        timeout: Duration,
    ) -> Result<KeyMsg, ChannelError> {
        let with_gid = mine.gid.is_some();
        if self.link.is_cm() {
            let raw = mine.encode_raw(self.gid_index);
            let theirs = self.link.exchange_within("keys", &raw, timeout)?;
            return Ok(KeyMsg::parse_raw(&theirs, with_gid)?);
        }
        let theirs = self
            .link
            .exchange_within("keys", &mine.encode()?, timeout)?;
        Ok(KeyMsg::parse_form(&theirs, with_gid)?)
    }

    /// `xchg_bw_reports`: five 8-byte exchanges; returns the peer's report.
    pub fn exchange_bw_report(&mut self, mine: &BwReportMsg) -> Result<BwReportMsg, ChannelError> {
        const NAMES: [&str; 5] = [
            "report size",
            "report iterations",
            "report peak",
            "report average",
            "report message rate",
        ];
        let mut theirs = [[0u8; BW_REPORT_FIELD_LEN]; 5];
        for (i, field) in mine.fields().iter().enumerate() {
            let got = self.exchange(NAMES[i], field)?;
            theirs[i].copy_from_slice(&got);
        }
        Ok(BwReportMsg::from_fields(&theirs))
    }

    /// `ctx_close_connection`: a keys exchange, then `"done\0"` written without
    /// waiting for the peer's; then the connection is closed (the peer's `"done"` is
    /// drained for up to a second first, so that closing does not reset it).
    ///
    /// Over rdma_cm (`-R`) only the keys exchange: the connection is then dropped, which
    /// disconnects it.
    pub fn close_connection(mut self, mine: &KeyMsg) -> Result<(), ChannelError> {
        self.exchange_keys(mine)?;
        if self.link.is_cm() {
            return Ok(());
        }
        self.link.send_only("done", DONE_MSG)?;
        self.link
            .close("done", DONE_MSG.len(), Duration::from_secs(1));
        Ok(())
    }
}
