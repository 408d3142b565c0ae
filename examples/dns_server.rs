//! An authoritative DNS server answering from a hosts-format file: A, AAAA
//! and PTR over UDP and TCP (libevent's evdns server port, as futures).
//!
//! ```text
//! cargo run --release --example dns-server -- --addr 127.0.0.1:5353 --hosts /etc/hosts
//! dns-server: listening on 127.0.0.1:5353 (udp+tcp) threads=1 names=3 pid=12345
//! dig @127.0.0.1 -p 5353 localhost A
//! ```
//!
//! Flags: `--addr ADDR` (127.0.0.1:5353; port 0 picks a free port),
//! `--hosts FILE` (required: `ADDRESS NAME [ALIAS...]` lines, `#`
//! comments, tabs, IPv6, a name on several lines gets every address),
//! `--threads N` (1; N > 1 runs one server per worker thread on the same
//! port with `SO_REUSEPORT`), `--ttl SECS` (60). Known names without
//! records of the asked type get an empty NOERROR answer, unknown names
//! NXDOMAIN, other classes REFUSED. UDP answers over 512 bytes (or the
//! client's EDNS0 size) are truncated with TC and served whole over TCP.
//! `SIGINT` or `SIGTERM` stops it cleanly (exit status 0).

use runtime::dns::wire::{Message, RData, Rcode, Record, RecordType, CLASS_IN};
use runtime::dns::{ip_from_reverse_name, DnsServer, Hosts, Request};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

struct Args {
    addr: SocketAddr,
    hosts: PathBuf,
    threads: usize,
    ttl: u32,
}

const USAGE: &str =
    "usage: dns-server --hosts FILE [--addr 127.0.0.1:5353] [--threads N] [--ttl SECS]";

fn usage(msg: &str) -> ! {
    eprintln!("dns-server: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut addr: SocketAddr = "127.0.0.1:5353".parse().expect("literal address");
    let mut hosts = None;
    let mut threads = 1;
    let mut ttl = 60;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "dns-server: an authoritative DNS server (A, AAAA, PTR over UDP and TCP) from a hosts file\n{USAGE}"
            );
            std::process::exit(0);
        }
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => {
                addr = value
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {value}")))
            }
            "--hosts" => hosts = Some(PathBuf::from(value)),
            "--threads" => {
                threads = match value.parse() {
                    Ok(n) if n >= 1 => n,
                    _ => usage(&format!("--threads: not a positive number: {value}")),
                }
            }
            "--ttl" => {
                ttl = value
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--ttl: not a number: {value}")))
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let hosts = hosts.unwrap_or_else(|| usage("--hosts FILE is required"));
    Args {
        addr,
        hosts,
        threads,
        ttl,
    }
}

/// The answer to one query from the hosts table.
fn answer(hosts: &Hosts, ttl: u32, req: &Request) -> Message {
    let q = req.question();
    if q.qclass != CLASS_IN {
        return req.response(Rcode::REFUSED);
    }
    let name = &q.name;
    let mut records = Vec::new();
    let known;
    match q.qtype {
        RecordType::A => {
            known = hosts.contains(name);
            for &a in hosts.ipv4(name) {
                records.push(Record::new(name.clone(), ttl, RData::A(a)));
            }
        }
        RecordType::AAAA => {
            known = hosts.contains(name);
            for &a in hosts.ipv6(name) {
                records.push(Record::new(name.clone(), ttl, RData::Aaaa(a)));
            }
        }
        RecordType::PTR => {
            let names = ip_from_reverse_name(name).map_or(&[][..], |ip| hosts.names(ip));
            known = !names.is_empty();
            for n in names {
                records.push(Record::new(name.clone(), ttl, RData::Ptr(n.clone())));
            }
        }
        _ => {
            known = hosts.contains(name)
                || ip_from_reverse_name(name).is_some_and(|ip| !hosts.names(ip).is_empty())
        }
    }
    if known {
        req.answer(records)
    } else {
        req.response(Rcode::NXDOMAIN)
    }
}

async fn serve(server: DnsServer, hosts: Arc<Hosts>, ttl: u32) -> io::Result<()> {
    let hosts = Rc::new((*hosts).clone());
    server
        .serve(move |req| {
            let resp = answer(&hosts, ttl, &req);
            async move { resp }
        })
        .await
}

/// Waits for SIGINT or SIGTERM; returns its name.
async fn wait_signal(
    int: &mut runtime::signal::Signal,
    term: &mut runtime::signal::Signal,
) -> &'static str {
    poll_fn(|cx| {
        if int.poll_recv(cx).is_ready() {
            Poll::Ready("SIGINT")
        } else if term.poll_recv(cx).is_ready() {
            Poll::Ready("SIGTERM")
        } else {
            Poll::Pending
        }
    })
    .await
}

fn main() -> io::Result<()> {
    let args = parse_args();
    let hosts = match Hosts::from_file(&args.hosts) {
        Ok(h) => Arc::new(h),
        Err(e) => {
            eprintln!("dns-server: {}: {e}", args.hosts.display());
            std::process::exit(1);
        }
    };
    if hosts.skipped() > 0 {
        eprintln!(
            "dns-server: {}: skipped {} unreadable entries",
            args.hosts.display(),
            hosts.skipped()
        );
    }
    let pid = std::process::id();
    let ttl = args.ttl;
    let mut builder = runtime::Builder::new();
    if args.threads > 1 {
        builder = builder.threads(args.threads);
    }
    let rt = builder.build()?;
    let handle = rt.handle();
    let signal = rt.block_on(async {
        let mut int = runtime::signal::signal(libc::SIGINT)?;
        let mut term = runtime::signal::signal(libc::SIGTERM)?;
        let mut workers = Vec::new();
        let local = if args.threads == 1 {
            let server = DnsServer::bind(args.addr).await?;
            let local = server.local_addr()?;
            workers.push(runtime::spawn(serve(server, hosts.clone(), ttl)));
            local
        } else {
            // The first worker binds (choosing the port if 0), the others
            // join it on the same port.
            let mut local = args.addr;
            for w in 0..args.threads {
                let hosts = hosts.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                let remote = handle.spawn_on(w, move || async move {
                    let server = match DnsServer::bind_with(local, true).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = tx.send(server.local_addr());
                    if let Err(e) = serve(server, hosts, ttl).await {
                        eprintln!("dns-server: worker {w}: {e}");
                    }
                })?;
                // A blocking wait, once per worker at start-up.
                local = rx.recv().map_err(|_| io::Error::other("worker exited"))??;
                drop(remote);
            }
            local
        };
        println!(
            "dns-server: listening on {local} (udp+tcp) threads={} names={} pid={pid}",
            args.threads,
            hosts.len()
        );
        let signal = wait_signal(&mut int, &mut term).await;
        for w in workers {
            w.abort();
        }
        Ok::<_, io::Error>(signal)
    })?;
    eprintln!("dns-server: {signal}: exiting");
    drop(rt);
    Ok(())
}
