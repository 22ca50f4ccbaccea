//! The TICKscript syntax tree: statements and expressions with their spans and the comments
//! written before them (kept so the formatter can put them back).

use super::diag::Span;
use super::lexer::Tok;

/// `//` comment lines that precede a node, without the slashes' line breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub span: Span,
    /// Each line's text after `// `; a `"\n"` entry stands for a blank line between blocks.
    pub lines: Vec<String>,
}

/// A whole script.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub statements: Vec<Statement>,
    /// Comments after the last statement.
    pub trailing: Option<Comment>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `var name = value`
    Var {
        span: Span,
        name: Ident,
        value: Expr,
        comment: Option<Comment>,
    },
    /// `var name type`, a template variable.
    TypeDecl {
        span: Span,
        name: Ident,
        ty: Ident,
        comment: Option<Comment>,
    },
    /// `dbrp "db"."rp"`
    Dbrp {
        span: Span,
        db: Expr,
        rp: Expr,
        comment: Option<Comment>,
    },
    Expr(Expr),
}

impl Statement {
    pub fn span(&self) -> Span {
        match self {
            Statement::Var { span, .. }
            | Statement::TypeDecl { span, .. }
            | Statement::Dbrp { span, .. } => *span,
            Statement::Expr(e) => e.span,
        }
    }
}

/// A name as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    pub comment: Option<Comment>,
}

/// How a call is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// `f(x)`: a function in a lambda or at the top level.
    Global,
    /// `|node()`: creates a child node.
    Chain,
    /// `.prop()`: sets a property.
    Property,
    /// `@udf()`: a user-defined function node.
    Dynamic,
}

/// The operator that links a chain step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainOp {
    Pipe,
    Dot,
    At,
}

impl ChainOp {
    pub fn text(self) -> &'static str {
        match self {
            ChainOp::Pipe => "|",
            ChainOp::Dot => ".",
            ChainOp::At => "@",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Ident(String),
    /// An integer literal (decimal, or octal with a leading 0 as in Kapacitor).
    Int(i64),
    Float(f64),
    /// A string literal, unescaped; `triple` when written with `'''`.
    Str {
        value: String,
        triple: bool,
    },
    Bool(bool),
    /// Nanoseconds, and the literal as written (`10s`).
    Duration {
        nanos: i64,
        literal: String,
    },
    /// The pattern with `\/` unescaped, and the literal between the slashes as written.
    Regex {
        pattern: String,
        literal: String,
    },
    Star,
    /// `"field"`, unescaped.
    Reference(String),
    /// `['a', b, *]`
    List(Vec<Expr>),
    /// `lambda: expr`
    Lambda(Box<Expr>),
    Unary {
        op: Tok,
        expr: Box<Expr>,
    },
    Binary {
        op: Tok,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        parens: bool,
        multiline: bool,
    },
    Call {
        kind: CallKind,
        name: Ident,
        args: Vec<Expr>,
        multiline: bool,
    },
    /// `lhs | rhs`, `lhs . rhs`, `lhs @ rhs`: left-nested, so `a|b().c()` is `(a|b()).c()`.
    Chain {
        op: ChainOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span,
            comment: None,
        }
    }
}
