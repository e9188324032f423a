//! Parses arbitrary UTF-8 with every feature on; whatever parses must print
//! to text that parses again and prints the same (printing is a fixpoint
//! after one round), in both the one-line and the `format_query` form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_syntax::{Options, parse_with, pretty};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let opts = Options::all();
    for opts in [opts, Options::default()] {
        let Ok(expr) = parse_with(input, opts) else {
            continue;
        };
        let printed = expr.to_string();
        let again = match parse_with(&printed, opts) {
            Ok(e) => e,
            Err(e) => panic!("{input:?} printed as {printed:?}, which does not parse: {e}"),
        };
        assert_eq!(again.to_string(), printed, "{input:?}");
        let pretty = pretty(&expr);
        if let Err(e) = parse_with(&pretty, opts) {
            panic!("{input:?} pretty-printed as {pretty:?}, which does not parse: {e}");
        }
    }
});
