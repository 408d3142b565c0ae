//! Every named `SignalKind` is delivered to its listener when the process
//! raises it; names map to the right numbers; refused kinds fail.

use runtime::signal::{signal, SignalKind};
use runtime::time::timeout;
use std::time::Duration;

#[test]
fn each_named_signal_is_delivered_via_raise() {
    let kinds = [
        ("hangup", SignalKind::hangup(), libc::SIGHUP),
        ("interrupt", SignalKind::interrupt(), libc::SIGINT),
        ("terminate", SignalKind::terminate(), libc::SIGTERM),
        ("quit", SignalKind::quit(), libc::SIGQUIT),
        ("user_defined1", SignalKind::user_defined1(), libc::SIGUSR1),
        ("user_defined2", SignalKind::user_defined2(), libc::SIGUSR2),
        ("window_change", SignalKind::window_change(), libc::SIGWINCH),
        ("alarm", SignalKind::alarm(), libc::SIGALRM),
        ("child", SignalKind::child(), libc::SIGCHLD),
        ("pipe", SignalKind::pipe(), libc::SIGPIPE),
        ("io", SignalKind::io(), libc::SIGIO),
    ];
    runtime::block_on(async {
        for (name, kind, num) in kinds {
            assert_eq!(kind.as_raw_value(), num, "{name}");
            assert_eq!(SignalKind::from(num), kind);
            let mut listener = signal(kind).unwrap();
            assert_eq!(listener.signum(), num);
            // Another listener of a different signal must not fire.
            let mut other = signal(if num == libc::SIGUSR1 {
                SignalKind::user_defined2()
            } else {
                SignalKind::user_defined1()
            })
            .unwrap();
            // SAFETY: raise only sends a signal to this thread; a handler
            // is installed for it by `signal` above, so the default action
            // (terminating the test) does not run.
            assert_eq!(unsafe { libc::raise(num) }, 0, "{name}");
            timeout(Duration::from_secs(10), listener.recv())
                .await
                .unwrap_or_else(|_| panic!("{name} not delivered"));
            assert!(
                timeout(Duration::from_millis(20), other.recv())
                    .await
                    .is_err(),
                "{name} woke another signal's listener"
            );
        }
        // Numbers still work, and KILL/STOP are refused by name or number.
        assert!(signal(libc::SIGUSR1).is_ok());
        for bad in [
            SignalKind::from_raw(libc::SIGKILL),
            SignalKind::from_raw(libc::SIGSTOP),
        ] {
            let e = signal(bad).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        }
    });
}
