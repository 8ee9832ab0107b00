//! Evaluates one expression: `cargo run -p mdlc-jsonata --example jsonata_eval -- EXPR [INPUT_JSON]`.

use mdlc_jsonata::{Environment, Expression};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(src) = args.get(1) else {
        eprintln!("usage: jsonata_eval EXPR [INPUT_JSON]");
        std::process::exit(2);
    };
    let input: Option<serde_json::Value> = match args.get(2) {
        Some(s) => match serde_json::from_str(s) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("input is not JSON: {e}");
                std::process::exit(2);
            }
        },
        None => None,
    };
    match Expression::parse(src).and_then(|e| e.evaluate(input.as_ref(), &Environment::new())) {
        Ok(Some(v)) => println!("{v}"),
        Ok(None) => println!("undefined"),
        Err(e) => println!("ERR {} {} at {:?}", e.code, e.message, e.position),
    }
}
