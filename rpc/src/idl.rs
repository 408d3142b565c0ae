//! libevent's `.rpc` IDL (the input of `event_rpcgen.py`): a reader that
//! turns a file of `struct Name { ... }` declarations into [`Struct`]s,
//! and [`generate`], which writes them as a [`message!`](crate::message)
//! invocation, so the Rust side gets the same types a hand-written
//! `message!` would declare.
//!
//! The language, as `event_rpcgen.py` accepts it:
//!
//! ```text
//! /* C comments, on one line or several */   // and C++ comments
//! #include <sys/types.h>        // #include / #if / #ifdef / #endif: C only, ignored here
//! #define RUN_BYTES 24          // usable as a fixed length
//! struct run {
//!     string how = 1;                         // required (no keyword)
//!     optional bytes some_bytes = 2;          // variable-length bytes
//!     bytes fixed_bytes[RUN_BYTES] = 0x3;     // fixed length; hex tags
//!     array string notes = 4;                 // repeated tag
//!     optional int64 large_number = 5;        // int is 32-bit, int64 64-bit
//!     array struct[kill] kills = 6;           // a struct of the same file
//! }
//! ```
//!
//! Field types map to: `int` → `u32`, `int64` → `u64`, `string` →
//! `String`, `bytes` → `Vec<u8>`, `bytes name[N]` → `[u8; N]`,
//! `struct[other]` → `Other`. Struct names are turned into Rust type
//! names (`msg` → `Msg`, `my_reply` → `MyReply`); field names are kept.
//! Every error carries the file, line and column it is about
//! ([`IdlError`]).
//!
//! This module depends on nothing else in the crate (the crate's own
//! build script compiles it on its own).

use std::collections::HashMap;
use std::fmt;

/// An error in a `.rpc` file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdlError {
    /// The file name given to [`parse`].
    pub file: String,
    /// Line, counted from 1.
    pub line: usize,
    /// Column (in characters), counted from 1.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for IdlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for IdlError {}

/// Whether a field must be set, may be set, or repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No keyword: must be set for the struct to be complete.
    Required,
    /// `optional`: marshalled only when set.
    Optional,
    /// `array`: one element per entry, the same tag repeated.
    Array,
}

/// A field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// `int`: 32-bit unsigned.
    Int,
    /// `int64`: 64-bit unsigned.
    Int64,
    /// `string`.
    String,
    /// `bytes name`: variable length.
    Bytes,
    /// `bytes name[N]`: exactly `N` bytes.
    FixedBytes(usize),
    /// `struct[name]`: another struct of the file, by its `.rpc` name.
    Struct(String),
}

/// One field of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The field name.
    pub name: String,
    /// Required, optional or array.
    pub kind: Kind,
    /// The type.
    pub ty: FieldType,
    /// The tag.
    pub tag: u32,
    /// Line of the declaration.
    pub line: usize,
}

/// One `struct Name { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Struct {
    /// The name as written in the `.rpc` file.
    pub name: String,
    /// The fields in declaration order.
    pub entries: Vec<Entry>,
    /// Line of `struct`.
    pub line: usize,
}

impl Struct {
    /// The Rust type name: `msg` → `Msg`, `my_reply` → `MyReply`.
    pub fn rust_name(&self) -> String {
        rust_type_name(&self.name)
    }
}

