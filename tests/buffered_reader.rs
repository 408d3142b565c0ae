//! Line reading on the read half of a split TCP stream (`into_split()` +
//! `BufferedReader`), with the write half buffered too (`BufferedWriter`); end of
//! stream mid-line, over-long lines, bad UTF-8 and writes refused.

use futures_core::Stream;
use runtime::io::{BufferError, BufferedReader, BufferedStream, BufferedWriter, Eol};
use runtime::net::{TcpListener, TcpStream};
use runtime::time::timeout;
use runtime::{block_on, spawn};
use std::future::poll_fn;
use std::io::ErrorKind;
use std::pin::Pin;
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(20);

async fn connected() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

#[test]
fn lines_on_a_read_half_while_the_write_half_answers() {
    block_on(async {
        let (client, server) = connected().await;
        // Server: reads lines from its read half, answers on its write half.
        let server = spawn(async move {
            let (rd, wr) = server.into_split();
            let mut lines = BufferedReader::from_reader(rd).lines(Eol::Lf);
            let mut out = BufferedWriter::from_writer(wr);
            let mut n = 0;
            while let Some(line) = lines.next_line().await.unwrap() {
                out.write_all(format!("{}:{}\n", n, line.to_uppercase()).as_bytes())
                    .await
                    .unwrap();
                out.flush().await.unwrap();
                n += 1;
            }
            n
        });
        let (rd, wr) = client.into_split();
        let mut out = BufferedWriter::from_writer(wr);
        let mut replies = BufferedReader::from_reader(rd);
        for i in 0..100 {
            out.write_all(format!("line {i}\n").as_bytes())
                .await
                .unwrap();
            out.flush().await.unwrap();
            let r = timeout(BOUND, replies.read_line(Eol::Lf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.unwrap(), format!("{i}:LINE {i}").as_bytes());
        }
        // Closing our write half ends the server's lines.
        out.finish().await.unwrap();
        drop(out);
        assert_eq!(timeout(BOUND, server).await.unwrap().unwrap(), 100);
        assert_eq!(replies.read_line(Eol::Lf).await.unwrap(), None);
    });
}

#[test]
fn lines_as_a_stream_and_failure_paths() {
    block_on(async {
        // A Stream of lines; then end of stream in the middle of a line.
        let (client, server) = connected().await;
        let mut w = BufferedStream::new(client);
        w.write_all(b"a\r\nb\npartial").await.unwrap();
        w.finish().await.unwrap();
        drop(w);
        let (rd, _wr) = server.into_split();
        let mut lines = BufferedReader::from_reader(rd).lines(Eol::Any);
        let mut got = Vec::new();
        let err = loop {
            match poll_fn(|cx| Pin::new(&mut lines).poll_next(cx)).await {
                Some(Ok(l)) => got.push(l),
                Some(Err(e)) => break e,
                None => panic!("end of stream without the partial line's error"),
            }
        };
        assert_eq!(got, ["a", "b"]);
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);

        // Over-long line; bad UTF-8; writing to a reader.
        let (client, server) = connected().await;
        let mut w = BufferedStream::new(client);
        w.write_all(&[b'x'; 100]).await.unwrap();
        w.write_all(b"\n\xff\xfe\n").await.unwrap();
        w.flush().await.unwrap();
        let (rd, _wr) = server.into_split();
        let mut r = BufferedReader::from_reader(rd);
        r.set_max_line(10);
        let e = r.read_line(Eol::Lf).await.unwrap_err();
        assert!(matches!(
            e.get_ref().and_then(|e| e.downcast_ref()),
            Some(BufferError::LineTooLong)
        ));
        r.set_max_line(1 << 20);
        assert_eq!(r.read_line(Eol::Lf).await.unwrap().unwrap().len(), 100);
        let mut lines = r.lines(Eol::Lf);
        assert_eq!(
            lines.next_line().await.unwrap_err().kind(),
            ErrorKind::InvalidData
        );

        let mut r = lines.into_inner();
        r.write_all(b"no").await.unwrap(); // buffered only
        assert_eq!(r.flush().await.unwrap_err().kind(), ErrorKind::Unsupported);
    });
}
