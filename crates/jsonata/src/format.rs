//! `$formatNumber`: the XPath/XSLT decimal picture string, exponents included, as jsonata reads
//! it.

use crate::error::{Error, err};
use crate::value::{Value, js_number_to_string};

struct Props {
    decimal: char,
    group: char,
    percent: char,
    per_mille: char,
    zero: char,
    digit: char,
    pattern_sep: char,
    exponent: char,
    minus: String,
}

fn props(options: &Value) -> Props {
    let mut p = Props {
        decimal: '.',
        group: ',',
        percent: '%',
        per_mille: '\u{2030}',
        zero: '0',
        digit: '#',
        pattern_sep: ';',
        exponent: 'e',
        minus: "-".into(),
    };
    if let Value::Object(m) = options {
        let ch = |k: &str| -> Option<char> {
            match m.get(k) {
                Some(Value::String(s)) => s.chars().next(),
                _ => None,
            }
        };
        if let Some(c) = ch("decimal-separator") {
            p.decimal = c;
        }
        if let Some(c) = ch("grouping-separator") {
            p.group = c;
        }
        if let Some(c) = ch("percent") {
            p.percent = c;
        }
        if let Some(c) = ch("per-mille") {
            p.per_mille = c;
        }
        if let Some(c) = ch("zero-digit") {
            p.zero = c;
        }
        if let Some(c) = ch("digit") {
            p.digit = c;
        }
        if let Some(c) = ch("pattern-separator") {
            p.pattern_sep = c;
        }
        if let Some(c) = ch("exponent-separator") {
            p.exponent = c;
        }
        if let Some(Value::String(s)) = m.get("minus-sign") {
            p.minus = s.to_string();
        }
    }
    p
}

/// F&O 4.7.3's rules for a sub-picture (`sub`) and its active part (`part.body`, from its first to
/// its last digit, decimal or grouping separator; its mantissa and exponent), in jsonata's
/// order; like jsonata, the last rule broken is the one reported. `active` also counts the
/// exponent separator, as jsonata does.
fn rule_broken(
    sub: &[char],
    part: &SubPicture,
    p: &Props,
    is_digit: impl Fn(char) -> bool,
    active: impl Fn(char) -> bool,
) -> Option<(&'static str, &'static str)> {
    let (body, mantissa) = (&part.body, &part.mantissa);
    let count = |c: char| sub.iter().filter(|&&x| x == c).count();
    let family = |c: char| is_digit(c) && c != p.digit;
    let mut broken = None;
    if count(p.decimal) > 1 {
        broken = Some((
            "D3081",
            "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
        ));
    }
    if count(p.percent) > 1 {
        broken = Some((
            "D3082",
            "The sub-picture must not contain more than one instance of the 'percent' character",
        ));
    }
    if count(p.per_mille) > 1 {
        broken = Some((
            "D3083",
            "The sub-picture must not contain more than one instance of the 'per-mille' character",
        ));
    }
    if count(p.percent) > 0 && count(p.per_mille) > 0 {
        broken = Some((
            "D3084",
            "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
        ));
    }
    if !mantissa.iter().any(|&c| is_digit(c)) {
        broken = Some((
            "D3085",
            "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'",
        ));
    }
    if body.iter().any(|&c| !active(c)) {
        broken = Some((
            "D3086",
            "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character",
        ));
    }
    let dec = body.iter().position(|&c| c == p.decimal);
    match dec {
        Some(d) => {
            let before = d.checked_sub(1).and_then(|i| body.get(i));
            if before == Some(&p.group) || body.get(d + 1) == Some(&p.group) {
                broken = Some((
                    "D3087",
                    "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character",
                ));
            }
        }
        None if mantissa.last() == Some(&p.group) => {
            broken = Some((
                "D3088",
                "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
            ));
        }
        None => {}
    }
    if sub.windows(2).any(|w| w[0] == p.group && w[1] == p.group) {
        broken = Some((
            "D3089",
            "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
        ));
    }
    let (int_part, frac_part) = split_at_decimal(mantissa, p);
    if let Some(h) = int_part.iter().position(|&c| c == p.digit) {
        if int_part[..h].iter().any(|&c| family(c)) {
            broken = Some((
                "D3090",
                "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'",
            ));
        }
    }
    if let Some(h) = frac_part.iter().rposition(|&c| c == p.digit) {
        if frac_part[h..].iter().any(|&c| family(c)) {
            broken = Some((
                "D3091",
                "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'",
            ));
        }
    }
    if let Some(exponent) = &part.exponent {
        if !exponent.is_empty() && (count(p.percent) > 0 || count(p.per_mille) > 0) {
            broken = Some((
                "D3092",
                "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'",
            ));
        }
        if exponent.is_empty() || !exponent.iter().all(|&c| family(c)) {
            broken = Some((
                "D3093",
                "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'",
            ));
        }
    }
    broken
}

