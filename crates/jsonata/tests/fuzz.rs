//! Property test: parsing and evaluating arbitrary (JSONata-flavoured) text never panics.

use mdlc_jsonata::{AwsContext, Environment, Expression};
use proptest::prelude::*;

fn check(src: &str) {
    if let Ok(e) = Expression::parse(src) {
        let input = serde_json::json!({"a": [1, {"b": "x"}, [2, 3]], "c": {"d": null, "e": true}, "s": "text"});
        let env = Environment::new().with_aws_functions(AwsContext {
            now_millis: 0,
            random_seed: Some(1),
        });
        let _ = e.evaluate(Some(&input), &env);
        let _ = e.evaluate(None, &Environment::new());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_jsonata_like_text_never_panics(src in "[a-e$.\\[\\]{}()\"'0-9,:;?*%#@^|&=<>!~+/ \\-]{0,32}") {
        check(&src);
    }

    #[test]
    fn arbitrary_unicode_never_panics(src in "\\PC{0,24}") {
        check(&src);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(prop_oneof![
        Just("a"), Just("$"), Just("$$"), Just("."), Just("["), Just("]"), Just("{"), Just("}"),
        Just("("), Just(")"), Just(","), Just(":"), Just(";"), Just("?"), Just("*"), Just("**"),
        Just("%"), Just("#$i"), Just("@$v"), Just("^("), Just("|"), Just("~>"), Just(":="),
        Just("$x"), Just("function($x){"), Just("1"), Just("-2.5"), Just("'s'"), Just("/a+/i"),
        Just("$sum("), Just("$map("), Just("$string("), Just("$substring("), Just("?:"), Just("??"),
        Just(" and "), Just(" in "), Just("="), Just("&"), Just(".."), Just("[]"), Just("true"),
    ], 0..20)) {
        check(&tokens.concat());
    }
}
