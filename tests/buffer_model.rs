//! Model test for `runtime::io::Buffer`: thousands of random sequences of
//! operations run against a `Vec<u8>` model, with byte-for-byte equality
//! (two independent copy paths) and `len` checked after every step.
//!
//! Deterministic (a small xorshift generator, no proptest): set
//! `BUFFER_MODEL_CASES` / `BUFFER_MODEL_STEPS` to run more, and
//! `BUFFER_MODEL_SEED` to replay one failing case (its seed is in the panic
//! message).
//!
//! Some steps make a user callback panic in the middle of an operation (a
//! reference's cleanup or the change callback, see `panicking_step`): the
//! buffers must then be exactly as the operation leaves them without the
//! panic.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

use runtime::io::{Buffer, BufferError, Eol, FileSegment, Shared, Side};

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    /// Bytes from a small alphabet, so lines and matches are frequent.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ab\r\n\0xab\r\nab";
        let n = if self.chance(10) {
            self.below(max * 8 + 1)
        } else {
            self.below(max + 1)
        };
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len())])
            .collect()
    }
    fn eol(&mut self) -> Eol {
        [Eol::Any, Eol::Crlf, Eol::CrlfStrict, Eol::Lf, Eol::Nul][self.below(5)]
    }
}

/// libevent's end-of-line rules, written independently over a flat slice.
fn model_find_eol(m: &[u8], start: usize, eol: Eol) -> Option<(usize, usize)> {
    let find = |b: u8| {
        m.get(start..)?
            .iter()
            .position(|&c| c == b)
            .map(|i| i + start)
    };
    match eol {
        Eol::Lf => find(b'\n').map(|p| (p, 1)),
        Eol::Nul => find(0).map(|p| (p, 1)),
        Eol::CrlfStrict => model_search(m, b"\r\n", start, m.len()).map(|p| (p, 2)),
        Eol::Crlf => find(b'\n').map(|p| {
            if p > start && m[p - 1] == b'\r' {
                (p - 1, 2)
            } else {
                (p, 1)
            }
        }),
        Eol::Any => {
            let p = m
                .get(start..)?
                .iter()
                .position(|&c| c == b'\r' || c == b'\n')?
                + start;
            let run = m[p..]
                .iter()
                .take_while(|&&c| c == b'\r' || c == b'\n')
                .count();
            Some((p, run))
        }
    }
}

fn model_search(m: &[u8], needle: &[u8], start: usize, end: usize) -> Option<usize> {
    let end = end.min(m.len());
    if needle.is_empty() {
        return (start <= end).then_some(start);
    }
    if start >= end {
        return None;
    }
    m[start..end]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + start)
}

/// `readln_max` semantics by brute force: a line is too long when no
/// continuation of the data can end it within `max` bytes.
fn model_readln_max(m: &[u8], eol: Eol, max: usize) -> Result<Option<(usize, usize)>, ()> {
    match model_find_eol(m, 0, eol) {
        Some((p, l)) if p <= max => return Ok(Some((p, l))),
        Some(_) => return Err(()),
        None => {}
    }
    for ext in [&b"\n"[..], b"\r\n", b"\0"] {
        let mut e = m.to_vec();
        e.extend_from_slice(ext);
        if matches!(model_find_eol(&e, 0, eol), Some((p, _)) if p <= max) {
            return Ok(None);
        }
    }
    Err(())
}

struct Case {
    rng: Rng,
    seed: u64,
    step: usize,
    a: Buffer,
    ma: Vec<u8>,
    b: Buffer,
    mb: Vec<u8>,
    file_seg: FileSegment,
    file_path: PathBuf,
    file_bytes: Arc<Vec<u8>>,
    refs_added: Arc<AtomicUsize>,
    refs_cleaned: Arc<AtomicUsize>,
    cb_totals: Arc<Mutex<(usize, usize)>>,
    cb_on_a: bool,
    pipe: (UnixStream, UnixStream),
    /// When set, the next reference cleanup panics (after counting).
    arm_cleanup: Arc<AtomicBool>,
    /// When set, the next change callback panics (after counting).
    arm_callback: Arc<AtomicBool>,
}

/// The payload of the panics the model provokes.
const BOOM: &str = "model: provoked panic in a user callback";