/// The integer and the fractional part of a mantissa (the fractional part empty without a
/// decimal separator).
fn split_at_decimal<'c>(mantissa: &'c [char], p: &Props) -> (&'c [char], &'c [char]) {
    match mantissa.iter().position(|&c| c == p.decimal) {
        Some(d) => (&mantissa[..d], &mantissa[d + 1..]),
        None => (mantissa, &[]),
    }
}

impl Props {
    /// The optional digit character or a member of the decimal digit family.
    fn is_digit(&self, c: char) -> bool {
        c == self.digit || (c as u32 >= self.zero as u32 && (c as u32) < self.zero as u32 + 10)
    }

    /// A member of the decimal digit family (a mandatory digit).
    fn is_mandatory_digit(&self, c: char) -> bool {
        self.is_digit(c) && c != self.digit
    }

    /// The characters that delimit a sub-picture's active part: digits and separators.
    fn is_active(&self, c: char) -> bool {
        self.is_digit(c) || c == self.decimal || c == self.group
    }

    /// The active characters as jsonata's rules count them: also the exponent separator (its
    /// pattern separator too, which a sub-picture cannot hold: the picture is split at it).
    fn is_active_for_rules(&self, c: char) -> bool {
        self.is_active(c) || c == self.exponent
    }

    /// The decimal digit `d` in the digit family that starts at `zero-digit`.
    fn map_digit(&self, d: char) -> char {
        d.to_digit(10)
            .and_then(|x| char::from_u32(self.zero as u32 + x))
            .unwrap_or(d)
    }
}

/// A sub-picture around its active part (from its first to its last active character), and
/// that part's mantissa and exponent.
struct SubPicture {
    prefix: String,
    body: Vec<char>,
    suffix: String,
    mantissa: Vec<char>,
    /// The characters after the exponent separator, when there is one.
    exponent: Option<Vec<char>>,
}

/// The digits an active part asks for, on either side of its decimal separator.
struct DigitLayout {
    int_pic: Vec<char>,
    frac_pic: Vec<char>,
    has_decimal: bool,
    min_int: usize,
    min_frac: usize,
    max_frac: usize,
    /// The mandatory integer digits as the picture has them: the mantissa's digits before the
    /// point when there is an exponent.
    scaling: usize,
    /// The exponent's digits (0: no exponent).
    min_exponent: usize,
}

/// Where the integer part's grouping separators go, counted in digits from the right.
struct IntegerGrouping {
    positions: Vec<usize>,
    /// Every position a multiple of the first: the separator repeats.
    regular: bool,
}

