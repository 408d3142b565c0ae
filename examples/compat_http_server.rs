//! libevent's `sample/http-server.c` — "a trivial static http webserver
//! using Libevent's evhttp" — ported line for line to the callback layer,
//! `runtime::compat` (`Http` for `struct evhttp`, `HttpRequest` for
//! `struct evhttp_request`), with the C's function names and its flow:
//! `/dump` prints every request and answers `200 OK`; every other GET is
//! served from the document root — a file with a content type guessed from
//! its extension and sent with `sendfile` (`evbuffer_add_file`), a
//! directory as a little index page; anything else (and any path with
//! `..` in it) gets `404`; non-GET requests are dumped.
//!
//! ```text
//! cargo run --example compat_http_server -- --addr 127.0.0.1:8080 --root .
//! compat_http_server: listening on 127.0.0.1:8080 root=. pid=12345
//! $ curl http://127.0.0.1:8080/Cargo.toml
//! ```
//!
//! Flags (the C's in brackets): `--addr ADDR` (`-H`/`-p`; default
//! `127.0.0.1:8080`, port 0 picks a free port), `--root DIR` (the
//! `docroot` argument; default `.`), `--max-body-size N` (`-m`),
//! `--verbose` (`-v`: libevent's debug logging). `SIGINT` ends the loop as
//! the C's `do_term` does (`event_base_loopbreak`), exit status 0.
//!
//! Where the port is safer than the C (which says it is "not the best code
//! in the world"): names in listings are HTML-escaped and their links
//! percent-encoded (the C's `XXX escape this`); the `..` test is the C's
//! (overzealous: it also refuses `/this/one..here`), and a decoded path
//! with a NUL byte is refused (the C would truncate it).

use runtime::compat::{enable_debug_logging, Event, EventBase, Http, HttpRequest};
use runtime::http::encoding::{html_escape, percent_encode};
use runtime::http::http::Method;
use runtime::io::Buffer;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;

/// The C's `content_type_table`.
const CONTENT_TYPE_TABLE: &[(&str, &str)] = &[
    ("txt", "text/plain"),
    ("c", "text/plain"),
    ("h", "text/plain"),
    ("html", "text/html"),
    ("htm", "text/htm"),
    ("css", "text/css"),
    ("gif", "image/gif"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("pdf", "application/pdf"),
    ("ps", "application/postscript"),
];

/// The C's `struct options`.
struct Options {
    addr: SocketAddr,
    verbose: bool,
    max_body_size: u64,
    docroot: String,
}

/// Try to guess a good content-type for `path` (`guess_content_type`).
fn guess_content_type(path: &str) -> &'static str {
    let Some(last_period) = path.rfind('.') else {
        return "application/misc"; // no extension
    };
    let extension = &path[last_period + 1..];
    if extension.contains('/') {
        return "application/misc";
    }
    for (ext, content_type) in CONTENT_TYPE_TABLE {
        if ext.eq_ignore_ascii_case(extension) {
            return content_type;
        }
    }
    "application/misc"
}

/// Callback used for the `/dump` URI, and for every non-GET request: dumps
/// all information to stdout and gives back a trivial 200 ok
/// (`dump_request_cb`).
fn dump_request_cb(req: &HttpRequest) {
    let cmdtype = match *req.command() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        Method::PATCH => "PATCH",
        _ => "unknown",
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "Received a {cmdtype} request for {}\nHeaders:",
        req.uri()
    );
    for (key, value) in req.input_headers().iter() {
        let _ = writeln!(out, "  {key}: {}", String::from_utf8_lossy(value));
    }
    let _ = writeln!(out, "Input data: <<<");
    {
        let mut buf = req.input_buffer();
        let mut cbuf = [0u8; 128];
        while !buf.is_empty() {
            match buf.remove(&mut cbuf) {
                Ok(n) if n > 0 => {
                    let _ = out.write_all(&cbuf[..n]);
                }
                _ => break,
            }
        }
    }
    let _ = writeln!(out, ">>>");
    let _ = req.send_reply(200, "OK", None);
}

