use super::*;
use crate::labels::NameValidation::{Legacy, Utf8};

fn parse(yaml: &str) -> Result<Vec<Config>, String> {
    serde_saphyr::from_str::<Vec<Config>>(yaml).map_err(|e| e.to_string())
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Applies the YAML list of configs (validated with `scheme`) to `input`
/// and compares with `want` (`None`: dropped).
#[track_caller]
fn check_with(
    scheme: NameValidation,
    yaml: &str,
    input: &[(&str, &str)],
    want: Option<&[(&str, &str)]>,
) {
    let mut cfgs = parse(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    for c in &mut cfgs {
        c.validate(scheme).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    }
    let got = process(&labels(input), &cfgs);
    assert_eq!(got, want.map(labels), "{yaml} on {}", labels(input));
    // The builder form agrees and leaves the builder at the result.
    let mut b = labels(input).to_builder();
    let kept = process_builder(&mut b, &cfgs);
    assert_eq!(kept.then(|| b.labels()), got, "process_builder: {yaml}");
}

#[track_caller]
fn check(yaml: &str, input: &[(&str, &str)], want: Option<&[(&str, &str)]>) {
    check_with(Utf8, yaml, input, want)
}

#[test]
fn replace() {
    check("[{target_label: t}]", &[("a", "1")], Some(&[("a", "1")]));
    check(
        "[{target_label: t, replacement: v}]",
        &[("a", "1")],
        Some(&[("a", "1"), ("t", "v")]),
    );
    check(
        "[{target_label: a, replacement: ''}]",
        &[("a", "1")],
        Some(&[]),
    );
    check(
        "[{source_labels: [a], target_label: t}]",
        &[("a", "x")],
        Some(&[("a", "x"), ("t", "x")]),
    );
    check("[{source_labels: [a], target_label: t}]", &[], Some(&[]));
    check(
        "[{source_labels: [a, b], separator: '-', regex: '(.*)-(.*)', target_label: t, replacement: '$2$1'}]",
        &[("a", "x"), ("b", "y")],
        Some(&[("a", "x"), ("b", "y"), ("t", "yx")]),
    );
    check(
        "[{source_labels: [a, b, c], target_label: t}]",
        &[("a", "x"), ("c", "z")],
        Some(&[("a", "x"), ("c", "z"), ("t", "x;;z")]),
    );
    check(
        "[{source_labels: [a], regex: '(.)(.*)', target_label: t, replacement: '${1}x_$1x_$$_$2'}]",
        &[("a", "ab")],
        Some(&[("a", "ab"), ("t", "ax_$_b")]),
    );
    check(
        "[{source_labels: [a], regex: '(?P<host>[^:]+):(?P<port>\\d+)', target_label: t, replacement: '${port}@$host'}]",
        &[("a", "h:80")],
        Some(&[("a", "h:80"), ("t", "80@h")]),
    );
    check(
        "[{source_labels: [a], target_label: 'l_$1', replacement: v}]",
        &[("a", "foo")],
        Some(&[("a", "foo"), ("l_foo", "v")]),
    );
    check(
        "[{source_labels: [a], regex: 'y.*', target_label: t, replacement: v}]",
        &[("a", "x")],
        Some(&[("a", "x")]),
    );
    check(
        "[{source_labels: [a], regex: 'x', target_label: b, replacement: ''}]",
        &[("a", "x"), ("b", "1")],
        Some(&[("a", "x")]),
    );
    check(
        "[{source_labels: [a], regex: 'x', target_label: b, replacement: ''}]",
        &[("a", "y"), ("b", "1")],
        Some(&[("a", "y"), ("b", "1")]),
    );
    // The expanded target is deleted (Prometheus 2.x deleted the template).
    check(
        "[{source_labels: [a], target_label: '$1', replacement: ''}]",
        &[("a", "b"), ("b", "1")],
        Some(&[("a", "b")]),
    );
    // An expanded target that is not a valid name skips the step.
    check(
        "[{source_labels: [a], target_label: '$1', replacement: v}]",
        &[("b", "1")],
        Some(&[("b", "1")]),
    );
    check(
        "[{source_labels: [a], regex: 'a.b', target_label: t, replacement: v}]",
        &[("a", "a\nb")],
        Some(&[("a", "a\nb"), ("t", "v")]),
    );
    // `(?s)` is implied; the regex is anchored at both ends.
    check(
        "[{source_labels: [a], regex: 'b', target_label: t, replacement: v}]",
        &[("a", "abc")],
        Some(&[("a", "abc")]),
    );
    // The default regex matches the empty value: the constant is set.
    check(
        "[{source_labels: [missing], target_label: t, replacement: v}]",
        &[],
        Some(&[("t", "v")]),
    );
    check(
        "[{source_labels: [missing], regex: '.+', target_label: t, replacement: v}]",
        &[],
        Some(&[]),
    );
    check(
        "[{source_labels: [a], regex: '(a)|(b)', target_label: t, replacement: '[$1|$2]'}]",
        &[("a", "b")],
        Some(&[("a", "b"), ("t", "[|b]")]),
    );
}

#[test]
fn replace_target_validity_depends_on_scheme() {
    let yaml = "[{source_labels: [a], target_label: '$1', replacement: v}]";
    check_with(
        Utf8,
        yaml,
        &[("a", "1x")],
        Some(&[("a", "1x"), ("1x", "v")]),
    );
    check_with(Legacy, yaml, &[("a", "1x")], Some(&[("a", "1x")]));
    check_with(
        Legacy,
        yaml,
        &[("a", "ok")],
        Some(&[("a", "ok"), ("ok", "v")]),
    );
    check_with(
        Utf8,
        yaml,
        &[("a", "a.b")],
        Some(&[("a", "a.b"), ("a.b", "v")]),
    );
}

#[test]
fn keep_and_drop() {
    check(
        "[{action: keep, source_labels: [a], regex: 'x.*'}]",
        &[("a", "xy")],
        Some(&[("a", "xy")]),
    );
    check(
        "[{action: keep, source_labels: [a], regex: 'x.*'}]",
        &[("a", "yx")],
        None,
    );
    check(
        "[{action: keep, source_labels: [a], regex: ''}]",
        &[],
        Some(&[]),
    );
    check(
        "[{action: drop, source_labels: [a], regex: 'x.*'}]",
        &[("a", "xy")],
        None,
    );
    check(
        "[{action: drop, source_labels: [a], regex: 'x.*'}]",
        &[("a", "y")],
        Some(&[("a", "y")]),
    );
    check(
        "[{action: drop, source_labels: [a, b], regex: '1;2'}]",
        &[("a", "1"), ("b", "2")],
        None,
    );
    check(
        "[{action: Keep, source_labels: [a], regex: '(?i)X'}]",
        &[("a", "x")],
        Some(&[("a", "x")]),
    );
    check("[{action: keep}]", &[("a", "1")], Some(&[("a", "1")]));
    // Later steps do not run after a drop.
    check(
        "[{action: drop, source_labels: [a]}, {target_label: t, replacement: v}]",
        &[("a", "1")],
        None,
    );
}

#[test]
fn keepequal_and_dropequal() {
    let keep = "[{action: keepequal, source_labels: [a], target_label: b}]";
    let drop = "[{action: dropequal, source_labels: [a], target_label: b}]";
    check(
        keep,
        &[("a", "1"), ("b", "1")],
        Some(&[("a", "1"), ("b", "1")]),
    );
    check(keep, &[("a", "1"), ("b", "2")], None);
    check(keep, &[("c", "1")], Some(&[("c", "1")]));
    check(keep, &[("a", "1")], None);
    check(drop, &[("a", "1"), ("b", "1")], None);
    check(
        drop,
        &[("a", "1"), ("b", "2")],
        Some(&[("a", "1"), ("b", "2")]),
    );
    check(
        "[{action: keepequal, source_labels: [a, c], target_label: b}]",
        &[("a", "1"), ("b", "1;2"), ("c", "2")],
        Some(&[("a", "1"), ("b", "1;2"), ("c", "2")]),
    );
}

#[test]
fn hashmod() {
    check(
        "[{action: hashmod, source_labels: [a], modulus: 10, target_label: h}]",
        &[("a", "foo")],
        Some(&[("a", "foo"), ("h", "6")]),
    );
    check(
        "[{action: hashmod, source_labels: [a], modulus: 7, target_label: h}]",
        &[],
        Some(&[("h", "1")]),
    );
    check(
        "[{action: hashmod, source_labels: [a], modulus: 3, target_label: h}]",
        &[("a", "127.0.0.1:9090")],
        Some(&[("a", "127.0.0.1:9090"), ("h", "2")]),
    );
    check(
        "[{action: hashmod, source_labels: [a, b], modulus: 1000, target_label: h}]",
        &[("a", "a"), ("b", "b")],
        Some(&[("a", "a"), ("b", "b"), ("h", "74")]),
    );
}

#[test]
fn labelmap() {
    check(
        "[{action: labelmap, regex: '__meta_(.*)'}]",
        &[("__meta_a", "1"), ("__meta_b", "2"), ("c", "3")],
        Some(&[
            ("__meta_a", "1"),
            ("__meta_b", "2"),
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
        ]),
    );
    check(
        "[{action: labelmap, regex: '(.*)'}]",
        &[("a", "1"), ("b", "2")],
        Some(&[("a", "1"), ("b", "2")]),
    );
    check(
        "[{action: labelmap, regex: '(a|b)', replacement: x}]",
        &[("a", "1"), ("b", "2")],
        Some(&[("a", "1"), ("b", "2"), ("x", "2")]),
    );
    check(
        "[{action: labelmap, regex: 'k_(.*)', replacement: 'x_${1}_y'}]",
        &[("k_a", "1"), ("k", "2")],
        Some(&[("k", "2"), ("k_a", "1"), ("x_a_y", "1")]),
    );
    // A mapped name overwrites an existing label; values come from before
    // the step.
    check(
        "[{action: labelmap, regex: '(a)', replacement: b}]",
        &[("a", "1"), ("b", "2")],
        Some(&[("a", "1"), ("b", "1")]),
    );
    check(
        "[{action: labelmap, regex: 'a(.*)', replacement: '$1'}]",
        &[("ab", "1"), ("b", "2"), ("abb", "3")],
        Some(&[("ab", "1"), ("abb", "3"), ("b", "1"), ("bb", "3")]),
    );
}

#[test]
fn labeldrop_and_labelkeep() {
    check(
        "[{action: labeldrop, regex: 'a.*'}]",
        &[("a", "1"), ("ab", "2"), ("b", "3")],
        Some(&[("b", "3")]),
    );
    check(
        "[{action: labelkeep, regex: 'a.*'}]",
        &[("a", "1"), ("ab", "2"), ("b", "3")],
        Some(&[("a", "1"), ("ab", "2")]),
    );
    check(
        "[{action: labeldrop, regex: 'A'}]",
        &[("a", "1")],
        Some(&[("a", "1")]),
    );
    check(
        "[{action: labelkeep, regex: '(?i)A|__name__'}]",
        &[("a", "1"), ("__name__", "m"), ("b", "2")],
        Some(&[("__name__", "m"), ("a", "1")]),
    );
}

#[test]
fn lowercase_and_uppercase() {
    check(
        "[{action: lowercase, source_labels: [a], target_label: a}]",
        &[("a", "ÀBc")],
        Some(&[("a", "àbc")]),
    );
    check(
        "[{action: lowercase, source_labels: [a, b], target_label: t}]",
        &[("a", "X"), ("b", "Y")],
        Some(&[("a", "X"), ("b", "Y"), ("t", "x;y")]),
    );
    check(
        "[{action: uppercase, source_labels: [a], target_label: u}]",
        &[("a", "ab-ç")],
        Some(&[("a", "ab-ç"), ("u", "AB-Ç")]),
    );
    check(
        "[{action: lowercase, source_labels: [a], target_label: t}]",
        &[],
        Some(&[]),
    );
    check(
        "[{action: lowercase, source_labels: [a], target_label: a}]",
        &[("a", "ΟΔΟΣ İ")],
        Some(&[("a", "οδοσ i")]),
    );
    check(
        "[{action: uppercase, source_labels: [a], target_label: a}]",
        &[("a", "straße ﬁ ᾳ ŉ")],
        Some(&[("a", "STRAßE ﬁ ᾼ ŉ")]),
    );
}

#[track_caller]
fn check_invalid(scheme: NameValidation, yaml: &str, want: &str) {
    let mut cfgs = parse(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    let got = cfgs.iter_mut().find_map(|c| c.validate(scheme).err());
    assert_eq!(got.map(|e| e.to_string()).as_deref(), Some(want), "{yaml}");
}

#[track_caller]
fn check_valid(scheme: NameValidation, yaml: &str) {
    let mut cfgs = parse(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    for c in &mut cfgs {
        if let Err(e) = c.validate(scheme) {
            panic!("{yaml}: {e}");
        }
        assert_eq!(c.name_validation, Some(scheme));
    }
}

#[test]
fn validation_like_prometheus() {
    check_invalid(
        Utf8,
        "[{action: hashmod, source_labels: [a], target_label: h}]",
        "relabel configuration for hashmod requires non-zero modulus",
    );
    check_invalid(
        Utf8,
        "[{source_labels: [a]}]",
        "relabel configuration for replace action requires 'target_label' value",
    );
    check_invalid(
        Utf8,
        "[{action: lowercase, source_labels: [a]}]",
        "relabel configuration for lowercase action requires 'target_label' value",
    );
    check_invalid(
        Utf8,
        "[{action: keepequal, source_labels: [a]}]",
        "relabel configuration for keepequal action requires 'target_label' value",
    );
    check_invalid(
        Utf8,
        "[{action: hashmod, modulus: 2}]",
        "relabel configuration for hashmod action requires 'target_label' value",
    );
    check_invalid(
        Legacy,
        "[{target_label: 1bad}]",
        "\"1bad\" is invalid 'target_label' for replace action",
    );
    check_valid(Utf8, "[{target_label: 1bad}]");
    check_valid(Legacy, "[{target_label: '${1}bad_$2'}]");
    check_invalid(
        Legacy,
        "[{target_label: '$1-x'}]",
        "\"$1-x\" is invalid 'target_label' for replace action",
    );
    check_invalid(
        Legacy,
        "[{target_label: '${1'}]",
        "\"${1\" is invalid 'target_label' for replace action",
    );
    check_valid(Utf8, "[{target_label: '$1-x'}]");
    check_invalid(
        Legacy,
        "[{action: uppercase, source_labels: [a], target_label: a.b}]",
        "\"a.b\" is invalid 'target_label' for uppercase action",
    );
    check_invalid(
        Legacy,
        "[{action: lowercase, source_labels: [a], target_label: '$1'}]",
        "\"$1\" is invalid 'target_label' for lowercase action",
    );
    check_invalid(
        Utf8,
        "[{action: lowercase, source_labels: [a], target_label: a, replacement: x}]",
        "'replacement' can not be set for lowercase action",
    );
    check_invalid(
        Utf8,
        "[{action: dropequal, source_labels: [a], target_label: b, replacement: x}]",
        "'replacement' can not be set for dropequal action",
    );
    check_invalid(
        Legacy,
        "[{action: labelmap, regex: '(.*)', replacement: 'a-$1'}]",
        "\"a-$1\" is invalid 'replacement' for labelmap action",
    );
    check_valid(
        Utf8,
        "[{action: labelmap, regex: '(.*)', replacement: 'a-$1'}]",
    );
    check_invalid(
        Utf8,
        "[{action: labelmap, replacement: ''}]",
        "\"\" is invalid 'replacement' for labelmap action",
    );
    check_invalid(
        Legacy,
        "[{action: hashmod, modulus: 2, source_labels: [a], target_label: 'h$1'}]",
        "\"h$1\" is invalid 'target_label' for hashmod action",
    );
    check_invalid(
        Utf8,
        "[{action: keepequal, source_labels: [a], target_label: b, regex: 'x'}]",
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    // Like Prometheus, an explicit default regex still counts as set.
    check_invalid(
        Utf8,
        "[{action: keepequal, source_labels: [a], target_label: b, regex: '(.*)'}]",
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    check_invalid(
        Utf8,
        "[{action: dropequal, source_labels: [a], target_label: b, separator: ','}]",
        "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    check_invalid(
        Utf8,
        "[{action: dropequal, source_labels: [a], target_label: b, modulus: 3}]",
        "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    check_invalid(
        Utf8,
        "[{action: labeldrop, source_labels: [a], regex: x}]",
        "labeldrop action requires only 'regex', and no other fields",
    );
    check_invalid(
        Utf8,
        "[{action: labelkeep, regex: x, target_label: t}]",
        "labelkeep action requires only 'regex', and no other fields",
    );
    check_invalid(
        Utf8,
        "[{action: labelkeep, regex: x, replacement: y}]",
        "labelkeep action requires only 'regex', and no other fields",
    );
    check_invalid(
        Utf8,
        "[{action: labeldrop, regex: x, separator: ''}]",
        "labeldrop action requires only 'regex', and no other fields",
    );
    check_valid(
        Utf8,
        "[{action: labeldrop, regex: 'x.*'}, {action: keepequal, source_labels: [a], target_label: b}]",
    );
    check_valid(
        Legacy,
        "[{action: hashmod, modulus: 2, source_labels: [a], target_label: h}]",
    );
}

#[test]
fn explicit_scheme_is_kept() {
    let mut c = Config {
        target_label: "1x".into(),
        name_validation: Some(Legacy),
        ..Config::default()
    };
    assert!(c.validate(Utf8).is_err());
    assert_eq!(c.name_validation, Some(Legacy));
}

#[track_caller]
fn check_parse_err(yaml: &str, want: &str) {
    match parse(yaml) {
        Ok(c) => panic!("{yaml} should not parse: {c:?}"),
        Err(e) => assert!(e.contains(want), "{yaml}: {e:?} should contain {want:?}"),
    }
}

#[test]
fn yaml_like_prometheus() {
    check_parse_err("[{foo: 1}]", "foo");
    check_parse_err("[{action: Foo}]", "unknown relabel action \"Foo\"");
    check_parse_err("[{action: ''}]", "unknown relabel action \"\"");
    check_parse_err("[{action: }]", "relabel action cannot be empty");
    check_parse_err(
        "[{regex: 'a**'}]",
        "parse regexp \"a**\": invalid nested repetition operator: `**`",
    );
    check_parse_err("[{source_labels: ['']}]", "\"\" is not a valid label name");

    let c = parse("[{action: KeepEqual, source_labels: [a], target_label: b}]").unwrap_or_default();
    assert_eq!(c[0].action, Action::KeepEqual);
    let c = parse("[{}]").unwrap_or_default();
    assert_eq!(c, vec![Config::default()]);
    assert_eq!(c[0].regex().as_str(), "(.*)");
    // `null` is the zero value, not the default.
    let c = parse("[{separator: , replacement: , regex: , target_label: t}]").unwrap_or_default();
    assert_eq!(
        (c[0].separator.as_str(), c[0].replacement.as_str()),
        ("", "")
    );
    assert_eq!(c[0].regex.as_ref().map(Regex::as_str), Some(""));
    assert!(c[0].regex().is_match("") && !c[0].regex().is_match("a"));
    let c = parse("[{modulus: 8, action: hashmod, source_labels: [a, b], target_label: h, separator: '', replacement: ''}]").unwrap_or_default();
    assert_eq!((c[0].modulus, c[0].source_labels.len()), (8, 2));
}

#[test]
fn serializes_like_prometheus() {
    let c = parse("[{}, {action: keep, source_labels: [a], regex: 'x|y'}]").unwrap_or_default();
    let json = serde_json::to_string(&c).unwrap_or_default();
    assert_eq!(
        json,
        r#"[{"separator":";","replacement":"$1","action":"replace"},{"source_labels":["a"],"separator":";","regex":"x|y","replacement":"$1","action":"keep"}]"#
    );
}

#[test]
fn go_case_mapping() {
    assert_eq!(go_to_lower("ΣΑΣ İI"), "σασ ii");
    assert_eq!(go_to_upper("ǆ ß ﬀ ᾀ ᾈ ῳ"), "Ǆ ß ﬀ ᾈ ᾈ ῼ");
}
