//! Parsing `#[monitored(name = "…", trigger = "…", slow = "…", every = "…")]`.

use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

use crate::duration::parse_nanos;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(trigger);
    syn::custom_keyword!(slow);
    syn::custom_keyword!(every);
}

/// The attribute's arguments.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) trigger: Option<LitStr>,
    pub(crate) slow_nanos: Option<u64>,
    pub(crate) every_nanos: Option<u64>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            let key: syn::Ident = if lookahead.peek(kw::name)
                || lookahead.peek(kw::trigger)
                || lookahead.peek(kw::slow)
                || lookahead.peek(kw::every)
            {
                input.call(syn::ext::IdentExt::parse_any)?
            } else if input.peek(syn::Ident) {
                let unknown: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
                return Err(syn::Error::new(
                    unknown.span(),
                    format!("unknown argument `{unknown}`; expected `name`, `trigger`, `slow` or `every`"),
                ));
            } else {
                return Err(syn::Error::new(
                    input.span(),
                    "expected an argument such as `name = \"my_job\"`",
                ));
            };
            let key_name = key.to_string();
            if seen.contains(&key_name) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{key_name}` is given twice; keep one"),
                ));
            }
            seen.push(key_name.clone());
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    key.span(),
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
            match key_name.as_str() {
                "name" | "trigger" => {
                    if value.value().trim().is_empty() {
                        return Err(syn::Error::new(
                            value.span(),
                            format!("`{key_name}` cannot be empty"),
                        ));
                    }
                    if key_name == "name" {
                        args.name = Some(value);
                    } else {
                        args.trigger = Some(value);
                    }
                }
                _ => {
                    let nanos = parse_nanos(&value.value())
                        .map_err(|message| syn::Error::new(value.span(), message))?;
                    if key_name == "slow" {
                        args.slow_nanos = Some(nanos);
                    } else {
                        args.every_nanos = Some(nanos);
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}
