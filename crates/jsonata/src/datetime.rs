//! `$fromMillis`/`$now` picture formatting and `$toMillis` ISO 8601 parsing.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::error::{Error, err};
use crate::value::Value;

const DEFAULT_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The offset as JSONata derives it from "+hhmm": `n = parseInt`, hours `Math.floor(n / 100)`,
/// minutes `n % 100` (so "-0330" means -4:30, as in JSONata). Returns (minutes, hours*100+minutes).
fn parse_tz(tz: &str) -> Option<(i32, i32)> {
    let t = tz.trim_start();
    let (sign, digits) = match t.chars().next()? {
        '+' => (1, &t[1..]),
        '-' => (-1, &t[1..]),
        _ => (1, t),
    };
    let d: String = digits
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(9)
        .collect();
    if d.is_empty() {
        return None;
    }
    let n: i32 = sign * d.parse::<i32>().ok()?;
    let hours = n.div_euclid(100);
    let mins = n % 100;
    Some((60 * hours + mins, hours * 100 + mins))
}

fn pad_num(n: i64, width: usize) -> String {
    if n < 0 {
        format!("-{:0width$}", -n, width = width)
    } else {
        format!("{:0width$}", n, width = width)
    }
}

fn name_case(name: &str, modifier: &str) -> String {
    let (pres, width) = match modifier.split_once(',') {
        Some((p, w)) => (p, Some(w)),
        None => (modifier, None),
    };
    let mut s = match pres {
        "N" => name.to_uppercase(),
        "n" => name.to_lowercase(),
        _ => name.to_string(),
    };
    if let Some(w) = width {
        let max = w
            .split('-')
            .nth(1)
            .or(Some(w))
            .and_then(|m| m.parse::<usize>().ok());
        if let Some(max) = max {
            s = s.chars().take(max).collect();
        }
    }
    s
}

fn format_component(spec: &str, dt: &DateTime<FixedOffset>, tz_num: i32) -> Result<String, Error> {
    let spec: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
    let mut chars = spec.chars();
    let comp = chars.next().ok_or_else(|| {
        err(
            "D3132",
            "Unknown component specifier in date/time picture string",
        )
    })?;
    let modifier: String = chars.collect();
    let m = modifier.as_str();
    Ok(match comp {
        'Y' => format_year(dt.year() as i64, m),
        'M' if is_name_modifier(m) => name_case(MONTHS[dt.month0() as usize], m),
        'M' => pad_num(dt.month() as i64, digits_width(m, 1)),
        'D' => pad_num(dt.day() as i64, digits_width(m, 1)),
        'd' => pad_num(dt.ordinal() as i64, digits_width(m, 1)),
        'F' => format_weekday(dt, m),
        'H' => pad_num(dt.hour() as i64, digits_width(m, 1)),
        'h' => {
            let h = dt.hour() % 12;
            pad_num(if h == 0 { 12 } else { h } as i64, digits_width(m, 1))
        }
        'm' => pad_num(dt.minute() as i64, digits_width(m, 2)),
        's' => pad_num(dt.second() as i64, digits_width(m, 2)),
        // as the reference reads it: the milliseconds as an integer, not a decimal fraction
        'f' => pad_num(dt.timestamp_subsec_millis() as i64, digits_width(m, 1)),
        'P' => {
            let s = if dt.hour() < 12 { "am" } else { "pm" };
            name_case(s, if m.is_empty() { "n" } else { m })
        }
        'Z' | 'z' => format_timezone(comp == 'z', tz_num, m)?,
        'E' => "ISO".to_string(),
        'C' => "ISO".to_string(),
        'W' | 'w' | 'X' | 'x' => pad_num(dt.iso_week().week() as i64, digits_width(m, 1)),
        other => {
            return Err(err(
                "D3132",
                format!("Unknown component specifier {other} in date/time picture string"),
            ));
        }
    })
}

/// The width a modifier asks for: its presentation's number of digits (`default` when none), at
/// least the minimum of its width modifier (`,2`, `,3-4`).
fn digits_width(modifier: &str, default: usize) -> usize {
    let (p, widths) = modifier.split_once(',').unwrap_or((modifier, ""));
    let n = p.chars().filter(|c| c.is_ascii_digit()).count();
    let min = widths
        .split('-')
        .next()
        .and_then(|w| w.parse::<usize>().ok())
        .unwrap_or(0);
    (if n == 0 { default } else { n }).max(min)
}

