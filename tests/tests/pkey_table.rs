//! `Context::pkey_table` and `Context::query_pkey` on a real port: the table is the port's
//! `pkey_tbl_len` entries in host order, equal to what sysfs shows, and an index past it is a
//! verb error with the real errno.

use rdma_device_tests::device;

#[test]
fn the_pkey_table_matches_sysfs() {
    let ctx = device();
    let len = ctx.query_port(1).unwrap().pkey_tbl_len();
    let table = ctx.pkey_table(1).unwrap();
    assert_eq!(table.len(), usize::from(len));
    assert!(len >= 1);
    assert_eq!(
        table[0], 0xffff,
        "index 0 holds the default partition, full member"
    );
    for (i, &key) in table.iter().enumerate() {
        let path = format!("/sys/class/infiniband/{}/ports/1/pkeys/{i}", ctx.name());
        let text = std::fs::read_to_string(&path).unwrap();
        let sysfs = u16::from_str_radix(text.trim().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(key, sysfs, "{path}");
        assert_eq!(ctx.query_pkey(1, i as u16).unwrap(), key);
    }
}

#[test]
fn an_index_past_the_table_is_a_verb_error_with_its_errno() {
    let ctx = device();
    let len = ctx.query_port(1).unwrap().pkey_tbl_len();
    let err = ctx.query_pkey(1, len).unwrap_err();
    assert_eq!(err.verb(), Some("ibv_query_pkey"), "{err:?}");
    let errno = err.errno();
    assert!(
        matches!(errno, Some(libc::ENOENT) | Some(libc::EINVAL)),
        "the errno of the failed sysfs read, not the -1 return: {err}"
    );
}
