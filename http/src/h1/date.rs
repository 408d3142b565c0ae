//! The `Date` header value (IMF-fixdate), formatted once per second per
//! thread; whether the second has changed is read from the reactor's
//! cached clock, so a response costs no clock read of its own.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Cached {
    /// When the text goes stale (the next second starts).
    until: Option<Instant>,
    text: [u8; 29],
}

thread_local! {
    static CACHE: RefCell<Cached> = const { RefCell::new(Cached { until: None, text: [0; 29] }) };
}

/// Calls `f` with the current date as an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let t = runtime_reactor::time::now();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.until.is_none_or(|until| t >= until) {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            c.text = format_date(wall.as_secs());
            let left =
                Duration::from_secs(1) - Duration::from_nanos(u64::from(wall.subsec_nanos()));
            c.until = Some(t + left);
        }
        f(&c.text)
    })
}

/// Formats seconds since the epoch as an IMF-fixdate.
pub fn format_date(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    let mut out = [0u8; 29];
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    out[3] = b',';
    out[4] = b' ';
    two(&mut out[5..7], d as u64);
    out[7] = b' ';
    out[8..11].copy_from_slice(MONTHS[(mo - 1) as usize]);
    out[11] = b' ';
    let y = y.clamp(0, 9999) as u64;
    two(&mut out[12..14], y / 100);
    two(&mut out[14..16], y % 100);
    out[16] = b' ';
    two(&mut out[17..19], h);
    out[19] = b':';
    two(&mut out[20..22], m);
    out[22] = b':';
    two(&mut out[23..25], s);
    out[25..].copy_from_slice(b" GMT");
    out
}

fn two(dst: &mut [u8], v: u64) {
    dst[0] = b'0' + (v / 10 % 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(&format_date(784111777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format_date(951782400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format_date(4102444799), b"Thu, 31 Dec 2099 23:59:59 GMT");
    }
}
