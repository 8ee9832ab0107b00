//! Tokenizer, Pratt parser and post-processing (path flattening, predicates, ancestry).

use crate::ast::{Group, Lit, Node, SortTerm, Stage, T};
use crate::error::{Error, NESTING_MESSAGE, err_at, quoted, stack_exhausted, stack_position};
use crate::signature::Signature;

/// Maximum nesting of sub-expressions accepted by the parser.
const MAX_DEPTH: usize = 250;

const OPERATOR_CHARS: &str = ".[]{}(),@#;:?+-*/%|=<>^&!~";

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Variable(String),
    Op(String),
    Str(String),
    Num(f64),
    Value(Lit),
    Regex(String, String),
    End,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{0B}')
}

impl Lexer {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn scan_regex(&mut self) -> Result<Tok, Error> {
        let start = self.pos;
        let mut depth: i32 = 0;
        while self.pos < self.chars.len() {
            let c = self.chars[self.pos];
            if c == '/' && depth == 0 {
                let mut backslashes = 0;
                while self.pos > backslashes && self.at(self.pos - backslashes - 1) == Some('\\') {
                    backslashes += 1;
                }
                if backslashes % 2 == 0 {
                    let pattern: String = self.chars[start..self.pos].iter().collect();
                    if pattern.is_empty() {
                        return Err(err_at(
                            "S0301",
                            "Empty regular expressions are not allowed",
                            self.pos,
                        ));
                    }
                    self.pos += 1;
                    let fstart = self.pos;
                    while matches!(self.at(self.pos), Some('i') | Some('m')) {
                        self.pos += 1;
                    }
                    let flags: String = self.chars[fstart..self.pos].iter().collect();
                    return Ok(Tok::Regex(pattern, flags));
                }
            }
            let prev_escaped = self.pos > 0 && self.at(self.pos - 1) == Some('\\');
            if matches!(c, '(' | '[' | '{') && !prev_escaped {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !prev_escaped {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(err_at(
            "S0302",
            "No terminating / in regular expression",
            self.pos,
        ))
    }

    /// Returns the next token and its position. `infix` is true when an operator may follow
    /// (then `/` is division, otherwise it starts a regex).
    fn next(&mut self, infix: bool) -> Result<(Tok, usize), Error> {
        self.skip_blanks_and_comments()?;
        let start = self.pos;
        let Some(c) = self.at(self.pos) else {
            return Ok((Tok::End, self.pos));
        };
        let tok = if !infix && c == '/' {
            self.pos += 1;
            self.scan_regex()?
        } else if let Some(op) = self.scan_operator(c) {
            op
        } else if c == '"' || c == '\'' {
            self.scan_string(c)?
        } else if c.is_ascii_digit() {
            self.scan_number()?
        } else if c == '`' {
            self.scan_quoted_name()?
        } else {
            self.scan_word(c)
        };
        Ok((tok, start))
    }

    /// Moves past blanks and `/* … */` comments.
    fn skip_blanks_and_comments(&mut self) -> Result<(), Error> {
        loop {
            while self.at(self.pos).is_some_and(is_ws) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                self.skip_comment()?;
            } else {
                return Ok(());
            }
        }
    }

    /// Moves past the comment that starts at `self.pos`.
    fn skip_comment(&mut self) -> Result<(), Error> {
        let start = self.pos;
        self.pos += 2;
        loop {
            if self.pos + 1 >= self.chars.len() {
                return Err(err_at("S0106", "Comment has no closing tag", start));
            }
            if self.chars[self.pos] == '*' && self.chars[self.pos + 1] == '/' {
                self.pos += 2;
                return Ok(());
            }
            self.pos += 1;
        }
    }

    /// The operator of one or two characters that starts with `c`, if any.
    fn scan_operator(&mut self, c: char) -> Option<Tok> {
        let two = match (c, self.at(self.pos + 1)) {
            ('.', Some('.')) => Some(".."),
            (':', Some('=')) => Some(":="),
            ('!', Some('=')) => Some("!="),
            ('>', Some('=')) => Some(">="),
            ('<', Some('=')) => Some("<="),
            ('*', Some('*')) => Some("**"),
            ('~', Some('>')) => Some("~>"),
            ('?', Some(':')) => Some("?:"),
            ('?', Some('?')) => Some("??"),
            _ => None,
        };
        if let Some(op) = two {
            self.pos += 2;
            return Some(Tok::Op(op.into()));
        }
        if OPERATOR_CHARS.contains(c) {
            self.pos += 1;
            return Some(Tok::Op(c.to_string()));
        }
        None
    }

    /// The string literal that starts with `quote` at `self.pos`, its escapes decoded.
    fn scan_string(&mut self, quote: char) -> Result<Tok, Error> {
        self.pos += 1;
        let mut text = StringText::default();
        while let Some(ch) = self.at(self.pos) {
            if ch == '\\' {
                self.pos += 1;
                self.scan_escape(&mut text)?;
            } else if ch == quote {
                self.pos += 1;
                return Ok(Tok::Str(text.finish()));
            } else {
                text.push(ch);
            }
            self.pos += 1;
        }
        Err(err_at(
            "S0101",
            "String literal must be terminated by a matching quote",
            self.pos,
        ))
    }

    /// The escape whose letter is at `self.pos` (after the backslash), into `text`; leaves
    /// `self.pos` on its last character.
    fn scan_escape(&mut self, text: &mut StringText) -> Result<(), Error> {
        let e = self.at(self.pos);
        if let Some(x) = e.and_then(simple_escape) {
            text.push(x);
        } else if e == Some('u') {
            text.push_code_unit(self.hex_code_unit()?);
            self.pos += 4;
        } else {
            return Err(err_at(
                "S0103",
                format!(
                    "Unsupported escape sequence: \\{}",
                    e.map(String::from).unwrap_or_default()
                ),
                self.pos,
            ));
        }
        Ok(())
    }

    /// The four hex digits after the `u` at `self.pos`. As the reference reads them (the next
    /// four characters, all hex digits), fewer are taken where the expression ends, and the
    /// string is then unterminated (S0101) rather than a bad escape (S0104).
    fn hex_code_unit(&self) -> Result<u32, Error> {
        let hex: String = self
            .chars
            .get(self.pos + 1..(self.pos + 5).min(self.chars.len()))
            .unwrap_or(&[])
            .iter()
            .collect();
        // (from_str_radix alone would take a sign, and refuses "")
        let cp = if hex.chars().all(|h| h.is_ascii_hexdigit()) {
            u32::from_str_radix(&hex, 16).ok()
        } else {
            None
        };
        cp.ok_or_else(|| {
            err_at(
                "S0104",
                "The escape sequence \\u must be followed by 4 hex digits",
                self.pos,
            )
        })
    }

    /// The number that starts at `self.pos`; an error when it is too large for an `f64`.
    fn scan_number(&mut self) -> Result<Tok, Error> {
        let end = self.number_end();
        let text: String = self.chars[self.pos..end].iter().collect();
        let n: f64 = text.parse().unwrap_or(f64::NAN);
        if n.is_finite() {
            self.pos = end;
            return Ok(Tok::Num(n));
        }
        Err(err_at(
            "S0102",
            format!("Number out of range: {text}"),
            self.pos,
        ))
    }

    /// Where the number that starts at `self.pos` ends:
    /// `(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?` (a minus sign is the parser's).
    fn number_end(&self) -> usize {
        let mut i = if self.at(self.pos) == Some('0') {
            self.pos + 1
        } else {
            self.digits_end(self.pos)
        };
        if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            i = self.digits_end(i + 1);
        }
        if matches!(self.at(i), Some('e') | Some('E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+') | Some('-')) {
                j += 1;
            }
            if self.at(j).is_some_and(|d| d.is_ascii_digit()) {
                i = self.digits_end(j);
            }
        }
        i
    }

