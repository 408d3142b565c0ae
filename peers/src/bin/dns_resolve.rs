//! Resolver load for `benches/dns_compare.sh`: `-n N` A lookups of
//! `--name NAME` against `--server ADDR:PORT` with `-c C` in flight, on one
//! thread, by this runtime's resolver (`--impl runtime`) or by
//! hickory-resolver on a current-thread tokio runtime (`--impl hickory`);
//! caches off, so every lookup is a query. With `--cache-hits M` it
//! instead measures cache hits: one lookup fills the cache, then M
//! sequential lookups of the same name are timed.
//!
//! Prints one line:
//! `dns_resolve impl=runtime n=100000 c=100 secs=0.91 qps=109890 errors=0`
//! or `dns_resolve impl=runtime cache_hits=1000000 ns_per_hit=95`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

struct Args {
    imp: String,
    server: SocketAddr,
    name: String,
    n: usize,
    c: usize,
    cache_hits: usize,
    /// Runtime only: UDP sockets per nameserver and queries per socket
    /// (0: the resolver's defaults).
    sockets: usize,
    socket_queries: u32,
}

fn parse() -> Args {
    let mut a = Args {
        imp: "runtime".into(),
        server: "127.0.0.1:5353".parse().unwrap(),
        name: "host1.test.".into(),
        n: 100_000,
        c: 100,
        cache_hits: 0,
        sockets: 0,
        socket_queries: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        if f == "--help" || f == "-h" {
            println!("usage: dns_resolve [--impl runtime|hickory] [--server ADDR:PORT] [--name NAME] [-n N] [-c C] [--cache-hits M] [--sockets S] [--socket-queries Q]");
            std::process::exit(0);
        }
        let v = it.next().expect("flag needs a value");
        match f.as_str() {
            "--impl" => a.imp = v,
            "--server" => a.server = v.parse().expect("ADDR:PORT"),
            "--name" => a.name = v,
            "-n" => a.n = v.parse().unwrap(),
            "-c" => a.c = v.parse().unwrap(),
            "--cache-hits" => a.cache_hits = v.parse().unwrap(),
            "--sockets" => a.sockets = v.parse().unwrap(),
            "--socket-queries" => a.socket_queries = v.parse().unwrap(),
            _ => panic!("unknown flag {f}"),
        }
    }
    a
}

fn report(a: &Args, secs: f64, errors: usize) {
    println!(
        "dns_resolve impl={} n={} c={} secs={secs:.3} qps={:.0} errors={errors}",
        a.imp,
        a.n,
        a.c,
        a.n as f64 / secs
    );
}

fn run_runtime(a: &Args) {
    use runtime::dns::{Resolver, ResolverConfig};
    runtime::block_on(async {
        let mut cfg = ResolverConfig::new().with_nameserver(a.server);
        cfg.max_inflight = a.c.max(1);
        if a.sockets > 0 {
            cfg.udp_sockets = a.sockets;
        }
        if a.socket_queries > 0 {
            cfg.udp_socket_queries = a.socket_queries;
        }
        if a.cache_hits == 0 {
            cfg.cache_size = 0;
        }
        let r = Resolver::new(cfg);
        if a.cache_hits > 0 {
            r.resolve_ipv4(&a.name).await.expect("first lookup");
            let t = Instant::now();
            for _ in 0..a.cache_hits {
                let x = r.resolve_ipv4(&a.name).await.expect("cache hit");
                std::hint::black_box(x);
            }
            let ns = t.elapsed().as_nanos() as f64 / a.cache_hits as f64;
            println!(
                "dns_resolve impl=runtime cache_hits={} ns_per_hit={ns:.0}",
                a.cache_hits
            );
            return;
        }
        let errors = Rc::new(std::cell::Cell::new(0usize));
        let t = Instant::now();
        let per = a.n / a.c;
        let mut tasks = Vec::new();
        for _ in 0..a.c {
            let r = r.clone();
            let name = a.name.clone();
            let errors = errors.clone();
            tasks.push(runtime::spawn(async move {
                for _ in 0..per {
                    if r.resolve_ipv4(&name).await.is_err() {
                        errors.set(errors.get() + 1);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        report(a, t.elapsed().as_secs_f64(), errors.get());
    });
}

fn run_hickory(a: &Args) {
    use hickory_resolver::config::{NameServerConfig, Protocol, ResolverConfig, ResolverOpts};
    use hickory_resolver::TokioAsyncResolver;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut cfg = ResolverConfig::new();
        cfg.add_name_server(NameServerConfig::new(a.server, Protocol::Udp));
        let mut opts = ResolverOpts::default();
        opts.cache_size = if a.cache_hits == 0 { 0 } else { 1024 };
        opts.attempts = 2;
        let r = Rc::new(TokioAsyncResolver::tokio(cfg, opts));
        if a.cache_hits > 0 {
            r.ipv4_lookup(a.name.as_str()).await.expect("first lookup");
            let t = Instant::now();
            for _ in 0..a.cache_hits {
                let x = r.ipv4_lookup(a.name.as_str()).await.expect("cache hit");
                std::hint::black_box(x);
            }
            let ns = t.elapsed().as_nanos() as f64 / a.cache_hits as f64;
            println!(
                "dns_resolve impl=hickory cache_hits={} ns_per_hit={ns:.0}",
                a.cache_hits
            );
            return;
        }
        let errors = Rc::new(std::cell::Cell::new(0usize));
        let local = tokio::task::LocalSet::new();
        let t = Instant::now();
        let per = a.n / a.c;
        local
            .run_until(async {
                let mut tasks = Vec::new();
                for _ in 0..a.c {
                    let r = r.clone();
                    let name = a.name.clone();
                    let errors = errors.clone();
                    tasks.push(tokio::task::spawn_local(async move {
                        for _ in 0..per {
                            if r.ipv4_lookup(name.as_str()).await.is_err() {
                                errors.set(errors.get() + 1);
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            })
            .await;
        report(a, t.elapsed().as_secs_f64(), errors.get());
    });
}

fn main() {
    let a = parse();
    match a.imp.as_str() {
        "runtime" => run_runtime(&a),
        "hickory" => run_hickory(&a),
        other => panic!("unknown --impl {other}"),
    }
}
