//! TICKscript text → [`Program`], following Kapacitor's grammar (`tick/ast/parser.go`) and its
//! operator precedence, but collecting every error it can recover from instead of stopping at
//! the first: after a bad statement it skips to the next one and goes on.

use super::ast::*;
use super::diag::{Diagnostic, Diagnostics, Span};
use super::lexer::{Tok, Token, lex};

/// Parses a script. The program holds every statement that parsed; the diagnostics say what
/// did not.
pub fn parse(src: &str) -> (Program, Diagnostics) {
    let mut p = Parser::new(src);
    let mut statements = Vec::new();
    while p.peek() != Tok::Eof {
        let start = p.pos;
        match p.statement() {
            Ok(s) => statements.push(s),
            Err(()) => p.recover(start),
        }
    }
    let trailing = p.comments[p.pos].take();
    let diags = Diagnostics(p.diags);
    (
        Program {
            statements,
            trailing,
        },
        diags,
    )
}

/// Parses a lone lambda expression (the text after `lambda:`), as template `vars` give them.
pub fn parse_lambda(src: &str) -> Result<Expr, Diagnostics> {
    let mut p = Parser::new(src);
    let e = p.primary_expr();
    if e.is_ok() && p.peek() != Tok::Eof {
        let t = p.next();
        p.unexpected(&t, "end of the expression");
    }
    match e {
        Ok(e) if p.diags.is_empty() => Ok(e),
        _ => Err(Diagnostics(p.diags)),
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    /// The comment written just before each token.
    comments: Vec<Option<Comment>>,
    pos: usize,
    diags: Vec<Diagnostic>,
}

type P<T> = Result<T, ()>;

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        let mut toks = Vec::new();
        let mut comments = Vec::new();
        let mut pending: Option<Comment> = None;
        for t in lex(src) {
            if t.tok == Tok::Comment {
                let raw = src[t.span.range()].trim();
                let text = raw.strip_prefix("//").unwrap_or(raw);
                let text = text.strip_prefix(' ').unwrap_or(text).to_owned();
                match &mut pending {
                    Some(c) => {
                        // A blank line between comment lines is kept as a "\n" entry.
                        if src[c.span.end as usize..t.span.start as usize]
                            .matches('\n')
                            .count()
                            > 1
                        {
                            c.lines.push("\n".to_owned());
                        }
                        c.lines.push(text);
                        c.span = c.span.to(t.span);
                    }
                    None => {
                        pending = Some(Comment {
                            span: t.span,
                            lines: vec![text],
                        })
                    }
                }
                continue;
            }
            toks.push(t);
            comments.push(pending.take());
        }
        Parser {
            src,
            toks,
            comments,
            pos: 0,
            diags: Vec::new(),
        }
    }

    fn peek(&self) -> Tok {
        self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> Tok {
        self.toks.get(self.pos + n).map_or(Tok::Eof, |t| t.tok)
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    /// The comment before the token just consumed.
    fn comment(&mut self) -> Option<Comment> {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.comments[i].take())
    }

    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.span.range()]
    }

    fn expect(&mut self, tok: Tok, what: &str) -> P<Token> {
        if self.peek() == tok {
            return Ok(self.next());
        }
        let t = self.next_for_error();
        self.unexpected(&t, what);
        Err(())
    }

    /// The offending token, consumed unless it starts a statement (so recovery can resume there).
    fn next_for_error(&mut self) -> Token {
        match self.peek() {
            Tok::Var | Tok::Dbrp | Tok::Eof => self.toks[self.pos].clone(),
            _ => self.next(),
        }
    }

    fn unexpected(&mut self, t: &Token, expected: &str) {
        let d = match &t.error {
            Some(msg) => Diagnostic::new(t.span, msg.clone()),
            None => {
                let found = match t.tok {
                    Tok::Eof => "end of script".to_owned(),
                    _ => format!("`{}`", self.text(t)),
                };
                Diagnostic::new(t.span, format!("unexpected {found}; expected {expected}"))
            }
        };
        let d = self.hint_for(t, d);
        self.diags.push(d);
    }

    /// Hints for mistakes people make.
    fn hint_for(&self, t: &Token, d: Diagnostic) -> Diagnostic {
        match t.tok {
            Tok::Reference if t.error.is_none() => {
                d.with_hint("double quotes make a field or tag reference, which only lambdas can use; write strings in single quotes")
            }
            Tok::Asgn => d.with_hint("compare with `==`; `=` only appears in `var x = ...`"),
            _ => d,
        }
    }

    /// Skips to where the next statement probably starts: `var`, `dbrp`, or a word at the start
    /// of a line that does not continue an expression.
    fn recover(&mut self, start: usize) {
        if self.pos == start {
            self.next();
        }
        loop {
            let t = &self.toks[self.pos];
            match t.tok {
                Tok::Eof | Tok::Var | Tok::Dbrp => return,
                Tok::Ident if self.starts_line(self.pos) && !self.continues(self.pos) => return,
                _ => {
                    self.next();
                }
            }
        }
    }

    fn starts_line(&self, i: usize) -> bool {
        let start = self.toks[i].span.start as usize;
        let prev_end = if i == 0 {
            0
        } else {
            self.toks[i - 1].span.end as usize
        };
        i == 0 || self.src[prev_end..start].contains('\n')
    }

    fn continues(&self, i: usize) -> bool {
        i > 0
            && matches!(
                self.toks[i - 1].tok,
                Tok::Pipe
                    | Tok::Dot
                    | Tok::At
                    | Tok::Comma
                    | Tok::LParen
                    | Tok::LBracket
                    | Tok::Asgn
                    | Tok::Lambda
            )
            || self.toks[i - 1].tok.precedence().is_some()
    }

    fn statement(&mut self) -> P<Statement> {
        match self.peek() {
            Tok::Var => self.declaration(),
            Tok::Dbrp => self.dbrp(),
            _ => Ok(Statement::Expr(self.expression()?)),
        }
    }

    fn dbrp(&mut self) -> P<Statement> {
        let kw = self.next();
        let comment = self.comment();
        let db =
            self.reference("the database as a \"reference\", e.g. dbrp \"telegraf\".\"autogen\"")?;
        self.expect(Tok::Dot, "`.` between database and retention policy")?;
        let rp = self.reference("the retention policy as a \"reference\"")?;
        Ok(Statement::Dbrp {
            span: kw.span.to(rp.span),
            db,
            rp,
            comment,
        })
    }

    fn declaration(&mut self) -> P<Statement> {
        let kw = self.next();
        let comment = self.comment();
        let name = self.ident("a variable name after `var`")?;
        if self.peek() == Tok::Asgn {
            self.next();
            let value = self.expression()?;
            Ok(Statement::Var {
                span: kw.span.to(value.span),
                name,
                value,
                comment,
            })
        } else if self.peek() == Tok::Ident {
            let ty = self.ident("a type")?;
            Ok(Statement::TypeDecl {
                span: kw.span.to(ty.span),
                name,
                ty,
                comment,
            })
        } else {
            let t = self.next_for_error();
            self.unexpected(&t, "`=` and a value, or a type (var x = 5 or var x float)");
            Err(())
        }
    }

    fn expression(&mut self) -> P<Expr> {
        match self.peek() {
            Tok::Ident => match self.peek_at(1) {
                Tok::LParen => {
                    let f = self.function(CallKind::Global)?;
                    if matches!(self.peek(), Tok::Dot | Tok::Pipe | Tok::At) {
                        self.chain(f)
                    } else {
                        self.precedence(f, 0)
                    }
                }
                Tok::Dot | Tok::Pipe | Tok::At | Tok::Var | Tok::Ident => {
                    let id = self.ident("an identifier")?;
                    let e = ident_expr(id);
                    self.chain(e)
                }
                _ => self.primary_expr(),
            },
            Tok::Lambda => self.lambda(),
            Tok::LBracket => self.string_list(),
            _ => self.primary_expr(),
        }
    }

    fn chain(&mut self, mut lhs: Expr) -> P<Expr> {
        loop {
            let op = match self.peek() {
                Tok::Dot => ChainOp::Dot,
                Tok::Pipe => ChainOp::Pipe,
                Tok::At => ChainOp::At,
                _ => return Ok(lhs),
            };
            self.next();
            // A comment before `|` or `.` belongs to the chain step, as in Kapacitor's tree.
            let comment = self.comment();
            let rhs = match op {
                ChainOp::Pipe => self.function(CallKind::Chain)?,
                ChainOp::At => self.function(CallKind::Dynamic)?,
                ChainOp::Dot if self.peek_at(1) == Tok::LParen => {
                    self.function(CallKind::Property)?
                }
                ChainOp::Dot => ident_expr(self.ident("a property name after `.`")?),
            };
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Chain {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
                comment,
            };
        }
    }

    fn ident(&mut self, what: &str) -> P<Ident> {
        let t = self.expect(Tok::Ident, what)?;
        Ok(Ident {
            name: self.text(&t).to_owned(),
            span: t.span,
        })
    }

    fn function(&mut self, kind: CallKind) -> P<Expr> {
        let what = match kind {
            CallKind::Chain => "a node after `|`, e.g. |window()",
            CallKind::Dynamic => "a user-defined function after `@`, e.g. @myUDF()",
            _ => "a function name",
        };
        let name = self.ident(what)?;
        let comment = self.comment();
        if self.peek() != Tok::LParen {
            let t = self.next_for_error();
            self.unexpected(&t, &format!("`(` after `{}`", name.name));
            if matches!(kind, CallKind::Chain) {
                let last = self.diags.pop().expect("just pushed");
                self.diags.push(
                    last.with_hint(format!("nodes are created with a call: |{}()", name.name)),
                );
            }
            return Err(());
        }
        self.next();
        let args = self.parameters()?;
        let close = self.expect(Tok::RParen, "`,` or `)` in the argument list")?;
        let multiline = args.last().is_some_and(|a| {
            self.src[name.span.start as usize..a.span.start as usize].contains('\n')
        });
        let span = name.span.to(close.span);
        Ok(Expr {
            kind: ExprKind::Call {
                kind,
                name,
                args,
                multiline,
            },
            span,
            comment,
        })
    }

    /// Arguments of a call outside a lambda: any expression, lambdas and lists included.
    fn parameters(&mut self) -> P<Vec<Expr>> {
        let mut args = Vec::new();
        loop {
            if self.peek() == Tok::RParen {
                return Ok(args);
            }
            args.push(self.expression()?);
            if self.peek() != Tok::Comma {
                return Ok(args);
            }
            self.next();
        }
    }

    fn string_list(&mut self) -> P<Expr> {
        let open = self.next();
        let comment = self.comment();
        let mut items = Vec::new();
        loop {
            match self.peek() {
                Tok::RBracket => break,
                Tok::Ident => items.push(ident_expr(self.ident("an identifier")?)),
                Tok::String => items.push(self.string()?),
                Tok::Star => {
                    let t = self.next();
                    items.push(Expr::new(ExprKind::Star, t.span));
                }
                _ => {
                    let t = self.next_for_error();
                    self.unexpected(&t, "a 'string', a variable or `*` in the list");
                    return Err(());
                }
            }
            if self.peek() != Tok::Comma {
                break;
            }
            self.next();
        }
        let close = self.expect(Tok::RBracket, "`,` or `]` in the list")?;
        Ok(Expr {
            kind: ExprKind::List(items),
            span: open.span.to(close.span),
            comment,
        })
    }

    fn lambda(&mut self) -> P<Expr> {
        let kw = self.next();
        let comment = self.comment();
        let body = self.primary_expr()?;
        let span = kw.span.to(body.span);
        Ok(Expr {
            kind: ExprKind::Lambda(Box::new(body)),
            span,
            comment,
        })
    }

    fn primary_expr(&mut self) -> P<Expr> {
        let lhs = self.primary()?;
        self.precedence(lhs, 0)
    }

    /// Operator-precedence climbing, all operators left-associative (Kapacitor's algorithm).
    fn precedence(&mut self, mut lhs: Expr, min: u8) -> P<Expr> {
        while let Some(p) = self.peek().precedence().filter(|&p| p >= min) {
            let op = self.next();
            let comment = self.comment();
            let mut rhs = self.primary()?;
            while let Some(q) = self.peek().precedence().filter(|&q| q > p) {
                rhs = self.precedence(rhs, q)?;
            }
            // A line break around the operator (not inside the left operand) makes it multi-line.
            let multiline = self.src[lhs.span.end as usize..rhs.span.start as usize].contains('\n');
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op: op.tok,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    parens: false,
                    multiline,
                },
                span,
                comment,
            };
        }
        Ok(lhs)
    }

    /// Arguments of a function inside a lambda: operands and operators, no chains.
    fn lambda_arguments(&mut self) -> P<Vec<Expr>> {
        let mut args = Vec::new();
        loop {
            if self.peek() == Tok::RParen {
                return Ok(args);
            }
            args.push(self.primary_expr()?);
            if self.peek() != Tok::Comma {
                return Ok(args);
            }
            self.next();
        }
    }

    fn primary(&mut self) -> P<Expr> {
        match self.peek() {
            Tok::LParen => {
                let open = self.next();
                let comment = self.comment();
                let mut e = self.primary_expr()?;
                let close = self.expect(Tok::RParen, "`)` to close the parenthesis")?;
                if let ExprKind::Binary { parens, .. } = &mut e.kind {
                    *parens = true;
                }
                if comment.is_some() {
                    e.comment = comment;
                }
                e.span = open.span.to(close.span);
                Ok(e)
            }
            Tok::Number => self.number(),
            Tok::String => self.string(),
            Tok::True | Tok::False => {
                let t = self.next();
                let comment = self.comment();
                Ok(Expr {
                    kind: ExprKind::Bool(t.tok == Tok::True),
                    span: t.span,
                    comment,
                })
            }
            Tok::Duration => self.duration(),
            Tok::Regex => self.regex(),
            Tok::Star => {
                let t = self.next();
                let comment = self.comment();
                Ok(Expr {
                    kind: ExprKind::Star,
                    span: t.span,
                    comment,
                })
            }
            Tok::Reference => self.reference("a \"reference\""),
            Tok::Ident => {
                if self.peek_at(1) == Tok::LParen {
                    let name = self.ident("a function name")?;
                    self.next();
                    let args = self.lambda_arguments()?;
                    let close = self.expect(Tok::RParen, "`,` or `)` in the argument list")?;
                    let multiline = args.last().is_some_and(|a| {
                        self.src[name.span.start as usize..a.span.start as usize].contains('\n')
                    });
                    let span = name.span.to(close.span);
                    Ok(Expr::new(
                        ExprKind::Call {
                            kind: CallKind::Global,
                            name,
                            args,
                            multiline,
                        },
                        span,
                    ))
                } else {
                    let id = self.ident("an identifier")?;
                    let comment = self.comment();
                    let mut e = ident_expr(id);
                    e.comment = comment;
                    Ok(e)
                }
            }
            Tok::Minus | Tok::Not => {
                let op = self.next();
                let comment = self.comment();
                let operand = self.primary()?;
                let span = op.span.to(operand.span);
                Ok(Expr {
                    kind: ExprKind::Unary {
                        op: op.tok,
                        expr: Box::new(operand),
                    },
                    span,
                    comment,
                })
            }
            Tok::Lambda => {
                let t = self.next();
                self.diags.push(
                    Diagnostic::new(t.span, "`lambda:` cannot appear inside an expression")
                        .with_hint(
                            "a lambda is a whole argument: .where(lambda: \"a\" > 1 AND \"b\" < 2)",
                        ),
                );
                Err(())
            }
            _ => {
                let t = self.next_for_error();
                self.unexpected(&t, "a value: a number, 'string', duration, \"reference\", TRUE/FALSE, /regex/, identifier, `(`, `-` or `!`");
                Err(())
            }
        }
    }

    fn number(&mut self) -> P<Expr> {
        let t = self.next();
        let comment = self.comment();
        let text = self.text(&t);
        let kind = if text.contains('.') {
            match text.parse::<f64>() {
                Ok(f) => ExprKind::Float(f),
                Err(_) => return self.fail(t.span, format!("invalid number {text:?}")),
            }
        } else {
            // A leading zero makes an octal literal, as in Go and Kapacitor.
            let parsed = if text.len() > 1 && text.starts_with('0') {
                i64::from_str_radix(&text[1..], 8)
            } else {
                text.parse::<i64>()
            };
            match parsed {
                Ok(i) => ExprKind::Int(i),
                Err(_) => {
                    return self.fail(
                        t.span,
                        format!("invalid integer {text:?}: out of range or not octal"),
                    );
                }
            }
        };
        Ok(Expr {
            kind,
            span: t.span,
            comment,
        })
    }

    fn duration(&mut self) -> P<Expr> {
        let t = self.next();
        let comment = self.comment();
        let text = self.text(&t);
        match parse_duration_literal(text) {
            Some(nanos) => Ok(Expr {
                kind: ExprKind::Duration {
                    nanos,
                    literal: text.to_owned(),
                },
                span: t.span,
                comment,
            }),
            None => self.fail(t.span, format!("invalid duration {text:?}: out of range")),
        }
    }

    fn string(&mut self) -> P<Expr> {
        let t = self.next();
        let comment = self.comment();
        let text = self.text(&t);
        let (value, triple) = if text.len() >= 6 && text.starts_with("'''") {
            (text[3..text.len() - 3].to_owned(), true)
        } else {
            (text[1..text.len() - 1].replace("\\'", "'"), false)
        };
        Ok(Expr {
            kind: ExprKind::Str { value, triple },
            span: t.span,
            comment,
        })
    }

    fn regex(&mut self) -> P<Expr> {
        let t = self.next();
        let comment = self.comment();
        let text = self.text(&t);
        let literal = text[1..text.len() - 1].to_owned();
        let pattern = literal.replace("\\/", "/");
        // Syntax only: compiling every regex here would dominate parsing; the engine compiles.
        if let Err(e) = regex_syntax::Parser::new().parse(&pattern) {
            let msg = e.to_string();
            let reason = msg
                .lines()
                .last()
                .unwrap_or("invalid")
                .trim()
                .trim_start_matches("error: ");
            return self.fail(t.span, format!("invalid regex /{literal}/: {reason}"));
        }
        Ok(Expr {
            kind: ExprKind::Regex { pattern, literal },
            span: t.span,
            comment,
        })
    }

    fn reference(&mut self, what: &str) -> P<Expr> {
        let t = self.expect(Tok::Reference, what)?;
        let comment = self.comment();
        let text = self.text(&t);
        let name = text[1..text.len() - 1].replace("\\\"", "\"");
        Ok(Expr {
            kind: ExprKind::Reference(name),
            span: t.span,
            comment,
        })
    }

    fn fail<T>(&mut self, span: Span, msg: String) -> P<T> {
        self.diags.push(Diagnostic::new(span, msg));
        Err(())
    }
}

fn ident_expr(id: Ident) -> Expr {
    Expr::new(ExprKind::Ident(id.name), id.span)
}

/// A TICKscript duration literal (`10s`, `5ms`, `3u`, `2µ`, `1d`, `1w`) in nanoseconds.
pub fn parse_duration_literal(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: i64 = num.parse().ok()?;
    let scale: i64 = match unit {
        "u" | "µ" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 604_800_000_000_000,
        _ => return None,
    };
    n.checked_mul(scale)
}