/// Silences the provoked panics' messages (and only those).
fn quiet_provoked_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&BOOM) {
                default(info);
            }
        }));
    });
}

/// How many provoked panics were caught.
static PROVOKED: AtomicUsize = AtomicUsize::new(0);

/// Runs `f`; a panic other than a provoked one is passed on.
fn tolerate_boom<R>(f: impl FnOnce() -> R) -> Option<R> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(e) if e.downcast_ref::<&str>() == Some(&BOOM) => {
            PROVOKED.fetch_add(1, Ordering::SeqCst);
            None
        }
        Err(e) => panic::resume_unwind(e),
    }
}

impl Case {
    fn ctx(&self, what: &str) -> String {
        format!("seed {} step {} op {}", self.seed, self.step, what)
    }

    fn check(&self, what: &str) {
        let ctx = self.ctx(what);
        for (buf, model, name) in [(&self.a, &self.ma, "a"), (&self.b, &self.mb, "b")] {
            assert_eq!(buf.len(), model.len(), "{ctx}: len of {name}");
            assert_eq!(buf.is_empty(), model.is_empty(), "{ctx}");
            let v = buf.to_vec().unwrap();
            assert!(v == *model, "{ctx}: content of {name}: {v:?} != {model:?}");
            let mut out = vec![0u8; model.len() + 3];
            assert_eq!(buf.copyout(&mut out).unwrap(), model.len(), "{ctx}");
            assert_eq!(&out[..model.len()], &model[..], "{ctx}: copyout of {name}");
            let (added, drained) = buf.counters();
            assert_eq!(
                added - drained,
                model.len() as u64,
                "{ctx}: counters of {name}"
            );
            let peeked: Vec<u8> = buf.peek(usize::MAX).flatten().copied().collect();
            assert!(model.starts_with(&peeked), "{ctx}: peek of {name}");
        }
        let (added, deleted) = *self.cb_totals.lock().unwrap();
        let (ta, td) = if self.cb_on_a {
            self.a.counters()
        } else {
            self.b.counters()
        };
        assert_eq!(
            (added as u64, deleted as u64),
            (ta, td),
            "{ctx}: callback totals"
        );
    }

    fn swap(&mut self) {
        std::mem::swap(&mut self.a, &mut self.b);
        std::mem::swap(&mut self.ma, &mut self.mb);
        self.cb_on_a = !self.cb_on_a;
    }

