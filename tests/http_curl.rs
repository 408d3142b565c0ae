//! The HTTP server against a real client, curl: keep-alive reuse, chunked
//! upload, HEAD, `Expect: 100-continue`, a 100 MB download checked byte for
//! byte. Under CI a missing curl fails the tests (.ci/run installs it).

#[path = "support/http.rs"]
mod http_support;

use http_support::*;
use runtime::http::http::{Request, Response};
use runtime::http::{Body, Server};
use std::process::Command;

const BIG: u64 = 100 * 1000 * 1000;

fn server() -> std::net::SocketAddr {
    start(|| {
        Server::new()
            .route("/big", |_req| async {
                // 100 MB of a deterministic pattern, streamed in 64 KiB
                // pieces with backpressure.
                let (mut tx, body) = Body::channel(256 * 1024);
                runtime::spawn(async move {
                    let mut pos = 0u64;
                    while pos < BIG {
                        let n = (BIG - pos).min(64 * 1024);
                        let piece: Vec<u8> = (pos..pos + n).map(pattern_byte).collect();
                        if tx.send(piece).await.is_err() {
                            return;
                        }
                        pos += n;
                    }
                });
                Response::new(body)
            })
            .route("/sum", |req: Request<Body>| async move {
                // Length and a checksum of the uploaded body, read as a
                // stream.
                let mut body = req.into_body();
                let (mut len, mut sum) = (0u64, 0u64);
                while let Some(piece) = body.chunk().await {
                    for b in piece.unwrap() {
                        sum = sum.wrapping_mul(31).wrapping_add(u64::from(b));
                        len += 1;
                    }
                }
                Response::new(Body::from(format!("{len} {sum}")))
            })
            .fallback(echo)
    })
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn checksum(data: &[u8]) -> u64 {
    data.iter()
        .fold(0u64, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)))
}

#[test]
fn curl_reuses_the_connection() {
    if !have_curl() {
        return;
    }
    let addr = server();
    let (out, err) = curl(&[
        "-v",
        &format!("http://{addr}/a"),
        &format!("http://{addr}/b"),
    ]);
    assert_eq!(out, "GET /a 0GET /b 0");
    assert!(
        err.contains("Re-using existing connection") || err.contains("Reusing existing"),
        "{err}"
    );
    assert_eq!(err.matches("Connected to").count(), 1, "{err}");
}

#[test]
fn curl_chunked_upload_and_expect_continue() {
    if !have_curl() {
        return;
    }
    let addr = server();
    let data: Vec<u8> = (0..3_000_000u64).map(pattern_byte).collect();
    let path = std::env::temp_dir().join(format!("http-curl-upload-{}", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let file = format!("@{}", path.display());
    // Chunked.
    let (out, _) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &file,
        &format!("http://{addr}/sum"),
    ]);
    assert_eq!(out, format!("{} {}", data.len(), checksum(&data)));
    // With Content-Length and Expect: 100-continue.
    let (out, err) = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &file,
        &format!("http://{addr}/sum"),
    ]);
    assert_eq!(out, format!("{} {}", data.len(), checksum(&data)));
    assert!(err.contains("HTTP/1.1 100 Continue"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn curl_head() {
    if !have_curl() {
        return;
    }
    let addr = server();
    let (out, _) = curl(&["-I", &format!("http://{addr}/x")]);
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    assert!(out.contains("content-length: 9"), "{out}");
}

#[test]
fn curl_downloads_100_mb_byte_for_byte() {
    if !have_curl() {
        return;
    }
    let addr = server();
    let path = std::env::temp_dir().join(format!("http-curl-big-{}", std::process::id()));
    curl(&["-o", path.to_str().unwrap(), &format!("http://{addr}/big")]);
    let got = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(got.len() as u64, BIG);
    let bad = got
        .iter()
        .enumerate()
        .find(|&(i, &b)| b != pattern_byte(i as u64));
    assert!(bad.is_none(), "first difference at {:?}", bad.map(|b| b.0));
}
