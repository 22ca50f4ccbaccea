//! Canonical formatting, as Kapacitor's `tickfmt` prints scripts: four-space indents, one chain
//! step per line (`|` one level in, `.` two), a blank line between statements, comments kept.

use super::ast::*;

const STEP: &str = "    ";

/// Formats a parsed program.
pub fn format(program: &Program) -> String {
    let mut out = String::new();
    for (i, s) in program.statements.iter().enumerate() {
        if i != 0 {
            out.push('\n');
        }
        statement(&mut out, s);
        out.push('\n');
    }
    if let Some(c) = &program.trailing {
        if !program.statements.is_empty() {
            out.push('\n');
        }
        comment(&mut out, c, "", true);
        out.push('\n');
    }
    out
}

/// Formats one expression (e.g. a lambda's body) on one line where it was written on one.
pub fn format_expr(e: &Expr) -> String {
    let mut out = String::new();
    expr(&mut out, e, "", false);
    out
}

fn statement(out: &mut String, s: &Statement) {
    match s {
        Statement::Var {
            name,
            value,
            comment: c,
            ..
        } => {
            if let Some(c) = c {
                comment(out, c, "", true);
            }
            out.push_str("var ");
            out.push_str(&name.name);
            out.push_str(" = ");
            expr(out, value, "", false);
        }
        Statement::TypeDecl {
            name,
            ty,
            comment: c,
            ..
        } => {
            if let Some(c) = c {
                comment(out, c, "", true);
            }
            out.push_str("var ");
            out.push_str(&name.name);
            out.push(' ');
            out.push_str(&ty.name);
        }
        Statement::Dbrp {
            db, rp, comment: c, ..
        } => {
            if let Some(c) = c {
                comment(out, c, "", true);
            }
            out.push_str("dbrp ");
            expr(out, db, "", false);
            out.push('.');
            expr(out, rp, "", false);
        }
        // After the previous statement's last operand the lexer reads `*`, `/` and `-` as
        // operators: a statement starting with one is kept in parentheses.
        Statement::Expr(e) if starts_ambiguously(e) => {
            out.push('(');
            expr(out, e, "", false);
            out.push(')');
        }
        Statement::Expr(e) => expr(out, e, "", true),
    }
}

fn starts_ambiguously(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Star | ExprKind::Regex { .. } | ExprKind::Unary { .. } => e.comment.is_none(),
        ExprKind::Binary {
            lhs, parens: false, ..
        } => e.comment.is_none() && starts_ambiguously(lhs),
        _ => false,
    }
}

fn comment(out: &mut String, c: &Comment, indent: &str, on_new_line: bool) {
    if !on_new_line {
        out.push('\n');
    }
    for line in &c.lines {
        if line == "\n" {
            out.push('\n');
            continue;
        }
        out.push_str(indent);
        out.push_str("//");
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn expr(out: &mut String, e: &Expr, indent: &str, mut on_new_line: bool) {
    if let ExprKind::Chain { op, lhs, rhs } = &e.kind {
        expr(out, lhs, indent, on_new_line);
        out.push('\n');
        let mut inner = format!("{indent}{STEP}");
        if *op == ChainOp::Dot {
            inner.push_str(STEP);
        }
        if let Some(c) = &e.comment {
            comment(out, c, &inner, true);
        }
        out.push_str(&inner);
        out.push_str(op.text());
        expr(out, rhs, &inner, false);
        return;
    }
    if let Some(c) = &e.comment {
        comment(out, c, indent, on_new_line);
        on_new_line = true;
    }
    if on_new_line {
        out.push_str(indent);
    }
    match &e.kind {
        ExprKind::Ident(name) => out.push_str(name),
        ExprKind::Int(i) => out.push_str(&i.to_string()),
        ExprKind::Float(f) => {
            let s = f.to_string();
            out.push_str(&s);
            if !s.contains('.') {
                out.push_str(".0");
            }
        }
        ExprKind::Str {
            value,
            triple: true,
        } => {
            out.push_str("'''");
            out.push_str(value);
            out.push_str("'''");
        }
        ExprKind::Str {
            value,
            triple: false,
        } => {
            out.push('\'');
            out.push_str(&value.replace('\'', "\\'"));
            out.push('\'');
        }
        ExprKind::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        ExprKind::Duration { literal, .. } => out.push_str(literal),
        ExprKind::Regex { literal, .. } => {
            out.push('/');
            out.push_str(literal);
            out.push('/');
        }
        ExprKind::Star => out.push('*'),
        ExprKind::Reference(r) => {
            out.push('"');
            out.push_str(&r.replace('"', "\\\""));
            out.push('"');
        }
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i != 0 {
                    out.push_str(", ");
                }
                expr(out, item, indent, on_new_line);
            }
            out.push(']');
        }
        ExprKind::Lambda(body) => {
            out.push_str("lambda: ");
            expr(out, body, indent, false);
        }
        ExprKind::Unary { op, expr: operand } => {
            out.push_str(op.operator_text());
            expr(out, operand, indent, false);
        }
        ExprKind::Binary {
            op,
            lhs,
            rhs,
            parens,
            multiline,
        } => {
            // A comment before the right operand puts it on a new line anyway.
            let multiline = &(*multiline || rhs.comment.is_some());
            let inner = if *parens {
                format!("{indent}{STEP}")
            } else {
                indent.to_owned()
            };
            if *parens {
                out.push('(');
            }
            // After `*`, a regex or a list the lexer reads no operator: keep their parentheses.
            let wrap = matches!(
                lhs.kind,
                ExprKind::Star | ExprKind::Regex { .. } | ExprKind::List(_)
            );
            if wrap {
                out.push('(');
            }
            expr(out, lhs, &inner, false);
            if wrap {
                out.push(')');
            }
            out.push(' ');
            out.push_str(op.operator_text());
            out.push(if *multiline { '\n' } else { ' ' });
            expr(out, rhs, &inner, *multiline);
            if *parens {
                out.push(')');
            }
        }
        ExprKind::Call {
            name,
            args,
            multiline,
            ..
        } => {
            let multiline = &(*multiline || args.iter().any(|a| a.comment.is_some()));
            out.push_str(&name.name);
            out.push('(');
            let arg_indent = format!("{indent}{STEP}");
            for (i, a) in args.iter().enumerate() {
                if i != 0 {
                    out.push(',');
                    if !multiline {
                        out.push(' ');
                    }
                }
                if *multiline {
                    out.push('\n');
                }
                expr(out, a, &arg_indent, *multiline);
            }
            if *multiline && !args.is_empty() {
                out.push('\n');
                out.push_str(indent);
            }
            out.push(')');
        }
        ExprKind::Chain { .. } => unreachable!("handled above"),
    }
}
