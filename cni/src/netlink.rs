//! (in progress: owned by the netlink helper)
