//! Checks a call's arguments against a function signature, as JSONata does: substitutes the
//! context value where the signature allows it and wraps a single value where an array is
//! expected.

use regex::Regex;

use crate::error::{Error, err};
use crate::signature::{Param, Signature};
use crate::value::Value;

/// The arguments as the function receives them, or `T0410`/`T0411`/`T0412`.
pub(crate) fn validate<'a>(
    sig: &Signature,
    args: &[Value<'a>],
    context: &Value<'a>,
) -> Result<Vec<Value<'a>>, Error> {
    let supplied: String = args.iter().map(|a| a.type_symbol()).collect();
    let caps = match sig.regex.captures(&supplied) {
        Some(c) => c,
        None => return Err(mismatch(sig, &supplied)),
    };
    let mut out = Vec::with_capacity(sig.params.len());
    let mut arg_index = 0usize;
    for (index, param) in sig.params.iter().enumerate() {
        let m = caps.get(index + 1).map(|m| m.as_str()).unwrap_or("");
        if m.is_empty() {
            if let Some(v) = context_arg(param, context, arg_index)? {
                out.push(v);
                continue;
            }
            out.push(nth(args, arg_index));
            arg_index += 1;
            continue;
        }
        for single in m.chars() {
            let arg = nth(args, arg_index);
            out.push(if param.typ == "a" {
                array_arg(param, m, single, arg, arg_index)?
            } else {
                arg
            });
            arg_index += 1;
        }
    }
    Ok(out)
}

fn nth<'a>(args: &[Value<'a>], i: usize) -> Value<'a> {
    args.get(i).cloned().unwrap_or(Value::Undefined)
}

/// `T0410`, naming the first argument that does not fit.
fn mismatch(sig: &Signature, supplied: &str) -> Error {
    let mut partial = String::from("^");
    let mut good_to = 0;
    for p in &sig.params {
        partial.push_str(&p.regex);
        let m = Regex::new(&partial).ok().and_then(|r| r.find(supplied));
        match m {
            None => break,
            Some(m) => good_to = m.end(),
        }
    }
    err(
        "T0410",
        format!(
            "Argument {} of function does not match function signature",
            good_to + 1
        ),
    )
}

/// The context value for a missing argument of a `-` parameter (`None` when the parameter
/// takes no context), or `T0411` when its type does not fit.
fn context_arg<'a>(
    param: &Param,
    context: &Value<'a>,
    arg_index: usize,
) -> Result<Option<Value<'a>>, Error> {
    let Some(cr) = param.context_regex.as_ref().filter(|_| param.context) else {
        return Ok(None);
    };
    if cr.is_match(&context.type_symbol().to_string()) {
        return Ok(Some(context.clone()));
    }
    Err(err(
        "T0411",
        format!(
            "Context value is not a compatible type with argument {}",
            arg_index + 1
        ),
    ))
}

/// An argument of an `a` parameter (`single` is its type symbol, `m` the parameter's match):
/// `undefined` stays so, a single value becomes a one-item array, and `a<…>` checks the items.
fn array_arg<'a>(
    param: &Param,
    m: &str,
    single: char,
    arg: Value<'a>,
    arg_index: usize,
) -> Result<Value<'a>, Error> {
    if single == 'm' {
        return Ok(Value::Undefined);
    }
    if let Some(sub) = &param.subtype {
        let ok = if single == 'a' {
            items_are(&arg, sub)
        } else {
            m == sub.as_str()
        };
        if !ok {
            return Err(err(
                "T0412",
                format!(
                    "Argument {} of function must be an array of {}",
                    arg_index + 1,
                    plural_of(sub)
                ),
            ));
        }
    }
    Ok(if single != 'a' {
        Value::plain(vec![arg])
    } else {
        arg
    })
}

/// An array's items are all of one type, the one `sub` starts with (an empty array passes).
fn items_are(arg: &Value, sub: &str) -> bool {
    let Value::Array(a) = arg else {
        return true;
    };
    let Some(first) = a.items.first() else {
        return true;
    };
    let it = first.type_symbol();
    sub.starts_with(it) && a.items.iter().all(|v| v.type_symbol() == it)
}

fn plural_of(sub: &str) -> &'static str {
    match sub {
        "a" => "arrays",
        "b" => "booleans",
        "f" => "functions",
        "n" => "numbers",
        "o" => "objects",
        "s" => "strings",
        _ => "values",
    }
}
