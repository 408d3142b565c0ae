//! Fetches a URL and prints the status, the headers and the body; exits
//! non-zero on errors (and on a status of 400 or above).
//!
//! ```text
//! cargo run --example http-get -- http://127.0.0.1:8080/ -H 'Accept: text/plain' --data 'a=1'
//! ```
//!
//! `--data BODY` sends a POST with that body. `--unix PATH` sends over a
//! Unix-domain socket. `https://` URLs are checked against the system's
//! roots, or only the CA certificates in `--cacert FILE` (PEM). Ctrl-C stops it (exit status 130).

use runtime::http::http::{HeaderName, HeaderValue, Method, Request};
use runtime::http::{Body, Client, ClientConfig};
use std::future::Future;
use std::io::Write;

fn usage(msg: &str, code: i32) -> ! {
    let text = format!(
        "http-get: {msg}\nusage: http-get URL [-H 'Name: value']... [--data BODY] [--unix PATH] [--cacert FILE]\n\
         Prints the status line, the headers and the body."
    );
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    std::process::exit(code)
}

fn main() {
    let mut url = None;
    let mut headers = Vec::new();
    let mut data: Option<String> = None;
    let mut unix = None;
    let mut cacert: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value"), 2))
        };
        match a.as_str() {
            "-H" | "--header" => {
                let h = value();
                let (n, v) = h
                    .split_once(':')
                    .unwrap_or_else(|| usage(&format!("not a header: {h}"), 2));
                let n = HeaderName::from_bytes(n.trim().as_bytes())
                    .unwrap_or_else(|_| usage("bad header name", 2));
                let v = HeaderValue::from_str(v.trim())
                    .unwrap_or_else(|_| usage("bad header value", 2));
                headers.push((n, v));
            }
            "-d" | "--data" => data = Some(value()),
            "--unix" => unix = Some(value()),
            "--cacert" => cacert = Some(value()),
            "-h" | "--help" => usage("an HTTP client", 0),
            u if url.is_none() && !u.starts_with('-') => url = Some(u.to_owned()),
            other => usage(&format!("unexpected argument {other}"), 2),
        }
    }
    let url = url.unwrap_or_else(|| usage("a URL is needed", 2));
    let code = runtime::block_on(async move {
        let mut ctrl_c = match runtime::signal::signal(libc::SIGINT) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("http-get: {e}");
                return 1;
            }
        };
        let work = async {
            let method = if data.is_some() {
                Method::POST
            } else {
                Method::GET
            };
            let mut req = Request::builder().method(method).uri(&url);
            for (n, v) in headers {
                req = req.header(n, v);
            }
            let body = data.map_or(Body::empty(), Body::from);
            let req = req.body(body).map_err(runtime::http::Error::from)?;
            let mut config = ClientConfig::default();
            if let Some(ca) = &cacert {
                let tls = runtime::tls::ClientConfig::builder()
                    .ca_file(ca)
                    .map(|b| b.alpn(&[b"http/1.1"]))
                    .and_then(|b| b.build())
                    .map_err(runtime::http::Error::Io)?;
                config.tls = Some(runtime::tls::TlsConnector::new(tls));
            }
            let client = Client::with_config(config);
            let res = match unix {
                Some(p) => client.request_unix(p, req).await?,
                None => client.request(req).await?,
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{:?} {}", res.version(), res.status());
            for (n, v) in res.headers() {
                let _ = writeln!(out, "{n}: {}", String::from_utf8_lossy(v.as_bytes()));
            }
            let _ = writeln!(out);
            let status = res.status();
            let mut body = res.into_body();
            while let Some(piece) = body.chunk().await {
                let _ = out.write_all(&piece?);
            }
            let _ = out.flush();
            Ok::<_, runtime::http::Error>(status)
        };
        let mut work = std::pin::pin!(work);
        let r = std::future::poll_fn(|cx| {
            if ctrl_c.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready(None);
            }
            work.as_mut().poll(cx).map(Some)
        })
        .await;
        match r {
            None => 130,
            Some(Ok(s)) if s.as_u16() >= 400 => 1,
            Some(Ok(_)) => 0,
            Some(Err(e)) => {
                eprintln!("http-get: {e}");
                1
            }
        }
    });
    std::process::exit(code);
}
