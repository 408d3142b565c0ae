//! The `.rpc` reader: libevent's regress.rpc shape (tests/regress.rpc,
//! compiled by build.rs) gives the same types as a hand-written
//! `message!`, every field type event_rpcgen.py accepts is read, and a
//! malformed file is refused with its file:line:col.

include!("support/regress.rs");

use runtime_rpc::build::{BuildError, Builder};
use runtime_rpc::idl::{self, FieldType, Kind};
use runtime_rpc::Message;

mod hand {
    runtime_rpc::message! {
        pub struct Msg {
            required from_name: String = 1,
            required to_name: String = 2,
            optional attack: Kill = 3,
            array run: Run = 4,
        }
        pub struct Kill {
            required weapon: String = 0x10121,
            required action: String = 2,
            array how_often: u32 = 3,
        }
        pub struct Run {
            required how: String = 1,
            optional some_bytes: Vec<u8> = 2,
            required fixed_bytes: [u8; 24] = 3,
            array notes: String = 4,
            optional large_number: u64 = 5,
            array other_numbers: u32 = 6,
        }
    }
}

fn generated_msg() -> Msg {
    Msg {
        from_name: Some("niels".into()),
        to_name: Some("tester".into()),
        attack: Some(Kill {
            weapon: Some("sword".into()),
            action: Some("slash".into()),
            how_often: vec![1, 300, u32::MAX],
        }),
        run: vec![Run {
            how: Some("fast".into()),
            some_bytes: Some(vec![0, 0xff]),
            fixed_bytes: Some([7; 24]),
            notes: vec!["n".into()],
            large_number: Some(u64::MAX),
            other_numbers: vec![0, 16],
        }],
    }
}

fn hand_msg() -> hand::Msg {
    hand::Msg {
        from_name: Some("niels".into()),
        to_name: Some("tester".into()),
        attack: Some(hand::Kill {
            weapon: Some("sword".into()),
            action: Some("slash".into()),
            how_often: vec![1, 300, u32::MAX],
        }),
        run: vec![hand::Run {
            how: Some("fast".into()),
            some_bytes: Some(vec![0, 0xff]),
            fixed_bytes: Some([7; 24]),
            notes: vec!["n".into()],
            large_number: Some(u64::MAX),
            other_numbers: vec![0, 16],
        }],
    }
}

#[test]
fn regress_rpc_is_read_as_libevent_declares_it() {
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regress.rpc")).unwrap();
    let structs = idl::parse(&src, "regress.rpc").unwrap();
    let names: Vec<_> = structs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["msg", "kill", "run"]);
    let msg = &structs[0];
    assert_eq!(msg.entries[0].name, "from_name");
    assert_eq!(msg.entries[0].kind, Kind::Required);
    assert_eq!(msg.entries[2].kind, Kind::Optional);
    assert_eq!(msg.entries[2].ty, FieldType::Struct("kill".into()));
    assert_eq!(msg.entries[3].kind, Kind::Array);
    assert_eq!(structs[1].entries[0].tag, 0x10121);
    assert_eq!(structs[1].entries[2].ty, FieldType::Int);
    let run = &structs[2];
    assert_eq!(run.entries[1].ty, FieldType::Bytes);
    // `bytes fixed_bytes[RUN_FIXED_BYTES]` through the #define.
    assert_eq!(run.entries[2].ty, FieldType::FixedBytes(24));
    assert_eq!(run.entries[4].ty, FieldType::Int64);
    assert_eq!(run.entries[4].line, 29);
}

#[test]
fn generated_types_marshal_as_the_hand_written_macro() {
    let generated = generated_msg();
    let bytes = generated.marshal();
    assert_eq!(bytes, hand_msg().marshal());
    assert_eq!(Msg::unmarshal(&bytes).unwrap(), generated);
    assert_eq!(hand::Msg::unmarshal(&bytes).unwrap(), hand_msg());
    // The nested kill starts as the reference's worked example: tag 3, then
    // weapon under tag 0x10121 (a1 82 04).
    let at = bytes
        .windows(3)
        .position(|w| w == [0xa1, 0x82, 0x04])
        .unwrap();
    assert_eq!(&bytes[at + 3..at + 9], b"\x05sword");
    // Required fields are required.
    let mut incomplete = generated;
    incomplete.run[0].fixed_bytes = None;
    assert!(!incomplete.complete());
    assert!(Msg::unmarshal(&incomplete.marshal()).is_err());
}

const ALL_TYPES: &str = r#"// every field type event_rpcgen.py accepts
#include <sys/types.h>
#ifdef SOMETHING
#endif
#define LEN 0x4 /* hex, with a comment */
struct inner_part { int x = 1; }
struct all_types {
    int a = 1;   /* C comment */
    int64 b = 0x2;
    /* a comment
       on several lines */ string c = 3;
    bytes d = 4;
    bytes e[8] = 5;
    bytes f[LEN] = 6;
    struct[inner_part] g = 7;
    optional int h = 8;
    array int64 i = 9;
    optional array string j = 10;
    array struct[inner_part] k = 0x10121;
    optional bytes type = 12;
}
"#;