pub(crate) fn format_number(value: f64, picture: &str, options: &Value) -> Result<String, Error> {
    let p = props(options);
    let subs: Vec<&str> = picture.split(p.pattern_sep).collect();
    if subs.len() > 2 {
        return Err(err(
            "D3080",
            "The picture string must only contain a maximum of two sub-pictures",
        ));
    }
    // Every sub-picture is checked, the one not used included (as jsonata does).
    let mut parts = subs
        .iter()
        .map(|sub| checked_sub_picture(sub, &p))
        .collect::<Result<Vec<_>, Error>>()?;
    let part = if value < 0.0 && parts.len() == 2 {
        parts.swap_remove(1)
    } else {
        parts.swap_remove(0)
    };
    let layout = digit_layout(&part, &p);
    let int_grouping = integer_grouping(&layout.int_pic, &p);
    let frac_groups = fractional_grouping(&layout.int_pic, &layout.frac_pic, &p);
    let (mantissa, exponent) = mantissa_and_exponent(scaled(value.abs(), &part, &p), &layout);
    let (int_digits, frac_digits) = fixed_digits(mantissa, &layout);
    let int_out = grouped_integer(&int_digits, &int_grouping, &p);
    let frac_out = grouped_fraction(&frac_digits, &frac_groups, &p);
    let mut out = String::new();
    // F&O 4.7.5 bullet 2: a negative number takes the negative sub-picture (here the minus sign
    // and the positive one) even when it rounds to zero, as the reference does (-0.4 → "-0").
    if value < 0.0 && subs.len() == 1 {
        out.push_str(&p.minus);
    }
    out.push_str(&part.prefix);
    out.push_str(&int_out);
    // bullet 12: the decimal separator only with something after it. A picture without one can
    // still ask for a fractional digit ("#e0" does); jsonata then drops the last character of
    // the number instead of the separator, and so does this crate: 5 gives "0.e1"
    if !frac_out.is_empty() {
        out.push(p.decimal);
        let shown = if layout.has_decimal {
            frac_out.len()
        } else {
            frac_out.len() - 1
        };
        out.extend(&frac_out[..shown]);
    }
    if let Some(e) = exponent {
        out.push(p.exponent);
        if e < 0 {
            out.push_str(&p.minus);
        }
        let digits = format!("{:0w$}", e.unsigned_abs(), w = layout.min_exponent);
        out.extend(digits.chars().map(|d| p.map_digit(d)));
    }
    out.push_str(&part.suffix);
    Ok(out)
}

/// `sub` split around its active part, once it breaks none of F&O's rules.
fn checked_sub_picture(sub: &str, p: &Props) -> Result<SubPicture, Error> {
    let chars: Vec<char> = sub.chars().collect();
    let first = chars.iter().position(|&c| p.is_active(c));
    let last = chars.iter().rposition(|&c| p.is_active(c));
    // no active character: jsonata takes the whole sub-picture as the active part (so a passive
    // character in it is D3086, an empty one D3085)
    let (f, l) = match (first, last) {
        (Some(f), Some(l)) => (f, l + 1),
        _ => (0, chars.len()),
    };
    let body = chars[f..l].to_vec();
    let (mantissa, exponent) = split_exponent(&chars, &body, f, l, p);
    let part = SubPicture {
        prefix: chars[..f].iter().collect(),
        body,
        suffix: chars[l..].iter().collect(),
        mantissa,
        exponent,
    };
    let broken = rule_broken(
        &chars,
        &part,
        p,
        |c| p.is_digit(c),
        |c| p.is_active_for_rules(c),
    );
    match broken {
        Some((code, message)) => Err(err(code, message)),
        None => Ok(part),
    }
}

/// The active part (`sub[start..end]`) split at the exponent separator as jsonata splits it: the
/// separator is looked for in the whole sub-picture from `start` on, and its index there cuts
/// the active part (so a prefix shifts the cut: "$0.0e0" has the exponent part "", D3093); none
/// past the active part.
fn split_exponent(
    sub: &[char],
    body: &[char],
    start: usize,
    end: usize,
    p: &Props,
) -> (Vec<char>, Option<Vec<char>>) {
    let at = sub[start..]
        .iter()
        .position(|&c| c == p.exponent)
        .map(|i| i + start);
    match at {
        Some(e) if e <= end => (
            body[..e.min(body.len())].to_vec(),
            Some(body.get(e + 1..).unwrap_or_default().to_vec()),
        ),
        _ => (body.to_vec(), None),
    }
}

