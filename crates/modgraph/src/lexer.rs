//! Just enough of Rust's lexical grammar to find paths: identifiers, `::`, braces, `;`, `,` and
//! `$`, each with its line; comments, string, char and number literals and lifetimes are skipped.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Semi,
    Comma,
    Dollar,
    Other(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub token: Token,
    pub line: usize,
}

/// The tokens of `text`.
pub fn tokens(text: &str) -> Vec<Located> {
    let chars: Vec<char> = text.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
        line: 1,
        out: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    line: usize,
    out: Vec<Located>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// Moves one character on, counting lines.
    fn bump(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn push(&mut self, token: Token) {
        self.out.push(Located {
            token,
            line: self.line,
        });
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                '/' if self.peek(1) == Some('/') => self.line_comment(),
                '/' if self.peek(1) == Some('*') => self.block_comment(),
                '"' => self.string(),
                'r' | 'b' | 'c' if self.raw_or_byte_string() => {}
                '\'' => self.char_or_lifetime(),
                ':' if self.peek(1) == Some(':') => {
                    self.push(Token::PathSep);
                    self.pos += 2;
                }
                c if c == '_' || c.is_alphabetic() => self.ident(),
                c if c.is_ascii_digit() => self.number(),
                '{' | '}' | ';' | ',' | '$' => {
                    let token = match c {
                        '{' => Token::Open,
                        '}' => Token::Close,
                        ';' => Token::Semi,
                        ',' => Token::Comma,
                        _ => Token::Dollar,
                    };
                    self.push(token);
                    self.pos += 1;
                }
                c if c.is_whitespace() => self.bump(),
                c => {
                    self.push(Token::Other(c));
                    self.pos += 1;
                }
            }
        }
    }

    fn line_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.pos += 1;
        }
    }

    /// `/* … */`, nested.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while self.peek(0).is_some() {
            if self.peek(0) == Some('/') && self.peek(1) == Some('*') {
                depth += 1;
                self.pos += 2;
            } else if self.peek(0) == Some('*') && self.peek(1) == Some('/') {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// `"…"` with escapes.
    fn string(&mut self) {
        self.pos += 1;
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => {
                    self.pos += 1;
                    self.bump();
                }
                '"' => {
                    self.pos += 1;
                    return;
                }
                _ => self.bump(),
            }
        }
    }

    /// `r"…"`, `r#"…"#`, `b"…"`, `br#"…"#`, `c"…"`: consumed when one starts here.
    fn raw_or_byte_string(&mut self) -> bool {
        let mut ahead = 0;
        if matches!(self.peek(0), Some('b' | 'c')) {
            ahead = 1;
        }
        let raw = self.peek(ahead) == Some('r');
        if raw {
            ahead += 1;
        }
        let mut hashes = 0;
        while raw && self.peek(ahead + hashes) == Some('#') {
            hashes += 1;
        }
        if ahead == 0 || self.peek(ahead + hashes) != Some('"') {
            return false;
        }
        if self.pos > 0 {
            let before = self.chars[self.pos - 1];
            if before == '_' || before.is_alphanumeric() {
                return false;
            }
        }
        self.pos += ahead + hashes;
        if !raw {
            self.string();
            return true;
        }
        self.pos += 1;
        while self.peek(0).is_some() {
            if self.peek(0) == Some('"') && (1..=hashes).all(|h| self.peek(h) == Some('#')) {
                self.pos += 1 + hashes;
                return true;
            }
            self.bump();
        }
        true
    }

    /// `'x'`, `'\n'`, `'\u{1F600}'` are skipped; a lifetime `'a` is skipped too.
    fn char_or_lifetime(&mut self) {
        if self.peek(1) == Some('\\') {
            self.pos += 3;
            while self.peek(0).is_some_and(|c| c != '\'') {
                self.bump();
            }
            self.pos += 1;
        } else if self.peek(2) == Some('\'') {
            self.pos += 3;
        } else {
            self.pos += 1;
            while self
                .peek(0)
                .is_some_and(|c| c == '_' || c.is_alphanumeric())
            {
                self.pos += 1;
            }
        }
    }

    fn ident(&mut self) {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|c| c == '_' || c.is_alphanumeric())
        {
            self.pos += 1;
        }
        let mut name: String = self.chars[start..self.pos].iter().collect();
        if name == "r" && self.peek(0) == Some('#') {
            self.pos += 1;
            let raw_start = self.pos;
            while self
                .peek(0)
                .is_some_and(|c| c == '_' || c.is_alphanumeric())
            {
                self.pos += 1;
            }
            name = self.chars[raw_start..self.pos].iter().collect();
        }
        self.push(Token::Ident(name));
    }

    fn number(&mut self) {
        while self
            .peek(0)
            .is_some_and(|c| c == '_' || c == '.' || c.is_alphanumeric())
        {
            if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| !c.is_ascii_digit()) {
                return;
            }
            self.pos += 1;
        }
    }
}