/// This callback gets invoked when we get any http request that doesn't
/// match any other callback. Like any evhttp server callback, it has a
/// simple job: it must eventually call `send_error()` or `send_reply()`
/// (`send_document_cb`).
fn send_document_cb(req: &HttpRequest, o: &Options) {
    if *req.command() != Method::GET {
        dump_request_cb(req);
        return;
    }
    println!("Got a GET request for <{}>", req.uri());

    // Let's see what path the user asked for (the server parsed the URI:
    // a bad one never gets here).
    let path = match req.path() {
        "" => "/",
        p => p,
    };
    // We need to decode it, to see what path the user really wanted.
    let decoded_path = req.decoded_path();
    // Don't allow any ".."s in the path, to avoid exposing stuff outside of
    // the docroot. This test is both overzealous and underzealous: it
    // forbids acceptable paths like "/this/one..here", but it doesn't do
    // anything to prevent symlink following.
    if decoded_path.contains("..") || decoded_path.contains('\0') {
        return err(req);
    }
    let whole_path = format!("{}/{}", o.docroot, decoded_path);
    let Ok(st) = std::fs::metadata(&whole_path) else {
        return err(req);
    };

    // This holds the content we're sending.
    let mut evb = Buffer::new();

    if st.is_dir() {
        // If it's a directory, read the comments and make a little index
        // page.
        let trailing_slash = if path.ends_with('/') { "" } else { "/" };
        let Ok(d) = std::fs::read_dir(&whole_path) else {
            return err(req);
        };
        let _ = evb.add(
            format!(
                "<!DOCTYPE html>\n<html>\n <head>\n  <meta charset='utf-8'>\n  <title>{}</title>\n  <base href='{}{}'>\n </head>\n <body>\n  <h1>{}</h1>\n  <ul>\n",
                html_escape(&decoded_path),
                html_escape(path),
                trailing_slash,
                html_escape(&decoded_path),
            )
            .as_bytes(),
        );
        let mut names: Vec<String> = d
            .filter_map(|ent| Some(ent.ok()?.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        for name in names {
            let _ = evb.add(
                format!(
                    "    <li><a href=\"{}\">{}</a>\n",
                    percent_encode(&name),
                    html_escape(&name)
                )
                .as_bytes(),
            );
        }
        let _ = evb.add(b"</ul></body></html>\n");
        let _ = req.output_headers().add("Content-Type", "text/html");
    } else {
        // Otherwise it's a file; add it to the buffer to get sent via
        // sendfile.
        let content_type = guess_content_type(&decoded_path);
        let file = match std::fs::File::open(&whole_path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("open: {e}");
                return err(req);
            }
        };
        // Make sure the length still matches, now that we opened the file.
        let len = match file.metadata() {
            Ok(m) => m.len(),
            Err(e) => {
                eprintln!("fstat: {e}");
                return err(req);
            }
        };
        let _ = req.output_headers().add("Content-Type", content_type);
        if let Err(e) = evb.add_file(file, 0, Some(len)) {
            eprintln!("evbuffer_add_file: {e}");
            return err(req);
        }
    }
    let _ = req.send_reply(200, "OK", Some(&mut evb));
}

/// The C's `err:` label.
fn err(req: &HttpRequest) {
    let _ = req.send_error(404, None);
}

const USAGE: &str = "usage: compat_http_server [--addr 127.0.0.1:8080] [--root DIR] [--max-body-size N] [--verbose]";

fn print_usage(msg: &str, code: i32) -> ! {
    let text = format!(
        "compat_http_server: {msg}\n{USAGE}\n\
         Serves the files under DIR (default: the current directory) as libevent's\n\
         sample/http-server does; /dump prints requests. Ctrl-C stops it."
    );
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    std::process::exit(code)
}

/// The C's `parse_opts`.
fn parse_opts() -> Options {
    let mut o = Options {
        addr: "127.0.0.1:8080".parse().expect("literal address"),
        verbose: false,
        max_body_size: 0,
        docroot: ".".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(opt) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| print_usage(&format!("{name} needs a value"), 2))
        };
        match opt.as_str() {
            "--addr" => {
                let v = value("--addr");
                o.addr = v
                    .parse()
                    .unwrap_or_else(|_| print_usage(&format!("--addr: not an address: {v}"), 2));
            }
            "--root" => o.docroot = value("--root"),
            "--max-body-size" => {
                let v = value("--max-body-size");
                o.max_body_size = v
                    .parse()
                    .unwrap_or_else(|_| print_usage(&format!("--max-body-size: {v}"), 2));
            }
            "--verbose" => o.verbose = true,
            "-h" | "--help" => print_usage("a static file server on evhttp's API", 0),
            other => print_usage(&format!("unknown option {other}"), 2),
        }
    }
    if !Path::new(&o.docroot).is_dir() {
        print_usage(&format!("--root: not a directory: {}", o.docroot), 2);
    }
    o
}

fn main() {
    let o = Rc::new(parse_opts());
    // Read env like in regress.
    if o.verbose || std::env::var_os("EVENT_DEBUG_LOGGING_ALL").is_some() {
        enable_debug_logging(true);
    }
    let base = match EventBase::new() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("Couldn't create an event_base: exiting ({e})");
            std::process::exit(1);
        }
    };
    // Create a new evhttp object to handle requests.
    let http = match Http::new(&base) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("couldn't create evhttp. Exiting. ({e})");
            std::process::exit(1);
        }
    };
    // The /dump URI will dump all requests to stdout and say 200 ok.
    http.set_cb("/dump", dump_request_cb)
        .expect("a fresh server has no /dump");
    // We want to accept arbitrary requests, so we need to set a "generic"
    // cb. We can also add callbacks for specific paths.
    let opts = o.clone();
    http.set_gencb(move |req| send_document_cb(req, &opts))
        .expect("the server is alive");
    if o.max_body_size > 0 {
        http.set_max_body_size(o.max_body_size)
            .expect("the server is alive");
    }
    let handle = match http.bind_socket_with_handle(&o.addr.ip().to_string(), o.addr.port()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("couldn't bind to {}. Exiting. ({e})", o.addr);
            std::process::exit(1);
        }
    };
    // display_listen_sock
    match handle.local_addr() {
        Ok(addr) => println!(
            "compat_http_server: listening on {addr} root={} pid={}",
            o.docroot,
            std::process::id()
        ),
        Err(e) => {
            eprintln!("getsockname() failed: {e}");
            std::process::exit(1);
        }
    }
    // do_term
    let b = base.handle();
    let term = Event::new_signal(&base, libc::SIGINT, move |_sig, _what| {
        let _ = b.loopbreak();
        eprintln!("Interrupt signal received. Terminating");
    });
    let term = match term.and_then(|t| t.add(None).map(|()| t)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("evsignal: {e}");
            std::process::exit(1);
        }
    };
    let ret = match base.dispatch() {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("event_base_dispatch: {e}");
            1
        }
    };
    drop(http);
    term.free();
    drop(base);
    std::process::exit(ret);
}
