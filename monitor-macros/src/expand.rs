//! Code generation for `#[monitored]`.
//!
//! Four shapes, chosen from the signature and, for `#[track_caller]`, the body:
//!
//! - **closure** (most functions): the body moves into
//!   `(move || -> Ret { body })()`, which keeps the body's type inference
//!   (`?`, `.into()`, `.collect()`, `return` inside loops) and lets the
//!   expansion classify the returned value by type. Every `impl Trait` inside
//!   `Ret` is written `_` in the closure's annotation (`-> Result<_, E>`), so
//!   `?` still converts into the spelled-out error type.
//! - **async**: `MonitoredFuture::<Ret, _>::new(&CALLSITE, async move { body }).await`,
//!   the block starting with a `return` of type `Ret` that never runs, so the
//!   body's `return`s and tail are checked against `Ret`;
//!   the same for the `Box::pin(async move { … })` body that `#[async_trait]`
//!   produces, so the future's execution is timed, not its creation. A plain
//!   `fn` that *returns* a future is a closure shape: it is timed until it
//!   returns the future.
//! - **tracked** (`#[track_caller]` whose body has no function-level `return`
//!   or `?`): `let value: Ret = { body }; guard.finish(classify); value`, no
//!   closure, so the caller's location still reaches `unwrap()` and
//!   `Location::caller()` in the body. Without an early exit the only way out
//!   of the block that skips `finish` is an unwind, so the guard's drop is a
//!   panic, exactly as in the closure shape. A `#[track_caller]` body that
//!   does exit early takes the closure shape (the caller's location is then
//!   not propagated into it; documented on the attribute).
//! - **async inline** (an `async fn` whose output is `impl Trait`): the body
//!   stays the async fn's own after an `AsyncInlineGuard`; its tail and
//!   `return`s mark it completed, so a drop before that is a cancellation.
//! - **inline** (`-> !`, and a return type that is `impl Trait` or holds one
//!   in a tuple, array or reference): a scope guard before the body, which
//!   stays the function's own tail (see `keeps_body_in_place`).
//!
//! Generated code names only `::core::…` and `::monitor::__private::…` (through
//! one `use … as __monitor_private`, from the `crate = "…"` argument if any), and
//! uses mixed-site hygiene for its own locals, so it cannot collide with or be
//! shadowed by the host's names.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, FnArg, ItemFn, Pat, ReturnType, Stmt, Type};

use crate::attr::Args;
use crate::fields::{Fields, Sigil};

