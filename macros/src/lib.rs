//! `#[runtime::main]` and `#[runtime::test]`.
//!
//! Both attributes turn an `async fn` into a plain `fn` whose body runs the original body on a
//! runtime: `::runtime::block_on(async move { BODY })`, or, with `method = "..."` and/or
//! `threads = N` / `threads = "auto"`, a runtime built with `::runtime::Builder`
//! (`.ignore_env(true).method("...")`, `.threads(N)` / `.threads_auto()`) whose `block_on` runs
//! the body.
//!
//! The crate has no dependencies: the function is split with a small parser over
//! [`proc_macro::TokenTree`]s, and the user's tokens are spliced back unchanged so that errors in
//! user code keep pointing at user code.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Runs an `async fn main` on the runtime.
///
/// The function is rewritten into a plain `fn` with the same attributes, visibility, name and
/// return type, whose body is run by `runtime::block_on` (a single-threaded runtime that is
/// dropped, with any task still left on it, when the body completes). `return` and `?` behave
/// as they do in the `async fn`.
///
/// ```ignore
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let config = std::fs::read_to_string("app.toml")?;
///     println!("{} bytes of configuration", config.len());
///     Ok(())
/// }
/// ```
///
/// expands to
///
/// ```ignore
/// fn main() -> std::io::Result<()> {
///     ::runtime::block_on(async move {
///         let config = std::fs::read_to_string("app.toml")?;
///         println!("{} bytes of configuration", config.len());
///         Ok(())
///     })
/// }
/// ```
///
/// # Arguments
///
/// - `method = "poll"`: build the runtime on the named backend (`"epoll"`, `"poll"`,
///   `"select"`, ...) with `runtime::Builder`, whatever the `EVENT_NO*` environment variables
///   say (they steer the default choice only); the program panics at start-up if that backend
///   is not available.
/// - `threads = N` / `threads = "auto"`: also start the per-thread executor, `N` worker
///   threads (at least 1) or one per CPU, with `runtime::Builder::new().threads(N)` /
///   `.threads_auto()`. The body still runs on the calling thread (so `runtime::spawn` in it
///   stays there); reach the workers with `runtime::Handle::current()`. When the body
///   completes, the runtime is dropped: the workers drop their remaining tasks and are joined.
///   Combinable with `method`, which then applies to every worker.
///
/// The function must be `async`, take no arguments and have no generic parameters.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Main, attr, item)
}

/// Runs an `async fn` test on a fresh runtime.
///
/// The function becomes a `#[test] fn` with the same name and return type (so tests returning
/// `Result` work), and its body is run by `runtime::block_on`. Every other attribute, such as
/// `#[ignore]` or `#[should_panic]`, is kept. Do not add `#[test]` yourself.
///
/// ```ignore
/// #[runtime::test]
/// async fn reads_back() -> std::io::Result<()> {
///     let text = std::fs::read_to_string("Cargo.toml")?;
///     assert!(text.contains("[package]"));
///     Ok(())
/// }
///
/// #[runtime::test(method = "select")]
/// #[should_panic(expected = "boom")]
/// async fn panics_on_select() {
///     panic!("boom");
/// }
/// ```
///
/// The arguments are those of [`macro@main`].
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Test, attr, item)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[runtime::main]",
            Kind::Test => "#[runtime::test]",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Main => "the main function",
            Kind::Test => "a test function",
        }
    }
}

fn entry(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let (args, errors) = parse_args(kind, attr);
    let mut out: TokenStream = errors.into_iter().map(Error::into_tokens).collect();
    let checked = parse_fn(kind, item.clone()).and_then(|func| match check_fn(kind, &func) {
        Some(error) => Err(error),
        None => Ok(func),
    });
    match checked {
        // On argument errors only, still expand (with the defaults), so that the body is checked.
        Ok(func) => out.extend(expand(kind, &args, func)),
        Err(error) => {
            out.extend(error.into_tokens());
            out.extend(fallback(kind, item));
        }
    }
    out
}