/// The Rust type name of a `.rpc` struct name: each `_`-separated part
/// capitalized and joined.
pub fn rust_type_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'R');
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Number(u64),
    Punct(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Number(n) => write!(f, "`{n}`"),
            Tok::Punct(c) => write!(f, "`{c}`"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

struct Lexer<'a> {
    file: &'a str,
    chars: Vec<char>,
    pos: usize,
    line: usize,
    col: usize,
    /// Only whitespace and comments so far on this line.
    line_start: bool,
    defines: HashMap<String, (u64, usize)>,
}

impl<'a> Lexer<'a> {
    fn error(&self, line: usize, col: usize, message: String) -> IdlError {
        IdlError {
            file: self.file.to_string(),
            line,
            col,
            message,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
            self.line_start = true;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn rest_of_line(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    /// A `#` line: `#define NAME NUMBER` is remembered (a fixed length may
    /// name it); `#include`, `#if`, `#ifdef`, `#ifndef`, `#else`, `#endif`
    /// concern the generated C and are skipped, as other `#define`s.
    fn directive(&mut self, line: usize, col: usize) -> Result<(), IdlError> {
        let text = self.rest_of_line();
        let text = strip_comments_in_line(&text);
        let mut words = text[1..].split_whitespace();
        match words.next() {
            Some("define") => {
                if let (Some(name), Some(value)) = (words.next(), words.next()) {
                    if let Some(v) = parse_number(value) {
                        self.defines.insert(name.to_string(), (v, line));
                    }
                }
                Ok(())
            }
            Some("include" | "if" | "ifdef" | "ifndef" | "else" | "elif" | "endif") => Ok(()),
            _ => Err(self.error(
                line,
                col,
                format!("unknown preprocessor line `{}`", text.trim()),
            )),
        }
    }

    fn next(&mut self) -> Result<Option<Token>, IdlError> {
        loop {
            let Some(c) = self.peek(0) else {
                return Ok(None);
            };
            let (line, col) = (self.line, self.col);
            if c.is_whitespace() {
                self.bump();
                continue;
            }
            if c == '/' && self.peek(1) == Some('*') {
                self.bump();
                self.bump();
                loop {
                    match self.peek(0) {
                        None => {
                            return Err(self.error(line, col, "unterminated /* comment".into()))
                        }
                        Some('*') if self.peek(1) == Some('/') => {
                            self.bump();
                            self.bump();
                            break;
                        }
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
                continue;
            }
            if c == '/' && self.peek(1) == Some('/') {
                self.rest_of_line();
                continue;
            }
            if c == '#' && self.line_start {
                self.directive(line, col)?;
                continue;
            }
            self.line_start = false;
            if c.is_ascii_alphabetic() || c == '_' {
                let mut s = String::new();
                while let Some(c) = self.peek(0) {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        s.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                return Ok(Some(Token {
                    tok: Tok::Ident(s),
                    line,
                    col,
                }));
            }
            if c.is_ascii_digit() {
                let mut s = String::new();
                while let Some(c) = self.peek(0) {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        s.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                let Some(n) = parse_number(&s) else {
                    return Err(self.error(line, col, format!("bad number `{s}`")));
                };
                return Ok(Some(Token {
                    tok: Tok::Number(n),
                    line,
                    col,
                }));
            }
            if "{}[]=;".contains(c) {
                self.bump();
                return Ok(Some(Token {
                    tok: Tok::Punct(c),
                    line,
                    col,
                }));
            }
            return Err(self.error(line, col, format!("unexpected character `{c}`")));
        }
    }
}

fn strip_comments_in_line(text: &str) -> &str {
    let cut = [text.find("//"), text.find("/*")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(text.len());
    &text[..cut]
}

/// A decimal or `0x` hexadecimal number, as Python's `int(token, 0)`.
fn parse_number(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        // Python's int(x, 0) refuses leading zeros ("010").
        None
    } else {
        s.parse().ok()
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    /// Where the last token ended, for errors at the end of the input.
    end: (usize, usize),
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Result<Option<Token>, IdlError> {
        if let Some(t) = self.peeked.take() {
            return Ok(Some(t));
        }
        let t = self.lexer.next()?;
        self.end = (self.lexer.line, self.lexer.col);
        Ok(t)
    }

    fn peek(&mut self) -> Result<Option<&Token>, IdlError> {
        if self.peeked.is_none() {
            self.peeked = self.next()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn error_at(&self, t: &Token, message: String) -> IdlError {
        self.lexer.error(t.line, t.col, message)
    }

    fn expect_token(&mut self, what: &str) -> Result<Token, IdlError> {
        match self.next()? {
            Some(t) => Ok(t),
            None => Err(self.lexer.error(
                self.end.0,
                self.end.1,
                format!("expected {what}, found the end of the file"),
            )),
        }
    }

    fn expect_punct(&mut self, c: char, what: &str) -> Result<Token, IdlError> {
        let t = self.expect_token(what)?;
        if t.tok == Tok::Punct(c) {
            Ok(t)
        } else {
            Err(self.error_at(&t, format!("expected {what}, found {}", t.tok)))
        }
    }

    fn expect_ident(&mut self, what: &str) -> Result<(String, Token), IdlError> {
        let t = self.expect_token(what)?;
        match &t.tok {
            Tok::Ident(s) => Ok((s.clone(), t)),
            other => Err(self.error_at(&t, format!("expected {what}, found {other}"))),
        }
    }

    fn structure(&mut self, first: Token) -> Result<Struct, IdlError> {
        if first.tok != Tok::Ident("struct".into()) {
            return Err(self.error_at(&first, format!("expected `struct`, found {}", first.tok)));
        }
        let (name, _) = self.expect_ident("a struct name")?;
        self.expect_punct('{', "`{`")?;
        let mut entries = Vec::new();
        loop {
            let t = self.expect_token("a field or `}`")?;
            if t.tok == Tok::Punct('}') {
                break;
            }
            entries.push(self.entry(t)?);
        }
        Ok(Struct {
            name,
            entries,
            line: first.line,
        })
    }

    fn entry(&mut self, first: Token) -> Result<Entry, IdlError> {
        let line = first.line;
        let mut optional = false;
        let mut array = false;
        let mut t = first;
        let type_name = loop {
            match &t.tok {
                Tok::Ident(s) if s == "optional" && !optional => optional = true,
                Tok::Ident(s) if s == "array" && !array => array = true,
                Tok::Ident(s) => break s.clone(),
                other => {
                    return Err(self.error_at(&t, format!("expected a field type, found {other}")))
                }
            }
            t = self.expect_token("a field type")?;
        };
        let type_tok = t;
        let mut ty = match type_name.as_str() {
            "int" => FieldType::Int,
            "int64" => FieldType::Int64,
            "string" => FieldType::String,
            "bytes" => FieldType::Bytes,
            "struct" => {
                self.expect_punct('[', "`[` after `struct`")?;
                let (inner, _) = self.expect_ident("a struct name")?;
                self.expect_punct(']', "`]`")?;
                FieldType::Struct(inner)
            }
            other => {
                return Err(self.error_at(
                    &type_tok,
                    format!("unknown type `{other}` (int, int64, string, bytes or struct[name])"),
                ))
            }
        };
        let (name, _) = self.expect_ident("a field name")?;
        if self.peek()?.map(|t| &t.tok) == Some(&Tok::Punct('[')) {
            let open = self.next()?.expect("peeked");
            if ty != FieldType::Bytes {
                return Err(self.error_at(
                    &open,
                    format!("only bytes have a fixed length (field `{name}`)"),
                ));
            }
            let len_tok = self.expect_token("a length")?;
            let len = match &len_tok.tok {
                Tok::Number(n) => *n,
                Tok::Ident(d) => match self.lexer.defines.get(d) {
                    Some((v, _)) => *v,
                    None => {
                        return Err(
                            self.error_at(&len_tok, format!("`{d}` is not #defined to a number"))
                        )
                    }
                },
                other => {
                    return Err(self.error_at(&len_tok, format!("expected a length, found {other}")))
                }
            };
            if len == 0 || len > 1 << 20 {
                return Err(self.error_at(&len_tok, format!("fixed length {len} out of range")));
            }
            self.expect_punct(']', "`]`")?;
            ty = FieldType::FixedBytes(len as usize);
        }
        self.expect_punct('=', &format!("`=` after field `{name}`"))?;
        let tag_tok = self.expect_token("a tag number")?;
        let tag = match tag_tok.tok {
            Tok::Number(n) => u32::try_from(n)
                .map_err(|_| self.error_at(&tag_tok, format!("tag {n} does not fit in 32 bits")))?,
            ref other => {
                return Err(self.error_at(&tag_tok, format!("expected a tag number, found {other}")))
            }
        };
        self.expect_punct(';', "`;`")?;
        let kind = if array {
            Kind::Array
        } else if optional {
            Kind::Optional
        } else {
            Kind::Required
        };
        Ok(Entry {
            name,
            kind,
            ty,
            tag,
            line,
        })
    }
}

/// Reads a `.rpc` file's text. `file` names it in errors. Checks what the
/// generated code relies on: struct names unique (also as Rust names),
/// field names and tags unique within a struct, every `struct[name]`
/// defined in the file, no struct containing itself as a required field.
pub fn parse(source: &str, file: &str) -> Result<Vec<Struct>, IdlError> {
    let mut p = Parser {
        lexer: Lexer {
            file,
            chars: source.chars().collect(),
            pos: 0,
            line: 1,
            col: 1,
            line_start: true,
            defines: HashMap::new(),
        },
        peeked: None,
        end: (1, 1),
    };
    let mut structs: Vec<Struct> = Vec::new();
    while let Some(t) = p.next()? {
        let (line, col) = (t.line, t.col);
        let s = p.structure(t)?;
        if let Some(prev) = structs
            .iter()
            .find(|o| o.name == s.name || o.rust_name() == s.rust_name())
        {
            return Err(p.lexer.error(
                line,
                col,
                format!(
                    "struct `{}` clashes with struct `{}` of line {}",
                    s.name, prev.name, prev.line
                ),
            ));
        }
        structs.push(s);
    }
    let err = |line: usize, message: String| IdlError {
        file: file.to_string(),
        line,
        col: 1,
        message,
    };
    for s in &structs {
        for (i, e) in s.entries.iter().enumerate() {
            if let Some(prev) = s.entries[..i].iter().find(|p| p.name == e.name) {
                return Err(err(
                    e.line,
                    format!(
                        "field `{}` of struct `{}` already declared on line {}",
                        e.name, s.name, prev.line
                    ),
                ));
            }
            if let Some(prev) = s.entries[..i].iter().find(|p| p.tag == e.tag) {
                return Err(err(
                    e.line,
                    format!(
                        "tag {} of struct `{}` already used by `{}` on line {}",
                        e.tag, s.name, prev.name, prev.line
                    ),
                ));
            }
            if let FieldType::Struct(inner) = &e.ty {
                if !structs.iter().any(|o| &o.name == inner) {
                    return Err(err(
                        e.line,
                        format!("struct `{inner}` (field `{}`) is not defined", e.name),
                    ));
                }
            }
        }
    }
    check_no_required_cycle(&structs).map_err(|(line, m)| err(line, m))?;
    Ok(structs)
}

/// A struct holding itself through required or optional fields (not
/// through an array) would be a type of infinite size.
fn check_no_required_cycle(structs: &[Struct]) -> Result<(), (usize, String)> {
    fn visit<'s>(
        structs: &'s [Struct],
        name: &'s str,
        path: &mut Vec<&'s str>,
    ) -> Result<(), (usize, String)> {
        let s = structs.iter().find(|s| s.name == name).expect("checked");
        for e in &s.entries {
            let FieldType::Struct(inner) = &e.ty else {
                continue;
            };
            if e.kind == Kind::Array {
                continue;
            }
            if path.contains(&inner.as_str()) {
                return Err((
                    e.line,
                    format!(
                        "struct `{}` contains itself (field `{}`); only an array may recurse",
                        inner, e.name
                    ),
                ));
            }
            path.push(inner);
            visit(structs, inner, path)?;
            path.pop();
        }
        Ok(())
    }
    for s in structs {
        visit(structs, &s.name, &mut vec![s.name.as_str()])?;
    }
    Ok(())
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

fn field_ident(name: &str) -> String {
    if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// Writes `structs` as Rust: one `message!` invocation through
/// `crate_path` (`::runtime_rpc`, or `::runtime::rpc` from the facade),
/// one public struct per `.rpc` struct, with doc comments naming `file`
/// and the line of each declaration.
pub fn generate(structs: &[Struct], file: &str, crate_path: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "// Generated from {file} by runtime_rpc::build. Do not edit.\n\n{crate_path}::message! {{\n"
    ));
    for (i, s) in structs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "    /// `struct {}` of `{}`, line {}.\n",
            s.name, file, s.line
        ));
        out.push_str(&format!("    pub struct {} {{\n", s.rust_name()));
        for e in &s.entries {
            let kind = match e.kind {
                Kind::Required => "required",
                Kind::Optional => "optional",
                Kind::Array => "array",
            };
            let ty = match &e.ty {
                FieldType::Int => "u32".to_string(),
                FieldType::Int64 => "u64".to_string(),
                FieldType::String => "::std::string::String".to_string(),
                FieldType::Bytes => "::std::vec::Vec<u8>".to_string(),
                FieldType::FixedBytes(n) => format!("[u8; {n}]"),
                FieldType::Struct(inner) => rust_type_name(inner),
            };
            out.push_str(&format!("        /// Line {}.\n", e.line));
            if e.name.chars().any(|c| c.is_ascii_uppercase()) {
                out.push_str("        #[allow(non_snake_case)]\n");
            }
            let tag = if e.tag >= 0x100 {
                format!("{:#x}", e.tag)
            } else {
                e.tag.to_string()
            };
            out.push_str(&format!(
                "        {kind} {}: {ty} = {tag},\n",
                field_ident(&e.name)
            ));
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}