/// The mantissa and the exponent `v` is shown as: with an exponent, `v` scaled by powers of ten
/// until it has the picture's mandatory integer digits (from 10^(n-1) to 10^n; 0 stays 0).
fn mantissa_and_exponent(v: f64, layout: &DigitLayout) -> (f64, Option<i32>) {
    if layout.min_exponent == 0 {
        return (v, None);
    }
    let max = 10f64.powi(layout.scaling as i32);
    let min = max / 10.0;
    let (mut m, mut e) = (v, 0);
    if m != 0.0 {
        while m.abs() < min {
            m *= 10.0;
            e -= 1;
        }
        while m.abs() > max {
            m /= 10.0;
            e += 1;
        }
    }
    (m, Some(e))
}

/// `v` times 100 for a percent sign outside the active part, times 1000 for a per-mille sign.
fn scaled(v: f64, part: &SubPicture, p: &Props) -> f64 {
    if part.prefix.contains(p.percent) || part.suffix.contains(p.percent) {
        v * 100.0
    } else if part.prefix.contains(p.per_mille) || part.suffix.contains(p.per_mille) {
        v * 1000.0
    } else {
        v
    }
}

/// The integer and fractional pictures of `body` and the digits they ask for.
fn digit_layout(part: &SubPicture, p: &Props) -> DigitLayout {
    let (int_pic, frac_pic) = split_at_decimal(&part.mantissa, p);
    let zero_count = |cs: &[char]| cs.iter().filter(|&&c| p.is_mandatory_digit(c)).count();
    let mut min_int = zero_count(int_pic);
    let scaling = min_int;
    let mut min_frac = zero_count(frac_pic);
    let mut max_frac = frac_pic.iter().filter(|&&c| p.is_digit(c)).count();
    let has_exponent = part.exponent.is_some();
    // F&O 4.7.4's adjustments, as jsonata makes them: no digit at all to show makes one integer
    // digit mandatory (one fractional digit with an exponent), an optional integer digit before
    // an exponent makes one mandatory, and no mandatory digit makes one fractional digit
    // mandatory (".#" gives ".0")
    if min_int == 0 && max_frac == 0 {
        if has_exponent {
            (min_frac, max_frac) = (1, 1);
        } else {
            min_int = 1;
        }
    }
    if has_exponent && min_int == 0 && int_pic.contains(&p.digit) {
        min_int = 1;
    }
    if min_int == 0 && min_frac == 0 {
        min_frac = 1;
    }
    DigitLayout {
        has_decimal: part.mantissa.contains(&p.decimal),
        int_pic: int_pic.to_vec(),
        frac_pic: frac_pic.to_vec(),
        min_int,
        min_frac,
        max_frac,
        scaling,
        min_exponent: part.exponent.as_ref().map_or(0, |e| e.len()),
    }
}

/// The grouping positions of the integer picture, from the right.
fn integer_grouping(int_pic: &[char], p: &Props) -> IntegerGrouping {
    let mut positions = Vec::new();
    let mut count = 0;
    for &c in int_pic.iter().rev() {
        if c == p.group {
            positions.push(count);
        } else if p.is_digit(c) {
            count += 1;
        }
    }
    let regular = positions.first().is_some_and(|g| *g > 0)
        && positions
            .iter()
            .enumerate()
            .all(|(i, g)| *g == positions[0] * (i + 1));
    IntegerGrouping { positions, regular }
}