/// What to emit, after the error, for a function that cannot be expanded: the item unchanged,
/// so that ours is the only error (no "`main` function not found" for a plain `fn main`),
/// except that an `async fn main` would add "`main` function is not allowed to be `async`": it
/// is replaced by an empty `fn main() {}`.
fn fallback(kind: Kind, item: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = item.clone().into_iter().collect();
    let is_async_main = kind == Kind::Main
        && tokens.windows(2).any(|pair| match pair {
            [TokenTree::Ident(f), TokenTree::Ident(name)] => {
                f.to_string() == "fn" && name.to_string() == "main"
            }
            _ => false,
        })
        && tokens
            .iter()
            .any(|token| matches!(token, TokenTree::Ident(ident) if ident.to_string() == "async"));
    if is_async_main {
        code("fn main() {}")
    } else {
        item
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

struct Error {
    message: String,
    start: Span,
    end: Span,
}

impl Error {
    fn new(span: Span, message: impl Into<String>) -> Error {
        Error::spanning(span, span, message)
    }

    fn spanning(start: Span, end: Span, message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            start,
            end,
        }
    }

    /// `::core::compile_error! { "message" }`, the path spanned at `start` and the braces at
    /// `end`, so that the reported error covers `start..end`.
    fn into_tokens(self) -> TokenStream {
        let mut tokens: Vec<TokenTree> = vec![
            Punct::new(':', Spacing::Joint).into(),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("core", self.start).into(),
            Punct::new(':', Spacing::Joint).into(),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("compile_error", self.start).into(),
            Punct::new('!', Spacing::Alone).into(),
        ];
        for token in &mut tokens {
            token.set_span(self.start);
        }
        let mut message = Literal::string(&self.message);
        message.set_span(self.end);
        let mut group = Group::new(Delimiter::Brace, TokenTree::from(message).into());
        group.set_span(self.end);
        tokens.push(group.into());
        tokens.into_iter().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments

#[derive(Default)]
struct Args {
    /// The backend name, a string literal spliced as written.
    method: Option<Literal>,
    /// The worker threads of the per-thread executor.
    threads: Option<Threads>,
}

enum Threads {
    /// `threads = N`: the integer literal, spliced as written.
    Count(Literal),
    /// `threads = "auto"`: one per CPU.
    Auto,
}

/// The value of a decimal integer literal (`4`, `1_000`, `8usize`), if it is one.
fn int_value(lit: &Literal) -> Option<u128> {
    let text = lit.to_string();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    if digits.is_empty() || !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // `threads` takes a `usize`: no other suffix would type-check.
    if !suffix.is_empty() && suffix != "usize" {
        return None;
    }
    digits.replace('_', "").parse().ok()
}

const ACCEPTED: &str = "`method = \"<backend>\"` (e.g. `method = \"poll\"`) and \
                        `threads = N` / `threads = \"auto\"`";

fn parse_args(kind: Kind, attr: TokenStream) -> (Args, Vec<Error>) {
    let mut args = Args::default();
    let mut errors = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    let mut chunks: Vec<Vec<TokenTree>> = Vec::new();
    for token in attr {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => chunks.push(std::mem::take(&mut current)),
            _ => current.push(token),
        }
    }
    chunks.push(current);

    for chunk in chunks.into_iter().filter(|chunk| !chunk.is_empty()) {
        let start = chunk[0].span();
        let end = chunk[chunk.len() - 1].span();
        let TokenTree::Ident(name) = &chunk[0] else {
            errors.push(Error::spanning(
                start,
                end,
                format!(
                    "expected an argument of the form `name = value`; {} accepts {}",
                    kind.attr(),
                    ACCEPTED
                ),
            ));
            continue;
        };
        let name = name.to_string();
        match name.as_str() {
            "threads" => {
                let threads = match &chunk[1..] {
                    [TokenTree::Punct(eq), TokenTree::Literal(lit)] if eq.as_char() == '=' => {
                        if lit.to_string() == "\"auto\"" {
                            Some(Threads::Auto)
                        } else {
                            match int_value(lit) {
                                Some(0) => {
                                    errors.push(Error::spanning(
                                        start,
                                        end,
                                        "`threads` must be at least 1",
                                    ));
                                    continue;
                                }
                                Some(_) => Some(Threads::Count(lit.clone())),
                                None => None,
                            }
                        }
                    }
                    _ => None,
                };
                let Some(threads) = threads else {
                    errors.push(Error::spanning(
                        start,
                        end,
                        "`threads` takes a number of worker threads or \"auto\", \
                         e.g. `threads = 4` or `threads = \"auto\"`",
                    ));
                    continue;
                };
                if args.threads.is_some() {
                    errors.push(Error::spanning(start, end, "`threads` is given twice"));
                } else {
                    args.threads = Some(threads);
                }
            }
            "method" => {
                let literal = match &chunk[1..] {
                    [TokenTree::Punct(eq), TokenTree::Literal(lit)]
                        if eq.as_char() == '=' && is_str_literal(lit) =>
                    {
                        lit.clone()
                    }
                    _ => {
                        errors.push(Error::spanning(
                            start,
                            end,
                            "`method` takes a backend name as a string, e.g. `method = \"poll\"`",
                        ));
                        continue;
                    }
                };
                if args.method.is_some() {
                    errors.push(Error::spanning(start, end, "`method` is given twice"));
                } else {
                    args.method = Some(literal);
                }
            }
            _ => errors.push(Error::spanning(
                start,
                end,
                format!(
                    "unknown argument `{}`; {} accepts {}",
                    name,
                    kind.attr(),
                    ACCEPTED
                ),
            )),
        }
    }
    (args, errors)
}

fn is_str_literal(lit: &Literal) -> bool {
    let text = lit.to_string();
    text.starts_with('"') || text.starts_with("r\"") || text.starts_with("r#")
}

// ---------------------------------------------------------------------------------------------
// The function

struct Func {
    /// Outer attributes, verbatim (`#` and the bracket group).
    attrs: Vec<TokenTree>,
    /// `pub`, `pub(crate)`, ... or nothing.
    vis: Vec<TokenTree>,
    /// `const`, `unsafe`, `extern "C"`: every qualifier but `async`.
    qualifiers: Vec<TokenTree>,
    is_async: bool,
    fn_token: Ident,
    name: Ident,
    params: Group,
    /// Everything between the parameters and the body: `-> Type`, possibly a `where` clause.
    output: Vec<TokenTree>,
    body: Group,
}

fn parse_fn(kind: Kind, item: TokenStream) -> Result<Func, Error> {
    let mut tokens = item.into_iter().peekable();
    let not_a_fn = |span: Span| {
        Error::new(
            span,
            format!("{} can only be applied to an `async fn`", kind.attr()),
        )
    };

    let mut attrs = Vec::new();
    while let Some(TokenTree::Punct(p)) = tokens.peek() {
        if p.as_char() != '#' {
            break;
        }
        attrs.push(tokens.next().unwrap());
        match tokens.next() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
                attrs.push(g.into());
            }
            Some(other) => return Err(not_a_fn(other.span())),
            None => return Err(not_a_fn(Span::call_site())),
        }
    }

    let mut vis = Vec::new();
    if let Some(TokenTree::Ident(ident)) = tokens.peek() {
        if ident.to_string() == "pub" {
            vis.push(tokens.next().unwrap());
            if let Some(TokenTree::Group(g)) = tokens.peek() {
                if g.delimiter() == Delimiter::Parenthesis {
                    vis.push(tokens.next().unwrap());
                }
            }
        }
    }

    let mut qualifiers = Vec::new();
    let mut is_async = false;
    let fn_token = loop {
        match tokens.next() {
            Some(TokenTree::Ident(ident)) => match ident.to_string().as_str() {
                "fn" => break ident,
                "async" => is_async = true,
                "const" | "unsafe" | "extern" => qualifiers.push(ident.into()),
                _ => return Err(not_a_fn(ident.span())),
            },
            // The ABI string of `extern "C"`.
            Some(TokenTree::Literal(lit)) if !qualifiers.is_empty() => qualifiers.push(lit.into()),
            Some(other) => return Err(not_a_fn(other.span())),
            None => return Err(not_a_fn(Span::call_site())),
        }
    };

    let name = match tokens.next() {
        Some(TokenTree::Ident(ident)) => ident,
        Some(other) => return Err(Error::new(other.span(), "expected the function name")),
        None => return Err(Error::new(fn_token.span(), "expected the function name")),
    };

    if let Some(TokenTree::Punct(p)) = tokens.peek() {
        if p.as_char() == '<' {
            return Err(Error::new(
                p.span(),
                format!("{} cannot have generic parameters", kind.what()),
            ));
        }
    }

    let params = match tokens.next() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => g,
        Some(other) => return Err(Error::new(other.span(), "expected the parameter list")),
        None => return Err(Error::new(name.span(), "expected the parameter list")),
    };

    let mut rest: Vec<TokenTree> = tokens.collect();
    let body = match rest.pop() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g,
        Some(other) => return Err(Error::new(other.span(), "expected the function body")),
        None => return Err(Error::new(params.span(), "expected the function body")),
    };

    Ok(Func {
        attrs,
        vis,
        qualifiers,
        is_async,
        fn_token,
        name,
        params,
        output: rest,
        body,
    })
}

