//! Property tests for the relabeling engine: equivalences between actions
//! that must hold for any label set.

use model::Labels;
use model::labels::NameValidation;
use model::regex::Regex;
use model::relabel::{self, Action, Config};
use proptest::prelude::*;

fn labels() -> impl Strategy<Value = Labels> {
    prop::collection::vec(("[a-c_]{1,3}|__[a-z]{1,2}", "[a-cA-C;ß\n]{0,4}|Σx|İ"), 0..6)
        .prop_map(Labels::from_pairs)
}

fn pattern() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", ".*", ".+", "a.*", ".*b", "a|b", "(?i)A.*", "[^a]*", "__.*", "a;b", ".*;.*", "\\w+",
        "x{0}", "(a)(b)?",
    ])
}

fn names() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-c_]{1,3}", 0..3)
}

fn cfg(action: Action, source: &[String], re: &str) -> Config {
    Config {
        action,
        source_labels: source.to_vec(),
        regex: Some(Regex::new_relabel(re).expect("generated patterns compile")),
        ..Config::default()
    }
}

fn validated(mut c: Config) -> Config {
    c.validate(NameValidation::Utf8)
        .expect("generated configs are valid");
    c
}

proptest! {
    #[test]
    fn keep_and_drop_are_complements(l in labels(), src in names(), re in pattern()) {
        let keep = relabel::process(&l, &[cfg(Action::Keep, &src, re)]);
        let drop = relabel::process(&l, &[cfg(Action::Drop, &src, re)]);
        prop_assert_eq!(keep.is_some(), drop.is_none());
        // Neither changes the labels it lets through.
        for kept in keep.iter().chain(drop.iter()) {
            prop_assert_eq!(kept, &l);
        }
    }

    #[test]
    fn keepequal_and_dropequal_are_complements(l in labels(), src in names(), target in "[a-c_]{1,3}") {
        let mk = |action| validated(Config { action, source_labels: src.clone(), target_label: target.clone(), ..Config::default() });
        let keep = relabel::process(&l, &[mk(Action::KeepEqual)]);
        let drop = relabel::process(&l, &[mk(Action::DropEqual)]);
        prop_assert_eq!(keep.is_some(), drop.is_none());
    }

    #[test]
    fn labelmap_identity_keeps_names(l in labels()) {
        let c = validated(cfg(Action::LabelMap, &[], "(.*)"));
        prop_assert_eq!(relabel::process(&l, &[c]), Some(l));
    }

    #[test]
    fn labeldrop_and_labelkeep_partition(l in labels(), re in pattern()) {
        let dropped = relabel::process(&l, &[validated(cfg(Action::LabelDrop, &[], re))]).unwrap_or_default();
        let kept = relabel::process(&l, &[validated(cfg(Action::LabelKeep, &[], re))]).unwrap_or_default();
        let merged = Labels::from_pairs(dropped.iter().chain(kept.iter()));
        prop_assert_eq!(merged, l.clone());
        prop_assert!(dropped.iter().all(|(n, _)| kept.get(n).is_none()));
    }

    #[test]
    fn case_mapping_is_idempotent(l in labels(), src in names(), upper in any::<bool>()) {
        let action = if upper { Action::Uppercase } else { Action::Lowercase };
        let c = validated(Config { action, source_labels: src, target_label: "t".into(), ..Config::default() });
        let once = relabel::process(&l, std::slice::from_ref(&c)).unwrap_or_default();
        let src_t = Config { source_labels: vec!["t".into()], ..c };
        let twice = relabel::process(&once, &[src_t]).unwrap_or_default();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn hashmod_is_below_modulus(l in labels(), src in names(), modulus in 1u64..u64::MAX) {
        let c = validated(Config { action: Action::HashMod, source_labels: src, modulus, target_label: "h".into(), ..Config::default() });
        let out = relabel::process(&l, &[c]).unwrap_or_default();
        let h: u64 = out.get("h").and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
        prop_assert!(h < modulus, "{} >= {}", h, modulus);
    }

    #[test]
    fn default_replace_copies_the_joined_value(l in labels(), src in names()) {
        let c = validated(Config { source_labels: src.clone(), target_label: "copy".into(), ..Config::default() });
        let out = relabel::process(&l, &[c]).unwrap_or_default();
        let joined = src.iter().map(|n| l.get(n).unwrap_or("")).collect::<Vec<_>>().join(";");
        prop_assert_eq!(out.get("copy").unwrap_or(""), joined.as_str());
    }

    #[test]
    fn process_and_process_builder_agree(l in labels(), src in names(), re in pattern(), action in prop::sample::select(Action::ALL.to_vec())) {
        let mut c = cfg(action, &src, re);
        c.target_label = "t".into();
        c.modulus = 5;
        c.replacement = if matches!(action, Action::LabelMap | Action::Replace) { "r_$1".into() } else { "$1".into() };
        if matches!(action, Action::LabelDrop | Action::LabelKeep) {
            c.source_labels.clear();
            c.target_label.clear();
        }
        if c.validate(NameValidation::Utf8).is_err() {
            return Ok(());
        }
        let cfgs = [c.clone(), c];
        let mut b = l.to_builder();
        let kept = relabel::process_builder(&mut b, &cfgs);
        prop_assert_eq!(kept.then(|| b.labels()), relabel::process(&l, &cfgs));
    }
}
