//! Looks a name up with the runtime's resolver and prints one line per
//! answer record with its TTL, like `dig +noall +answer`.
//!
//! ```text
//! cargo run --example dns-lookup -- example.com --type AAAA
//! cargo run --example dns-lookup -- 127.0.0.1 --type PTR --server 127.0.0.1:5353
//! ```
//!
//! Flags: `--type A|AAAA|PTR|MX|TXT|SRV|CNAME|NS|SOA` (A), `--server
//! ADDR:PORT` (default: the nameservers of /etc/resolv.conf, whose search
//! list and options apply), `--timeout SECS` and `--attempts N` (the
//! resolver's; a nameserver that never answers is given up after timeout
//! × attempts). For PTR, NAME may be an IPv4 or IPv6 address. Exit status:
//! 0 with answers; 1 on NXDOMAIN, no data, REFUSED, SERVFAIL, a timeout or
//! a malformed reply (with a message saying which); 2 on bad usage.
//! `SIGINT`/`SIGTERM` abandon the lookup and exit with status 0.

use runtime::dns::wire::RecordType;
use runtime::dns::{reverse_name, Resolver, ResolverConfig};
use std::future::{poll_fn, Future};
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

const USAGE: &str = "usage: dns-lookup NAME [--type A|AAAA|PTR|MX|TXT|SRV|CNAME|NS|SOA] [--server ADDR:PORT] [--timeout SECS] [--attempts N]";

fn usage(msg: &str) -> ! {
    eprintln!("dns-lookup: {msg}\n{USAGE}");
    std::process::exit(2)
}

struct Args {
    name: String,
    qtype: RecordType,
    server: Option<SocketAddr>,
    timeout: Option<Duration>,
    attempts: Option<u32>,
}

fn parse_args() -> Args {
    let mut a = Args {
        name: String::new(),
        qtype: RecordType::A,
        server: None,
        timeout: None,
        attempts: None,
    };
    let mut name = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            println!(
                "dns-lookup: look a name up in the DNS, one line per record with its TTL\n{USAGE}"
            );
            std::process::exit(0);
        }
        if !arg.starts_with("--") {
            if name.replace(arg).is_some() {
                usage("one NAME only");
            }
            continue;
        }
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--type" => {
                a.qtype = match RecordType::from_name(&value) {
                    Some(
                        t @ (RecordType::A
                        | RecordType::AAAA
                        | RecordType::PTR
                        | RecordType::MX
                        | RecordType::TXT
                        | RecordType::SRV
                        | RecordType::CNAME
                        | RecordType::NS
                        | RecordType::SOA),
                    ) => t,
                    _ => usage(&format!("--type: unsupported type {value}")),
                }
            }
            "--server" => {
                a.server = Some(
                    value
                        .parse()
                        .unwrap_or_else(|_| usage(&format!("--server: not ADDR:PORT: {value}"))),
                )
            }
            "--timeout" => {
                a.timeout = match value.parse::<f64>() {
                    Ok(s) if s > 0.0 && s < 3600.0 => Some(Duration::from_secs_f64(s)),
                    _ => usage(&format!(
                        "--timeout: not a positive number of seconds: {value}"
                    )),
                }
            }
            "--attempts" => {
                a.attempts = match value.parse() {
                    Ok(n) if n >= 1 => Some(n),
                    _ => usage(&format!("--attempts: not a positive number: {value}")),
                }
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    a.name = name.unwrap_or_else(|| usage("NAME is required"));
    a
}

async fn lookup(args: &Args) -> Result<Vec<String>, runtime::dns::Error> {
    let mut cfg = match args.server {
        Some(s) => ResolverConfig::new().with_nameserver(s),
        None => ResolverConfig::from_system(),
    };
    if let Some(t) = args.timeout {
        cfg.timeout = t;
    }
    if let Some(n) = args.attempts {
        cfg.attempts = n;
    }
    let resolver = Resolver::new(cfg);
    // For PTR an address stands for its reverse name.
    let name = match (args.qtype, args.name.parse::<IpAddr>()) {
        (RecordType::PTR, Ok(ip)) => reverse_name(ip).to_string(),
        _ => args.name.clone(),
    };
    let answer = resolver.query(&name, args.qtype).await?;
    Ok(answer
        .iter()
        .map(|e| {
            format!(
                "{}\t{}\tIN\t{}\t{}",
                answer.name,
                e.ttl,
                e.value.record_type(),
                e.value
            )
        })
        .collect())
}

fn main() {
    let args = parse_args();
    let code = runtime::block_on(async {
        let (mut int, mut term) = match (
            runtime::signal::signal(libc::SIGINT),
            runtime::signal::signal(libc::SIGTERM),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("dns-lookup: cannot watch signals: {e}");
                return 1;
            }
        };
        let mut work = pin!(lookup(&args));
        let outcome = poll_fn(|cx| {
            if int.poll_recv(cx).is_ready() || term.poll_recv(cx).is_ready() {
                return Poll::Ready(None);
            }
            work.as_mut().poll(cx).map(Some)
        })
        .await;
        match outcome {
            None => {
                eprintln!("dns-lookup: interrupted; lookup abandoned");
                0
            }
            Some(Ok(lines)) => {
                for l in lines {
                    println!("{l}");
                }
                0
            }
            Some(Err(e)) => {
                eprintln!("dns-lookup: {} {}: {e}", args.name, args.qtype);
                1
            }
        }
    });
    std::process::exit(code);
}