fn check_fn(kind: Kind, func: &Func) -> Option<Error> {
    if !func.is_async {
        return Some(Error::new(
            func.fn_token.span(),
            "the `async` keyword is missing from the function declaration",
        ));
    }
    if !func.params.stream().is_empty() {
        return Some(Error::new(
            func.params.span(),
            format!("{} cannot take arguments", kind.what()),
        ));
    }
    if kind == Kind::Test {
        let mut attrs = func.attrs.iter();
        while let (Some(hash), Some(TokenTree::Group(group))) = (attrs.next(), attrs.next()) {
            if is_test_attr(group) {
                return Some(Error::spanning(
                    hash.span(),
                    group.span(),
                    "#[runtime::test] already adds #[test]; remove this one",
                ));
            }
        }
    }
    None
}

/// Whether the attribute is the built-in `#[test]`: `test`, `core::prelude::v1::test`, ...
fn is_test_attr(group: &Group) -> bool {
    let mut segments = Vec::new();
    for token in group.stream() {
        match token {
            TokenTree::Ident(ident) => segments.push(ident.to_string()),
            TokenTree::Punct(p) if p.as_char() == ':' => {}
            _ => return false,
        }
    }
    match segments.as_slice() {
        [only] => only == "test",
        [first, .., last] => (first == "core" || first == "std") && last == "test",
        [] => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Expansion

fn expand(kind: Kind, args: &Args, func: Func) -> TokenStream {
    let mut out = TokenStream::new();
    if kind == Kind::Test {
        out.extend(code("#[::core::prelude::v1::test]"));
    }
    out.extend(func.attrs);
    out.extend(func.vis);
    out.extend(func.qualifiers);
    out.extend([
        TokenTree::from(func.fn_token),
        func.name.into(),
        func.params.into(),
    ]);
    out.extend(func.output);

    // async move { BODY }: the user's braces, with their span, become the async block.
    let mut future = code("async move");
    future.extend([TokenTree::from(func.body.clone())]);

    // `.threads(N)` / `.threads_auto()`, or nothing.
    let threads = match &args.threads {
        None => TokenStream::new(),
        Some(Threads::Auto) => code(".threads_auto()"),
        Some(Threads::Count(n)) => {
            let mut call = code(".threads");
            call.extend([paren(TokenTree::from(n.clone()).into())]);
            call
        }
    };
    let expect = ".expect(\"runtime: cannot build the runtime\").block_on";
    let mut block = match (&args.method, &args.threads) {
        (None, None) => code("::runtime::block_on"),
        (Some(method), _) => {
            // ::runtime::Builder::new().ignore_env(true).method(M)
            //     .and_then(|b| b THREADS .build()).expect(..)
            let mut call = code("::runtime::Builder::new().ignore_env(true).method");
            call.extend([paren(TokenTree::from(method.clone()).into())]);
            call.extend(code(".and_then"));
            let mut closure = code("|b| b");
            closure.extend(threads);
            closure.extend(code(".build()"));
            call.extend([paren(closure)]);
            call.extend(code(expect));
            call
        }
        (None, Some(_)) => {
            // ::runtime::Builder::new() THREADS .build().expect(..)
            let mut call = code("::runtime::Builder::new()");
            call.extend(threads);
            call.extend(code(".build()"));
            call.extend(code(expect));
            call
        }
    };
    block.extend([paren(future)]);

    let mut body = Group::new(Delimiter::Brace, block);
    body.set_span(func.body.span());
    out.extend([TokenTree::from(body)]);
    out
}

fn code(source: &str) -> TokenStream {
    source
        .parse()
        .expect("runtime-macros: invalid generated code")
}

fn paren(stream: TokenStream) -> TokenTree {
    Group::new(Delimiter::Parenthesis, stream).into()
}