    fn step(&mut self) {
        let big = self.ma.len() > 1500;
        let mut op = self.rng.below(26);
        // Miri cannot emulate readv/writev on a socketpair: under Miri the
        // two socket steps are replaced by other operations.
        while cfg!(miri) && (op == 22 || op == 23) {
            op = self.rng.below(26);
        }
        let what = match op {
            0 | 1 if !big => {
                let data = self.rng.bytes(12);
                self.a.add(&data).unwrap();
                self.ma.extend_from_slice(&data);
                "add"
            }
            2 if !big => {
                let data = self.rng.bytes(12);
                let shared: Shared = match self.rng.below(3) {
                    0 => Shared::from(data.clone()),
                    1 => Shared::from(Arc::<[u8]>::from(&data[..])),
                    _ => Shared::from(data.clone().into_boxed_slice()),
                };
                let cleaned = self.refs_cleaned.clone();
                let arm = self.arm_cleanup.clone();
                self.refs_added.fetch_add(1, Ordering::SeqCst);
                self.a
                    .add_reference_with_cleanup(shared, move || {
                        cleaned.fetch_add(1, Ordering::SeqCst);
                        if arm.swap(false, Ordering::SeqCst) {
                            panic::panic_any(BOOM);
                        }
                    })
                    .unwrap();
                self.ma.extend_from_slice(&data);
                "add_reference"
            }
            3 if !big => {
                let data = self.rng.bytes(12);
                self.a.prepend(&data).unwrap();
                prepend_model(&mut self.ma, &data);
                "prepend"
            }
            4 | 5 => {
                let n = self.rng.below(self.ma.len() + 5);
                let got = self.a.drain(n).unwrap();
                assert_eq!(got, n.min(self.ma.len()), "{}", self.ctx("drain"));
                self.ma.drain(..got);
                "drain"
            }
            6 => {
                let mut out = vec![0u8; self.rng.below(self.ma.len() + 5)];
                let got = self.a.remove(&mut out).unwrap();
                let want = out.len().min(self.ma.len());
                assert_eq!(got, want, "{}", self.ctx("remove"));
                assert_eq!(&out[..got], &self.ma[..got], "{}", self.ctx("remove"));
                self.ma.drain(..got);
                "remove"
            }
            7 => {
                let pos = self.rng.below(self.ma.len() + 3);
                let mut out = vec![0u8; self.rng.below(20)];
                match self.a.copyout_from(pos, &mut out) {
                    Ok(got) => {
                        assert!(pos <= self.ma.len(), "{}", self.ctx("copyout_from"));
                        let want = out.len().min(self.ma.len() - pos);
                        assert_eq!(got, want, "{}", self.ctx("copyout_from"));
                        assert_eq!(
                            &out[..got],
                            &self.ma[pos..pos + got],
                            "{}",
                            self.ctx("copyout_from")
                        );
                    }
                    Err(BufferError::OutOfRange) => assert!(pos > self.ma.len()),
                    Err(e) => panic!("{}: {e}", self.ctx("copyout_from")),
                }
                "copyout_from"
            }
            8 => {
                if self.rng.chance(2) {
                    self.swap();
                }
                // Into a: callbacks of a see an add; the other buffer is drained.
                if self.ma.len() + self.mb.len() < 3000 {
                    self.a.add_buffer(&mut self.b).unwrap();
                    let moved = std::mem::take(&mut self.mb);
                    self.ma.extend_from_slice(&moved);
                }
                "add_buffer"
            }
            9 => {
                if self.rng.chance(2) {
                    self.swap();
                }
                let n = self.rng.below(self.ma.len() + 4);
                let moved = self.a.remove_buffer(&mut self.b, n).unwrap();
                assert_eq!(moved, n.min(self.ma.len()), "{}", self.ctx("remove_buffer"));
                let part: Vec<u8> = self.ma.drain(..moved).collect();
                self.mb.extend_from_slice(&part);
                "remove_buffer"
            }
            10 => {
                if self.rng.chance(2) {
                    self.swap();
                }
                if self.ma.len() + self.mb.len() < 3000 {
                    self.a.prepend_buffer(&mut self.b).unwrap();
                    let moved = std::mem::take(&mut self.mb);
                    prepend_model(&mut self.ma, &moved);
                }
                "prepend_buffer"
            }
            11 => {
                let n = self.rng.below(self.ma.len() + 3);
                let ctx = self.ctx("pullup");
                match self.a.pullup(n) {
                    Ok(s) => {
                        assert_eq!(s, &self.ma[..n], "{ctx}");
                    }
                    Err(BufferError::OutOfRange) => assert!(n > self.ma.len()),
                    Err(e) => panic!("{}: {e}", self.ctx("pullup")),
                }
                "pullup"
            }
            12 | 13 if !big => {
                let n = self.rng.below(40);
                let data = self.rng.bytes(40);
                let space = self.a.reserve(n).unwrap();
                assert_eq!(space.len(), n, "{}", self.ctx("reserve"));
                let k = data.len().min(n);
                space[..k].copy_from_slice(&data[..k]);
                if self.rng.chance(3) {
                    assert!(matches!(
                        self.a.commit(n + 1),
                        Err(BufferError::InvalidCommit)
                    ));
                }
                if self.rng.chance(4) {
                    // Reserving again hands out the same space.
                    let ctx = self.ctx("reserve again");
                    let again = self.a.reserve(n).unwrap();
                    assert_eq!(&again[..k], &data[..k], "{ctx}");
                }
                let commit = self.rng.below(k + 1);
                self.a.commit(commit).unwrap();
                self.ma.extend_from_slice(&data[..commit]);
                // The reservation is used up.
                if commit > 0 {
                    assert!(matches!(self.a.commit(1), Err(BufferError::InvalidCommit)));
                }
                "reserve+commit"
            }
            14 | 15 => {
                let eol = self.rng.eol();
                let got = self.a.readln(eol).unwrap();
                match model_find_eol(&self.ma, 0, eol) {
                    Some((p, l)) => {
                        assert_eq!(
                            got.as_deref(),
                            Some(&self.ma[..p]),
                            "{}",
                            self.ctx("readln")
                        );
                        self.ma.drain(..p + l);
                    }
                    None => assert_eq!(got, None, "{}", self.ctx("readln")),
                }
                "readln"
            }
            16 => {
                let eol = self.rng.eol();
                let max = self.rng.below(self.ma.len() + 3);
                let got = self.a.readln_max(eol, max);
                match (model_readln_max(&self.ma, eol, max), got) {
                    (Ok(Some((p, l))), Ok(Some(line))) => {
                        assert_eq!(line, &self.ma[..p], "{}", self.ctx("readln_max"));
                        self.ma.drain(..p + l);
                    }
                    (Ok(None), Ok(None)) => {}
                    (Err(()), Err(BufferError::LineTooLong)) => {}
                    (want, got) => panic!(
                        "{}: {eol:?} max {max} on {:?}: want {want:?}, got {got:?}",
                        self.ctx("readln_max"),
                        self.ma
                    ),
                }
                "readln_max"
            }
            17 | 18 => {
                let needle = if self.rng.chance(2) && !self.ma.is_empty() {
                    let s = self.rng.below(self.ma.len());
                    let l = 1 + self.rng.below(6.min(self.ma.len() - s));
                    self.ma[s..s + l].to_vec()
                } else {
                    let mut n = self.rng.bytes(4);
                    if n.is_empty() && self.rng.chance(2) {
                        n.push(b'a');
                    }
                    n
                };
                let start = self.rng.below(self.ma.len() + 2);
                let end = self.rng.below(self.ma.len() + 4);
                let ctx = self.ctx("search");
                assert_eq!(
                    self.a.search(&needle).unwrap(),
                    model_search(&self.ma, &needle, 0, self.ma.len()),
                    "{ctx}"
                );
                let from = if start <= self.ma.len() {
                    model_search(&self.ma, &needle, start, self.ma.len())
                } else {
                    None
                };
                assert_eq!(self.a.search_from(&needle, start).unwrap(), from, "{ctx}");
                assert_eq!(
                    self.a.search_range(&needle, start, end).unwrap(),
                    model_search(&self.ma, &needle, start, end),
                    "{ctx}: range {start}..{end} for {needle:?}"
                );
                "search"
            }
            19 => {
                let eol = self.rng.eol();
                let pos = self.rng.below(self.ma.len() + 1);
                assert_eq!(
                    self.a.search_eol(pos, eol).unwrap(),
                    model_find_eol(&self.ma, pos, eol),
                    "{}",
                    self.ctx("search_eol")
                );
                "search_eol"
            }
            20 => {
                // Frozen ends refuse, leave everything unchanged.
                let side = if self.rng.chance(2) {
                    Side::Front
                } else {
                    Side::Back
                };
                self.a.freeze(side, true);
                let frozen = |r: Result<(), BufferError>| matches!(r, Err(BufferError::Frozen(s)) if s == side);
                match side {
                    Side::Front => {
                        assert!(frozen(self.a.drain(1).map(drop)));
                        assert!(frozen(self.a.remove(&mut [0u8; 4]).map(drop)));
                        assert!(frozen(self.a.prepend(b"x")));
                        assert!(frozen(self.a.readln(Eol::Any).map(drop)));
                        assert!(frozen(self.a.remove_buffer(&mut self.b, 1).map(drop)));
                        assert!(frozen(self.b.add_buffer(&mut self.a)));
                        // The back still works.
                        self.a.add(b"ab").unwrap();
                        self.ma.extend_from_slice(b"ab");
                    }
                    Side::Back => {
                        assert!(frozen(self.a.add(b"x")));
                        assert!(frozen(self.a.add_reference(&b"x"[..])));
                        assert!(frozen(self.a.reserve(4).map(drop)));
                        assert!(frozen(self.a.commit(0)));
                        assert!(frozen(self.a.add_buffer(&mut self.b)));
                        assert!(frozen(self.b.remove_buffer(&mut self.a, 1).map(drop)));
                        assert!(frozen(self.a.add_file_segment(&self.file_seg, 0, Some(1))));
                        assert!(write!(self.a, "x").is_err());
                        // The front still works.
                        let n = self.a.drain(1).unwrap();
                        self.ma.drain(..n);
                    }
                }
                self.check("frozen");
                self.a.freeze(side, false);
                "freeze"
            }
            21 if !big => {
                // File segments: read with pread wherever bytes are looked at.
                let off = self.rng.below(self.file_bytes.len());
                let len = self.rng.below(24.min(self.file_bytes.len() - off) + 1);
                if self.rng.chance(4) {
                    let f = File::open(&self.file_path).unwrap();
                    self.a.add_file(f, off as u64, Some(len as u64)).unwrap();
                } else {
                    self.a
                        .add_file_segment(&self.file_seg, off as u64, Some(len as u64))
                        .unwrap();
                }
                self.ma.extend_from_slice(&self.file_bytes[off..off + len]);
                "add_file"
            }
            22 => {
                // Out through a socket (writev / sendfile / pread+write) …
                let max = self.rng.below(self.ma.len() + 2);
                if self.rng.chance(3) {
                    self.a.set_sendfile(false);
                }
                let n = self.a.write_atmost(&self.pipe.0, max).unwrap();
                self.a.set_sendfile(true);
                assert!(n <= max.min(self.ma.len()), "{}", self.ctx("write_atmost"));
                let mut got = vec![0u8; n];
                self.pipe.1.read_exact(&mut got).unwrap();
                assert_eq!(&got[..], &self.ma[..n], "{}", self.ctx("write_atmost"));
                self.ma.drain(..n);
                "write_atmost"
            }
            23 if !big => {
                // … and back in through readv.
                let data = self.rng.bytes(40);
                self.pipe.1.write_all(&data).unwrap();
                let mut got = 0;
                while got < data.len() {
                    let max = 1 + self.rng.below(data.len());
                    got += self.a.read_from(&self.pipe.0, max).unwrap();
                }
                self.ma.extend_from_slice(&data);
                "read_from"
            }
            24 => self.panicking_step(),
            _ => {
                // Formatted append and the size limit.
                if self.rng.chance(2) {
                    let v = self.rng.below(1000);
                    write!(self.a, "v={v};").unwrap();
                    self.ma.extend_from_slice(format!("v={v};").as_bytes());
                } else {
                    let limit = self.ma.len() + self.rng.below(4);
                    self.a.set_max_size(limit);
                    let data = b"0123456789";
                    let fits = limit - self.ma.len();
                    assert!(matches!(self.a.add(data), Err(BufferError::TooLarge)));
                    assert!(matches!(
                        self.a.reserve(fits + 1),
                        Err(BufferError::TooLarge)
                    ));
                    self.a.add(&data[..fits]).unwrap();
                    self.ma.extend_from_slice(&data[..fits]);
                    self.a.set_max_size(usize::MAX);
                }
                "write!/max_size"
            }
        };
        self.check(what);
    }
}

