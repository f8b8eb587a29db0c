//! Support for methods of an `#[async_trait]` impl.
//!
//! `#[async_trait]` sits on the impl block, so it expands before the `#[resilient]` on a method
//! inside it: we receive a plain `fn` returning a boxed future, whose body async-trait wrote as
//!
//! ```text
//! Box::pin(async move {
//!     /* rebinding of the arguments */
//!     let __ret: Ret = { /* the user's body */ };
//!     __ret
//! })
//! ```
//!
//! The retry loop replaces the initialiser of `__ret`, with the user's body as the attempt.
//! This follows what `tracing-attributes` does for the same reason.

use syn::{Block, Expr, Local, LocalInit, Pat, PatType, Stmt, Type};

/// The return type and the user's body inside a method rewritten by `#[async_trait]`.
pub(crate) fn user_body(block: &mut Block) -> Option<(&Type, &mut Box<Expr>)> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last_mut() else {
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
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    let Some(Expr::Async(future)) = call.args.first_mut() else {
        return None;
    };
    future.block.stmts.iter_mut().find_map(|stmt| match stmt {
        Stmt::Local(Local {
            pat: Pat::Type(PatType { pat, ty, .. }),
            init:
                Some(LocalInit {
                    expr,
                    diverge: None,
                    ..
                }),
            ..
        }) if matches!(&**pat, Pat::Ident(ident) if ident.ident == "__ret") => Some((&**ty, expr)),
        _ => None,
    })
}