    /// Where the run of ASCII digits from `i` ends.
    fn digits_end(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|d| d.is_ascii_digit()) {
            i += 1;
        }
        i
    }

    /// The name in backquotes that starts at `self.pos`.
    fn scan_quoted_name(&mut self) -> Result<Tok, Error> {
        self.pos += 1;
        let rest = &self.chars[self.pos..];
        if let Some(end) = rest.iter().position(|&x| x == '`') {
            let name: String = rest[..end].iter().collect();
            self.pos += end + 1;
            return Ok(Tok::Name(name));
        }
        self.pos = self.chars.len();
        Err(err_at(
            "S0105",
            "Quoted property name must be terminated with a backquote (`)",
            self.pos,
        ))
    }

    /// The word that starts with `c` at `self.pos` (up to a blank or an operator character):
    /// a variable (`$name`), a keyword or a name.
    fn scan_word(&mut self, c: char) -> Tok {
        let mut end = self.pos;
        while let Some(ch) = self.at(end) {
            if is_ws(ch) || OPERATOR_CHARS.contains(ch) {
                break;
            }
            end += 1;
        }
        let tok = if c == '$' {
            Tok::Variable(self.chars[self.pos + 1..end].iter().collect())
        } else {
            keyword_or_name(self.chars[self.pos..end].iter().collect())
        };
        self.pos = end;
        tok
    }
}

