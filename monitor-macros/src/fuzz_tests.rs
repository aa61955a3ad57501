//! Arbitrary tokens as the attribute's arguments, and arbitrary items under
//! it: the macro gives a compile error or an expansion, and never panics
//! (a panic in a proc macro is an internal compiler error for the host).

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use quote::quote;

use crate::monitored_tokens;

/// Words the parser treats specially, and some it must reject.
const WORDS: [&str; 17] = [
    "name", "trigger", "slow", "every", "crate", "fields", "always", "Empty", "r#name", "self",
    "fn", "async", "impl", "const", "x", "_", "r#type",
];

fn leaf() -> impl Strategy<Value = TokenTree> {
    prop_oneof![
        proptest::sample::select(&WORDS[..]).prop_map(|word| {
            let ident = match word.strip_prefix("r#") {
                Some(raw) => Ident::new_raw(raw, Span::call_site()),
                None => Ident::new(word, Span::call_site()),
            };
            TokenTree::Ident(ident)
        }),
        any::<String>().prop_map(|text| TokenTree::Literal(Literal::string(&text))),
        "[0-9]{1,4}(\\.[0-9]{0,3})?(ns|us|µs|ms|s|m|min|h|d|x|)"
            .prop_map(|text| TokenTree::Literal(Literal::string(&text))),
        any::<u64>().prop_map(|n| TokenTree::Literal(Literal::u64_unsuffixed(n))),
        any::<f32>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| TokenTree::Literal(Literal::f32_unsuffixed(x.abs()))),
        proptest::sample::select(&['=', ',', ':', '#', '!', '-', '>', '&', '?', '.', '%', '*'][..])
            .prop_map(|c| TokenTree::Punct(Punct::new(c, Spacing::Alone))),
    ]
}

fn tokens() -> impl Strategy<Value = TokenStream> {
    let tree = leaf().prop_recursive(3, 24, 6, |inner| {
        (
            proptest::sample::select(
                &[Delimiter::Parenthesis, Delimiter::Brace, Delimiter::Bracket][..],
            ),
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(delimiter, trees)| {
                TokenTree::Group(Group::new(delimiter, trees.into_iter().collect()))
            })
    });
    proptest::collection::vec(tree, 0..12).prop_map(|trees| trees.into_iter().collect())
}

/// One entry of `fields(…)`: any of the well-formed forms, with arbitrary
/// names (string literals included) and values.
fn field_entry() -> impl Strategy<Value = TokenStream> {
    let name = prop_oneof![
        "[a-z][a-z0-9_]{0,8}".prop_map(|word| {
            let ident = Ident::new(&word, Span::call_site());
            quote!(#ident)
        }),
        "[a-z]{1,4}\\.[a-z]{1,4}".prop_map(|dotted| {
            let (a, b) = dotted.split_once('.').unwrap();
            let (a, b) = (
                Ident::new(a, Span::call_site()),
                Ident::new(b, Span::call_site()),
            );
            quote!(#a.#b)
        }),
        any::<String>().prop_map(|text| {
            let literal = Literal::string(&text);
            quote!(#literal)
        }),
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| quote!(#n)),
        any::<String>().prop_map(|text| quote!(#text)),
        any::<bool>().prop_map(|b| quote!(#b)),
        Just(quote!(x)),
        Just(quote!(x.len())),
        tokens(),
    ];
    let sigil = proptest::sample::select(&["", "%", "?", "#", "&"][..]);
    prop_oneof![
        (name, sigil.clone(), value).prop_map(|(name, sigil, value)| {
            let sigil: TokenStream = sigil.parse().unwrap_or_default();
            quote!(#name = #sigil #value)
        }),
        (sigil, "[a-z]{1,6}").prop_map(|(sigil, word)| {
            let sigil: TokenStream = sigil.parse().unwrap_or_default();
            let ident = Ident::new(&word, Span::call_site());
            quote!(#sigil #ident)
        }),
        Just(quote!(always)),
    ]
}

/// Well-formed arguments, so that the expansion itself is exercised too.
fn valid_args() -> impl Strategy<Value = TokenStream> {
    (
        proptest::option::of(any::<String>().prop_filter("not blank", |s| !s.trim().is_empty())),
        proptest::option::of("[0-9]{1,3}(ms|s|m|h)"),
        proptest::option::of(proptest::collection::vec(field_entry(), 0..20)),
    )
        .prop_map(|(name, slow, fields)| {
            let mut args = Vec::new();
            if let Some(name) = name {
                args.push(quote!(name = #name));
            }
            if let Some(slow) = slow {
                args.push(quote!(slow = #slow));
            }
            if let Some(fields) = fields {
                args.push(quote!(fields(#(#fields),*)));
            }
            quote!(#(#args),*)
        })
}

fn item() -> impl Strategy<Value = TokenStream> {
    prop_oneof![
        Just(quote!(
            fn f() {}
        )),
        Just(quote!(
            async fn f(x: u8) -> Result<u8, String> {
                Ok(x)
            }
        )),
        Just(quote!(
            fn f<'a>(x: &'a str) -> impl Fn(&str) -> bool + 'a {
                move |y| y == x
            }
        )),
        Just(quote!(
            #[track_caller]
            fn f(self: Box<Self>) -> ! {
                loop {}
            }
        )),
        Just(quote!(
            const fn f() {}
        )),
        Just(quote!(
            #[monitored]
            fn f() {}
        )),
        Just(quote!(
            struct S;
        )),
        tokens(),
        tokens().prop_map(|body| quote!(fn f() -> u8 { #body })),
        Just(quote!(
            fn f(x: String) -> Result<usize, String> {
                Ok(x.len())
            }
        )),
        Just(quote!(
            async fn f(&self, x: u8) -> impl Fn(&u8) -> bool {
                move |y| *y > x
            }
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_arguments_never_panic(args in tokens(), item in item()) {
        let _ = monitored_tokens(args, item);
    }

    #[test]
    fn well_formed_arguments_expand_any_item_without_panicking(args in valid_args(), item in item()) {
        let _ = monitored_tokens(args, item);
    }

    #[test]
    fn arbitrary_tokens_inside_fields_never_panic(inner in tokens(), item in item()) {
        let _ = monitored_tokens(quote!(fields(#inner)), item.clone());
        let _ = monitored_tokens(quote!(fields(always, #inner), name = "x"), item);
    }
}