/// The fractional part's grouping positions as jsonata computes them (its
/// getGroupingPositions): the first separator's position is the number of digits before it in
/// the fractional part, but each next separator is looked for in the *integer* part from just
/// after the previous index, its position the number of the fractional part's digits before
/// that index. F&O 4.7.4 would take every separator of the fractional part ("0.00,00,0" gives
/// "0.12,34,6" there); jsonata, and so this crate, gives "0.12,346".
fn fractional_grouping(int_pic: &[char], frac_pic: &[char], p: &Props) -> Vec<usize> {
    let mut v = Vec::new();
    let mut at = frac_pic.iter().position(|&c| c == p.group);
    while let Some(i) = at {
        let before = &frac_pic[..i.min(frac_pic.len())];
        v.push(before.iter().filter(|&&c| p.is_digit(c)).count());
        at = int_pic
            .iter()
            .skip(i + 1)
            .position(|&c| c == p.group)
            .map(|k| k + i + 1);
    }
    v
}

/// `v` rounded to the layout's fractional digits, as ASCII integer and fractional digits: the
/// integer part padded to its mandatory digits, the fractional part's trailing zeros dropped
/// down to its mandatory digits.
fn fixed_digits(v: f64, layout: &DigitLayout) -> (String, String) {
    let rounded = round_half_even(v, Some(layout.max_frac as f64));
    let fixed = format!("{:.*}", layout.max_frac, rounded);
    let (ip, fp) = match fixed.split_once('.') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (fixed.clone(), String::new()),
    };
    let mut ip = ip.trim_start_matches('0').to_string();
    while ip.len() < layout.min_int {
        ip.insert(0, '0');
    }
    let mut fp = fp;
    while fp.len() > layout.min_frac && fp.ends_with('0') {
        fp.pop();
    }
    (ip, fp)
}

/// The integer digits in the picture's digit family, with its grouping separators.
fn grouped_integer(ip: &str, grouping: &IntegerGrouping, p: &Props) -> String {
    let int_digits: Vec<char> = ip.chars().map(|d| p.map_digit(d)).collect();
    let mut int_out = String::new();
    let n = int_digits.len();
    for (i, d) in int_digits.iter().enumerate() {
        let from_right = n - i;
        int_out.push(*d);
        let pos = from_right - 1;
        if pos > 0 {
            let sep = if grouping.regular {
                pos % grouping.positions[0] == 0
            } else {
                grouping.positions.contains(&pos)
            };
            if sep {
                int_out.push(p.group);
            }
        }
    }
    int_out
}

/// The fractional digits in the picture's digit family, with its grouping separators. F&O
/// bullet 11 as jsonata does it: a separator goes in after the position's count of fractional
/// characters shown, at the end when there are fewer ("0.0,x" gives "1234.5,x").
fn grouped_fraction(fp: &str, positions: &[usize], p: &Props) -> Vec<char> {
    let mut frac_out: Vec<char> = fp.chars().map(|d| p.map_digit(d)).collect();
    for &pos in positions {
        frac_out.insert(pos.min(frac_out.len()), p.group);
    }
    frac_out
}

fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// JSONata's `$round`: half to even, at `precision` decimal places (negative: tens, hundreds…).
pub(crate) fn round_half_even(arg: f64, precision: Option<f64>) -> f64 {
    let p = precision.unwrap_or(0.0).trunc();
    let shift = |x: f64, by: f64| -> f64 {
        if by == 0.0 {
            return x;
        }
        let s = js_number_to_string(x);
        let (m, e) = match s.split_once('e') {
            Some((m, e)) => (m.to_string(), e.parse::<f64>().unwrap_or(0.0)),
            None => (s, 0.0),
        };
        format!("{m}e{}", e + by).parse::<f64>().unwrap_or(f64::NAN)
    };
    let a = shift(arg, p);
    let mut result = js_round(a);
    let diff = result - a;
    if diff.abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    let mut result = shift(result, -p);
    if result == 0.0 {
        result = 0.0;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_half_values_when_rounding_then_bankers() {
        assert_eq!(round_half_even(2.5, None), 2.0);
        assert_eq!(round_half_even(3.5, None), 4.0);
        assert_eq!(round_half_even(-2.5, None), -2.0);
        assert_eq!(round_half_even(1.255, Some(2.0)), 1.26);
    }
}
