//! Generating the retry loop around the function's body.
//!
//! The signature is re-emitted untouched, so generics, where-clauses, receivers and `impl Trait`
//! arguments pass through. The body becomes the attempt: an `async` block (or a closure, for a
//! plain `fn`) evaluated once per attempt inside the loop, spanned at the user's block so that
//! errors in the body still point at the user's code. It borrows the arguments rather than
//! moving them, so every argument is usable in every attempt.

use std::time::Duration;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::Parser as _;
use syn::spanned::Spanned as _;
use syn::{Block, Expr, Item, ItemFn, ReturnType, parse_quote, parse_quote_spanned};

use crate::args::{Args, Backoff, Budget, Jitter};
use crate::errors::Errors;
use crate::{async_trait, validate};

pub(crate) fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut parsed = Args::default();
    let parser = syn::meta::parser(|meta| parsed.parse_one(&meta, &mut errors));
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    let function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            errors.at(
                item_span(&other),
                "`#[resilient]` applies to functions and methods; put it on an `async fn` or a `fn`",
            );
            return with_errors(errors, item);
        }
        Err(error) => {
            errors.push(error);
            return with_errors(errors, item);
        }
    };
    let is_async = function.sig.asyncness.is_some()
        || async_trait::user_body(&mut function.block.clone()).is_some();
    validate::check(&parsed, &function, is_async, &mut errors);
    match errors.into_error() {
        // Emitting the function unchanged keeps the user's other code (and IDE) working, so the
        // attribute's errors are the only ones shown.
        Some(error) => {
            let mut tokens = error.to_compile_error();
            function.to_tokens(&mut tokens);
            tokens
        }
        None => expand(&parsed, function),
    }
}

fn with_errors(errors: Errors, item: TokenStream) -> TokenStream {
    let mut tokens = errors
        .into_error()
        .map(|e| e.to_compile_error())
        .unwrap_or_default();
    tokens.extend(item);
    tokens
}

/// Where to point for an item that is not a function: its keyword and name.
fn item_span(item: &Item) -> Span {
    match item {
        Item::Struct(s) => s
            .struct_token
            .span
            .join(s.ident.span())
            .unwrap_or(s.ident.span()),
        Item::Enum(e) => e
            .enum_token
            .span
            .join(e.ident.span())
            .unwrap_or(e.ident.span()),
        Item::Const(c) => c
            .const_token
            .span
            .join(c.ident.span())
            .unwrap_or(c.ident.span()),
        other => other.span(),
    }
}