/// The character of a one-letter escape (`\n`, `\"`, …); `None` for `u` and unknown letters.
fn simple_escape(letter: char) -> Option<char> {
    match letter {
        '"' => Some('"'),
        '\\' => Some('\\'),
        '/' => Some('/'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        _ => None,
    }
}

/// `or`, `in` and `and` are operators; `true`, `false` and `null` literals; any other word a
/// name.
fn keyword_or_name(word: String) -> Tok {
    match word.as_str() {
        "or" | "in" | "and" => Tok::Op(word),
        "true" => Tok::Value(Lit::Bool(true)),
        "false" => Tok::Value(Lit::Bool(false)),
        "null" => Tok::Value(Lit::Null),
        _ => Tok::Name(word),
    }
}

/// The text of a string literal as its escapes are decoded. A `\u` escape of a high surrogate
/// waits for its low half; a half without its partner becomes U+FFFD.
#[derive(Default)]
struct StringText {
    text: String,
    pending_high: Option<u32>,
}

impl StringText {
    /// A character (not a `\u` escape): a high surrogate still waiting becomes U+FFFD first.
    fn push(&mut self, c: char) {
        self.flush_high();
        self.text.push(c);
    }

    /// The UTF-16 code unit of a `\u` escape.
    fn push_code_unit(&mut self, unit: u32) {
        if (0xD800..0xDC00).contains(&unit) {
            if self.pending_high.replace(unit).is_some() {
                self.text.push('\u{FFFD}');
            }
        } else if (0xDC00..0xE000).contains(&unit) {
            match self.pending_high.take() {
                Some(h) => {
                    let full = 0x10000 + ((h - 0xD800) << 10) + (unit - 0xDC00);
                    self.text.push(char::from_u32(full).unwrap_or('\u{FFFD}'));
                }
                None => self.text.push('\u{FFFD}'),
            }
        } else {
            self.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
        }
    }

    /// A high surrogate still waiting becomes U+FFFD.
    fn flush_high(&mut self) {
        if self.pending_high.take().is_some() {
            self.text.push('\u{FFFD}');
        }
    }

    /// The decoded text, once the closing quote is reached.
    fn finish(mut self) -> String {
        self.flush_high();
        self.text
    }
}

fn lbp(tok: &Tok) -> u32 {
    match tok {
        Tok::Op(op) => match op.as_str() {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "?" => 20,
            "+" | "-" | "&" => 50,
            "*" | "/" | "%" => 60,
            "=" | "<" | ">" | "!=" | "<=" | ">=" | "^" | "~>" | "?:" | "??" | "in" => 40,
            "and" => 30,
            "or" => 25,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

const KNOWN_OPS: &[&str] = &[
    ".", "[", "]", "{", "}", "(", ")", ",", "@", "#", ";", ":", "?", "+", "-", "*", "/", "%", "|",
    "=", "<", ">", "^", "**", "..", ":=", "!=", "<=", ">=", "~>", "?:", "??", "and", "or", "in",
    "&",
];

struct Parser {
    lexer: Lexer,
    tok: Tok,
    pos: usize,
    src_len: usize,
    depth: usize,
    stack_base: usize,
    stack_budget: usize,
    stack_hit: bool,
    slots: Vec<(String, i32)>,
}

fn node(t: T, val: Lit, position: usize) -> Node {
    Node {
        t,
        val,
        position,
        ..Node::default()
    }
}

fn bx(n: Node) -> Option<Box<Node>> {
    Some(Box::new(n))
}

impl Parser {
    fn advance(&mut self, expect: Option<&str>, infix: bool) -> Result<(), Error> {
        if let Some(id) = expect {
            let matches = matches!(&self.tok, Tok::Op(op) if op == id);
            if !matches {
                return Err(if self.tok == Tok::End {
                    err_at(
                        "S0203",
                        format!("Expected {} before end of expression", quoted(id)),
                        self.pos,
                    )
                } else {
                    err_at(
                        "S0202",
                        format!("Expected {}, got {}", quoted(id), tok_json(&self.tok)),
                        self.pos,
                    )
                });
            }
        }
        let (tok, pos) = self.lexer.next(infix)?;
        if let Tok::Op(op) = &tok {
            if !KNOWN_OPS.contains(&op.as_str()) {
                return Err(err_at("S0204", format!("Unknown operator: {op}"), pos));
            }
        }
        self.pos = if tok == Tok::End { self.src_len } else { pos };
        self.tok = tok;
        Ok(())
    }

    fn out_of_stack(&mut self) -> bool {
        if stack_exhausted(self.stack_base, self.stack_budget) {
            self.stack_hit = true;
        }
        self.stack_hit
    }

    fn is_op(&self, id: &str) -> bool {
        matches!(&self.tok, Tok::Op(op) if op == id)
    }

    fn expression(&mut self, rbp: u32) -> Result<Node, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH || self.out_of_stack() {
            return Err(err_at("S0201", NESTING_MESSAGE, self.pos));
        }
        let t = self.tok.clone();
        let tpos = self.pos;
        self.advance(None, true)?;
        let mut left = self.nud(t, tpos)?;
        let mut iterations = 0;
        while rbp < lbp(&self.tok) {
            iterations += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH || self.out_of_stack() {
                return Err(err_at("S0201", NESTING_MESSAGE, self.pos));
            }
            let t = self.tok.clone();
            let tpos = self.pos;
            self.advance(None, false)?;
            left = self.led(t, tpos, left)?;
        }
        self.depth -= 1 + iterations;
        Ok(left)
    }

    fn nud(&mut self, t: Tok, pos: usize) -> Result<Node, Error> {
        match t {
            // like the reference parser, `(end)` is a terminal; a later `advance` or the
            // post-processing stage reports it
            Tok::End => Ok(node(T::End, Lit::None, pos)),
            Tok::Name(n) => Ok(node(T::Name, Lit::Str(n), pos)),
            Tok::Variable(n) => Ok(node(T::Variable, Lit::Str(n), pos)),
            Tok::Str(s) => Ok(node(T::Str, Lit::Str(s), pos)),
            Tok::Num(n) => Ok(node(T::Num, Lit::Num(n), pos)),
            Tok::Value(v) => Ok(node(T::Value, v, pos)),
            Tok::Regex(p, f) => {
                let mut b = regex::RegexBuilder::new(&p);
                b.case_insensitive(f.contains('i'));
                b.multi_line(f.contains('m'));
                let re = b.build().map_err(|e| {
                    err_at("S0303", format!("Invalid regular expression: {e}"), pos)
                })?;
                let mut n = node(T::Regex, Lit::Str(p), pos);
                n.regex = Some(re);
                Ok(n)
            }
            Tok::Op(op) => match op.as_str() {
                "-" => self.nud_neg(op, pos),
                "*" => Ok(node(T::Wildcard, Lit::Str(op), pos)),
                "**" => Ok(node(T::Descendant, Lit::Str(op), pos)),
                "%" => Ok(node(T::Parent, Lit::Str(op), pos)),
                "and" | "or" | "in" => Ok(node(T::Operator, Lit::Str(op), pos)),
                "(" => self.nud_block(op, pos),
                "[" => self.nud_array(op, pos),
                "{" => self.nud_object(op, pos),
                "|" => self.nud_transform(op, pos),
                _ => Err(err_at(
                    "S0211",
                    format!(
                        "The symbol {} cannot be used as a unary operator",
                        quoted(&op)
                    ),
                    pos,
                )),
            },
        }
    }

    /// Parses `item, item, ...` (possibly empty) and the `close` token after it.
    fn comma_list<I>(
        &mut self,
        close: &str,
        mut item: impl FnMut(&mut Self) -> Result<I, Error>,
    ) -> Result<Vec<I>, Error> {
        let mut items = Vec::new();
        if !self.is_op(close) {
            loop {
                items.push(item(self)?);
                if !self.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(close), true)?;
        Ok(items)
    }

    fn object_pairs(&mut self) -> Result<Vec<(Node, Node)>, Error> {
        self.comma_list("}", |p| {
            let k = p.expression(0)?;
            p.advance(Some(":"), false)?;
            let v = p.expression(0)?;
            Ok((k, v))
        })
    }

    fn led(&mut self, t: Tok, pos: usize, left: Node) -> Result<Node, Error> {
        let op = match t {
            Tok::Op(op) => op,
            _ => return Err(err_at("S0201", "Syntax error", pos)),
        };
        let bp = lbp(&Tok::Op(op.clone()));
        match op.as_str() {
            "??" => self.led_coalesce(op, pos, left, bp),
            "?:" => self.led_elvis(op, pos, left, bp),
            "(" => self.led_call(op, pos, left, bp),
            "[" => self.led_filter(op, pos, left, bp),
            "^" => self.led_sort(op, pos, left, bp),
            "{" => self.led_group(op, pos, left, bp),
            ":=" => self.led_bind(op, pos, left, bp),
            "@" | "#" => self.led_focus(op, pos, left, bp),
            "?" => self.led_cond(op, pos, left, bp),
            _ => self.led_binary(op, pos, left, bp),
        }
    }

    fn nud_neg(&mut self, op: String, pos: usize) -> Result<Node, Error> {
        let mut n = node(T::Unary, Lit::Str(op), pos);
        n.lhs = bx(self.expression(70)?);
        Ok(n)
    }

    fn nud_block(&mut self, op: String, pos: usize) -> Result<Node, Error> {
        let mut exprs = Vec::new();
        while !self.is_op(")") {
            exprs.push(self.expression(0)?);
            if !self.is_op(";") {
                break;
            }
            self.advance(Some(";"), false)?;
        }
        self.advance(Some(")"), true)?;
        let mut n = node(T::Block, Lit::Str(op), pos);
        n.expressions = exprs;
        Ok(n)
    }

    fn nud_array(&mut self, op: String, pos: usize) -> Result<Node, Error> {
        let items = self.comma_list("]", |p| {
            let item = p.expression(0)?;
            if !p.is_op("..") {
                return Ok(item);
            }
            let rpos = p.pos;
            p.advance(Some(".."), false)?;
            let mut range = node(T::Binary, Lit::Str("..".into()), rpos);
            range.lhs = bx(item);
            range.rhs = bx(p.expression(0)?);
            Ok(range)
        })?;
        let mut n = node(T::Unary, Lit::Str(op), pos);
        n.expressions = items;
        Ok(n)
    }

    fn nud_object(&mut self, op: String, pos: usize) -> Result<Node, Error> {
        let pairs = self.object_pairs()?;
        let mut n = node(T::Unary, Lit::Str(op), pos);
        n.pairs = pairs;
        Ok(n)
    }

    fn nud_transform(&mut self, op: String, pos: usize) -> Result<Node, Error> {
        let mut n = node(T::Transform, Lit::Str(op), pos);
        n.pattern = bx(self.expression(0)?);
        self.advance(Some("|"), false)?;
        n.update = bx(self.expression(0)?);
        if self.is_op(",") {
            self.advance(Some(","), false)?;
            n.delete = bx(self.expression(0)?);
        }
        self.advance(Some("|"), true)?;
        Ok(n)
    }

    fn led_coalesce(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        let mut n = node(T::Condition, Lit::Str(op), pos);
        let mut call = node(T::Function, Lit::Str("(".into()), pos);
        call.procedure = bx(node(T::Variable, Lit::Str("exists".into()), pos));
        call.arguments = vec![left.clone()];
        n.condition = bx(call);
        n.then = bx(left);
        n.els = bx(self.expression(0)?);
        Ok(n)
    }

    fn led_elvis(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        let mut n = node(T::Condition, Lit::Str(op), pos);
        n.condition = bx(left.clone());
        n.then = bx(left);
        n.els = bx(self.expression(0)?);
        Ok(n)
    }

    fn led_call(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        let mut n = node(T::Function, Lit::Str(op), pos);
        let mut partial = false;
        let args = self.comma_list(")", |p| {
            if !p.is_op("?") {
                return p.expression(0);
            }
            partial = true;
            let placeholder = node(T::Operator, Lit::Str("?".into()), p.pos);
            p.advance(Some("?"), false)?;
            Ok(placeholder)
        })?;
        if partial {
            n.t = T::Partial;
        }
        if left.t == T::Name && (left.s() == "function" || left.s() == "\u{3bb}") {
            for (i, a) in args.iter().enumerate() {
                if a.t != T::Variable {
                    return Err(err_at(
                        "S0208",
                        format!(
                            "Parameter {} of function definition must be a variable name (start with $)",
                            i + 1
                        ),
                        a.position,
                    ));
                }
            }
            n.t = T::Lambda;
            if self.is_op("<") {
                let sig_pos = self.pos;
                let mut depth = 1;
                let mut sig = String::from("<");
                while depth > 0 && !self.is_op("{") && self.tok != Tok::End {
                    self.advance(None, false)?;
                    match &self.tok {
                        Tok::Op(o) if o == ">" => depth -= 1,
                        Tok::Op(o) if o == "<" => depth += 1,
                        _ => {}
                    }
                    sig.push_str(&tok_text(&self.tok));
                }
                self.advance(Some(">"), false)?;
                n.signature = Some(Signature::parse(&sig).map_err(|mut e| {
                    e.position = Some(sig_pos);
                    e
                })?);
            }
            self.advance(Some("{"), false)?;
            n.body = bx(self.expression(0)?);
            self.advance(Some("}"), true)?;
        }
        n.arguments = args;
        n.procedure = bx(left);
        Ok(n)
    }

    fn led_filter(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        if self.is_op("]") {
            let mut left = left;
            {
                let mut step = &mut left;
                while step.t == T::Binary && step.s() == "[" {
                    match step.lhs {
                        Some(ref mut l) => step = l,
                        None => break,
                    }
                }
                step.keep_array = true;
            }
            self.advance(Some("]"), true)?;
            Ok(left)
        } else {
            let mut n = node(T::Binary, Lit::Str(op), pos);
            n.lhs = bx(left);
            n.rhs = bx(self.expression(0)?);
            self.advance(Some("]"), true)?;
            Ok(n)
        }
    }

    fn led_sort(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        self.advance(Some("("), false)?;
        let mut terms = Vec::new();
        loop {
            let mut descending = false;
            if self.is_op("<") {
                self.advance(Some("<"), false)?;
            } else if self.is_op(">") {
                descending = true;
                self.advance(Some(">"), false)?;
            }
            let expression = self.expression(0)?;
            terms.push(SortTerm {
                descending,
                expression,
            });
            if !self.is_op(",") {
                break;
            }
            self.advance(Some(","), false)?;
        }
        self.advance(Some(")"), true)?;
        let mut n = node(T::Binary, Lit::Str(op), pos);
        n.lhs = bx(left);
        n.terms = terms;
        Ok(n)
    }

    fn led_group(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        let pairs = self.object_pairs()?;
        let mut n = node(T::Binary, Lit::Str(op), pos);
        n.lhs = bx(left);
        n.pairs = pairs;
        Ok(n)
    }

    fn led_bind(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        if left.t != T::Variable {
            return Err(err_at(
                "S0212",
                "The left side of := must be a variable name (start with $)",
                left.position,
            ));
        }
        let mut n = node(T::Binary, Lit::Str(op), pos);
        n.lhs = bx(left);
        n.rhs = bx(self.expression(bp - 1)?);
        Ok(n)
    }

    fn led_focus(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        let rhs = self.expression(bp)?;
        if rhs.t != T::Variable {
            return Err(err_at(
                "S0214",
                format!(
                    "The right side of {} must be a variable name (start with $)",
                    quoted(&op)
                ),
                rhs.position,
            ));
        }
        let mut n = node(T::Binary, Lit::Str(op), pos);
        n.lhs = bx(left);
        n.rhs = bx(rhs);
        Ok(n)
    }

    fn led_cond(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        let mut n = node(T::Condition, Lit::Str(op), pos);
        n.condition = bx(left);
        n.then = bx(self.expression(0)?);
        if self.is_op(":") {
            self.advance(Some(":"), false)?;
            n.els = bx(self.expression(0)?);
        }
        Ok(n)
    }

    fn led_binary(&mut self, op: String, pos: usize, left: Node, bp: u32) -> Result<Node, Error> {
        let _ = bp;
        let mut n = node(T::Binary, Lit::Str(op), pos);
        n.lhs = bx(left);
        n.rhs = bx(self.expression(bp)?);
        Ok(n)
    }

    // ---------- post-processing ----------

    fn new_slot(&mut self) -> usize {
        let id = self.slots.len();
        self.slots.push((format!("!{id}"), 1));
        id
    }

    fn seek_parent(&mut self, node: &mut Node, slot: usize) -> Result<(), Error> {
        match node.t {
            T::Name | T::Wildcard => {
                self.slots[slot].1 -= 1;
                if self.slots[slot].1 == 0 {
                    if let Some(prev) = node.ancestor {
                        let label = self.slots[prev].0.clone();
                        self.slots[slot].0 = label;
                    }
                    node.ancestor = Some(slot);
                    node.tuple = true;
                }
            }
            T::Parent => self.slots[slot].1 += 1,
            T::Block => {
                if let Some(last) = node.expressions.last_mut() {
                    node.tuple = true;
                    self.seek_parent(last, slot)?;
                }
            }
            T::Path => {
                node.tuple = true;
                // the last step first, then earlier ones while levels are left to climb (the
                // callers seek only while one is)
                for step in node.steps.iter_mut().rev() {
                    self.seek_parent(step, slot)?;
                    if self.slots[slot].1 == 0 {
                        break;
                    }
                }
            }
            _ => {
                return Err(err_at(
                    "S0217",
                    "The object representing the 'parent' cannot be derived from this expression",
                    node.position,
                ));
            }
        }
        Ok(())
    }

    fn push_ancestry(result: &mut Node, value: &Node) {
        if value.seeking_parent.is_some() || value.t == T::Parent {
            let mut slots = value.seeking_parent.clone().unwrap_or_default();
            if value.t == T::Parent {
                if let Some(s) = value.slot {
                    slots.push(s);
                }
            }
            match &mut result.seeking_parent {
                None => result.seeking_parent = Some(slots),
                Some(v) => v.extend(slots),
            }
        }
    }

    fn resolve_ancestry(&mut self, path: &mut Node) -> Result<(), Error> {
        let last = match path.steps.last() {
            Some(l) => l,
            None => return Ok(()),
        };
        let mut slots = last.seeking_parent.clone().unwrap_or_default();
        if last.t == T::Parent {
            if let Some(s) = last.slot {
                slots.push(s);
            }
        }
        for slot in slots {
            let mut index = path.steps.len() as isize - 2;
            while self.slots[slot].1 > 0 {
                if index < 0 {
                    path.seeking_parent.get_or_insert_with(Vec::new).push(slot);
                    break;
                }
                let mut si = index as usize;
                index -= 1;
                while index >= 0
                    && path.steps[si].focus.is_some()
                    && path.steps[index as usize].focus.is_some()
                {
                    si = index as usize;
                    index -= 1;
                }
                let mut step = std::mem::take(&mut path.steps[si]);
                let r = self.seek_parent(&mut step, slot);
                path.steps[si] = step;
                r?;
            }
        }
        Ok(())
    }

    fn process(&mut self, expr: Node) -> Result<Node, Error> {
        if self.out_of_stack() {
            return Err(err_at("S0201", NESTING_MESSAGE, expr.position));
        }
        let keep_array = expr.keep_array;
        let mut result = match expr.t {
            T::Binary => self.process_binary(expr)?,
            T::Unary => self.process_unary(expr)?,
            T::Function | T::Partial => self.process_call(expr)?,
            T::Lambda => self.process_lambda(expr)?,
            T::Condition => self.process_condition(expr)?,
            T::Transform => self.process_transform(expr)?,
            T::Block => self.process_block(expr)?,
            T::Name => name_to_path(expr),
            T::Parent => {
                let slot = self.new_slot();
                let mut r = node(T::Parent, Lit::None, expr.position);
                r.slot = Some(slot);
                r
            }
            T::Str | T::Num | T::Value | T::Wildcard | T::Descendant | T::Variable | T::Regex => {
                expr
            }
            T::Operator => self.process_operator(expr)?,
            T::End => {
                return Err(err_at(
                    "S0207",
                    "Unexpected end of expression",
                    expr.position,
                ));
            }
            _ => {
                return Err(err_at("S0206", "Unknown expression type", expr.position));
            }
        };
        if keep_array {
            result.keep_array = true;
        }
        Ok(result)
    }

    /// `expr` processed as a child of `parent`, whose ancestry it joins.
    fn process_child(&mut self, parent: &mut Node, expr: Node) -> Result<Node, Error> {
        let child = self.process(expr)?;
        Self::push_ancestry(parent, &child);
        Ok(child)
    }

    /// An array constructor, an object constructor or a negation.
    fn process_unary(&mut self, expr: Node) -> Result<Node, Error> {
        let mut r = node(T::Unary, expr.val.clone(), expr.position);
        match expr.s() {
            "[" => {
                for item in expr.expressions {
                    let v = self.process_child(&mut r, item)?;
                    r.expressions.push(v);
                }
            }
            "{" => {
                for (k, v) in expr.pairs {
                    let k = self.process_child(&mut r, k)?;
                    let v = self.process_child(&mut r, v)?;
                    r.pairs.push((k, v));
                }
            }
            _ => return self.process_negation(r, expr),
        }
        Ok(r)
    }

    /// A negation `r` of `expr`'s operand; a negated number literal is folded into the literal.
    fn process_negation(&mut self, mut r: Node, expr: Node) -> Result<Node, Error> {
        let inner = match expr.lhs {
            Some(l) => self.process(*l)?,
            None => return Err(err_at("S0207", "Unexpected end", expr.position)),
        };
        if inner.t == T::Num {
            let mut n = inner;
            if let Lit::Num(v) = n.val {
                n.val = Lit::Num(-v);
            }
            return Ok(n);
        }
        Self::push_ancestry(&mut r, &inner);
        r.lhs = bx(inner);
        Ok(r)
    }

    /// A function call or a partial application: its arguments and procedure.
    fn process_call(&mut self, expr: Node) -> Result<Node, Error> {
        let mut r = node(expr.t, expr.val.clone(), expr.position);
        for a in expr.arguments {
            let a = self.process_child(&mut r, a)?;
            r.arguments.push(a);
        }
        if let Some(p) = expr.procedure {
            r.procedure = bx(self.process(*p)?);
        }
        Ok(r)
    }

    /// A lambda: its body (the parameters and signature as they are).
    fn process_lambda(&mut self, expr: Node) -> Result<Node, Error> {
        let mut r = node(T::Lambda, expr.val.clone(), expr.position);
        r.arguments = expr.arguments;
        r.signature = expr.signature;
        if let Some(b) = expr.body {
            r.body = bx(self.process(*b)?);
        }
        Ok(r)
    }

    /// `condition ? then : else`.
    fn process_condition(&mut self, expr: Node) -> Result<Node, Error> {
        let mut r = node(T::Condition, expr.val.clone(), expr.position);
        if let Some(c) = expr.condition {
            r.condition = bx(self.process_child(&mut r, *c)?);
        }
        if let Some(c) = expr.then {
            r.then = bx(self.process_child(&mut r, *c)?);
        }
        if let Some(c) = expr.els {
            r.els = bx(self.process_child(&mut r, *c)?);
        }
        Ok(r)
    }

    /// `| pattern | update, delete |`.
    fn process_transform(&mut self, expr: Node) -> Result<Node, Error> {
        let mut r = node(T::Transform, expr.val.clone(), expr.position);
        if let Some(p) = expr.pattern {
            r.pattern = bx(self.process(*p)?);
        }
        if let Some(p) = expr.update {
            r.update = bx(self.process(*p)?);
        }
        if let Some(p) = expr.delete {
            r.delete = bx(self.process(*p)?);
        }
        Ok(r)
    }

    /// `(a; b; …)`: an array constructor inside makes the block one too.
    fn process_block(&mut self, expr: Node) -> Result<Node, Error> {
        let mut r = node(T::Block, expr.val.clone(), expr.position);
        for e in expr.expressions {
            let p = self.process_child(&mut r, e)?;
            if p.consarray || (p.t == T::Path && p.steps.first().is_some_and(|s| s.consarray)) {
                r.consarray = true;
            }
            r.expressions.push(p);
        }
        Ok(r)
    }

    /// An operator in operand position: `and`, `or` and `in` are names, `?` a placeholder.
    fn process_operator(&mut self, expr: Node) -> Result<Node, Error> {
        if matches!(expr.s(), "and" | "or" | "in") {
            let mut e = expr;
            e.t = T::Name;
            self.process(e)
        } else if expr.s() == "?" {
            Ok(expr)
        } else {
            Err(err_at(
                "S0201",
                format!("Syntax error: {}", expr.s()),
                expr.position,
            ))
        }
    }

    fn process_binary(&mut self, expr: Node) -> Result<Node, Error> {
        let pos = expr.position;
        let op = expr.s().to_string();
        let mut expr = expr;
        let lhs = expr.lhs.take().map(|b| *b).unwrap_or_default();
        match op.as_str() {
            "." => self.pb_dot(expr, lhs, pos, op),
            "[" => self.pb_filter(expr, lhs, pos, op),
            "{" => self.pb_group(expr, lhs, pos, op),
            "^" => self.pb_sort(expr, lhs, pos, op),
            ":=" => self.pb_bind(expr, lhs, pos, op),
            "@" => self.pb_focus(expr, lhs, pos, op),
            "#" => self.pb_index(expr, lhs, pos, op),
            "~>" => self.pb_apply(expr, lhs, pos, op),
            _ => self.pb_other(expr, lhs, pos, op),
        }
    }

    fn pb_dot(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let lstep = self.process(lhs)?;
        let mut result = if lstep.t == T::Path {
            lstep
        } else {
            let is_parent = lstep.t == T::Parent;
            let slot = lstep.slot;
            let mut r = node(T::Path, Lit::None, pos);
            r.steps.push(lstep);
            if is_parent {
                r.seeking_parent = slot.map(|s| vec![s]);
            }
            r
        };
        let rest = self.process(expr.rhs.map(|b| *b).unwrap_or_default())?;
        if rest.t == T::Path {
            result.steps.extend(rest.steps);
        } else {
            let mut rest = rest;
            if rest.predicate.is_some() {
                rest.stages = rest.predicate.take();
            }
            result.steps.push(rest);
        }
        for step in result.steps.iter_mut() {
            if step.t == T::Num || step.t == T::Value {
                return Err(err_at(
                    "S0213",
                    "The literal value cannot be used as a step within a path expression",
                    step.position,
                ));
            }
            if step.t == T::Str {
                step.t = T::Name;
            }
        }
        if result.steps.iter().any(|s| s.keep_array) {
            result.keep_singleton_array = true;
        }
        if let Some(first) = result.steps.first_mut() {
            if first.t == T::Unary && first.s() == "[" {
                first.consarray = true;
            }
        }
        if let Some(last) = result.steps.last_mut() {
            if last.t == T::Unary && last.s() == "[" {
                last.consarray = true;
            }
        }
        self.resolve_ancestry(&mut result)?;
        Ok(result)
    }

    fn pb_filter(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut result = self.process(lhs)?;
        let is_path = result.t == T::Path;
        let predicate = self.process(expr.rhs.map(|b| *b).unwrap_or_default())?;
        let seeking = predicate.seeking_parent.clone();
        {
            let step: &mut Node = if is_path {
                match result.steps.last_mut() {
                    Some(s) => s,
                    None => return Err(err_at("S0201", "Syntax error", pos)),
                }
            } else {
                &mut result
            };
            if step.group.is_some() {
                return Err(err_at(
                    "S0209",
                    "A predicate cannot follow a grouping expression in a step",
                    pos,
                ));
            }
            if let Some(slots) = seeking {
                let mut step_taken = std::mem::take(step);
                let mut res = Ok(());
                for slot in slots {
                    if self.slots[slot].1 == 1 {
                        if let Err(e) = self.seek_parent(&mut step_taken, slot) {
                            res = Err(e);
                            break;
                        }
                    } else {
                        self.slots[slot].1 -= 1;
                    }
                }
                *step = step_taken;
                res?;
                Self::push_ancestry(step, &predicate);
            }
            let list = if is_path {
                step.stages.get_or_insert_with(Vec::new)
            } else {
                step.predicate.get_or_insert_with(Vec::new)
            };
            list.push(Stage::Filter(Box::new(predicate)));
        }
        Ok(result)
    }

    fn pb_group(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut result = self.process(lhs)?;
        if result.group.is_some() {
            return Err(err_at(
                "S0210",
                "Each step can only have one grouping expression",
                pos,
            ));
        }
        let mut pairs = Vec::new();
        for (k, v) in expr.pairs {
            pairs.push((self.process(k)?, self.process(v)?));
        }
        result.group = Some(Box::new(Group {
            pairs,
            position: pos,
        }));
        Ok(result)
    }

    fn pb_sort(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut result = self.process(lhs)?;
        if result.t != T::Path {
            let mut r = node(T::Path, Lit::None, pos);
            r.steps.push(result);
            result = r;
        }
        let mut sort = node(T::Sort, Lit::None, pos);
        for term in expr.terms {
            let e = self.process(term.expression)?;
            Self::push_ancestry(&mut sort, &e);
            sort.terms.push(SortTerm {
                descending: term.descending,
                expression: e,
            });
        }
        result.steps.push(sort);
        self.resolve_ancestry(&mut result)?;
        Ok(result)
    }

    fn pb_bind(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut r = node(T::Bind, Lit::Str(op), pos);
        r.lhs = bx(self.process(lhs)?);
        let rhs = self.process(expr.rhs.map(|b| *b).unwrap_or_default())?;
        Self::push_ancestry(&mut r, &rhs);
        r.rhs = bx(rhs);
        Ok(r)
    }

    fn pb_focus(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut result = self.process(lhs)?;
        let name = expr
            .rhs
            .as_ref()
            .map(|r| r.s().to_string())
            .unwrap_or_default();
        let step: &mut Node = if result.t == T::Path {
            match result.steps.last_mut() {
                Some(s) => s,
                None => return Err(err_at("S0201", "Syntax error", pos)),
            }
        } else {
            &mut result
        };
        if step.stages.is_some() || step.predicate.is_some() {
            return Err(err_at(
                "S0215",
                "A context variable binding must precede any predicates on a step",
                pos,
            ));
        }
        if step.t == T::Sort {
            return Err(err_at(
                "S0216",
                "A context variable binding must precede the 'order-by' clause on a step",
                pos,
            ));
        }
        if expr.keep_array {
            step.keep_array = true;
        }
        step.focus = Some(name);
        step.tuple = true;
        Ok(result)
    }

    fn pb_index(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut result = self.process(lhs)?;
        let name = expr
            .rhs
            .as_ref()
            .map(|r| r.s().to_string())
            .unwrap_or_default();
        if result.t != T::Path {
            let mut step = result;
            if step.predicate.is_some() {
                step.stages = step.predicate.take();
            }
            let mut r = node(T::Path, Lit::None, pos);
            r.steps.push(step);
            result = r;
        }
        if let Some(step) = result.steps.last_mut() {
            match &mut step.stages {
                None => step.index = Some(name),
                Some(st) => st.push(Stage::Index(name)),
            }
            step.tuple = true;
        }
        Ok(result)
    }

    fn pb_apply(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut r = node(T::Apply, Lit::Str(op), pos);
        let l = self.process(lhs)?;
        let rr = self.process(expr.rhs.map(|b| *b).unwrap_or_default())?;
        r.keep_array = l.keep_array || rr.keep_array;
        r.lhs = bx(l);
        r.rhs = bx(rr);
        Ok(r)
    }

    fn pb_other(&mut self, expr: Node, lhs: Node, pos: usize, op: String) -> Result<Node, Error> {
        let _ = &op;
        let mut r = node(T::Binary, Lit::Str(op), pos);
        let l = self.process(lhs)?;
        let rr = self.process(expr.rhs.map(|b| *b).unwrap_or_default())?;
        Self::push_ancestry(&mut r, &l);
        Self::push_ancestry(&mut r, &rr);
        r.lhs = bx(l);
        r.rhs = bx(rr);
        Ok(r)
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Name(s) | Tok::Op(s) | Tok::Str(s) => s.clone(),
        Tok::Variable(s) => format!("${s}"),
        Tok::Num(n) => crate::value::js_number_to_string(*n),
        Tok::Value(Lit::Bool(b)) => b.to_string(),
        Tok::Value(_) => "null".into(),
        Tok::Regex(p, f) => format!("/{p}/{f}"),
        Tok::End => String::new(),
    }
}
/// A token's value as the reference's messages show it (`JSON.stringify`): numbers and `true`,
/// `false`, `null` bare, names, operators, strings and variables (without `$`) quoted. (A
/// regular expression is never the token an `advance` finds: it is read only where an operand
/// starts.)
fn tok_json(t: &Tok) -> String {
    match t {
        Tok::Name(s) | Tok::Op(s) | Tok::Str(s) | Tok::Variable(s) => quoted(s),
        _ => tok_text(t),
    }
}

/// A name alone: a path of one step.
fn name_to_path(expr: Node) -> Node {
    let keep_singleton_array = expr.keep_array;
    let mut r = node(T::Path, Lit::None, expr.position);
    r.steps.push(expr);
    if keep_singleton_array {
        r.keep_singleton_array = true;
    }
    r
}

/// Parses `src` into a processed tree and the table of parent-slot labels.
pub(crate) fn parse(src: &str) -> Result<(Node, Vec<String>), Error> {
    crate::error::with_stack(|budget| {
        let mut hit = false;
        let r = parse_with_budget(src, budget, &mut hit);
        (r, hit)
    })
}

fn parse_with_budget(
    src: &str,
    budget: usize,
    hit: &mut bool,
) -> Result<(Node, Vec<String>), Error> {
    let chars: Vec<char> = src.chars().collect();
    let len = chars.len();
    let mut p = Parser {
        lexer: Lexer { chars, pos: 0 },
        tok: Tok::End,
        pos: 0,
        src_len: len,
        depth: 0,
        stack_base: stack_position(),
        stack_budget: budget,
        stack_hit: false,
        slots: Vec::new(),
    };
    let r = parse_tokens(&mut p);
    *hit = p.stack_hit;
    r
}

fn parse_tokens(p: &mut Parser) -> Result<(Node, Vec<String>), Error> {
    p.advance(None, false)?;
    let expr = p.expression(0)?;
    if p.tok != Tok::End {
        return Err(err_at(
            "S0201",
            format!("Syntax error: {}", tok_text(&p.tok)),
            p.pos,
        ));
    }
    let expr = p.process(expr)?;
    if expr.t == T::Parent || expr.seeking_parent.is_some() {
        return Err(err_at(
            "S0217",
            "The object representing the 'parent' cannot be derived from this expression",
            expr.position,
        ));
    }
    let labels = p.slots.iter().map(|(l, _)| l.clone()).collect();
    Ok((expr, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(src: &str) -> String {
        match parse(src) {
            Ok(_) => "ok".into(),
            Err(e) => e.code,
        }
    }

    #[test]
    fn given_valid_syntax_when_parsed_then_ok() {
        for src in [
            "a.b[0].c",
            "$x := function($a, $b)<nn:n>{ $a + $b }",
            "a{k: v}",
            "a^(>x)#$i.b@$o",
            "|a|{'b': 1}, ['c']|",
            "/ab+c/i",
            "(1; 2) /* comment */",
            "$f(?, 1)",
            "a ?: b ?? c",
            "a.b.%.x",
        ] {
            assert_eq!(code(src), "ok", "{src}");
        }
    }

    #[test]
    fn given_bad_syntax_when_parsed_then_reference_codes() {
        let cases = [
            ("\"abc", "S0101"),
            ("\"\\q\"", "S0103"),
            ("\"\\u12\"", "S0104"),
            ("`abc", "S0105"),
            ("/* x", "S0106"),
            ("1 !", "S0204"),
            ("(1", "S0203"),
            ("function(a){1}", "S0208"),
            ("a.1", "S0213"),
            ("1 := 2", "S0212"),
            ("a@1", "S0214"),
            ("%", "S0217"),
            ("1 2", "S0201"),
            ("//", "S0301"),
            ("/ab", "S0302"),
        ];
        for (src, want) in cases {
            assert_eq!(code(src), want, "{src}");
        }
    }

    /// Every token of `src` up to the end, with its position; `infix` as the parser would
    /// pass it before each token.
    fn lex(src: &str, infix: bool) -> Result<Vec<(Tok, usize)>, Error> {
        let mut lexer = Lexer {
            chars: src.chars().collect(),
            pos: 0,
        };
        let mut out = Vec::new();
        loop {
            let (tok, at) = lexer.next(infix)?;
            if tok == Tok::End {
                out.push((tok, at));
                return Ok(out);
            }
            out.push((tok, at));
        }
    }

    fn op(s: &str) -> Tok {
        Tok::Op(s.into())
    }

    fn name(s: &str) -> Tok {
        Tok::Name(s.into())
    }

    fn string(src: &str) -> String {
        match lex(src, false).unwrap().remove(0).0 {
            Tok::Str(s) => s,
            other => panic!("{src}: not a string: {other:?}"),
        }
    }

    /// The error of lexing `src`: code, message, position.
    fn lex_error(src: &str, infix: bool) -> (String, String, Option<usize>) {
        let e = lex(src, infix).expect_err(src);
        (e.code, e.message, e.position)
    }

    #[test]
    fn given_blanks_comments_operators_and_names_when_lexed_then_tokens_and_positions() {
        assert_eq!(
            lex(" \t/* c */ a /* d */\n\r\u{0B}", true).unwrap(),
            [(name("a"), 10), (Tok::End, 22)]
        );
        assert_eq!(
            lex(
                ".. := != >= <= ** ~> ?: ?? . [ ] { } ( ) @ # ; : ? + - * / % | = < > ^ & ! ~",
                true
            )
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .collect::<Vec<_>>(),
            [
                "..", ":=", "!=", ">=", "<=", "**", "~>", "?:", "??", ".", "[", "]", "{", "}", "(",
                ")", "@", "#", ";", ":", "?", "+", "-", "*", "/", "%", "|", "=", "<", ">", "^",
                "&", "!", "~"
            ]
            .into_iter()
            .map(op)
            .chain([Tok::End])
            .collect::<Vec<_>>()
        );
        assert_eq!(
            lex("a.b[0]!=$x", true).unwrap(),
            [
                (name("a"), 0),
                (op("."), 1),
                (name("b"), 2),
                (op("["), 3),
                (Tok::Num(0.0), 4),
                (op("]"), 5),
                (op("!="), 6),
                (Tok::Variable("x".into()), 8),
                (Tok::End, 10)
            ]
        );
        assert_eq!(
            lex("or in and true false null café $ $$ `a b`x", true).unwrap(),
            [
                (op("or"), 0),
                (op("in"), 3),
                (op("and"), 6),
                (Tok::Value(Lit::Bool(true)), 10),
                (Tok::Value(Lit::Bool(false)), 15),
                (Tok::Value(Lit::Null), 21),
                (name("café"), 26),
                (Tok::Variable("".into()), 31),
                (Tok::Variable("$".into()), 33),
                (name("a b"), 36),
                (name("x"), 41),
                (Tok::End, 42)
            ]
        );
    }

    #[test]
    fn given_numbers_when_lexed_then_json_numbers_are_read_and_the_rest_left() {
        let nums = |src: &str| -> Vec<Tok> {
            lex(src, true)
                .unwrap()
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        };
        assert_eq!(nums("12.5"), [Tok::Num(12.5), Tok::End]);
        assert_eq!(
            nums("1e3 1E+3 25e-2"),
            [Tok::Num(1e3), Tok::Num(1e3), Tok::Num(0.25), Tok::End]
        );
        assert_eq!(nums("01"), [Tok::Num(0.0), Tok::Num(1.0), Tok::End]);
        assert_eq!(nums("1."), [Tok::Num(1.0), op("."), Tok::End]);
        assert_eq!(nums("1e"), [Tok::Num(1.0), name("e"), Tok::End]);
        assert_eq!(nums("1e+"), [Tok::Num(1.0), name("e"), op("+"), Tok::End]);
        assert_eq!(
            lex_error("x 1e999", true),
            ("S0102".into(), "Number out of range: 1e999".into(), Some(2))
        );
    }

    #[test]
    fn given_string_literals_when_lexed_then_escapes_and_surrogates_are_decoded() {
        assert_eq!(
            string(r#""a\"b\\c\/d\be\ff\ng\rh\ti""#),
            "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti"
        );
        assert_eq!(string(r#"'say "hi"'"#), "say \"hi\"");
        assert_eq!(string(r#""\u00e9\u0041""#), "éA");
        assert_eq!(string(r#""\ud83d\ude00""#), "😀");
        // A lone half of a surrogate pair becomes U+FFFD.
        assert_eq!(string(r#""\ud83dx""#), "\u{FFFD}x");
        assert_eq!(string(r#""\ud83d""#), "\u{FFFD}");
        assert_eq!(string(r#""\ude00""#), "\u{FFFD}");
        assert_eq!(string(r#""\ud83d\ud83d\ude00""#), "\u{FFFD}😀");
        assert_eq!(string(r#""\ud83d\n""#), "\u{FFFD}\n");
        assert_eq!(string(r#""\ud83dé""#), "\u{FFFD}é");
        assert_eq!(string(r#""\ud83d\u0041""#), "\u{FFFD}A");
        assert_eq!(
            lex(r#"'a' & "b""#, true).unwrap(),
            [
                (Tok::Str("a".into()), 0),
                (op("&"), 4),
                (Tok::Str("b".into()), 6),
                (Tok::End, 9)
            ]
        );
    }

    #[test]
    fn given_malformed_tokens_when_lexed_then_the_reference_code_message_and_position() {
        let e = e3;
        let cases = [
            (
                "x \"abc",
                e(
                    "S0101",
                    "String literal must be terminated by a matching quote",
                    6,
                ),
            ),
            ("'a\\'b'", e("S0103", "Unsupported escape sequence: \\'", 3)),
            ("\"\\q\"", e("S0103", "Unsupported escape sequence: \\q", 2)),
            ("\"\\", e("S0103", "Unsupported escape sequence: \\", 2)),
            (
                "\"\\u12\"",
                e(
                    "S0104",
                    "The escape sequence \\u must be followed by 4 hex digits",
                    2,
                ),
            ),
            (
                "\"ab\\u12g4\"",
                e(
                    "S0104",
                    "The escape sequence \\u must be followed by 4 hex digits",
                    4,
                ),
            ),
            (
                "a.`abc",
                e(
                    "S0105",
                    "Quoted property name must be terminated with a backquote (`)",
                    6,
                ),
            ),
            ("a /* x", e("S0106", "Comment has no closing tag", 2)),
            ("/* x *", e("S0106", "Comment has no closing tag", 0)),
        ];
        for (src, want) in cases {
            assert_eq!(lex_error(src, true), want, "{src}");
        }
    }

    #[test]
    fn given_a_slash_when_lexed_then_an_operator_after_an_operand_and_a_regex_otherwise() {
        assert_eq!(lex("/", true).unwrap(), [(op("/"), 0), (Tok::End, 1)]);
        assert_eq!(
            lex(r"  /a\/b/im", false).unwrap(),
            [(Tok::Regex(r"a\/b".into(), "im".into()), 2), (Tok::End, 10)]
        );
        assert_eq!(
            lex("/[/](/)/x", false).unwrap()[0],
            (Tok::Regex("[/](/)".into(), "".into()), 0)
        );
        assert_eq!(
            lex(r"/\\/", false).unwrap()[0],
            (Tok::Regex(r"\\".into(), "".into()), 0)
        );
        assert_eq!(
            lex(r"/\(/", false).unwrap()[0],
            (Tok::Regex(r"\(".into(), "".into()), 0)
        );
        assert_eq!(
            lex_error("//", false),
            e3("S0301", "Empty regular expressions are not allowed", 1)
        );
        assert_eq!(
            lex_error("/ab", false),
            e3("S0302", "No terminating / in regular expression", 3)
        );
        assert_eq!(
            lex_error(r"/a\/", false),
            e3("S0302", "No terminating / in regular expression", 4)
        );
    }

    fn e3(code: &str, message: &str, position: usize) -> (String, String, Option<usize>) {
        (code.to_string(), message.to_string(), Some(position))
    }

    #[test]
    fn given_path_when_processed_then_steps_are_flattened() {
        let (n, _) = parse("a.b.c").unwrap();
        assert_eq!(n.t, T::Path);
        assert_eq!(n.steps.len(), 3);
        let (n, labels) = parse("a.b.%.c").unwrap();
        assert_eq!(n.steps.len(), 4);
        assert_eq!(labels.len(), 1);
        assert!(n.steps[1].tuple, "the parent's origin step carries a tuple");
    }

    #[test]
    fn given_negative_literal_when_processed_then_folded() {
        let (n, _) = parse("-5").unwrap();
        assert_eq!(n.t, T::Num);
        assert_eq!(n.val, Lit::Num(-5.0));
    }
}