/// The modifier presents a name (`N`, `n`, `Nn`) rather than a number.
fn is_name_modifier(modifier: &str) -> bool {
    matches!(modifier.split(',').next().unwrap_or(""), "N" | "n" | "Nn")
}

/// `[Y]`: two digits for a two-digit presentation; a maximum width keeps the last digits.
fn format_year(y: i64, modifier: &str) -> String {
    let p = modifier.split(',').next().unwrap_or("");
    let w = digits_width(modifier, 1);
    let max_w = modifier
        .split_once(',')
        .and_then(|(_, w)| w.split('-').next_back().and_then(|x| x.parse::<u32>().ok()));
    if p.chars().filter(|c| c.is_ascii_digit()).count() == 2 {
        pad_num(y % 100, 2)
    } else if let Some(mw) = max_w {
        let m = 10i64.pow(mw.min(9));
        pad_num(y % m, (mw as usize).min(w.max(1)))
    } else {
        pad_num(y, w)
    }
}

/// `[F]`: the day of the week, by name unless the modifier asks for a number.
fn format_weekday(dt: &DateTime<FixedOffset>, modifier: &str) -> String {
    let m = if modifier.is_empty() { "n" } else { modifier };
    if is_name_modifier(m) {
        name_case(DAYS[dt.weekday().num_days_from_monday() as usize], m)
    } else {
        pad_num(dt.weekday().number_from_monday() as i64, digits_width(m, 1))
    }
}

/// `[Z]`, or `[z]` (`gmt`: prefixed by GMT): the offset `tz_num` (hours * 100 + minutes) as the
/// modifier presents it; a trailing `t` gives `Z` for a zero offset.
fn format_timezone(gmt: bool, tz_num: i32, modifier: &str) -> Result<String, Error> {
    let t = modifier.ends_with('t');
    let m = modifier.trim_end_matches('t');
    let m = if m.is_empty() { "01:01" } else { m };
    if t && tz_num == 0 {
        return Ok("Z".to_string());
    }
    let sign = if tz_num < 0 { '-' } else { '+' };
    let a = tz_num.abs();
    let (h, mi) = (a / 100, a % 100);
    let digits = m.chars().filter(|c| c.is_ascii_digit()).count();
    let body = if m.contains(':') {
        let hw = m.split(':').next().map(|x| x.len()).unwrap_or(2);
        format!("{}:{:02}", pad_num(h as i64, hw), mi)
    } else if digits <= 2 {
        if mi == 0 {
            pad_num(h as i64, digits.max(1))
        } else {
            format!("{}:{:02}", pad_num(h as i64, digits.max(1)), mi)
        }
    } else if digits <= 4 {
        pad_num(a as i64, digits)
    } else {
        return Err(err(
            "D3134",
            "The timezone integer format specifier cannot have more than four digits",
        ));
    };
    Ok(if gmt {
        format!("GMT{sign}{body}")
    } else {
        format!("{sign}{body}")
    })
}

/// Formats milliseconds since the epoch with an XPath picture string.
pub(crate) fn from_millis(ms: f64, picture: &Value, tz: &Value) -> Result<String, Error> {
    let (offset_min, tz_num) = match tz {
        Value::String(s) => parse_tz(s).unwrap_or((0, 0)),
        _ => (0, 0),
    };
    let offset = FixedOffset::east_opt(offset_min * 60)
        .ok_or_else(|| err("D3134", "The timezone is out of range"))?;
    let utc = Utc
        .timestamp_millis_opt(ms.floor() as i64)
        .single()
        .ok_or_else(|| err("D3110", "The timestamp is out of range"))?;
    let dt = utc.with_timezone(&offset);
    let pic = match picture {
        Value::String(s) => s.to_string(),
        _ => DEFAULT_PICTURE.to_string(),
    };
    let chars: Vec<char> = pic.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' {
            if chars.get(i + 1) == Some(&'[') {
                out.push('[');
                i += 2;
                continue;
            }
            let end = chars[i..].iter().position(|&x| x == ']').map(|p| p + i);
            let end = end.ok_or_else(|| {
                err(
                    "D3135",
                    "No matching closing bracket ']' in date/time picture string",
                )
            })?;
            let spec: String = chars[i + 1..end].iter().collect();
            out.push_str(&format_component(&spec, &dt, tz_num)?);
            i = end + 1;
        } else if c == ']' && chars.get(i + 1) == Some(&']') {
            out.push(']');
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

/// The minutes of an offset that `iso_shape` let through: a sign, two digits of hours, an
/// optional `:` and two of minutes.
fn iso_offset_minutes(tz: &str) -> Option<i32> {
    let sign = if tz.starts_with('-') { -1 } else { 1 };
    let digits: String = tz.chars().skip(1).filter(|c| *c != ':').collect();
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..)?.parse().ok()?;
    Some(sign * (h * 60 + m))
}