impl Case {
    /// An operation during which one user callback panics (if the
    /// operation gets to run one): the model is updated first, as if
    /// nothing panicked, and `check` then compares.
    fn panicking_step(&mut self) -> &'static str {
        let arm = if self.rng.chance(2) {
            &self.arm_cleanup
        } else {
            &self.arm_callback
        };
        arm.store(true, Ordering::SeqCst);
        let n = self.rng.below(self.ma.len() + 3);
        let what = match self.rng.below(5) {
            0 => {
                let want = n.min(self.ma.len());
                self.ma.drain(..want);
                if let Some(got) = tolerate_boom(|| self.a.drain(n)) {
                    assert_eq!(got.unwrap(), want, "{}", self.ctx("drain (panicking)"));
                }
                "drain (panicking)"
            }
            1 => {
                let mut out = vec![0u8; n];
                let want = n.min(self.ma.len());
                tolerate_boom(|| self.a.remove(&mut out));
                assert_eq!(&out[..want], &self.ma[..want], "{}", self.ctx("remove"));
                self.ma.drain(..want);
                "remove (panicking)"
            }
            2 => {
                let eol = self.rng.eol();
                let mut line = b"kept:".to_vec();
                let found = model_find_eol(&self.ma, 0, eol);
                tolerate_boom(|| self.a.readln_into(eol, &mut line));
                let mut want = b"kept:".to_vec();
                if let Some((p, l)) = found {
                    want.extend(self.ma.drain(..p + l).take(p));
                }
                assert_eq!(line, want, "{}", self.ctx("readln_into (panicking)"));
                "readln_into (panicking)"
            }
            3 => {
                let n = n.min(self.ma.len());
                tolerate_boom(|| self.a.pullup(n).map(drop));
                "pullup (panicking)"
            }
            _ => {
                if self.rng.chance(2) {
                    self.swap();
                }
                let want = n.min(self.ma.len());
                let part: Vec<u8> = self.ma.drain(..want).collect();
                self.mb.extend_from_slice(&part);
                tolerate_boom(|| self.a.remove_buffer(&mut self.b, n));
                "remove_buffer (panicking)"
            }
        };
        self.arm_cleanup.store(false, Ordering::SeqCst);
        self.arm_callback.store(false, Ordering::SeqCst);
        what
    }
}

