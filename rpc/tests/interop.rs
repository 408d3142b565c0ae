//! Byte-for-byte interop with the real libevent: a C program calling
//! libevent's `evtag_*` functions (tests/c/evtag_msg.c) encodes regress.rpc's
//! `msg`, and decodes ours.

include!("support/regress.rs");
include!("support/c.rs");

use runtime_rpc::tag;
use runtime_rpc::Message;
use std::io::Write;
use std::process::Stdio;

/// The message evtag_msg.c builds.
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dump evtag_msg.c prints for a decoded msg.
fn dump(msg: &Msg) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k}={v}\n"));
    line("from_name", msg.from_name.clone().unwrap());
    line("to_name", msg.to_name.clone().unwrap());
    if let Some(k) = &msg.attack {
        line("attack.weapon", k.weapon.clone().unwrap());
        line("attack.action", k.action.clone().unwrap());
        for v in &k.how_often {
            line("attack.how_often", v.to_string());
        }
    }
    for r in &msg.run {
        line("run.how", r.how.clone().unwrap());
        if let Some(b) = &r.some_bytes {
            line("run.some_bytes", hex(b));
        }
        line("run.fixed_bytes", hex(&r.fixed_bytes.unwrap()));
        for n in &r.notes {
            line("run.notes", n.clone());
        }
        if let Some(n) = r.large_number {
            line("run.large_number", n.to_string());
        }
        for n in &r.other_numbers {
            line("run.other_numbers", n.to_string());
        }
    }
    s
}

fn run_c(bin: &std::path::Path, mode: &str, input: &[u8]) -> (bool, Vec<u8>) {
    let mut child = std::process::Command::new(bin)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), out.stdout)
}

#[test]
fn libevent_and_runtime_rpc_write_the_same_bytes() {
    let Some(bin) = build_c("evtag_msg") else {
        return;
    };
    let (ok, c_bytes) = run_c(&bin, "encode", b"");
    assert!(ok);
    let msg = test_msg();
    assert_eq!(hex(&msg.marshal()), hex(&c_bytes));
    assert_eq!(Msg::unmarshal(&c_bytes).unwrap(), msg);
}

#[test]
fn libevent_decodes_our_bytes() {
    let Some(bin) = build_c("evtag_msg") else {
        return;
    };
    let msg = test_msg();
    let (ok, text) = run_c(&bin, "decode", &msg.marshal());
    assert!(ok);
    assert_eq!(String::from_utf8(text).unwrap(), dump(&msg));
    // A message libevent refuses, we refuse too: a duplicate tag, a
    // truncated one, an unknown tag.
    let good = msg.marshal();
    let mut dup = good.clone();
    dup.extend_from_slice(&[0x01, 0x01, b'x']);
    let truncated = &good[..good.len() - 1];
    let mut unknown = good.clone();
    unknown.extend_from_slice(&[0x09, 0x01, 0x00]);
    for bad in [&dup[..], truncated, &unknown[..]] {
        assert!(!run_c(&bin, "decode", bad).0);
        assert!(Msg::unmarshal(bad).is_err());
    }
}

#[test]
fn primitive_elements_match_libevent() {
    let Some(bin) = build_c("evtag_msg") else {
        return;
    };
    let (ok, c_bytes) = run_c(&bin, "prims", b"");
    assert!(ok);
    let mut ours = Vec::new();
    for v in [
        0,
        1,
        0xf,
        0x10,
        0x12,
        0xff,
        0x123,
        300,
        0x1000,
        0xdead_beef,
        0xffff_ffff,
    ] {
        tag::marshal_int(&mut ours, 1, v);
    }
    for t in [1, 0x7f, 0x80, 0x166, 0x10121, 0xffff_ffff] {
        tag::marshal_string(&mut ours, t, "hi");
    }
    for v in [0, u64::MAX, 0x1_2345_6789] {
        tag::marshal_int64(&mut ours, 2, v);
    }
    tag::marshal_timeval(&mut ours, 3, 5, 250_000);
    assert_eq!(hex(&ours), hex(&c_bytes));
    // And they read back.
    let mut r = tag::Reader::new(&c_bytes);
    for _ in 0..11 {
        r.read_tagged_int(1).unwrap();
    }
    for t in [1, 0x7f, 0x80, 0x166, 0x10121, 0xffff_ffff] {
        assert_eq!(r.read_tagged_string(t).unwrap(), "hi");
    }
    assert_eq!(r.read_tagged_int64(2).unwrap(), 0);
    assert_eq!(r.read_tagged_int64(2).unwrap(), u64::MAX);
    assert_eq!(r.read_tagged_int64(2).unwrap(), 0x1_2345_6789);
    assert_eq!(r.read_tagged_timeval(3).unwrap(), (5, 250_000));
    assert!(r.is_empty());
}
