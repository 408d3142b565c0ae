//! Certificates made at test time with rcgen (`#[path = "support/tls.rs"]
//! mod tls_certs;`): a CA, leaves it signs, an expired leaf, a self-signed
//! one, written as PEM files into a fresh temporary directory.

#![allow(dead_code)]

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory of PEM files, removed on drop.
pub struct Certs {
    pub dir: PathBuf,
    ca: Certificate,
    ca_key: KeyPair,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Paths of one certificate and its key.
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    /// A fresh CA in a fresh directory (`ca.pem`).
    pub fn new() -> Certs {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "runtime-tls-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "runtime test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Certs { dir, ca, ca_key }
    }

    /// The CA certificate's PEM file.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn write(&self, name: &str, cert: &Certificate, key: &KeyPair) -> Leaf {
        let leaf = Leaf {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        };
        std::fs::write(&leaf.cert, cert.pem()).unwrap();
        std::fs::write(&leaf.key, key.serialize_pem()).unwrap();
        leaf
    }

    fn leaf_params(names: &[&str]) -> CertificateParams {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params
    }

    /// A leaf for `names` (DNS names or IP addresses) signed by the CA.
    pub fn leaf(&self, name: &str, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = Self::leaf_params(names)
            .signed_by(&key, &self.ca, &self.ca_key)
            .unwrap();
        self.write(name, &cert, &key)
    }

    /// A leaf signed by the CA whose validity ended in 2021.
    pub fn expired_leaf(&self, name: &str, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = Self::leaf_params(names);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        self.write(name, &cert, &key)
    }

    /// A self-signed leaf (no CA vouches for it).
    pub fn self_signed_leaf(&self, name: &str, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = Self::leaf_params(names).self_signed(&key).unwrap();
        self.write(name, &cert, &key)
    }

    /// Writes `text` to a file in the directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Whether `openssl` can be run; with `CI` set its absence fails the test
/// instead (`.ci/run` installs it).
pub fn have_openssl() -> bool {
    let ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "openssl is required when CI is set (apt-get install openssl)"
    );
    ok
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `openssl s_client` connecting to 127.0.0.1:`port` as `localhost`,
/// verifying against `ca` (failing on a bad certificate), quiet, with
/// `extra` arguments; stdin and stdout piped, stderr as given.
pub fn s_client(
    port: u16,
    ca: &Path,
    extra: &[&str],
    stderr: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-verify_return_error"])
        .args(["-CAfile", path_str(ca), "-quiet"])
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("openssl s_client")
}

/// On a thread: `s_client` to `port` sends `ping\n`, reads the 5-byte
/// answer and is killed (so it never sends `close_notify`).
pub fn s_client_ping(port: u16, ca: PathBuf) -> std::thread::JoinHandle<[u8; 5]> {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        let mut child = s_client(port, &ca, &[], std::process::Stdio::null());
        child.stdin.as_mut().unwrap().write_all(b"ping\n").unwrap();
        let mut out = [0u8; 5];
        child.stdout.as_mut().unwrap().read_exact(&mut out).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        out
    })
}

/// A loopback port free a moment ago, for `openssl s_server -accept`,
/// which cannot be handed a listening socket.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