fn expand(args: &Args, mut function: ItemFn) -> TokenStream {
    let krate = args
        .krate
        .as_ref()
        .map_or_else(|| quote!(::resilient_http), |k| k.value.to_token_stream());
    let private = quote!(#krate::__private);
    let fn_name = function.sig.ident.to_string();
    if function.sig.asyncness.is_none()
        && let Some((ret, body)) = async_trait::user_body(&mut function.block)
    {
        let attempt = match &**body {
            Expr::Block(block) => block.block.clone(),
            other => parse_quote_spanned!(other.span()=> { #other }),
        };
        let ret = Returns {
            ty: ret.to_token_stream(),
            span: ret.span(),
        };
        let retry_loop = retry_loop(args, &private, &fn_name, &ret, &attempt, true);
        **body = parse_quote!({ #retry_loop });
        return function.into_token_stream();
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = &function;
    let ret = match &sig.output {
        ReturnType::Type(_, ty) => Returns {
            ty: ty.to_token_stream(),
            span: ty.span(),
        },
        ReturnType::Default => Returns {
            ty: quote_spanned!(sig.ident.span()=> ()),
            span: sig.ident.span(),
        },
    };
    let retry_loop = retry_loop(
        args,
        &private,
        &fn_name,
        &ret,
        block,
        sig.asyncness.is_some(),
    );
    quote! {
        #(#attrs)*
        #vis #sig {
            #retry_loop
        }
    }
}

/// The function's return type, and where to report that it is not one `#[resilient]` accepts.
struct Returns {
    ty: TokenStream,
    span: Span,
}

/// The statements that run `body` as the attempt of a resilient call.
fn retry_loop(
    args: &Args,
    private: &TokenStream,
    fn_name: &str,
    ret: &Returns,
    body: &Block,
    is_async: bool,
) -> TokenStream {
    let config = policy_config(args, private);
    let operation = match &args.name {
        Some(name) => Literal::string(&name.value).into_token_stream(),
        None => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
    };
    let breaker = args.breaker.as_ref().map(|b| b.value.as_str());
    let budget = match &args.budget {
        Some(budget) => match &budget.value {
            Budget::Named(name) => Some(Literal::string(name).into_token_stream()),
            Budget::Off => None,
        },
        None => Some(breaker.map_or_else(
            || operation.clone(),
            |b| Literal::string(b).into_token_stream(),
        )),
    };
    let breaker = option_tokens(breaker.map(|b| Literal::string(b).into_token_stream()));
    let budget = option_tokens(budget);
    let idempotent = args.idempotent.as_ref().is_none_or(|i| i.value);

    // Internal names are hygienic: user code in the body cannot see or shadow them.
    let name = |n: &str| format_ident!("{}", n, span = Span::mixed_site());
    let (policy, handles, resolved, attempts, started, result, delay, error) = (
        name("__RH_POLICY"),
        name("__RH_HANDLES"),
        name("__rh_resolved"),
        name("__rh_attempts"),
        name("__rh_started"),
        name("__rh_result"),
        name("__rh_delay"),
        name("__rh_error"),
    );
    let entered = name("__rh_entered");

    // With the global registry, the handles are a static, asked for wherever the call is
    // made; a reference to them would be one more word in the future.
    let (resolve, resolved) = match &args.registry {
        None => (
            quote! {
                static #handles: #private::GlobalHandles = #private::GlobalHandles::new(#breaker, #budget);
            },
            quote!(#handles.get()),
        ),
        Some(registry) => {
            let expr = &registry.value;
            (
                quote! {
                    let #resolved = &#private::Resolved::new(#expr, #breaker, #budget);
                },
                resolved.into_token_stream(),
            )
        }
    };

    let ty = &ret.ty;
    let (run_attempt, wait) = if is_async {
        let attempt = quote_spanned!(body.span()=> async #body);
        // The body appears once; an unlimited attempt awaits it as is (the success path, which
        // must cost nothing over `Call::run`), and only a limited one is polled under its limit,
        // on the call's one timer.
        let limited = args.timeout.is_some() || args.deadline.is_some();
        let run_attempt = if limited {
            quote!(#private::limited::<#ty, _>(&mut #attempts, #attempt).await)
        } else {
            // No limit is declared, so no attempt is ever wrapped in a timeout: leaving the
            // wrapper out of the code keeps it out of the future, and the success path cheaper.
            quote!(::core::option::Option::Some(#private::attempt::<#ty, _>(&#attempts, #attempt).await))
        };
        (
            run_attempt,
            quote!(#private::wait(&mut #attempts, #delay).await),
        )
    } else {
        let attempt = quote_spanned!(body.span()=> (|| -> #ty #body)());
        (
            quote!({
                let #entered = #attempts.enter_span();
                ::core::option::Option::Some(#attempt)
            }),
            quote!(#private::sleep_blocking(#delay)),
        )
    };
    // Spanned at the return type, so that a wrong one is reported there, once.
    let returns = quote_spanned!(ret.span=> <#ty as #private::ResilientReturn>);

    // The call is made afresh wherever it is used rather than kept in a local: it is only
    // references to statics and constants, so making it again costs a few loads, where a
    // local alive across the attempt's await would be eight words written into the future
    // and read back, on every call.
    let call_now = quote!(&#resolved.call(#operation, &#policy, #idempotent));
    quote! {
        static #policy: #private::RetryPolicy = #private::RetryPolicy::__from_checked(#config);
        #resolve
        let mut #attempts = #private::Attempts::new();
        loop {
            // The result is scoped to the attempt, so it is not kept in the future across the
            // wait before the next one.
            let #delay = {
                let #started = match #attempts.begin(#call_now) {
                    ::core::result::Result::Ok(#started) => #started,
                    ::core::result::Result::Err(#error) => {
                        return #returns::rejected(#attempts.rejected(#call_now, #error));
                    }
                };
                // A quiet success is returned as the attempt gave it, its value moved out before
                // its permit is recorded: nothing holds the whole result while a call that
                // could unwind runs, so nothing needs its address, and it can stay out of
                // memory. Anything else is judged in place.
                let (mut #result, #started) = match #run_attempt {
                    ::core::option::Option::Some(#result) => {
                        match #returns::settle(#result, &#attempts, #call_now, #started) {
                            #private::Settled::Done(#result) => return #result,
                            #private::Settled::Judge(#result, #started) => {
                                (::core::option::Option::Some(#result), #started)
                            }
                        }
                    }
                    ::core::option::Option::None => (::core::option::Option::None, #started),
                };
                match #returns::finish(&mut #attempts, #call_now, #started, &mut #result) {
                    #private::ControlFlow::Break(()) => return #private::finished(#result),
                    #private::ControlFlow::Continue(#delay) => #delay,
                }
            };
            #wait;
        }
    }
}

fn option_tokens(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

fn duration(value: Duration) -> TokenStream {
    let secs = value.as_secs();
    let nanos = value.subsec_nanos();
    quote!(::core::time::Duration::new(#secs, #nanos))
}

/// The policy as a `const` expression of the runtime's builder, checked here so it can be built
/// without validation at run time.
fn policy_config(args: &Args, private: &TokenStream) -> TokenStream {
    let mut config = quote!(#private::RetryConfig::new());
    if let Some(n) = &args.max_attempts {
        let n = n.value;
        config.extend(quote!(.max_attempts(#n)));
    }
    if let Some(ranges) = &args.retry_on {
        let ranges = ranges
            .value
            .iter()
            .map(|(first, last)| quote!(.with_range(#first, #last)));
        config.extend(quote!(.retry_on(#private::StatusSet::EMPTY #(#ranges)*)));
    }
    if let Some(backoff) = &args.backoff {
        let backoff = match backoff.value {
            Backoff::None => quote!(#private::Backoff::None),
            Backoff::Constant(delay) => {
                let delay = duration(delay);
                quote!(#private::Backoff::constant(#delay))
            }
            Backoff::Linear { initial, step, max } => {
                let (initial, step, max) = (duration(initial), duration(step), duration(max));
                quote!(#private::Backoff::linear(#initial, #step, #max))
            }
            Backoff::Exponential {
                initial,
                factor,
                max,
            } => {
                let (initial, max) = (duration(initial), duration(max));
                let factor = Literal::f64_suffixed(factor);
                quote!(#private::Backoff::exponential(#initial, #factor, #max))
            }
        };
        config.extend(quote!(.backoff(#backoff)));
    }
    if let Some(jitter) = &args.jitter {
        let variant = match jitter.value {
            Jitter::None => quote!(None),
            Jitter::Full => quote!(Full),
            Jitter::Equal => quote!(Equal),
            Jitter::Decorrelated => quote!(Decorrelated),
        };
        config.extend(quote!(.jitter(#private::Jitter::#variant)));
    }
    if let Some(timeout) = &args.timeout {
        let timeout = duration(timeout.value);
        config.extend(quote!(.attempt_timeout(#timeout)));
    }
    if let Some(deadline) = &args.deadline {
        let deadline = duration(deadline.value);
        config.extend(quote!(.deadline(#deadline)));
    }
    config
}
