//! Parsing `fields(user_id = req.user, chat = %chat_id, ?thing, %name, plain, always)`,
//! following `#[tracing::instrument(fields(…))]`: `name = value`, a value
//! after `%` recorded with `Display`, after `?` with `Debug`, a bare value
//! keeping its JSON type; `%name`, `?name` and `name` record the variable of
//! that name, and `?a.b` the field path `a.b` under that name (a field
//! without a value is an empty one in tracing's attribute, to be recorded
//! later; this one records once, so it reads the variable); a name may be
//! dotted (`a.b = …`) or a string literal. `always` records them on every
//! execution instead of on failures only.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Expr, LitStr, Token};

/// The most fields one function can have (the logs keep as many).
pub(crate) const MAX_FIELDS: usize = 16;
/// The longest field name, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 64;

mod kw {
    syn::custom_keyword!(always);
}

/// How a value is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sigil {
    /// Numbers, booleans and strings keep their JSON type.
    Bare,
    /// `%value`: `Display`.
    Display,
    /// `?value`: `Debug`.
    Debug,
}

pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) sigil: Sigil,
    pub(crate) value: Expr,
}

/// The parsed `fields(…)`.
pub(crate) struct Fields {
    pub(crate) always: bool,
    pub(crate) fields: Vec<Field>,
}

const EXPECTED: &str =
    "expected a field: `name = value`, `name = %value`, `name = ?value`, `%name`, `?name`, `name` or `always`";

impl Fields {
    /// Parses the list inside `fields(…)`; `keyword` is the span of `fields`.
    pub(crate) fn parse(input: ParseStream<'_>, keyword: Span) -> syn::Result<Fields> {
        let mut always: Option<Span> = None;
        let mut fields: Vec<Field> = Vec::new();
        while !input.is_empty() {
            if input.peek(kw::always) && (input.peek2(Token![,]) || peek_end(input)) {
                let word = input.parse::<kw::always>()?;
                if always.is_some() {
                    return Err(syn::Error::new(
                        word.span,
                        "`always` is given twice; keep one",
                    ));
                }
                always = Some(word.span);
            } else {
                let start = input.span();
                let field = parse_field(input)?;
                if fields.iter().any(|other| other.name == field.name) {
                    return Err(syn::Error::new(
                        start,
                        format!("the field `{}` is given twice; keep one", field.name),
                    ));
                }
                if fields.len() == MAX_FIELDS {
                    return Err(syn::Error::new(
                        start,
                        format!("at most {MAX_FIELDS} fields can be recorded; remove some"),
                    ));
                }
                fields.push(field);
            }
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(syn::Error::new(input.span(), "expected `,` between fields"));
            }
            input.parse::<Token![,]>()?;
        }
        if fields.is_empty() {
            let span = always.unwrap_or(keyword);
            return Err(syn::Error::new(
                span,
                "`fields(…)` lists no field; write `fields(user_id = user.id)` or remove it",
            ));
        }
        Ok(Fields {
            always: always.is_some(),
            fields,
        })
    }
}

fn peek_end(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    fork.parse::<kw::always>().is_ok() && fork.is_empty()
}

fn parse_sigil(input: ParseStream<'_>) -> syn::Result<Sigil> {
    if input.peek(Token![%]) {
        input.parse::<Token![%]>()?;
        Ok(Sigil::Display)
    } else if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        Ok(Sigil::Debug)
    } else {
        Ok(Sigil::Bare)
    }
}

fn parse_field(input: ParseStream<'_>) -> syn::Result<Field> {
    if input.peek(Token![%]) || input.peek(Token![?]) {
        // `%name` / `?a.b`: the variable (or field path) of that name.
        let sigil = parse_sigil(input)?;
        if !input.peek(syn::Ident::peek_any) {
            return Err(syn::Error::new(
                input.span(),
                "after `%` or `?` write a variable's name; to record an expression, name it: `name = %expr`",
            ));
        }
        let (name, _, path) = parse_name(input)?;
        if input.peek(Token![=]) {
            return Err(syn::Error::new(
                input.span(),
                "the sigil goes on the value: write `name = %value`",
            ));
        }
        if !(input.is_empty() || input.peek(Token![,])) {
            return Err(syn::Error::new(
                input.span(),
                "`%name` and `?name` record a variable or a field path (`?req.kind`); to record an expression, name it: `name = %expr`",
            ));
        }
        let Some(path) = path else {
            return Err(syn::Error::new(input.span(), EXPECTED));
        };
        return Ok(Field {
            name,
            sigil,
            value: shorthand_expr(path),
        });
    }
    let (name, name_span, path) = parse_name(input)?;
    if !input.peek(Token![=]) {
        if !(input.peek(Token![,]) || input.is_empty()) {
            return Err(syn::Error::new(input.span(), EXPECTED));
        }
        let Some(path) = path else {
            return Err(syn::Error::new(
                name_span,
                format!("the field \"{name}\" needs a value: write `\"{name}\" = …`"),
            ));
        };
        return Ok(Field {
            name,
            sigil: Sigil::Bare,
            value: shorthand_expr(path),
        });
    }
    let equals = input.parse::<Token![=]>()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            equals.span,
            format!("the field `{name}` needs a value after `=`"),
        ));
    }
    let sigil = parse_sigil(input)?;
    let value: Expr = input.parse()?;
    if is_deferred(&value) {
        return Err(syn::Error::new(
            value.span(),
            "deferred field values (`tracing::field::Empty`) are not supported: fields are evaluated when the execution starts; give the value here",
        ));
    }
    Ok(Field { name, sigil, value })
}

