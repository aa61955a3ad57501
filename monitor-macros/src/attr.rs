//! Parsing `#[monitored(name = "…", trigger = "…", slow = "…", every = "…", stuck_after = "…", crate = "…", fields(…))]`.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

use crate::duration::parse_nanos;
use crate::fields::Fields;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(trigger);
    syn::custom_keyword!(slow);
    syn::custom_keyword!(every);
    syn::custom_keyword!(stuck_after);
    syn::custom_keyword!(fields);
}

/// The attribute's arguments.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) trigger: Option<LitStr>,
    pub(crate) slow_nanos: Option<u64>,
    pub(crate) every_nanos: Option<u64>,
    /// `stuck_after = "…"`: an execution running longer is stuck.
    pub(crate) stuck_after_nanos: Option<u64>,
    /// `crate = "path"`: where the host re-exports `monitor`.
    pub(crate) krate: Option<syn::Path>,
    /// `fields(…)`: context recorded with the execution.
    pub(crate) fields: Option<Fields>,
}

/// One argument's key. Adding one is a compile error in every `match` that
/// must handle it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    Trigger,
    Slow,
    Every,
    StuckAfter,
    Crate,
    Fields,
}

impl Key {
    const EXPECTED: &'static str =
        "expected `name`, `trigger`, `slow`, `every`, `stuck_after`, `crate` or `fields(…)`";

    fn as_str(self) -> &'static str {
        match self {
            Key::Name => "name",
            Key::Trigger => "trigger",
            Key::Slow => "slow",
            Key::Every => "every",
            Key::StuckAfter => "stuck_after",
            Key::Crate => "crate",
            Key::Fields => "fields",
        }
    }

    /// Parses the next key, or says what is wrong at the token.
    fn parse(input: ParseStream<'_>) -> syn::Result<(Key, proc_macro2::Span)> {
        let span = input.span();
        let key = if input.peek(kw::name) {
            input.parse::<kw::name>()?;
            Key::Name
        } else if input.peek(kw::trigger) {
            input.parse::<kw::trigger>()?;
            Key::Trigger
        } else if input.peek(kw::slow) {
            input.parse::<kw::slow>()?;
            Key::Slow
        } else if input.peek(kw::every) {
            input.parse::<kw::every>()?;
            Key::Every
        } else if input.peek(kw::stuck_after) {
            input.parse::<kw::stuck_after>()?;
            Key::StuckAfter
        } else if input.peek(kw::fields) {
            input.parse::<kw::fields>()?;
            Key::Fields
        } else if input.peek(Token![crate]) {
            input.parse::<Token![crate]>()?;
            Key::Crate
        } else if input.peek(syn::Ident::peek_any) {
            let unknown: syn::Ident = input.call(syn::Ident::parse_any)?;
            return Err(syn::Error::new(
                unknown.span(),
                format!("unknown argument `{unknown}`; {}", Key::EXPECTED),
            ));
        } else {
            return Err(syn::Error::new(
                span,
                "expected an argument such as `name = \"my_job\"`",
            ));
        };
        Ok((key, span))
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<Key> = Vec::new();
        while !input.is_empty() {
            let (key, key_span) = Key::parse(input)?;
            let key_name = key.as_str();
            if seen.contains(&key) {
                return Err(syn::Error::new(
                    key_span,
                    format!("`{key_name}` is given twice; keep one"),
                ));
            }
            seen.push(key);
            if key == Key::Fields {
                if !input.peek(syn::token::Paren) {
                    return Err(syn::Error::new(
                        key_span,
                        "`fields` takes a list: write `fields(user_id = user.id, chat = %chat_id)`",
                    ));
                }
                let content;
                syn::parenthesized!(content in input);
                args.fields = Some(Fields::parse(&content, key_span)?);
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
                continue;
            }
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    key_span,
                    format!("`{key_name}` needs a value: write `{key_name} = \"…\"`"),
                ));
            }
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse().map_err(|error| {
                syn::Error::new(
                    error.span(),
                    format!("`{key_name}` takes a string literal, e.g. `{key_name} = \"…\"`"),
                )
            })?;
            match key {
                Key::Name | Key::Trigger => {
                    if value.value().trim().is_empty() {
                        return Err(syn::Error::new(
                            value.span(),
                            format!("`{key_name}` cannot be empty"),
                        ));
                    }
                    if key == Key::Name {
                        args.name = Some(value);
                    } else {
                        args.trigger = Some(value);
                    }
                }
                Key::Slow | Key::Every | Key::StuckAfter => {
                    let nanos = parse_nanos(&value.value())
                        .map_err(|message| syn::Error::new(value.span(), message))?;
                    match key {
                        Key::Slow => args.slow_nanos = Some(nanos),
                        Key::Every => args.every_nanos = Some(nanos),
                        Key::StuckAfter => args.stuck_after_nanos = Some(nanos),
                        Key::Name | Key::Trigger | Key::Crate | Key::Fields => {
                            unreachable!("not a duration key")
                        }
                    }
                }
                Key::Crate => {
                    let path = value.parse::<syn::Path>().map_err(|_| {
                        syn::Error::new(
                            value.span(),
                            "`crate` takes the path the host re-exports `monitor` under, e.g. `crate = \"my_app::monitor\"`",
                        )
                    })?;
                    args.krate = Some(path);
                }
                Key::Fields => unreachable!("parsed above"),
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}
