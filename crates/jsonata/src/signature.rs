//! Function signatures (`<s-nn?:s>`): their parsing, as in JSONata. Checking arguments against
//! one is `validate`'s (this module knows nothing of values, so the syntax tree can hold one).

use regex::Regex;

use crate::error::{Error, err};

#[derive(Clone, Debug)]
pub(crate) struct Param {
    /// The pattern of this parameter's type symbols (`[sm]`, `[asnblfom]+`…).
    pub regex: String,
    /// The type as written (`s`, `a`, `(sf)`…).
    pub typ: String,
    /// `-`: the context value stands in for a missing argument.
    pub context: bool,
    pub context_regex: Option<Regex>,
    /// The type parameter of `a<…>` or `f<…>`.
    pub subtype: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Signature {
    pub params: Vec<Param>,
    /// The whole signature: one capture group per parameter, over the arguments' type symbols.
    pub regex: Regex,
}

/// The position of the `close` that matches the `open` at `start` (nested pairs skipped), or the
/// end of `chars` when it is not closed.
fn find_closing(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    for (pos, c) in chars.iter().enumerate().skip(start) {
        if *c == open {
            depth += 1;
        } else if *c == close {
            depth -= 1;
            if depth == 0 {
                return pos;
            }
        }
    }
    chars.len()
}

fn bad_regex(e: regex::Error) -> Error {
    err("S0401", format!("invalid signature: {e}"))
}

impl Signature {
    pub fn parse(sig: &str) -> Result<Signature, Error> {
        let chars: Vec<char> = sig.chars().collect();
        let mut pos = 1;
        let mut params: Vec<Param> = Vec::new();
        let new_param = || Param {
            regex: String::new(),
            typ: String::new(),
            context: false,
            context_regex: None,
            subtype: None,
        };
        let mut param = new_param();
        while pos < chars.len() {
            let symbol = chars[pos];
            if symbol == ':' {
                break;
            }
            match symbol {
                's' | 'n' | 'b' | 'l' | 'o' => {
                    param.regex = format!("[{symbol}m]");
                    param.typ = symbol.to_string();
                    params.push(std::mem::replace(&mut param, new_param()));
                }
                'a' => {
                    param.regex = "[asnblfom]".into();
                    param.typ = "a".into();
                    params.push(std::mem::replace(&mut param, new_param()));
                }
                'f' => {
                    param.regex = "f".into();
                    param.typ = "f".into();
                    params.push(std::mem::replace(&mut param, new_param()));
                }
                'j' => {
                    param.regex = "[asnblom]".into();
                    param.typ = "j".into();
                    params.push(std::mem::replace(&mut param, new_param()));
                }
                'x' => {
                    param.regex = "[asnblfom]".into();
                    param.typ = "x".into();
                    params.push(std::mem::replace(&mut param, new_param()));
                }
                '-' => {
                    if let Some(prev) = params.last_mut() {
                        prev.context = true;
                        prev.context_regex =
                            Some(Regex::new(&format!("^{}$", prev.regex)).map_err(bad_regex)?);
                        prev.regex.push('?');
                    }
                }
                '?' | '+' => {
                    if let Some(prev) = params.last_mut() {
                        prev.regex.push(symbol);
                    }
                }
                '(' => {
                    let end = find_closing(&chars, pos, '(', ')');
                    let choice: String = chars
                        .get(pos + 1..end.min(chars.len()))
                        .unwrap_or(&[])
                        .iter()
                        .collect();
                    if choice.contains('<') {
                        return Err(err(
                            "S0402",
                            "Choice groups containing parameterized types are not supported",
                        ));
                    }
                    param.regex = format!("[{choice}m]");
                    param.typ = format!("({choice})");
                    pos = end;
                    params.push(std::mem::replace(&mut param, new_param()));
                }
                '<' => {
                    let ok = params.last().is_some_and(|p| p.typ == "a" || p.typ == "f");
                    if !ok {
                        return Err(err(
                            "S0401",
                            "Type parameters can only be applied to functions and arrays",
                        ));
                    }
                    let end = find_closing(&chars, pos, '<', '>');
                    let sub: String = chars
                        .get(pos + 1..end.min(chars.len()))
                        .unwrap_or(&[])
                        .iter()
                        .collect();
                    if let Some(prev) = params.last_mut() {
                        prev.subtype = Some(sub);
                    }
                    pos = end;
                }
                _ => {}
            }
            pos += 1;
        }
        let re: String = params.iter().map(|p| format!("({})", p.regex)).collect();
        let regex = Regex::new(&format!("^{re}$")).map_err(bad_regex)?;
        Ok(Signature { params, regex })
    }
}
