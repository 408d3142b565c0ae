//! A static file server like libevent's `http-server` sample: files with a
//! content type, sent with `sendfile`; directory listings (names
//! HTML-escaped, links percent-encoded); 404 for what is missing; HEAD,
//! keep-alive and pipelining from the server. Nothing outside `--root` is
//! ever served: `..` segments (in any encoding), encoded slashes or
//! backslashes, NUL bytes are refused, and the resolved path (symlinks
//! followed) must stay under the root.
//!
//! ```text
//! cargo run --release --example http-server -- --addr 127.0.0.1:8080 --root . --threads 1
//! http-server: listening on 127.0.0.1:8080 root=/path threads=1 pid=12345
//! ```
//!
//! `--tls-cert FILE --tls-key FILE` serves HTTPS (PEM chain and key, ALPN
//! `http/1.1`; one thread; files then go through the encryption, not
//! `sendfile`). `SIGINT`/`SIGTERM` stop it gracefully (exit status 0).

use runtime::http::encoding::{html_escape, percent_decode, percent_encode};
use runtime::http::http::{header, Request, Response, StatusCode};
use runtime::http::{Body, Server, Shutdown};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

fn usage(msg: &str, code: i32) -> ! {
    let text = format!(
        "http-server: {msg}\nusage: http-server [--addr 127.0.0.1:8080] [--root DIR] [--threads N] [--tls-cert FILE --tls-key FILE]\n\
         Serves the files under DIR (default: the current directory). Ctrl-C stops it."
    );
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    std::process::exit(code)
}

fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::from(format!("{code}\n")));
    *r.status_mut() = code;
    r
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "md" | "rs" | "toml") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// The file for a request path, or the status that refuses it.
fn resolve(root: &Path, raw_path: &str) -> Result<PathBuf, StatusCode> {
    let lower = raw_path.to_ascii_lowercase();
    // Encoded separators would let a segment hide a slash.
    if lower.contains("%2f") || lower.contains("%5c") || raw_path.contains('\\') {
        return Err(StatusCode::BAD_REQUEST);
    }
    let decoded = percent_decode(raw_path).map_err(|_| StatusCode::BAD_REQUEST)?;
    let decoded = String::from_utf8(decoded).map_err(|_| StatusCode::BAD_REQUEST)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(StatusCode::BAD_REQUEST);
    }
    let mut path = root.to_path_buf();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(StatusCode::FORBIDDEN),
            s => path.push(s),
        }
    }
    // Symlinks followed: the real path must stay under the root.
    let real = path.canonicalize().map_err(|_| StatusCode::NOT_FOUND)?;
    if !real.starts_with(root) {
        return Err(StatusCode::FORBIDDEN);
    }
    Ok(real)
}

fn listing(dir: &Path, raw_path: &str) -> io::Result<Response<Body>> {
    let mut names: Vec<(String, bool)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().is_dir(),
            )
        })
        .collect();
    names.sort();
    let base = if raw_path.ends_with('/') {
        raw_path.to_owned()
    } else {
        format!("{raw_path}/")
    };
    let title = html_escape(&String::from_utf8_lossy(
        &percent_decode(&base).unwrap_or_default(),
    ));
    let mut html = format!("<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n<ul>\n");
    for (name, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        html.push_str(&format!(
            "<li><a href=\"{base}{}{slash}\">{}{slash}</a></li>\n",
            percent_encode(&name),
            html_escape(&name)
        ));
    }
    html.push_str("</ul></body></html>\n");
    let mut r = Response::new(Body::from(html));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(r)
}

async fn serve_file(root: Arc<PathBuf>, req: Request<Body>) -> Response<Body> {
    let raw = req.uri().path().to_owned();
    let path = match resolve(&root, &raw) {
        Ok(p) => p,
        Err(code) => return status(code),
    };
    if path.is_dir() {
        return listing(&path, &raw).unwrap_or_else(|_| status(StatusCode::FORBIDDEN));
    }
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) => return status(StatusCode::NOT_FOUND),
    };
    match Body::file(file) {
        Ok(body) => {
            let mut r = Response::new(body);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(content_type(&path)),
            );
            r
        }
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

fn server(root: Arc<PathBuf>, shutdown: &Shutdown) -> Server {
    Server::new()
        .fallback(move |req| serve_file(root.clone(), req))
        .with_shutdown(shutdown, Duration::from_secs(5))
}

async fn signals() -> io::Result<()> {
    let mut int = runtime::signal::signal(libc::SIGINT)?;
    let mut term = runtime::signal::signal(libc::SIGTERM)?;
    poll_fn(|cx| {
        if int.poll_recv(cx).is_ready() || term.poll_recv(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    Ok(())
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
    let mut threads = 1usize;
    let mut tls_cert: Option<PathBuf> = None;
    let mut tls_key: Option<PathBuf> = None;
    let mut root = PathBuf::from(".");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value"), 2))
        };
        match flag.as_str() {
            "--addr" => {
                let v = value();
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("not an address: {v}"), 2));
            }
            "--threads" => {
                let v = value();
                threads = v
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .unwrap_or_else(|| usage("--threads: a positive number", 2));
            }
            "--root" => root = PathBuf::from(value()),
            "--tls-cert" => tls_cert = Some(PathBuf::from(value())),
            "--tls-key" => tls_key = Some(PathBuf::from(value())),
            "-h" | "--help" => usage("a static file server", 0),
            other => usage(&format!("unknown flag {other}"), 2),
        }
    }
    let root = Arc::new(
        root.canonicalize()
            .unwrap_or_else(|e| usage(&format!("--root: {e}"), 2)),
    );
    // HTTPS when given a certificate chain and its key (PEM files).
    let tls = match (tls_cert, tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            if threads != 1 {
                usage("TLS is served with --threads 1 only", 2);
            }
            let config = runtime::tls::ServerConfig::builder()
                .cert_pem_files(&cert, &key)
                .map(|b| b.alpn(&[b"http/1.1"]))
                .and_then(|b| b.build())
                .unwrap_or_else(|e| usage(&format!("TLS: {e}"), 2));
            Some(runtime::tls::TlsAcceptor::new(config))
        }
        _ => usage("--tls-cert and --tls-key go together", 2),
    };
    let shutdown = Shutdown::new();
    if threads == 1 {
        runtime::block_on(async {
            let listener = runtime::net::TcpListener::bind(addr).await?;
            println!(
                "http-server: listening on {} root={} threads=1 pid={}",
                listener.local_addr()?,
                root.display(),
                std::process::id()
            );
            let sd = shutdown.clone();
            runtime::spawn(async move {
                if signals().await.is_ok() {
                    sd.trigger();
                }
            });
            match tls {
                Some(acceptor) => {
                    server(root.clone(), &shutdown)
                        .serve_tls(listener, acceptor)
                        .await
                }
                None => server(root.clone(), &shutdown).serve(listener).await,
            }
        })
    } else {
        let rt = runtime::Builder::new().threads(threads).build()?;
        let sd = shutdown.clone();
        let r = root.clone();
        let shards = Server::serve_sharded(&rt.handle(), addr, move || server(r.clone(), &sd))?;
        println!(
            "http-server: listening on {} root={} threads={threads} pid={}",
            shards.local_addr(),
            root.display(),
            std::process::id()
        );
        runtime::block_on(signals())?;
        shutdown.trigger();
        runtime::block_on(shards.join())
    }
}
