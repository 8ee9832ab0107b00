//! `$formatNumber` pictures with misplaced grouping separators end in jsonata's errors (found by
//! the fuzz target `jsonata`: the picture "x,y" divided by zero). Codes and messages are those of
//! the reference implementation (jsonata 2.x), which reports the last rule a picture breaks.

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
