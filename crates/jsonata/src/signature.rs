//! Function signatures (`<s-nn?:s>`): parsing and argument validation, as in JSONata.

use regex::Regex;

use crate::error::{Error, err};
use crate::value::Value;

#[derive(Clone, Debug)]
pub(crate) struct Param {
    regex: String,
    typ: String,
    context: bool,
    context_regex: Option<Regex>,
    subtype: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Signature {
    params: Vec<Param>,
    regex: Regex,
}

fn find_closing(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 1;
    let mut pos = start;
    while pos < chars.len() {
        pos += 1;
        match chars.get(pos) {
            Some(c) if *c == close => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Some(c) if *c == open => depth += 1,
            _ => {}
        }
    }
    pos
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

    fn validation_error(&self, args: &[Value], supplied: &str) -> Error {
        let mut partial = String::from("^");
        let mut good_to = 0;
        for p in &self.params {
            partial.push_str(&p.regex);
            let m = Regex::new(&partial).ok().and_then(|r| r.find(supplied));
            match m {
                None => break,
                Some(m) => good_to = m.end(),
            }
        }
        let _ = args;
        err(
            "T0410",
            format!(
                "Argument {} of function does not match function signature",
                good_to + 1
            ),
        )
    }

    /// Validates `args` against the signature, substituting the context value where allowed
    /// and wrapping singletons into arrays.
    pub fn validate<'a>(
        &self,
        args: &[Value<'a>],
        context: &Value<'a>,
    ) -> Result<Vec<Value<'a>>, Error> {
        let supplied: String = args.iter().map(|a| a.type_symbol()).collect();
        let caps = match self.regex.captures(&supplied) {
            Some(c) => c,
            None => return Err(self.validation_error(args, &supplied)),
        };
        let mut out = Vec::with_capacity(self.params.len());
        let mut arg_index = 0usize;
        for (index, param) in self.params.iter().enumerate() {
            let m = caps.get(index + 1).map(|m| m.as_str()).unwrap_or("");
            if m.is_empty() {
                if param.context {
                    if let Some(cr) = &param.context_regex {
                        let ct = context.type_symbol().to_string();
                        if cr.is_match(&ct) {
                            out.push(context.clone());
                        } else {
                            return Err(err(
                                "T0411",
                                format!(
                                    "Context value is not a compatible type with argument {}",
                                    arg_index + 1
                                ),
                            ));
                        }
                        continue;
                    }
                }
                out.push(args.get(arg_index).cloned().unwrap_or(Value::Undefined));
                arg_index += 1;
            } else {
                for single in m.chars() {
                    let arg = args.get(arg_index).cloned().unwrap_or(Value::Undefined);
                    if param.typ == "a" {
                        if single == 'm' {
                            out.push(Value::Undefined);
                        } else {
                            let mut ok = true;
                            if let Some(sub) = &param.subtype {
                                if single != 'a' && m != sub.as_str() {
                                    ok = false;
                                } else if single == 'a' {
                                    if let Value::Array(a) = &arg {
                                        if let Some(first) = a.items.first() {
                                            let it = first.type_symbol();
                                            if !sub.starts_with(it) {
                                                ok = false;
                                            } else {
                                                ok = a.items.iter().all(|v| v.type_symbol() == it);
                                            }
                                        }
                                    }
                                }
                            }
                            if !ok {
                                let ty = match param.subtype.as_deref() {
                                    Some("a") => "arrays",
                                    Some("b") => "booleans",
                                    Some("f") => "functions",
                                    Some("n") => "numbers",
                                    Some("o") => "objects",
                                    Some("s") => "strings",
                                    _ => "values",
                                };
                                return Err(err(
                                    "T0412",
                                    format!(
                                        "Argument {} of function must be an array of {ty}",
                                        arg_index + 1
                                    ),
                                ));
                            }
                            if single != 'a' {
                                out.push(Value::plain(vec![arg]));
                            } else {
                                out.push(arg);
                            }
                        }
                    } else {
                        out.push(arg);
                    }
                    arg_index += 1;
                }
            }
        }
        Ok(out)
    }
}