/// A name: `ident`, `a.b.c` (keywords allowed, as in tracing), or `"text"`.
/// The third value is the identifiers of a name made of them.
fn parse_name(input: ParseStream<'_>) -> syn::Result<(String, Span, Option<Vec<syn::Ident>>)> {
    let span = input.span();
    let (name, path) = if input.peek(LitStr) {
        let literal: LitStr = input.parse()?;
        (literal.value(), None)
    } else if input.peek(syn::Ident::peek_any) {
        let first = input.call(syn::Ident::parse_any)?;
        let mut name = unraw(&first);
        let mut path = vec![first];
        while input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            let part = input
                .call(syn::Ident::parse_any)
                .map_err(|_| syn::Error::new(input.span(), "expected a name part after `.`"))?;
            name.push('.');
            name.push_str(&unraw(&part));
            path.push(part);
        }
        (name, Some(path))
    } else if input.peek(Token![,]) {
        return Err(syn::Error::new(
            span,
            "an empty field; remove the extra `,`",
        ));
    } else {
        let token = input
            .fork()
            .parse::<proc_macro2::TokenTree>()
            .map_or_else(|_| String::new(), |tree| tree.to_string());
        let message = if token.len() == 1 && !token.chars().all(char::is_alphanumeric) {
            format!("unknown sigil `{token}`: a value takes `%` (Display), `?` (Debug) or none")
        } else {
            EXPECTED.to_owned()
        };
        return Err(syn::Error::new(span, message));
    };
    if name.trim().is_empty() {
        return Err(syn::Error::new(span, "a field name cannot be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(syn::Error::new(
            span,
            format!(
                "a field name is at most {MAX_NAME_BYTES} bytes; this one has {}",
                name.len()
            ),
        ));
    }
    Ok((name, span, path))
}

fn unraw(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map_or(text.clone(), str::to_owned)
}

/// The value a shorthand records: the variable `a`, or the field path `a.b`
/// (as tracing's `?a.b`).
fn shorthand_expr(path: Vec<syn::Ident>) -> Expr {
    let mut parts = path.into_iter();
    let Some(first) = parts.next() else {
        unreachable!("a name has a first part")
    };
    let mut expr = Expr::Path(syn::ExprPath {
        attrs: Vec::new(),
        qself: None,
        path: first.into(),
    });
    for part in parts {
        expr = Expr::Field(syn::ExprField {
            attrs: Vec::new(),
            base: Box::new(expr),
            dot_token: Token![.](part.span()),
            member: syn::Member::Named(part),
        });
    }
    expr
}

/// `Empty`, `field::Empty`, `tracing::field::Empty`: tracing's "recorded
/// later", which an attribute evaluated once cannot do.
fn is_deferred(value: &Expr) -> bool {
    let Expr::Path(path) = value else {
        return false;
    };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Empty")
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use crate::attr::Args;

    fn parse(tokens: proc_macro2::TokenStream) -> Result<super::Fields, String> {
        syn::parse2::<Args>(tokens)
            .map(|args| args.fields.expect("fields"))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn every_form_tracing_accepts_parses() {
        let fields = parse(quote!(fields(
            user_id = req.user,
            chat = %chat_id,
            ?thing,
            %name,
            plain,
            always,
            a.b.c = 1,
            "odd name" = ?x,
            r#type = 2,
            always_on = true,
            ?req.kind,
            user.id
        )))
        .unwrap();
        assert!(fields.always);
        let names: Vec<&str> = fields.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "user_id",
                "chat",
                "thing",
                "name",
                "plain",
                "a.b.c",
                "odd name",
                "type",
                "always_on",
                "req.kind",
                "user.id"
            ]
        );
        let sigils: Vec<super::Sigil> = fields.fields.iter().map(|f| f.sigil).collect();
        use super::Sigil::{Bare, Debug, Display};
        assert_eq!(
            sigils,
            [Bare, Display, Debug, Display, Bare, Bare, Debug, Bare, Bare, Debug, Bare]
        );
        let value = &fields.fields[9].value;
        assert_eq!(quote!(#value).to_string(), "req . kind");
        assert!(!parse(quote!(fields(a = 1))).unwrap().always);
        // A field named `always` is a field.
        let named = parse(quote!(fields(always = 1))).unwrap();
        assert!(!named.always);
        assert_eq!(named.fields[0].name, "always");
    }

    #[test]
    fn mistakes_are_errors() {
        for (tokens, expected) in [
            (quote!(fields(a = 1, a = 2)), "given twice"),
            (quote!(fields(a =)), "needs a value"),
            (quote!(fields(a = 1,, b = 2)), "empty field"),
            (quote!(fields(@a)), "unknown sigil `@`"),
            (quote!(fields(a = Empty)), "deferred"),
            (quote!(fields()), "lists no field"),
            (quote!(fields(a b)), "expected a field"),
            (quote!(fields(a = 1 b = 2)), "expected `,`"),
            (quote!(fields(%a.b())), "to record an expression"),
            (quote!(fields(%a = 1)), "the sigil goes on the value"),
            (quote!(fields("text")), "needs a value"),
        ] {
            let error = parse(tokens.clone()).err().unwrap_or_default();
            assert!(error.contains(expected), "{tokens}: {error}");
        }
    }
}
