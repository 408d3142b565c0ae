//! The machinery behind [`select!`](crate::select): each branch is a
//! future with a precondition and a pattern; the select future polls the
//! enabled branches (from a random one, or in order when `biased;`) and
//! returns the first output that matches its branch's pattern.

use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The output of branch 0 (`Here`) or of a later one (`Next`).
pub enum Out<A, B> {
    /// This branch finished.
    Here(A),
    /// A later branch finished.
    Next(B),
}

/// The output type after the last branch: there is none.
pub enum Never {}

/// What polling one branch gave.
pub enum Step<T> {
    /// The branch finished with an output matching its pattern.
    Ready(T),
    /// The branch is still running.
    Pending,
    /// The branch is disabled (precondition false, or its output did not
    /// match its pattern).
    Disabled,
}

/// A list of branches.
pub trait Branches {
    /// The nested [`Out`] of the branches' outputs.
    type Output;
    /// How many branches.
    const LEN: usize;
    /// Polls branch `i`.
    fn poll_branch(self: Pin<&mut Self>, i: usize, cx: &mut Context<'_>) -> Step<Self::Output>;
}

/// The empty list.
pub struct Nil;

impl Branches for Nil {
    type Output = Never;
    const LEN: usize = 0;
    fn poll_branch(self: Pin<&mut Self>, _: usize, _: &mut Context<'_>) -> Step<Never> {
        Step::Disabled
    }
}

pin_project! {
    /// A branch followed by the rest of the list.
    pub struct Cons<F, P, R> {
        #[pin]
        fut: F,
        pred: P,
        enabled: bool,
        #[pin]
        rest: R,
    }
}

/// Puts a branch before `rest`.
pub fn cons<F, P, R>(fut: F, enabled: bool, pred: P, rest: R) -> Cons<F, P, R>
where
    F: Future,
    P: FnMut(&F::Output) -> bool,
{
    Cons {
        fut,
        pred,
        enabled,
        rest,
    }
}

impl<F, P, R> Branches for Cons<F, P, R>
where
    F: Future,
    P: FnMut(&F::Output) -> bool,
    R: Branches,
{
    type Output = Out<F::Output, R::Output>;
    const LEN: usize = 1 + R::LEN;

    fn poll_branch(self: Pin<&mut Self>, i: usize, cx: &mut Context<'_>) -> Step<Self::Output> {
        let this = self.project();
        if i > 0 {
            return match this.rest.poll_branch(i - 1, cx) {
                Step::Ready(v) => Step::Ready(Out::Next(v)),
                Step::Pending => Step::Pending,
                Step::Disabled => Step::Disabled,
            };
        }
        if !*this.enabled {
            return Step::Disabled;
        }
        match this.fut.poll(cx) {
            Poll::Ready(v) => {
                if (this.pred)(&v) {
                    Step::Ready(Out::Here(v))
                } else {
                    *this.enabled = false;
                    Step::Disabled
                }
            }
            Poll::Pending => Step::Pending,
        }
    }
}

pin_project! {
    /// Polls the branches; `None` once all are disabled.
    pub struct Select<B> {
        #[pin]
        branches: B,
        biased: bool,
    }
}

/// The select future over `branches`.
pub fn select<B: Branches>(branches: B, biased: bool) -> Select<B> {
    Select { branches, biased }
}

impl<B: Branches> Future for Select<B> {
    type Output = Option<B::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let start = if *this.biased || B::LEN < 2 {
            0
        } else {
            crate::future::random_below(B::LEN)
        };
        let mut pending = false;
        for k in 0..B::LEN {
            let i = (start + k) % B::LEN;
            match this.branches.as_mut().poll_branch(i, cx) {
                Step::Ready(v) => return Poll::Ready(Some(v)),
                Step::Pending => pending = true,
                Step::Disabled => {}
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }
}

/// Waits on several futures at once and runs the branch of the first to
/// finish; the others are dropped. Written like tokio's:
///
/// ```text
/// runtime::select! {
///     [biased;]
///     <pattern> = <future> [, if <precondition>] => <expression>,
///     ...
///     [else => <expression>]
/// }
/// ```
///
/// All `<future>` expressions are evaluated first; a branch whose
/// precondition is false is not polled. The enabled futures are then
/// polled, starting from a random branch (in order with `biased;`), in the
/// calling task. When one finishes and its output matches `<pattern>`,
/// the other futures are dropped and its expression runs with the
/// pattern's bindings (it may `return`, `break`, `continue` or use `?`
/// for the enclosing function). An output that does not match disables
/// its branch. When every branch is disabled, the `else` expression runs;
/// without one, `select!` panics.
///
/// Must be used inside an `async` context.
///
/// # Cancel safety
///
/// The futures of the branches that did not finish are dropped: use
/// futures that lose nothing when dropped (the methods with a "Cancel
/// safety" section that says so), or pass `&mut fut` of a future created
/// before a loop so it carries on in the next round.
///
/// ```
/// use runtime::sync::mpsc;
/// use runtime::time::sleep;
/// use std::time::Duration;
///
/// #[runtime::main]
/// async fn main() {
///     let (tx, rx) = mpsc::channel::<u32>(1);
///     runtime::spawn(async move { tx.send(7).await.unwrap() });
///     let got = runtime::select! {
///         Ok(v) = rx.recv() => v,
///         _ = sleep(Duration::from_secs(5)) => 0,
///     };
///     assert_eq!(got, 7);
/// }
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($rest:tt)*) => {
        $crate::__select_parse!(@ true; []; []; $($rest)*)
    };
    ($($rest:tt)*) => {
        $crate::__select_parse!(@ false; []; []; $($rest)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // The `else` branch.
    (@ $b:tt; [$($br:tt)*]; []; else => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@ $b; [$($br)*]; [$body]; $($rest)*)
    };
    (@ $b:tt; [$($br:tt)*]; []; else => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@ $b; [$($br)*]; [$body]; $($($rest)*)?)
    };
    // A branch with a precondition.
    (@ $b:tt; [$($br:tt)*]; [$($e:tt)*]; $p:pat = $f:expr, if $c:expr => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@ $b; [$($br)* [($p) ($f) ($c) ($body)]]; [$($e)*]; $($rest)*)
    };
    (@ $b:tt; [$($br:tt)*]; [$($e:tt)*]; $p:pat = $f:expr, if $c:expr => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@ $b; [$($br)* [($p) ($f) ($c) ($body)]]; [$($e)*]; $($($rest)*)?)
    };
    // A branch.
    (@ $b:tt; [$($br:tt)*]; [$($e:tt)*]; $p:pat = $f:expr => $body:block $(,)? $($rest:tt)*) => {
        $crate::__select_parse!(@ $b; [$($br)* [($p) ($f) (true) ($body)]]; [$($e)*]; $($rest)*)
    };
    (@ $b:tt; [$($br:tt)*]; [$($e:tt)*]; $p:pat = $f:expr => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@ $b; [$($br)* [($p) ($f) (true) ($body)]]; [$($e)*]; $($($rest)*)?)
    };
    // Done.
    (@ $b:tt; [$($br:tt)+]; [$($e:tt)*];) => {{
        #[allow(unused_variables, unreachable_patterns, clippy::redundant_pattern_matching)]
        let __select_branches = $crate::__select_cons!($($br)*);
        let __select_out = $crate::__private::select::select(__select_branches, $b).await;
        match __select_out {
            ::core::option::Option::Some(__select_out) => $crate::__select_match!(__select_out; $($br)*),
            ::core::option::Option::None => $crate::__select_else!($($e)*),
        }
    }};
    (@ $b:tt; []; [$($e:tt)*];) => {
        ::core::compile_error!("select! needs at least one `pattern = future => expression` branch")
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_cons {
    () => { $crate::__private::select::Nil };
    ([($p:pat) ($f:expr) ($c:expr) ($($body:tt)*)] $($rest:tt)*) => {
        $crate::__private::select::cons(
            $f,
            $c,
            |__select_v| ::core::matches!(__select_v, $p),
            $crate::__select_cons!($($rest)*),
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_match {
    ($o:ident;) => { match $o {} };
    ($o:ident; [($p:pat) ($f:expr) ($c:expr) ($($body:tt)*)] $($rest:tt)*) => {
        match $o {
            $crate::__private::select::Out::Here($p) => $($body)*,
            #[allow(unreachable_patterns)]
            $crate::__private::select::Out::Here(_) => ::core::unreachable!("select!: the branch's pattern matched once"),
            $crate::__private::select::Out::Next($o) => $crate::__select_match!($o; $($rest)*),
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_else {
    () => {
        ::core::panic!("select!: every branch is disabled and there is no `else` branch")
    };
    ($body:tt) => {
        $body
    };
}

/// Awaits several futures concurrently in the calling task and returns
/// their outputs as a tuple (up to 8 futures). Must be used inside an
/// `async` context.
///
/// ```
/// #[runtime::main]
/// async fn main() {
///     let (a, b, c) = runtime::join!(async { 1 }, async { "two" }, async { 3.0 });
///     assert_eq!((a, b, c), (1, "two", 3.0));
/// }
/// ```
#[macro_export]
macro_rules! join {
    ($a:expr $(,)?) => {
        ($a.await,)
    };
    ($a:expr, $b:expr $(,)?) => {
        $crate::future::zip($a, $b).await
    };
    ($a:expr, $b:expr, $c:expr $(,)?) => {{
        let (a, (b, c)) = $crate::join!($a, $crate::future::zip($b, $c));
        (a, b, c)
    }};
    ($a:expr, $b:expr, $c:expr, $d:expr $(,)?) => {{
        let (a, (b, c, d)) = $crate::future::zip($a, async { $crate::join!($b, $c, $d) }).await;
        (a, b, c, d)
    }};
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr $(,)?) => {{
        let (a, (b, c, d, e)) =
            $crate::future::zip($a, async { $crate::join!($b, $c, $d, $e) }).await;
        (a, b, c, d, e)
    }};
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr $(,)?) => {{
        let (a, (b, c, d, e, f)) =
            $crate::future::zip($a, async { $crate::join!($b, $c, $d, $e, $f) }).await;
        (a, b, c, d, e, f)
    }};
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr, $g:expr $(,)?) => {{
        let (a, (b, c, d, e, f, g)) =
            $crate::future::zip($a, async { $crate::join!($b, $c, $d, $e, $f, $g) }).await;
        (a, b, c, d, e, f, g)
    }};
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr, $g:expr, $h:expr $(,)?) => {{
        let (a, (b, c, d, e, f, g, h)) =
            $crate::future::zip($a, async { $crate::join!($b, $c, $d, $e, $f, $g, $h) }).await;
        (a, b, c, d, e, f, g, h)
    }};
}

/// Like [`join!`](crate::join) for futures returning `Result`s with one
/// error type: `Ok` with the tuple of values, or the first error as soon
/// as one fails (the other futures are dropped). Up to 8 futures.
///
/// ```
/// #[runtime::main]
/// async fn main() {
///     let ok: Result<(u8, u8), &str> = runtime::try_join!(async { Ok(1) }, async { Ok(2) });
///     assert_eq!(ok, Ok((1, 2)));
///     let err: Result<(u8, u8), &str> =
///         runtime::try_join!(async { Err("no") }, std::future::pending());
///     assert_eq!(err, Err("no"));
/// }
/// ```
#[macro_export]
macro_rules! try_join {
    ($a:expr $(,)?) => { $a.await.map(|a| (a,)) };
    ($a:expr, $b:expr $(,)?) => { $crate::future::try_zip($a, $b).await };
    ($a:expr, $($rest:expr),+ $(,)?) => {
        $crate::__try_join_flat!($crate::future::try_zip($a, async { $crate::try_join!($($rest),+) }).await; $($rest),+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __try_join_flat {
    ($r:expr; $b:expr, $c:expr) => {
        $r.map(|(a, (b, c))| (a, b, c))
    };
    ($r:expr; $b:expr, $c:expr, $d:expr) => {
        $r.map(|(a, (b, c, d))| (a, b, c, d))
    };
    ($r:expr; $b:expr, $c:expr, $d:expr, $e:expr) => {
        $r.map(|(a, (b, c, d, e))| (a, b, c, d, e))
    };
    ($r:expr; $b:expr, $c:expr, $d:expr, $e:expr, $f:expr) => {
        $r.map(|(a, (b, c, d, e, f))| (a, b, c, d, e, f))
    };
    ($r:expr; $b:expr, $c:expr, $d:expr, $e:expr, $f:expr, $g:expr) => {
        $r.map(|(a, (b, c, d, e, f, g))| (a, b, c, d, e, f, g))
    };
    ($r:expr; $b:expr, $c:expr, $d:expr, $e:expr, $f:expr, $g:expr, $h:expr) => {
        $r.map(|(a, (b, c, d, e, f, g, h))| (a, b, c, d, e, f, g, h))
    };
}