pub(crate) fn expand(args: &Args, mut function: ItemFn) -> TokenStream {
    let callsite = callsite_static(args, &function);
    let is_method = mentions_self(&function.sig);
    let sig = &function.sig;
    let body = &function.block;
    let fields = args.fields.as_ref();
    let (new_body, rebinds) = if sig.asyncness.is_some() && keeps_body_in_place(&sig.output) {
        (async_inline_body(body, is_method, fields), false)
    } else if sig.asyncness.is_some() {
        let body = async_body(&sig.output, &sig.inputs, body, is_method, fields);
        (body, true)
    } else if let Some(inner) = async_trait_future(body) {
        // `#[async_trait]` already rebinds the parameters inside its block.
        (boxed_future_body(inner, body, is_method, fields), true)
    } else if returns_never(&sig.output) || keeps_body_in_place(&sig.output) {
        (inline_body(body, is_method, fields), false)
    } else if is_track_caller(&function) && !has_early_exit(body) {
        let body = tracked_body(&sig.output, &sig.inputs, body, is_method, fields);
        (body, true)
    } else {
        let body = closure_body(&sig.output, &sig.inputs, body, is_method, fields);
        (body, true)
    };
    if rebinds {
        // The parameters are rebound (with their `mut`) inside the closure,
        // block or async block; on the outer binding `mut` would be unused.
        strip_rebound_mut(&mut function.sig.inputs);
    }
    let krate = args
        .krate
        .as_ref()
        .map_or_else(|| quote!(::monitor), ToTokens::to_token_stream);
    // Every path the expansion writes starts from this alias, so a host that
    // re-exports `monitor` elsewhere only says so once (`crate = "…"`).
    let alias = quote! {
        #[allow(unused_imports)]
        use #krate::__private as __monitor_private;
    };
    let block: TokenStream = quote!({ #alias #callsite #new_body });
    match syn::parse2(block) {
        Ok(block) => {
            function.block = Box::new(block);
            function.into_token_stream()
        }
        // A `fields(…)` value that syn parsed alone but that does not parse
        // again inside the expansion (found by `fuzz_tests`): an error, with
        // the function as it was, never a panic.
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                format!("`#[monitored]` cannot expand this function: {error}; check the `fields(…)` values"),
            )
            .to_compile_error();
            quote!(#error #function)
        }
    }
}

fn callsite_static(args: &Args, function: &ItemFn) -> TokenStream {
    let fn_name = function.sig.ident.to_string();
    let fn_name = fn_name.trim_start_matches("r#");
    let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
    let none = quote!(::core::option::Option::None);
    let name = args
        .name
        .as_ref()
        .map_or_else(|| none.clone(), |lit| some(quote!(#lit)));
    let trigger = args
        .trigger
        .as_ref()
        .map(|lit| lit.value())
        .unwrap_or_else(|| "call".to_owned());
    let slow = args
        .slow_nanos
        .map_or_else(|| none.clone(), |nanos| some(quote!(#nanos)));
    let every = args.every_nanos.map_or(none, |nanos| some(quote!(#nanos)));
    let callsite = callsite_ident();
    // Registered in the program-wide slice the linker gathers (no code runs
    // for it), so the monitor knows the function before its first call.
    let registration = local("__MONITOR_REGISTRATION");
    let is_method = mentions_self(&function.sig);
    // Only when given: the expansion of a function without it is unchanged.
    let stuck_after = args
        .stuck_after_nanos
        .map(|nanos| quote!(.with_stuck_after(#nanos)));
    quote! {
        static #callsite: __monitor_private::Callsite = __monitor_private::Callsite::new(
            #name,
            ::core::module_path!(),
            #fn_name,
            #trigger,
            ::core::file!(),
            ::core::line!(),
            #slow,
            #every,
        )#stuck_after;
        __monitor_private::register!(
            #registration = __monitor_private::Registration::new(&#callsite, #is_method)
        );
    }
}

fn callsite_ident() -> syn::Ident {
    syn::Ident::new("__MONITOR_CALLSITE", Span::mixed_site())
}

fn local(name: &str) -> syn::Ident {
    syn::Ident::new(name, Span::mixed_site())
}

/// A receiver, or `Self` anywhere in the signature: the function lives in an
/// impl or trait, and is named after `Self`.
fn mentions_self(sig: &syn::Signature) -> bool {
    struct FindSelf(bool);
    impl<'ast> Visit<'ast> for FindSelf {
        fn visit_receiver(&mut self, _: &'ast syn::Receiver) {
            self.0 = true;
        }
        fn visit_ident(&mut self, ident: &'ast proc_macro2::Ident) {
            if ident == "Self" {
                self.0 = true;
            }
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            if mac.tokens.to_string().contains("Self") {
                self.0 = true;
            }
        }
    }
    let mut finder = FindSelf(false);
    finder.visit_signature(sig);
    finder.0
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct FindImpl(bool);
    impl<'ast> Visit<'ast> for FindImpl {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = FindImpl(false);
    finder.visit_type(ty);
    finder.0
}

/// `ty` with every `impl Trait` written `_`: the form a closure's return
/// annotation or a `let` type can take, inferred from the body's value.
fn infer_impl_trait(ty: &Type) -> Type {
    struct ReplaceImpl;
    impl VisitMut for ReplaceImpl {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    ReplaceImpl.visit_type_mut(&mut ty);
    ty
}

/// The declared return type, for a closure's annotation or a `let`.
fn value_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if contains_impl_trait(ty) => {
            infer_impl_trait(ty).into_token_stream()
        }
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    }
}

/// Whether the body must stay where it is, as the function's own tail, to
/// type-check as it does without the attribute: an `impl Trait` in the return
/// type that the tail's expected type reaches (`-> impl Trait`, or one inside
/// a tuple, array or reference).
///
/// Rust gives a closure its signature (higher-ranked `&T` parameters
/// included) only from an *expected* type, and only the function's own tail
/// and its `return`s have the declared `impl Trait` as theirs. Moved into a
/// closure returning `_`, `move |a, b| key(a).cmp(&key(b))` no longer
/// implements `FnMut(&T, &T)` for every lifetime. An `impl` inside a generic
/// type (`Result<impl Fn(&str) -> bool, E>`, `Option<impl …>`, `Box<impl …>`)
/// is not reached: `Ok(…)` is a call, which passes no expected `impl` type on
/// to its argument, so such a body type-checks the same in the closure and
/// stays classified.
///
/// Kept in place, the body is timed by a scope guard and recorded as a
/// success or, when unwound through, a panic. Such a value is never an `Err`.
fn keeps_body_in_place(output: &ReturnType) -> bool {
    fn reaches_impl(ty: &Type) -> bool {
        match peel(ty) {
            Type::ImplTrait(_) => true,
            Type::Tuple(tuple) => tuple.elems.iter().any(reaches_impl),
            Type::Array(array) => reaches_impl(&array.elem),
            Type::Reference(reference) => reaches_impl(&reference.elem),
            _ => false,
        }
    }
    match output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => reaches_impl(ty),
    }
}

/// `ty` without the parentheses and invisible groups around it.
fn peel(mut ty: &Type) -> &Type {
    while let Type::Paren(syn::TypeParen { elem, .. }) | Type::Group(syn::TypeGroup { elem, .. }) =
        ty
    {
        ty = elem;
    }
    ty
}

fn returns_never(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => matches!(peel(ty), Type::Never(_)),
    }
}

fn is_track_caller(function: &ItemFn) -> bool {
    function
        .attrs
        .iter()
        .any(|attr| attr.path().is_ident("track_caller"))
}

/// Whether the body can leave the function other than by its tail value or
/// an unwind: a `return` or `?` that belongs to the function itself (not to
/// a nested closure, async block or item). Macro arguments are not parsed, so
/// a `return` or `?` token anywhere in one counts.
fn has_early_exit(body: &Block) -> bool {
    struct FindExit(bool);
    impl<'ast> Visit<'ast> for FindExit {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
        }
        fn visit_expr_try(&mut self, _: &'ast syn::ExprTry) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            if tokens_may_exit(mac.tokens.clone()) {
                self.0 = true;
            }
        }
    }
    let mut finder = FindExit(false);
    finder.visit_block(body);
    finder.0
}

fn tokens_may_exit(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "return",
        TokenTree::Punct(punct) => punct.as_char() == '?',
        TokenTree::Group(group) => tokens_may_exit(group.stream()),
        TokenTree::Literal(_) => false,
    })
}

fn guard_start(kind: TokenStream, is_method: bool) -> TokenStream {
    let callsite = callsite_ident();
    if is_method {
        quote!(#kind::start_method(&#callsite, __monitor_private::type_name::<Self>))
    } else {
        quote!(#kind::start(&#callsite))
    }
}

/// The values of `fields(…)`, evaluated only when `active` is true (a monitor
/// is installed), as `Held::new(Option<(held, …)>, &[names], always)`. Each
/// value is held by type (see `monitor_core`'s `fields/capture.rs`): a
/// `Copy` value as it is, anything else turned into its recorded form at
/// once, so the body may move what the expression refers to.
fn held_fields(fields: &Fields, active: TokenStream) -> TokenStream {
    let holds = fields.fields.iter().map(|field| {
        let value = &field.value;
        let (wrapper, method) = match field.sigil {
            Sigil::Bare => ("FieldBare", "__monitor_hold_bare"),
            Sigil::Display => ("FieldDisplay", "__monitor_hold_display"),
            Sigil::Debug => ("FieldDebug", "__monitor_hold_debug"),
        };
        // On the value's span: a type that cannot be recorded is reported there.
        let span = syn::spanned::Spanned::span(value);
        let wrapper = syn::Ident::new(wrapper, span);
        let method = syn::Ident::new(method, span);
        quote_spanned! {span=>
            (&&&&__monitor_private::#wrapper(&(#value))).#method()
        }
    });
    let names = fields.fields.iter().map(|field| &field.name);
    let always = fields.always;
    let held = local("__monitor_held");
    quote! {
        __monitor_private::Held::new(
            if #active {
                #[allow(unused_imports)]
                use __monitor_private::{
                    HoldBare as _, HoldBareCopy as _, HoldBareRef as _, HoldDebug as _,
                    HoldDebugCopy as _, HoldDebugRef as _, HoldDisplay as _,
                    HoldDisplayCopy as _, HoldDisplayRef as _,
                };
                #[allow(clippy::needless_borrow, clippy::needless_borrows_for_generic_args)]
                let #held = (#(#holds,)*);
                ::core::option::Option::Some(#held)
            } else {
                ::core::option::Option::None
            },
            &[#(#names),*],
            #always,
        )
    }
}

/// `let guard = start;`, and with `fields(…)` the guard holding their
/// values. Without fields the statement is exactly what it was before
/// fields existed (`golden_tests.rs`).
fn make_guard(
    guard: &syn::Ident,
    start: &TokenStream,
    fields: Option<&Fields>,
    mutable: bool,
) -> TokenStream {
    let mutability = mutable.then(|| quote!(#[allow(unused_mut)] let mut));
    let Some(fields) = fields else {
        return match mutability {
            Some(let_mut) => quote!(#let_mut #guard = #start;),
            None => quote!(let #guard = #start;),
        };
    };
    let held = local("__monitor_fields");
    let slot = held_fields(fields, quote!(#guard.is_active()));
    let rebind = mutability.unwrap_or_else(|| quote!(let));
    quote! {
        let #guard = #start;
        let #held = #slot;
        #rebind #guard = #guard.with_fields(#held);
    }
}

/// `(&&&&&&&&Classify(&value)).__monitor_outcome()`: picks the most specific
/// classification that applies to the value's concrete type.
fn classify(value: &syn::Ident) -> TokenStream {
    quote! {
        || {
            #[allow(unused_imports)]
            use __monitor_private::{
                ClassifyAny as _, ClassifyBoxError as _, ClassifyCloneError as _, ClassifyDebug as _,
                ClassifyDisplay as _, ClassifyDynError as _, ClassifyError as _, ClassifyResult as _,
            };
            (&&&&&&&&__monitor_private::Classify(&#value)).__monitor_outcome()
        }
    }
}

/// The binding of a parameter the expansion rebinds: a plain identifier
/// pattern (not `ref`, no `@` subpattern), without attributes (`#[cfg]` may
/// remove it) and not `_`-prefixed (rebinding would use an underscore binding,
/// which `clippy::pedantic` rejects in the host's code).
fn rebound(input: &FnArg) -> Option<&syn::PatIdent> {
    let FnArg::Typed(typed) = input else {
        return None;
    };
    let Pat::Ident(pat) = &*typed.pat else {
        return None;
    };
    let plain = pat.by_ref.is_none() && pat.subpat.is_none();
    let has_attrs = !typed.attrs.is_empty() || !pat.attrs.is_empty();
    let underscored = pat.ident.to_string().starts_with('_');
    (plain && !has_attrs && !underscored).then_some(pat)
}

/// `let a = a;` for each plain parameter, so every parameter moves into the
/// closure or async block and is dropped there in the usual order.
fn rebind_parameters<'a>(inputs: impl IntoIterator<Item = &'a FnArg>) -> TokenStream {
    let mut rebinds = TokenStream::new();
    for pat in inputs.into_iter().filter_map(rebound) {
        let ident = &pat.ident;
        let mutability = &pat.mutability;
        rebinds.extend(quote! {
            #[allow(unused_variables, unused_mut, clippy::redundant_locals)]
            let #mutability #ident = #ident;
        });
    }
    rebinds
}

fn strip_rebound_mut(inputs: &mut syn::punctuated::Punctuated<FnArg, syn::Token![,]>) {
    for input in inputs.iter_mut() {
        if rebound(input).is_none() {
            continue;
        }
        if let FnArg::Typed(typed) = input {
            if let Pat::Ident(pat) = &mut *typed.pat {
                pat.mutability = None;
            }
        }
    }
}

fn statements(block: &Block) -> TokenStream {
    let stmts = &block.stmts;
    quote!(#(#stmts)*)
}

/// What the closure and the tracked shapes both generate: the value's type,
/// the guard, the rebound parameters, the body's statements, the classifier.
struct SyncParts {
    ret: TokenStream,
    guard: syn::Ident,
    value: syn::Ident,
    start: TokenStream,
    rebinds: TokenStream,
    stmts: TokenStream,
    classify: TokenStream,
}

fn sync_parts(
    output: &ReturnType,
    inputs: &syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    body: &Block,
    is_method: bool,
    fields: Option<&Fields>,
) -> SyncParts {
    let value = local("__monitor_value");
    let guard = local("__monitor_guard");
    let start = guard_start(quote!(__monitor_private::ExecutionGuard), is_method);
    SyncParts {
        ret: value_type(output),
        start: make_guard(&guard, &start, fields, false),
        guard,
        rebinds: rebind_parameters(inputs),
        stmts: statements(body),
        classify: classify(&value),
        value,
    }
}

fn closure_body(
    output: &ReturnType,
    inputs: &syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    body: &Block,
    is_method: bool,
    fields: Option<&Fields>,
) -> TokenStream {
    let SyncParts {
        ret,
        guard,
        value,
        start,
        rebinds,
        stmts,
        classify,
    } = sync_parts(output, inputs, body, is_method, fields);
    // Called in place rather than through a helper function, so a host's
    // backtrace shows no frame of this crate between the caller and the body
    // (the closure's frame is named after the host's function). Moving the
    // token in makes the closure `FnOnce`, as a helper's bound would: a body
    // may then return a borrow of what it captured (`&mut self.value`).
    let once = local("__monitor_once");
    quote_spanned! {Span::mixed_site()=>
        #start
        let #once = __monitor_private::CallOnce;
        #[allow(clippy::redundant_closure_call)]
        let #value = (move || -> #ret { let _ = __monitor_private::CallOnce::take(#once); #rebinds #stmts })();
        #guard.finish(#classify);
        #value
    }
}

/// `#[track_caller]` without early exits: the body stays in the function (see
/// the module docs), and its tail value is classified. The guard is the
/// closure shape's: only an unwind can skip `finish`.
fn tracked_body(
    output: &ReturnType,
    inputs: &syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    body: &Block,
    is_method: bool,
    fields: Option<&Fields>,
) -> TokenStream {
    let SyncParts {
        ret,
        guard,
        value,
        start,
        rebinds,
        stmts,
        classify,
    } = sync_parts(output, inputs, body, is_method, fields);
    // `clippy::diverging_sub_expression` looks into a `let`'s block when it
    // is one expression or statement (besides items): `{ panic!("…") }` in
    // the host's `-> u8 { panic!("…") }` would be linted here.
    let single = rebinds.is_empty()
        && body
            .stmts
            .iter()
            .filter(|stmt| !matches!(stmt, Stmt::Item(_)))
            .count()
            <= 1;
    let allow_diverging = single.then(|| quote!(#[allow(clippy::diverging_sub_expression)]));
    quote_spanned! {Span::mixed_site()=>
        #start
        #allow_diverging
        let #value: #ret = { #rebinds #stmts };
        // A body that always panics (`-> u8 { panic!() }`) has a diverging
        // block; the lint then points here, not at anything the host wrote.
        #[allow(unreachable_code)]
        #guard.finish(#classify);
        #value
    }
}

fn async_body(
    output: &ReturnType,
    inputs: &syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    body: &Block,
    is_method: bool,
    fields: Option<&Fields>,
) -> TokenStream {
    let ret = value_type(output);
    let fake_return = fake_return(output);
    let rebinds = rebind_parameters(inputs);
    let stmts = statements(body);
    monitored_future(
        ret,
        quote!({ #fake_return #rebinds #stmts }),
        is_method,
        fields,
    )
}

/// An async block has no declared output: without help, its `return`s and
/// tail are checked with no expected type, so a returned closure
/// (`Box::new(|x| …)` for `-> Box<dyn Fn(&T) -> bool>`) gets no
/// higher-ranked signature. A `return` of the declared type that can never
/// run, checked before the body, fixes the block's output first (as
/// `#[tracing::instrument]` does). An `impl Trait` cannot be written in a
/// `let`, so those outputs get none. `type_complexity` is allowed on the
/// `let`: the lint skips an `async fn`'s own signature, so a type the host
/// wrote there must not be linted here.
fn fake_return(output: &ReturnType) -> TokenStream {
    let ReturnType::Type(_, ty) = output else {
        return TokenStream::new();
    };
    if contains_impl_trait(ty) {
        return TokenStream::new();
    }
    let fake = local("__monitor_fake_return");
    quote! {
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::type_complexity,
            clippy::unreachable
        )]
        if false {
            let #fake: #ty = loop {};
            return #fake;
        }
    }
}

/// The awaiting part shared by `async fn` and `#[async_trait]` bodies.
fn monitored_future(
    ret: TokenStream,
    inner: TokenStream,
    is_method: bool,
    fields: Option<&Fields>,
) -> TokenStream {
    let callsite = callsite_ident();
    let value = local("__monitor_value");
    let completion = local("__monitor_completion");
    let classify = classify(&value);
    let held = local("__monitor_fields");
    let (evaluate, wrap) = match (fields, is_method) {
        (None, true) => (
            TokenStream::new(),
            quote!(__monitor_private::MonitoredFuture::<#ret, _>::new_method(&#callsite, __monitor_private::type_name::<Self>, async move #inner)),
        ),
        (None, false) => (
            TokenStream::new(),
            quote!(__monitor_private::MonitoredFuture::<#ret, _>::new(&#callsite, async move #inner)),
        ),
        // Evaluated before the async block moves the parameters in.
        (Some(fields), true) => (
            {
                let slot = held_fields(fields, quote!(__monitor_private::enabled()));
                quote!(let #held = #slot;)
            },
            quote!(__monitor_private::MonitoredFuture::<#ret, _, _>::with_fields_method(&#callsite, __monitor_private::type_name::<Self>, #held, async move #inner)),
        ),
        (Some(fields), false) => (
            {
                let slot = held_fields(fields, quote!(__monitor_private::enabled()));
                quote!(let #held = #slot;)
            },
            quote!(__monitor_private::MonitoredFuture::<#ret, _, _>::with_fields(&#callsite, #held, async move #inner)),
        ),
    };
    quote! {
        #evaluate
        let (#value, #completion) = #wrap.await;
        #completion.finish(#classify);
        #value
    }
}

/// `#[async_trait]` turns `async fn f() -> T { body }` into
/// `fn f() -> Pin<Box<dyn Future<Output = T> + …>> { Box::pin(async move { body }) }`.
/// Returns the inner `async move` block when the body has that shape.
fn async_trait_future(body: &Block) -> Option<&syn::ExprAsync> {
    let [Stmt::Expr(Expr::Call(call), None)] = body.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let is_box_pin = segments.len() >= 2
        && segments[segments.len() - 1] == "pin"
        && segments[segments.len() - 2] == "Box";
    if !is_box_pin || call.args.len() != 1 {
        return None;
    }
    match call.args.first() {
        Some(Expr::Async(inner)) if inner.capture.is_some() => Some(inner),
        _ => None,
    }
}

fn boxed_future_body(
    inner: &syn::ExprAsync,
    body: &Block,
    is_method: bool,
    fields: Option<&Fields>,
) -> TokenStream {
    let Some(Stmt::Expr(Expr::Call(call), None)) = body.stmts.first() else {
        unreachable!("checked by async_trait_future")
    };
    let func = &call.func;
    let inner_block = &inner.block;
    let awaited = monitored_future(quote!(_), inner_block.to_token_stream(), is_method, fields);
    quote!(#func(async move { #awaited }))
}

/// An `async fn` whose output is `impl Trait` (or holds one in a tuple,
/// array or reference): no async block can be given that type, so the body
/// stays the async fn's own, after an [`AsyncInlineGuard`] made at the first
/// poll. Its tail and each of its own `return`s become
/// `{ guard.completed(); value }` (a block passes its expected type on to its
/// tail); a drop without that is a cancellation. Such an output cannot be
/// used with `?`, so a `return` is the only early exit (one inside a macro's
/// arguments is not seen, and would be recorded as a cancellation).
fn async_inline_body(body: &Block, is_method: bool, fields: Option<&Fields>) -> TokenStream {
    struct MarkReturns(TokenStream);
    impl VisitMut for MarkReturns {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            match expr {
                Expr::Closure(_) | Expr::Async(_) => {}
                Expr::Return(ret) => {
                    if let Some(value) = ret.expr.as_mut() {
                        syn::visit_mut::visit_expr_mut(self, value);
                        let mark = &self.0;
                        let inner: Expr = (**value).clone();
                        **value = syn::parse_quote!({ #mark #inner });
                    } else {
                        let mark = &self.0;
                        *expr = syn::parse_quote!({ #mark return });
                    }
                }
                _ => syn::visit_mut::visit_expr_mut(self, expr),
            }
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    let guard = local("__monitor_guard");
    let start = guard_start(quote!(__monitor_private::AsyncInlineGuard), is_method);
    let mark = quote!(#guard.completed(););
    let mut body = body.clone();
    MarkReturns(mark.clone()).visit_block_mut(&mut body);
    match body.stmts.last_mut() {
        Some(Stmt::Expr(tail, None)) => {
            let value = tail.clone();
            *tail = syn::parse_quote!({ #mark #value });
        }
        // A macro call as the tail (`my_closure!()`).
        Some(
            tail @ Stmt::Macro(syn::StmtMacro {
                semi_token: None, ..
            }),
        ) => {
            let value = tail.clone();
            *tail = Stmt::Expr(syn::parse_quote!({ #mark #value }), None);
        }
        _ => {}
    }
    let stmts = statements(&body);
    let make = make_guard(&guard, &start, fields, true);
    quote! {
        #make
        #stmts
    }
}

fn inline_body(body: &Block, is_method: bool, fields: Option<&Fields>) -> TokenStream {
    let guard = local("__monitor_guard");
    let start = guard_start(quote!(__monitor_private::InlineGuard), is_method);
    // The body's statements follow the guard in the same block: nested as a
    // block of its own, a one-line body (`{ |x| *x > 1 }`) would be linted by
    // `unused_braces` in the host. Declared after the guard, the body's
    // locals are still dropped before it.
    let stmts = statements(body);
    let make = make_guard(&guard, &start, fields, false);
    quote! {
        #make
        #stmts
    }
}
