//! Unit tests of the stream core over in-memory pairs, with a no-op
//! waker (the integration tests in `tests/buffered_stream.rs` use
//! sockets).

use super::*;
use crate::Eol;
use futures_io::AsyncWrite;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn pair_moves_chunks_and_reports_eof() {
    let (mut a, mut b) = pair();
    let mut cx = cx();
    a.output_mut().add(b"hello\nworld").unwrap();
    assert!(a.poll_flush_all(&mut cx).is_ready());
    assert_eq!(a.output().len(), 0);
    assert_eq!(a.get_ref().in_flight(), 11);
    match b.poll_read_line(&mut cx, Eol::Lf) {
        Poll::Ready(Ok(Some(l))) => assert_eq!(l, b"hello"),
        other => panic!("{other:?}"),
    }
    assert!(b.poll_read_line(&mut cx, Eol::Lf).is_pending());
    assert!(a.poll_finish(&mut cx).is_ready());
    assert!(a.is_write_closed());
    match b.poll_read_line(&mut cx, Eol::Lf) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.input().to_vec().unwrap(), b"world");
    assert!(b.is_eof());
}

#[test]
fn high_watermark_bounds_the_input() {
    let (mut a, mut b) = pair();
    let mut cx = cx();
    b.set_read_watermarks(0, 10);
    a.output_mut().add(&[b'x'; 100]).unwrap();
    assert!(a.poll_flush_all(&mut cx).is_ready());
    while let Poll::Ready(Ok(n @ 1..)) = b.poll_fill(&mut cx) {
        assert!(n <= 10);
    }
    assert_eq!(b.input().len(), 10);
    // No line can complete: the line is too long for the input.
    match b.poll_read_line(&mut cx, Eol::Lf) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidData),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pair_capacity_applies_backpressure() {
    let (mut a, b) = pair_with_capacity(8);
    let mut cx = cx();
    a.output_mut().add(&[1u8; 20]).unwrap();
    assert!(a.poll_flush_all(&mut cx).is_pending());
    assert_eq!(a.output().len(), 12);
    drop(b);
    match a.poll_flush_all(&mut cx) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("{other:?}"),
    }
}

#[test]
fn write_after_finish_is_broken_pipe() {
    let (mut a, _b) = pair();
    let mut cx = cx();
    assert!(a.poll_finish(&mut cx).is_ready());
    match Pin::new(&mut a).poll_write(&mut cx, b"x") {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("{other:?}"),
    }
}