fn prepend_model(m: &mut Vec<u8>, data: &[u8]) {
    let mut v = data.to_vec();
    v.extend_from_slice(m);
    *m = v;
}

fn temp_file(bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "runtime-buffer-model-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_case(seed: u64, steps: usize, file_path: &PathBuf, file_bytes: &Arc<Vec<u8>>) {
    let mut rng = Rng::new(seed);
    let sizes = [1, 2, 3, 5, 8, 16, 64, 4096];
    let a = Buffer::with_chunk_size(sizes[rng.below(sizes.len())]);
    let b = Buffer::with_chunk_size(sizes[rng.below(sizes.len())]);
    let file_seg = FileSegment::new(File::open(file_path).unwrap(), 0, None).unwrap();
    let pipe = UnixStream::pair().unwrap();
    let mut case = Case {
        rng,
        seed,
        step: 0,
        a,
        ma: Vec::new(),
        b,
        mb: Vec::new(),
        file_seg,
        file_path: file_path.clone(),
        file_bytes: file_bytes.clone(),
        refs_added: Arc::new(AtomicUsize::new(0)),
        refs_cleaned: Arc::new(AtomicUsize::new(0)),
        cb_totals: Arc::new(Mutex::new((0, 0))),
        cb_on_a: true,
        pipe,
        arm_cleanup: Arc::new(AtomicBool::new(false)),
        arm_callback: Arc::new(AtomicBool::new(false)),
    };
    let totals = case.cb_totals.clone();
    let arm = case.arm_callback.clone();
    let id = case.a.on_change(move |c| {
        let mut t = totals.lock().unwrap();
        t.0 += c.added;
        t.1 += c.deleted;
        drop(t);
        if arm.swap(false, Ordering::SeqCst) {
            panic::panic_any(BOOM);
        }
    });
    for step in 0..steps {
        case.step = step;
        case.step();
    }
    // a and b may have been swapped: the callback lives on one of them.
    let on_a = case.a.remove_callback(id);
    let on_b = case.b.remove_callback(id);
    assert!(on_a ^ on_b, "seed {seed}: callback registered once");
    let (refs_added, refs_cleaned) = (case.refs_added.clone(), case.refs_cleaned.clone());
    drop(case);
    assert_eq!(
        refs_added.load(Ordering::SeqCst),
        refs_cleaned.load(Ordering::SeqCst),
        "seed {seed}: every reference cleanup ran exactly once"
    );
}

#[test]
fn random_operation_sequences_match_a_vec_model() {
    quiet_provoked_panics();
    let mut rng = Rng::new(12345);
    let file_bytes: Arc<Vec<u8>> = Arc::new(
        (0..1024)
            .map(|i| b"ab\r\n\0x"[(rng.next() as usize + i) % 6])
            .collect(),
    );
    let file_path = temp_file(&file_bytes);
    let steps = env("BUFFER_MODEL_STEPS", 150) as usize;
    if let Ok(seed) = std::env::var("BUFFER_MODEL_SEED") {
        run_case(seed.parse().unwrap(), steps, &file_path, &file_bytes);
    } else {
        let cases = env("BUFFER_MODEL_CASES", 1500);
        for seed in 0..cases {
            run_case(seed, steps, &file_path, &file_bytes);
        }
        // About one provoked panic per ten cases at least (1500 cases: > 100).
        assert!(
            PROVOKED.load(Ordering::SeqCst) as u64 > cases / 15,
            "the panicking steps provoked panics"
        );
    }
    std::fs::remove_file(&file_path).unwrap();
}
