//! HTTPS: `Server::serve_tls` / `bind_tls` and the `Client` fetching
//! `https://` through its pool (one pool per scheme, host and port); curl
//! and `http-get --cacert` against `http-server` / `http-hello` with
//! `--tls-cert`; certificates made at test time.

use runtime::http::http::{Request, Response};
use runtime::http::{Body, Client, ClientConfig, Server};
use runtime::net::TcpListener;
use runtime::tls::{ServerConfig, TlsAcceptor, TlsConnector};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "support/net.rs"]
mod net;
use net::bounded;

#[path = "support/tls.rs"]
mod tls_certs;
use tls_certs::{path_str, Certs};

#[path = "support/example.rs"]
mod example;
use example::example_bin;

fn hello_server() -> Server {
    Server::new().route("/", |_req: Request<Body>| async move {
        Response::new(Body::from("hello over tls\n"))
    })
}

fn client_for(certs: &Certs) -> Client {
    let tls = runtime::tls::ClientConfig::builder()
        .ca_file(certs.ca())
        .unwrap()
        .alpn(&[b"http/1.1"])
        .build()
        .unwrap();
    Client::with_config(ClientConfig {
        tls: Some(TlsConnector::new(tls)),
        ..ClientConfig::default()
    })
}

async fn body_text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap()).unwrap()
}

#[runtime::test]
async fn our_client_fetches_https_from_our_server_through_its_pool() {
    bounded(async {
        let certs = Certs::new();
        let leaf = certs.leaf("server", &["localhost", "127.0.0.1"]);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = ServerConfig::from_pem_files(&leaf.cert, &leaf.key).unwrap();
        let server = hello_server();
        runtime::spawn(async move {
            // bind_tls's path: ALPN http/1.1 added to a config without one.
            server
                .serve_tls(listener, TlsAcceptor::new(config))
                .await
                .unwrap();
        });
        let client = client_for(&certs);
        for host in ["localhost", "127.0.0.1"] {
            for _ in 0..3 {
                let res = client
                    .get(&format!("https://{host}:{port}/"))
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                assert_eq!(body_text(res).await, "hello over tls\n");
            }
        }
        // One kept-alive connection per host name, reused.
        assert_eq!(client.idle_connections(), 2);
        // The same host and port over http:// is another pool: a plain
        // connection, which the TLS server refuses.
        let e = client
            .get(&format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(!e.to_string().is_empty());
        assert_eq!(client.idle_connections(), 2);
    })
    .await
}

#[runtime::test]
async fn bind_tls_serves_and_the_client_refuses_an_unknown_ca() {
    bounded(async {
        let certs = Certs::new();
        let leaf = certs.leaf("server", &["localhost"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = ServerConfig::from_pem_files(&leaf.cert, &leaf.key).unwrap();
        let server = hello_server();
        runtime::spawn(async move {
            server
                .bind_tls(([127, 0, 0, 1], port).into(), config)
                .await
                .unwrap();
        });
        let url = format!("https://localhost:{port}/");
        let mut res = None;
        for _ in 0..100 {
            match client_for(&certs).get(&url).await {
                Ok(r) => {
                    res = Some(r);
                    break;
                }
                Err(_) => runtime::time::sleep(Duration::from_millis(10)).await,
            }
        }
        assert_eq!(body_text(res.expect("server up")).await, "hello over tls\n");
        // Another CA's client refuses the server's certificate.
        let other = Certs::new();
        let e = client_for(&other).get(&url).await.unwrap_err();
        assert!(e.to_string().contains("certificate"), "{e}");
    })
    .await
}

fn spawn_listening(name: &str, args: &[&str]) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(example_bin(name))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    for _ in 0..100 {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "exit status {st}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("did not exit on SIGINT");
}

#[test]
fn curl_and_http_get_against_http_server_with_tls() {
    let certs = Certs::new();
    let leaf = certs.leaf("server", &["localhost"]);
    let root = certs.dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("data.bin"), &content).unwrap();
    let (server, addr) = spawn_listening(
        "http-server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--root",
            path_str(&root),
            "--tls-cert",
            path_str(&leaf.cert),
            "--tls-key",
            path_str(&leaf.key),
        ],
    );
    let port = addr.port();
    let url = format!("https://localhost:{port}/data.bin");
    let resolve = format!("localhost:{port}:127.0.0.1");
    // curl: the file byte for byte, through the encryption (no sendfile).
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--http1.1", "--resolve", &resolve])
        .args(["--cacert", path_str(&certs.ca()), &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == content, "{} bytes", out.stdout.len());
    // curl without our CA refuses.
    let out = Command::new("curl")
        .args(["-sS", "--resolve", &resolve, &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // http-get --cacert
    let out = Command::new(example_bin("http-get"))
        .args([&format!("https://127.0.0.1:{port}/"), "--cacert"])
        .arg(certs.ca())
        .output()
        .unwrap();
    // The certificate names localhost only: 127.0.0.1 is refused.
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("certificate"));
    stop(server);

    let (hello, addr) = spawn_listening(
        "http-hello",
        &[
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            path_str(&leaf.cert),
            "--tls-key",
            path_str(&leaf.key),
        ],
    );
    let out = Command::new(example_bin("http-get"))
        .arg(format!("https://localhost:{}/", addr.port()))
        .arg("--cacert")
        .arg(certs.ca())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.ends_with("\n\nHello, world!\n"), "{text}");
    stop(hello);
}
