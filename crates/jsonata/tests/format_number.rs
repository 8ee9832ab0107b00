//! `$formatNumber` pictures with misplaced grouping separators end in jsonata's errors (found by
//! the fuzz target `jsonata`: the picture "x,y" divided by zero). Codes and messages are those of
//! the reference implementation (jsonata 2.x), which reports the last rule a picture breaks.
//! Well-formed pictures (per cent, per mille, two sub-pictures, regular and irregular grouping)
//! give the reference's strings.

use mdlc_jsonata::{Environment, Expression, JsonataError};
use serde_json::json;

fn format(picture: &str) -> Result<Option<serde_json::Value>, JsonataError> {
    let src = format!("$formatNumber(1234, {})", json!(picture));
    Expression::parse(&src)?.evaluate(None, &Environment::new())
}

#[test]
fn given_pictures_breaking_grouping_rules_when_formatting_then_the_reference_error() {
    for (picture, code, message) in [
        (
            "x,y",
            "D3088",
            "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
        ),
        (
            "#,",
            "D3088",
            "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
        ),
        (
            "#,,#",
            "D3089",
            "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
        ),
        (
            "#,.0",
            "D3087",
            "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character",
        ),
        (
            ".",
            "D3085",
            "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'",
        ),
    ] {
        let e = format(picture).expect_err(picture);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (code, message),
            "{picture}"
        );
    }
}

#[test]
fn given_a_leading_grouping_separator_when_formatting_then_every_digit_is_a_group() {
    // As the reference: ",#" groups every digit.
    assert_eq!(format(",#").unwrap(), Some(json!("1,2,3,4")));
    assert_eq!(format("#,##0.00").unwrap(), Some(json!("1,234.00")));
}

#[test]
fn given_a_grouping_separator_right_after_the_decimal_separator_then_d3087() {
    let e = Expression::parse(r##"$formatNumber(1, "#.,0")"##)
        .and_then(|x| x.evaluate(None, &Environment::new()))
        .expect_err("#.,0");
    assert_eq!(e.code, "D3087");
}

fn formatted(value: f64, picture: &str) -> Option<serde_json::Value> {
    let src = format!("$formatNumber({value}, {})", json!(picture));
    Expression::parse(&src)
        .and_then(|e| e.evaluate(None, &Environment::new()))
        .unwrap_or_else(|e| panic!("{picture}: {e}"))
}

#[test]
fn given_pictures_when_formatting_then_the_reference_strings() {
    for (value, picture, want) in [
        // the character after '9' (':') is not a digit
        (12.0, "0:", "12:"),
        // zero takes the first sub-picture, a negative number the second
        (0.0, "#0;(#0)", "0"),
        (-1.0, "#0;(#0)", "(1)"),
        // per cent and per mille, in the suffix or the prefix
        (0.5, "#0%", "50%"),
        (0.5, "%#0", "%50"),
        (0.5, "#0‰", "500‰"),
        // regular grouping repeats beyond the picture, irregular does not
        (1_234_567_890.0, "#,###,###", "1,234,567,890"),
        (1_234_567_890.0, "#,##,###", "12345,67,890"),
        // grouping in the fractional part
        (0.123456, "0.000,000", "0.123,456"),
        // a decimal separator without fractional digits to show is left out
        (12.0, "#0.#", "12"),
        (12.5, "#0.#", "12.5"),
    ] {
        assert_eq!(formatted(value, picture), Some(json!(want)), "{picture}");
    }
}

#[test]
fn given_a_negative_number_rounding_to_zero_then_the_minus_sign_stays() {
    // the reference (npm jsonata 2.2.2): "-0", "-0.0", "(0)"; negative zero is not negative: "0"
    assert_eq!(formatted(-0.4, "#0"), Some(json!("-0")));
    assert_eq!(formatted(-0.01, "0.0"), Some(json!("-0.0")));
    assert_eq!(formatted(-0.4, "#0;(#0)"), Some(json!("(0)")));
    assert_eq!(formatted(-0.0, "#0"), Some(json!("0")));
}

#[test]
fn given_pictures_breaking_the_other_rules_then_the_reference_error() {
    // codes of the reference (npm jsonata 2.2.2) for $formatNumber(1234.5, picture); D3086: a
    // passive character between two active ones, in either sub-picture
    for (picture, code) in [
        ("#,x.0", "D3086"),
        ("0%0", "D3086"),
        ("0 0", "D3086"),
        ("0.0x0", "D3086"),
        ("0.0;x0x0", "D3086"),
        ("0.0.0", "D3081"),
        ("0%%", "D3082"),
        ("0‰‰", "D3083"),
        ("0%‰", "D3084"),
        ("0#", "D3090"),
        ("0.#0", "D3091"),
    ] {
        let src = format!("$formatNumber(1234.5, {})", json!(picture));
        let e = Expression::parse(&src)
            .and_then(|x| x.evaluate(None, &Environment::new()))
            .expect_err(picture);
        assert_eq!(e.code, code, "{picture}");
    }
    assert_eq!(
        format("#,x.0").unwrap_err().message,
        "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character"
    );
    // passive characters outside the active part are a prefix and a suffix
    assert_eq!(formatted(1234.5, "x0.0y"), Some(json!("x1234.5y")));
    assert_eq!(
        formatted(1234.5, "$#,##0.00 items"),
        Some(json!("$1,234.50 items"))
    );
}

#[test]
fn given_grouping_in_the_fractional_part_then_the_reference_positions() {
    // npm jsonata 2.2.2's strings. It finds the fractional part's first separator only (each
    // next one is looked for in the integer part), so "0.00,00,0" groups once where F&O 4.7.4
    // would give "0.12,34,6"; a separator after more digits than are shown goes at the end.
    for (value, picture, want) in [
        (1234.5, "0.0,x", "1234.5,x"),
        (0.1234567, "0.00,00,0", "0.12,346"),
        (1.25, "0.0,0", "1.2,5"),
        (12.0, "0.0,0", "12.0,0"),
        (1234.5678, "#,##0.00,00", "1,234.56,78"),
        (1.5, "0.0#,#", "1.5,"),
        (12.0, "0.#,#", "12.,"),
    ] {
        assert_eq!(formatted(value, picture), Some(json!(want)), "{picture}");
    }
}

#[test]
fn given_a_picture_without_active_characters_then_d3086_or_d3085() {
    // the reference (npm jsonata 2.2.2) takes the whole sub-picture as its active part
    for (picture, code) in [("x", "D3086"), ("%", "D3086"), ("", "D3085")] {
        assert_eq!(format(picture).unwrap_err().code, code, "{picture:?}");
    }
}

#[test]
fn given_no_mandatory_digit_then_one_fractional_digit_is_shown() {
    // F&O 4.7.4 as the reference (npm jsonata 2.2.2) applies it
    for (value, picture, want) in [
        (0.0, ".#", ".0"),
        (1.0, ".#", "1.0"),
        (0.0, "#.#", ".0"),
        (0.25, "#.#", ".2"),
        (0.0, "#", "0"),
    ] {
        assert_eq!(formatted(value, picture), Some(json!(want)), "{picture}");
    }
}
