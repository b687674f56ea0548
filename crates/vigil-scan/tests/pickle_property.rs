//! Property: for any well-formed pickle built from nested data (protocol 2 or 4, with memo
//! PUT/GET, framing off), the scanner reads it to the end with no finding; and a call to
//! `os.system` hidden anywhere in it, through GLOBAL or through memoized STACK_GLOBAL names, is
//! always reported at CRITICAL with the resolved name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use proptest::prelude::*;
use vigil_scan::{Limits, Policy, Rule, Scanner, Severity};

#[derive(Debug, Clone)]
enum Tree {
    Int(i64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Tree>),
    Tuple(Vec<Tree>),
    Dict(Vec<(String, Tree)>),
    Evil,
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Tree::Int),
        "[a-z]{0,12}".prop_map(Tree::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Tree::Bytes),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Tree::List),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Tree::Tuple),
            proptest::collection::vec(("[a-z]{1,6}", inner), 0..5).prop_map(Tree::Dict),
        ]
    })
}

struct Writer {
    out: Vec<u8>,
    memo: u32,
    proto: u8,
}

impl Writer {
    fn put(&mut self) -> u32 {
        if self.proto >= 4 {
            self.out.push(0x94); // MEMOIZE
        } else {
            self.out.push(b'r'); // LONG_BINPUT
            self.out.extend_from_slice(&self.memo.to_le_bytes());
        }
        self.memo += 1;
        self.memo - 1
    }
    fn get(&mut self, idx: u32) {
        self.out.push(b'j');
        self.out.extend_from_slice(&idx.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }
    fn write(&mut self, t: &Tree, via_stack_global: bool) {
        match t {
            Tree::Int(i) => {
                self.out.push(0x8a);
                self.out.push(8);
                self.out.extend_from_slice(&i.to_le_bytes());
            }
            Tree::Str(s) => {
                self.str(s);
                self.put();
            }
            Tree::Bytes(b) => {
                if self.proto >= 3 {
                    self.out.push(b'B');
                    self.out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    self.out.extend_from_slice(b);
                } else {
                    self.out.push(b'N');
                }
            }
            Tree::List(items) => {
                self.out.push(b']');
                self.put();
                if !items.is_empty() {
                    self.out.push(b'(');
                    for i in items {
                        self.write(i, via_stack_global);
                    }
                    self.out.push(b'e');
                }
            }
            Tree::Tuple(items) => {
                self.out.push(b'(');
                for i in items {
                    self.write(i, via_stack_global);
                }
                self.out.push(b't');
            }
            Tree::Dict(items) => {
                self.out.push(b'}');
                self.put();
                for (k, v) in items {
                    self.str(k);
                    self.write(v, via_stack_global);
                    self.out.push(b's');
                }
            }
            Tree::Evil => {
                if via_stack_global && self.proto >= 4 {
                    // Names stored in the memo first, then fetched for STACK_GLOBAL.
                    self.str("os");
                    let m = self.put();
                    self.out.push(b'0');
                    self.str("system");
                    let n = self.put();
                    self.out.push(b'0');
                    self.get(m);
                    self.get(n);
                    self.out.push(0x93);
                } else {
                    self.out.extend_from_slice(b"cos\nsystem\n");
                }
                self.str("id");
                self.out.extend_from_slice(b"\x85R");
            }
        }
    }
}

fn pickle(t: &Tree, proto: u8, sg: bool) -> Vec<u8> {
    let mut w = Writer {
        out: vec![0x80, proto],
        memo: 0,
        proto,
    };
    w.write(t, sg);
    w.out.push(b'.');
    w.out
}

fn has_evil(t: &Tree) -> bool {
    match t {
        Tree::Evil => true,
        Tree::List(v) | Tree::Tuple(v) => v.iter().any(has_evil),
        Tree::Dict(v) => v.iter().any(|(_, x)| has_evil(x)),
        _ => false,
    }
}

fn insert_evil(t: Tree, at: usize) -> Tree {
    // Put the call as the first child of the `at`-th container (or wrap the root).
    fn go(t: Tree, n: &mut usize) -> Tree {
        match t {
            Tree::List(mut v) => {
                if *n == 0 {
                    v.insert(0, Tree::Evil);
                    *n = usize::MAX;
                    return Tree::List(v);
                }
                *n -= 1;
                Tree::List(v.into_iter().map(|x| go(x, n)).collect())
            }
            Tree::Dict(v) => {
                if *n == 0 {
                    *n = usize::MAX;
                    let mut v = v;
                    v.push(("evil".into(), Tree::Evil));
                    return Tree::Dict(v);
                }
                *n -= 1;
                Tree::Dict(v.into_iter().map(|(k, x)| (k, go(x, n))).collect())
            }
            other => other,
        }
    }
    let mut n = at;
    let out = go(t, &mut n);
    if has_evil(&out) {
        out
    } else {
        Tree::List(vec![out, Tree::Evil])
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn clean_pickles_have_no_findings(t in tree(), proto in prop::sample::select(vec![2u8, 4])) {
        let scanner = Scanner::new(Limits::default(), Policy::new());
        let r = scanner.scan_bytes("t.pkl", &pickle(&t, proto, false));
        prop_assert_eq!(r.format.as_str(), "pickle");
        prop_assert!(r.findings.is_empty(), "{:?}", r.findings);
        prop_assert!(r.error.is_none());
    }

    #[test]
    fn hidden_calls_are_always_critical(t in tree(), at in 0usize..8, proto in prop::sample::select(vec![2u8, 4]), sg in any::<bool>()) {
        let scanner = Scanner::new(Limits::default(), Policy::new());
        let evil = insert_evil(t, at);
        let r = scanner.scan_bytes("t.pkl", &pickle(&evil, proto, sg));
        prop_assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        let f = &r.findings[0];
        prop_assert_eq!(f.severity, Severity::Critical);
        prop_assert_eq!(f.rule, Rule::PickleCodeExecution);
        prop_assert_eq!(f.global.as_deref(), Some("os.system"));
    }
}