#[test]
fn every_field_type_and_the_generated_text() {
    let structs = idl::parse(ALL_TYPES, "all.rpc").unwrap();
    let s = &structs[1];
    let tys: Vec<_> = s.entries.iter().map(|e| (e.kind, e.ty.clone())).collect();
    use FieldType::*;
    use Kind::*;
    assert_eq!(
        tys,
        [
            (Required, Int),
            (Required, Int64),
            (Required, String),
            (Required, Bytes),
            (Required, FixedBytes(8)),
            (Required, FixedBytes(4)),
            (Required, Struct("inner_part".into())),
            (Optional, Int),
            (Array, Int64),
            (Array, String),
            (Array, Struct("inner_part".into())),
            (Optional, Bytes),
        ]
    );
    let code = idl::generate(&structs, "all.rpc", "::runtime_rpc");
    for line in [
        "pub struct InnerPart {",
        "pub struct AllTypes {",
        "required a: u32 = 1,",
        "required b: u64 = 2,",
        "required c: ::std::string::String = 3,",
        "required d: ::std::vec::Vec<u8> = 4,",
        "required e: [u8; 8] = 5,",
        "required f: [u8; 4] = 6,",
        "required g: InnerPart = 7,",
        "optional h: u32 = 8,",
        "array i: u64 = 9,",
        "array j: ::std::string::String = 10,",
        "array k: InnerPart = 0x10121,",
        "optional r#type: ::std::vec::Vec<u8> = 12,",
    ] {
        assert!(code.contains(line), "{line:?} missing from\n{code}");
    }
}

/// (source, line, column, part of the message)
const MALFORMED: &[(&str, usize, usize, &str)] = &[
    (
        "struct a {\n  int x = 1;\n  float y = 2;\n}\n",
        3,
        3,
        "unknown type `float`",
    ),
    ("struct a {\n  int x = 1\n}\n", 3, 1, "expected `;`"),
    (
        "struct a {\n  int x 1;\n}\n",
        2,
        9,
        "expected `=` after field `x`",
    ),
    (
        "struct a {\n  int x = y;\n}\n",
        2,
        11,
        "expected a tag number",
    ),
    (
        "struct a {\n  int x = 0x100000000;\n}\n",
        2,
        11,
        "does not fit in 32 bits",
    ),
    (
        "struct a {\n  int x = 1;\n  string y = 1;\n}\n",
        3,
        1,
        "tag 1 of struct `a` already used by `x`",
    ),
    (
        "struct a {\n  int x = 1;\n  string x = 2;\n}\n",
        3,
        1,
        "field `x` of struct `a` already declared on line 2",
    ),
    (
        "struct a {\n\n  struct[b] x = 1;\n}\n",
        3,
        1,
        "struct `b` (field `x`) is not defined",
    ),
    (
        "struct a {\n  int x[4] = 1;\n}\n",
        2,
        8,
        "only bytes have a fixed length",
    ),
    (
        "struct a {\n  bytes x[N] = 1;\n}\n",
        2,
        11,
        "`N` is not #defined",
    ),
    (
        "struct a {\n  int x = 1;\n",
        3,
        1,
        "found the end of the file",
    ),
    (
        "/* never closed\nstruct a {}\n",
        1,
        1,
        "unterminated /* comment",
    ),
    ("int x = 1;\n", 1, 1, "expected `struct`"),
    (
        "struct a { int x = 1; }\n  struct a { int y = 1; }\n",
        2,
        3,
        "clashes with struct `a`",
    ),
    (
        "struct a { int x = 1; }\n#pragma once\n",
        2,
        1,
        "unknown preprocessor line",
    ),
    (
        "struct a { int x = 1; $ }\n",
        1,
        23,
        "unexpected character `$`",
    ),
    ("struct a { struct[a] me = 1; }\n", 1, 1, "contains itself"),
];

#[test]
fn malformed_idl_points_at_file_line_and_column() {
    for &(src, line, col, what) in MALFORMED {
        let err = idl::parse(src, "bad.rpc").expect_err(src);
        assert_eq!((err.line, err.col), (line, col), "{src:?}: {err}");
        assert!(err.message.contains(what), "{src:?}: {err}");
        assert!(err
            .to_string()
            .starts_with(&format!("bad.rpc:{line}:{col}: ")));
    }
    // A struct may hold itself through an array (a tree).
    idl::parse(
        "struct node { string name = 1; array struct[node] kids = 2; }",
        "t.rpc",
    )
    .unwrap();
}

#[test]
fn builder_writes_the_rust_file_and_reports_errors() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("idl-builder");
    std::fs::create_dir_all(&dir).unwrap();
    let rpc = dir.join("service.rpc");
    std::fs::write(&rpc, "struct ping { int n = 1; }\n").unwrap();
    let out = Builder::new()
        .crate_path("::runtime::rpc")
        .out_dir(&dir)
        .compile(&rpc)
        .unwrap();
    assert_eq!(out, dir.join("service.rs"));
    let code = std::fs::read_to_string(&out).unwrap();
    assert!(code.contains("::runtime::rpc::message! {"));
    assert!(code.contains("pub struct Ping {"));

    std::fs::write(&rpc, "struct ping {\n  int n = ;\n}\n").unwrap();
    let err = Builder::new().out_dir(&dir).compile(&rpc).unwrap_err();
    assert!(matches!(err, BuildError::Idl(_)));
    assert!(
        err.to_string()
            .ends_with("service.rpc:2:11: expected a tag number, found `;`"),
        "{err}"
    );

    let missing = Builder::new()
        .out_dir(&dir)
        .compile(dir.join("missing.rpc"))
        .unwrap_err();
    assert!(matches!(missing, BuildError::Io(..)), "{missing}");
}
