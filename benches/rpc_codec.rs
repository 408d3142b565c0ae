//! evtag marshal/unmarshal throughput of runtime-rpc on regress.rpc's `msg`
//! (a nested `kill`, two `run`s), the message peers/libevent/evtag_bench.c
//! codes with libevent's evtag_* functions; run side by side by
//! benches/rpc_compare.sh.
//!
//! ```text
//! cargo bench --bench rpc_codec -- hex          # the encoded message in hex
//! cargo bench --bench rpc_codec -- 200000       # marshal_ns=X unmarshal_ns=Y bytes=N
//! ```
//!
//! Times are CPU time of the process (CLOCK_PROCESS_CPUTIME_ID) per message.

include!(concat!(env!("OUT_DIR"), "/regress.rs"));

use runtime::rpc::Message;
use std::hint::black_box;

/// rpc/tests/interop.rs's test message.
fn test_msg() -> Msg {
    let mut fixed = [0u8; 24];
    for (i, b) in fixed.iter_mut().enumerate() {
        *b = (i * 11) as u8;
    }
    Msg {
        from_name: Some("niels".into()),
        to_name: Some("tester".into()),
        attack: Some(Kill {
            weapon: Some("feather".into()),
            action: Some("tickle".into()),
            how_often: vec![3, 300, 0xdead_beef],
        }),
        run: vec![
            Run {
                how: Some("very fast".into()),
                some_bytes: Some(vec![0, 1, 0xfe, 0xff, 0x7f]),
                fixed_bytes: Some(fixed),
                notes: vec!["a".into(), "bb".into()],
                large_number: Some(0xfedc_ba98_7654_3210),
                other_numbers: vec![0, 15, 16],
            },
            Run {
                how: Some("slow".into()),
                fixed_bytes: Some([0; 24]),
                ..Run::default()
            },
        ],
    }
}

fn cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

fn main() {
    let arg = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "200000".into());
    let msg = test_msg();
    let encoded = msg.marshal();
    if arg == "hex" {
        let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
        println!("{hex}");
        return;
    }
    let iters: u32 = arg.parse().expect("iterations or `hex`");
    let mut out = Vec::with_capacity(encoded.len());
    let t0 = cpu_ns();
    for _ in 0..iters {
        out.clear();
        black_box(&msg).marshal_into(&mut out);
        assert_eq!(out.len(), encoded.len());
        black_box(&out);
    }
    let t1 = cpu_ns();
    for _ in 0..iters {
        let decoded = Msg::unmarshal(black_box(&encoded)).expect("decodes");
        assert_eq!(decoded.run.len(), 2);
        black_box(decoded);
    }
    let t2 = cpu_ns();
    println!(
        "marshal_ns={:.1} unmarshal_ns={:.1} bytes={}",
        (t1 - t0) / f64::from(iters),
        (t2 - t1) / f64::from(iters),
        encoded.len()
    );
}
