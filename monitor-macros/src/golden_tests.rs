//! The expansion of functions without `fields(…)`, pinned as text: adding
//! fields must leave the path of every other function exactly as it was.
//! (`UPDATE_GOLDEN=1 cargo test -p monitor-macros golden` rewrites the files
//! after a deliberate change.)

use quote::quote;

use crate::monitored_tokens;

fn check(name: &str, args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) {
    let expanded = monitored_tokens(args, item).to_string();
    let path = format!("{}/src/golden/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &expanded).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(expanded, expected, "the expansion of {name} changed");
}

#[test]
fn golden_closure_shape() {
    check(
        "closure",
        quote!(name = "job"),
        quote!(
            fn job(x: u8) -> Result<u8, String> {
                Ok(x)
            }
        ),
    );
}

#[test]
fn golden_method_and_tracked_shapes() {
    check(
        "method",
        quote!(),
        quote!(
            fn get(&self, mut n: u32) -> u32 {
                n += 1;
                n
            }
        ),
    );
    check(
        "tracked",
        quote!(),
        quote!(
            #[track_caller]
            fn at() -> u8 {
                1
            }
        ),
    );
}

#[test]
fn golden_async_and_inline_shapes() {
    check(
        "async",
        quote!(),
        quote!(
            async fn run(x: u8) -> Result<u8, String> {
                Ok(x)
            }
        ),
    );
    check(
        "inline",
        quote!(),
        quote!(
            fn key<'a>(x: &'a str) -> impl Fn(&str) -> bool + 'a {
                move |y| y == x
            }
        ),
    );
    check(
        "async_inline",
        quote!(),
        quote!(
            async fn key() -> impl Fn(&u8) -> bool {
                |x| *x > 1
            }
        ),
    );
}