fn iso_shape() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    static NEVER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$",
        )
        .ok()
    })
    .as_ref()
    .unwrap_or_else(|| NEVER.get_or_init(|| regex::Regex::new("$^").unwrap_or_else(|_| unreachable_regex())))
}

#[allow(clippy::panic)]
fn unreachable_regex() -> regex::Regex {
    panic!("constant regular expression failed to compile")
}

/// A timestamp of ISO 8601 shape whose values are out of range.
struct InvalidDate;

/// Parses an ISO 8601 timestamp (the forms JSONata accepts without a picture).
pub(crate) fn to_millis<'a>(s: &str, picture: &Value<'a>) -> Result<Value<'a>, Error> {
    if !picture.is_undefined() {
        return Err(err(
            "D3136",
            "Parsing a timestamp with a picture string is not supported by this implementation",
        ));
    }
    let bad = || {
        err(
            "D3110",
            format!(
                "The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {s:?}"
            ),
        )
    };
    if !iso_shape().is_match(s) {
        return Err(bad());
    }
    // the shape is ISO 8601; values out of range give NaN (JSON null) like Date.parse
    let nan = |_| Value::Number(f64::NAN);
    Ok(parse_iso(s).map_or_else(nan, Value::Number))
}

fn parse_iso(s: &str) -> Result<f64, InvalidDate> {
    let bad = || InvalidDate;
    let (date_part, time_part) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let dp: Vec<&str> = date_part.split('-').collect();
    let year: i32 = dp
        .first()
        .and_then(|y| (y.len() == 4).then(|| y.parse().ok())?)
        .ok_or_else(bad)?;
    let month: u32 = match dp.get(1) {
        Some(m) => m.parse().map_err(|_| bad())?,
        None => 1,
    };
    let day: u32 = match dp.get(2) {
        Some(d) => d.parse().map_err(|_| bad())?,
        None => 1,
    };
    if dp.len() > 3 {
        return Err(bad());
    }
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(bad)?;
    let mut offset_secs = 0;
    let naive = match time_part {
        None => date.and_hms_opt(0, 0, 0).ok_or_else(bad)?,
        Some(t) => {
            let (clock, tz) = if let Some(c) = t.strip_suffix('Z') {
                (c, None)
            } else if let Some(i) = t.rfind(['+', '-']) {
                (&t[..i], Some(&t[i..]))
            } else {
                (t, None)
            };
            if let Some(tz) = tz {
                offset_secs = iso_offset_minutes(tz).ok_or_else(bad)? * 60;
            }
            let (hms, frac) = match clock.split_once('.') {
                Some((a, b)) => (a, Some(b)),
                None => (clock, None),
            };
            let parts: Vec<&str> = hms.split(':').collect();
            if parts.len() != 3 {
                return Err(bad());
            }
            let h: u32 = parts[0].parse().map_err(|_| bad())?;
            let m: u32 = parts[1].parse().map_err(|_| bad())?;
            let sec: u32 = parts[2].parse().map_err(|_| bad())?;
            // `iso_shape` let through only digits after the point, at least one
            let ms: u32 = match frac {
                Some(f) => {
                    let f3: String = format!("{f:0<3}").chars().take(3).collect();
                    f3.parse().map_err(|_| bad())?
                }
                None => 0,
            };
            date.and_hms_milli_opt(h, m, sec, ms).ok_or_else(bad)?
        }
    };
    let millis = NaiveDateTime::and_utc(&naive).timestamp_millis() - (offset_secs as i64) * 1000;
    Ok(millis as f64)
}
