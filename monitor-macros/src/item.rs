//! What the attribute is on: a function with a body, not a `const fn`, and
//! not already `#[monitored]`.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;

/// Parses the annotated item; anything but a function with a body is an error
/// that says what the attribute accepts.
pub(crate) fn parse(item: TokenStream) -> syn::Result<syn::ItemFn> {
    if let Ok(function) = syn::parse2::<syn::ItemFn>(item.clone()) {
        if let Some(constness) = &function.sig.constness {
            return Err(syn::Error::new(
                constness.span(),
                "#[monitored] cannot time a `const fn` (it may run at compile time); remove `const` or the attribute",
            ));
        }
        if let Some(second) = function.attrs.iter().find(|attr| is_monitored(attr)) {
            return Err(syn::Error::new_spanned(
                second,
                "#[monitored] is applied twice, which would record every call twice; remove this one",
            ));
        }
        return Ok(function);
    }
    if let Ok(declaration) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        return Err(syn::Error::new(
            declaration.sig.span(),
            "#[monitored] needs a function body; put it on the implementations (or give the trait method a default body)",
        ));
    }
    let span = match syn::parse2::<syn::Item>(item) {
        Ok(other) => item_keyword_span(&other),
        Err(error) => error.span(),
    };
    Err(syn::Error::new(
        span,
        "#[monitored] can only be put on functions and methods (`fn`, `async fn`)",
    ))
}

/// `#[monitored]` or `#[any::path::monitored]` (with or without arguments).
fn is_monitored(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "monitored")
}

fn item_keyword_span(item: &syn::Item) -> proc_macro2::Span {
    match item {
        syn::Item::Struct(item) => item.struct_token.span,
        syn::Item::Enum(item) => item.enum_token.span,
        syn::Item::Impl(item) => item.impl_token.span,
        syn::Item::Trait(item) => item.trait_token.span,
        syn::Item::Mod(item) => item.mod_token.span,
        syn::Item::Const(item) => item.const_token.span,
        syn::Item::Static(item) => item.static_token.span,
        syn::Item::Type(item) => item.type_token.span,
        syn::Item::Use(item) => item.use_token.span,
        syn::Item::Union(item) => item.union_token.span,
        other => other.span(),
    }
}
