//! `rdma-perf`: a perftest-compatible benchmark (not yet written).

fn main() {
    println!("not yet");
}
