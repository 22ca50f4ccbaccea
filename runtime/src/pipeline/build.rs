//! Script → [`Plan`]: evaluates a parsed TICKscript as Kapacitor does (variables, chains that
//! create nodes, properties that configure them) and checks it against the node table in
//! [`super::nodes`]: arities, argument types, `|` vs `.` vs `@`, edge types, variables. Every
//! problem becomes a [`Diagnostic`] with the span of the offending call; checking goes on past
//! errors where the rest can still be checked.

use std::collections::{BTreeMap, HashMap};

use super::lambda::{self, BinaryOp, Lambda, LambdaExpr};
use super::nodes::{COMMON_PROPERTIES, NODES};
use super::plan::{NodeId, Plan, PlanNode, PropertyValue, TaskType, TemplateVar, Value, VarType};
use super::schema::{Arg, Args, Edge, NodeKind, NodeSpec, Property, Provides, Wants};
use crate::tick::ast::{CallKind, ChainOp, Expr, ExprKind, Program, Statement};
use crate::tick::diag::{Diagnostic, Diagnostics, Span, did_you_mean};
use crate::tick::lexer::Tok;

/// What the caller knows about the task.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The task's type; when unknown (e.g. `farad check`), taken from the script's source node.
    pub task_type: Option<TaskType>,
    /// Values for template variables (a task's `vars`), already typed.
    pub vars: HashMap<String, Value>,
    /// Whether to accept a template (`var x float` without a value) as complete.
    pub allow_unset_vars: bool,
    /// The UDFs that exist, to check `@name()` calls against; `None` accepts any call
    /// (checking a script with no server at hand).
    pub udfs: Option<std::collections::BTreeMap<String, super::UdfSignature>>,
}

/// Checks `program` and lowers it to a plan. The plan is `None` when there were errors.
pub fn build(program: &Program, opts: &BuildOptions) -> (Option<Plan>, Diagnostics) {
    let mut b = Builder {
        opts,
        nodes: Vec::new(),
        scope: HashMap::new(),
        vars: BTreeMap::new(),
        diags: Vec::new(),
        source: None,
        dbrps: Vec::new(),
        next_name_id: 0,
    };
    for s in &program.statements {
        b.statement(s);
    }
    if b.source.is_none() && b.diags.is_empty() {
        b.diags.push(
            Diagnostic::new(Span::default(), "the script defines no pipeline")
                .with_hint("start one with `stream|from()` or `batch|query('...')`"),
        );
    }
    let task_type = match b.source {
        Some((_, t)) => t,
        None => opts.task_type.unwrap_or(TaskType::Stream),
    };
    b.check_edges();
    let diags = {
        let mut d = b.diags;
        d.sort_by_key(|d| d.span.start);
        Diagnostics(d)
    };
    if !diags.is_empty() {
        return (None, diags);
    }
    (
        Some(Plan {
            task_type,
            dbrps: b.dbrps,
            nodes: b.nodes,
            vars: b.vars,
        }),
        diags,
    )
}

/// What an expression evaluates to while building.
#[derive(Clone, Debug)]
enum Val {
    Value(Value),
    Node(NodeId),
    /// An alert handler (or other property with sub-properties) just set on a node.
    Handler {
        node: NodeId,
        property: usize,
    },
}

struct Builder<'o> {
    opts: &'o BuildOptions,
    nodes: Vec<PlanNode>,
    scope: HashMap<String, Val>,
    vars: BTreeMap<String, TemplateVar>,
    diags: Vec<Diagnostic>,
    /// The source node and the task type it implies.
    source: Option<(NodeId, TaskType)>,
    dbrps: Vec<(String, String)>,
    /// Kapacitor's next node id: it assigns one per parent link, see [`PlanNode::name_id`].
    next_name_id: usize,
}

type R<T> = Result<T, ()>;

fn spec_named(name: &str) -> impl Iterator<Item = &'static NodeSpec> + '_ {
    NODES.iter().filter(move |s| s.name == name)
}

/// Chaining methods any chain node has (everything but sources and their first children).
fn chain_spec(name: &str) -> Option<&'static NodeSpec> {
    spec_named(name)
        .find(|s| !matches!(s.kind, NodeKind::Stream | NodeKind::Batch | NodeKind::Noop))
}

/// Kapacitor's node-name prefix for a node kind.
fn desc(spec: &NodeSpec) -> &'static str {
    match spec.kind {
        NodeKind::HttpOut => "http_out",
        NodeKind::HttpPost => "http_post",
        NodeKind::GroupBy => "groupby",
        NodeKind::StateCount => "state_count",
        NodeKind::StateDuration => "state_duration",
        NodeKind::InfluxDbOut => "influxdb_out",
        NodeKind::KapacitorLoopback => "kapacitor_loopback",
        NodeKind::K8sAutoscale => "k8s_autoscale",
        NodeKind::SwarmAutoscale => "swarm_autoscale",
        NodeKind::Ec2Autoscale => "ec2_autoscale",
        _ => spec.name,
    }
}

/// Kapacitor accepts `.Period()` for `.period()`: the first letter's case is free.
fn same_name(written: &str, declared: &str) -> bool {
    let mut w = written.chars();
    let mut d = declared.chars();
    match (w.next(), d.next()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(&b) && w.as_str() == d.as_str(),
        _ => written == declared,
    }
}

impl Builder<'_> {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg));
    }

    fn err_hint(&mut self, span: Span, msg: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg).with_hint(hint));
    }

    fn statement(&mut self, s: &Statement) {
        match s {
            Statement::Dbrp { db, rp, .. } => {
                if let (ExprKind::Reference(d), ExprKind::Reference(r)) = (&db.kind, &rp.kind) {
                    self.dbrps.push((d.clone(), r.clone()));
                }
            }
            Statement::TypeDecl { name, ty, span, .. } => {
                let Some(t) = VarType::parse(&ty.name) else {
                    let names = VarType::ALL.map(VarType::name);
                    let hint = match did_you_mean(&ty.name, names) {
                        Some(s) => format!("did you mean `{s}`? types are {}", names.join(", ")),
                        None => format!("types are {}", names.join(", ")),
                    };
                    self.err_hint(ty.span, format!("invalid var type `{}`", ty.name), hint);
                    return;
                };
                if self.redefined(&name.name, name.span) {
                    return;
                }
                let value = match self.opts.vars.get(&name.name) {
                    Some(v) => {
                        if !var_fits(v, t) {
                            self.err(
                                *span,
                                format!(
                                    "invalid type supplied for {}: got {}, expected {}",
                                    name.name,
                                    v.type_name(),
                                    t.name()
                                ),
                            );
                        }
                        v.clone()
                    }
                    None => {
                        if !self.opts.allow_unset_vars {
                            self.err_hint(*span, format!("missing value for var `{}`", name.name), format!("give it a value in the task's vars: {{\"{}\": {{\"type\": \"{}\", \"value\": ...}}}}", name.name, t.name()));
                        }
                        Value::Template {
                            name: name.name.clone(),
                            ty: t,
                        }
                    }
                };
                self.vars.insert(
                    name.name.clone(),
                    TemplateVar {
                        name: name.name.clone(),
                        ty: t,
                        default: None,
                    },
                );
                self.scope.insert(name.name.clone(), Val::Value(value));
            }
            Statement::Var {
                name, value, span, ..
            } => {
                if self.redefined(&name.name, name.span) {
                    return;
                }
                let Ok(v) = self.eval(value) else { return };
                if let Val::Value(default) = &v
                    && let Some(t) = var_type_of(default)
                {
                    let given = self.opts.vars.get(&name.name).cloned();
                    let chosen = match given {
                        Some(g) if var_fits(&g, t) => g,
                        Some(g) => {
                            self.err(
                                *span,
                                format!(
                                    "invalid type supplied for {}: got {}, expected {}",
                                    name.name,
                                    g.type_name(),
                                    t.name()
                                ),
                            );
                            default.clone()
                        }
                        None => default.clone(),
                    };
                    self.vars.insert(
                        name.name.clone(),
                        TemplateVar {
                            name: name.name.clone(),
                            ty: t,
                            default: Some(default.clone()),
                        },
                    );
                    self.scope.insert(name.name.clone(), Val::Value(chosen));
                    return;
                }
                self.scope.insert(name.name.clone(), v);
            }
            Statement::Expr(e) => {
                let _ = self.eval(e);
            }
        }
    }

    fn redefined(&mut self, name: &str, span: Span) -> bool {
        if self.scope.contains_key(name) || name == "stream" || name == "batch" {
            self.err_hint(
                span,
                format!("attempted to redefine `{name}`, vars are immutable"),
                "choose another name",
            );
            return true;
        }
        false
    }

    fn eval(&mut self, e: &Expr) -> R<Val> {
        Ok(match &e.kind {
            ExprKind::Ident(name) => return self.ident(name, e.span),
            ExprKind::Int(i) => Val::Value(Value::Int(*i)),
            ExprKind::Float(f) => Val::Value(Value::Float(*f)),
            ExprKind::Str { value, .. } => Val::Value(Value::Str(value.clone())),
            ExprKind::Bool(b) => Val::Value(Value::Bool(*b)),
            ExprKind::Duration { nanos, .. } => Val::Value(Value::Duration(*nanos)),
            ExprKind::Regex { pattern, .. } => Val::Value(Value::Regex(pattern.clone())),
            ExprKind::Star => Val::Value(Value::Star),
            ExprKind::Reference(r) => Val::Value(Value::Reference(r.clone())),
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    match self.eval(it)? {
                        Val::Value(v @ (Value::Str(_) | Value::Star)) => out.push(v),
                        Val::Value(Value::List(inner)) => out.extend(inner),
                        Val::Value(v) => {
                            self.err(
                                it.span,
                                format!("a list holds strings and `*`, not a {}", v.type_name()),
                            );
                            return Err(());
                        }
                        _ => {
                            self.err(it.span, "a list holds strings and `*`, not a node");
                            return Err(());
                        }
                    }
                }
                Val::Value(Value::List(out))
            }
            ExprKind::Lambda(body) => {
                let resolved = self.resolve_lambda(body)?;
                match lambda::lower(&resolved) {
                    Ok(l) => Val::Value(Value::Lambda(Box::new(l))),
                    Err(diags) => {
                        self.diags.extend(diags);
                        return Err(());
                    }
                }
            }
            ExprKind::Unary { op, expr } => {
                let v = self.value(expr)?;
                match (op, v) {
                    (Tok::Minus, Value::Int(i)) => Val::Value(Value::Int(-i)),
                    (Tok::Minus, Value::Float(f)) => Val::Value(Value::Float(-f)),
                    (Tok::Minus, Value::Duration(d)) => Val::Value(Value::Duration(-d)),
                    (Tok::Not, Value::Bool(b)) => Val::Value(Value::Bool(!b)),
                    (_, v) => {
                        self.err(
                            e.span,
                            format!(
                                "invalid operator `{}` for {}",
                                op.operator_text(),
                                v.type_name()
                            ),
                        );
                        return Err(());
                    }
                }
            }
            // Kapacitor evaluates an expression of values where it is written
            // (`var idVar = name + ':{{.Group}}'`, as Chronograf writes, or `2 * 10s`): a
            // lambda over no point, its variables substituted.
            ExprKind::Binary { .. } => Val::Value(self.evaluate(e)?),
            ExprKind::Call {
                kind: CallKind::Global,
                name,
                args,
                ..
            } if name.name == "time" => {
                // The one global function Kapacitor defines: a time dimension for groupBy.
                let vals: Vec<Value> = args.iter().map(|a| self.value(a)).collect::<R<_>>()?;
                match vals.as_slice() {
                    [Value::Duration(length)] => Val::Value(Value::TimeDimension {
                        length: *length,
                        offset: 0,
                    }),
                    [Value::Duration(length), Value::Duration(offset)] => {
                        Val::Value(Value::TimeDimension {
                            length: *length,
                            offset: *offset,
                        })
                    }
                    _ => {
                        self.err_hint(
                            e.span,
                            "time() takes a duration and an optional offset",
                            "e.g. .groupBy(time(1m), 'host')",
                        );
                        return Err(());
                    }
                }
            }
            ExprKind::Call {
                kind: CallKind::Global,
                name,
                ..
            } => {
                self.err_hint(
                    name.span,
                    format!("no global function `{}` defined", name.name),
                    "functions are called inside lambdas; nodes are chained with `|`",
                );
                return Err(());
            }
            ExprKind::Call { name, .. } => {
                self.err(
                    name.span,
                    format!("`{}` must be called on a node", name.name),
                );
                return Err(());
            }
            ExprKind::Chain { op, lhs, rhs } => {
                let target = self.eval(lhs)?;
                return self.chain(target, *op, rhs, lhs.span);
            }
        })
    }

    fn value(&mut self, e: &Expr) -> R<Value> {
        match self.eval(e)? {
            Val::Value(v) => Ok(v),
            _ => {
                self.err(e.span, "expected a value, found a node");
                Err(())
            }
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> R<Val> {
        if let Some(v) = self.scope.get(name) {
            return Ok(v.clone());
        }
        let source_type = match name {
            "stream" => Some(TaskType::Stream),
            "batch" => Some(TaskType::Batch),
            _ => None,
        };
        if let Some(t) = source_type {
            if let Some(want) = self.opts.task_type
                && want != t
            {
                self.err_hint(
                    span,
                    format!("`{name}` in a {} task", type_name(want)),
                    format!(
                        "a {} task starts from `{}`",
                        type_name(want),
                        type_name(want)
                    ),
                );
                return Err(());
            }
            if let Some((id, had)) = self.source {
                if had != t {
                    self.err(
                        span,
                        format!(
                            "a task has one source: this script uses both `{}` and `{name}`",
                            type_name(had)
                        ),
                    );
                    return Err(());
                }
                return Ok(Val::Node(id));
            }
            let spec = spec_named(name)
                .find(|s| matches!(s.kind, NodeKind::Stream | NodeKind::Batch))
                .ok_or(())?;
            let id = self.add_node(spec, name.to_owned(), Vec::new(), &[], span, Edge::None);
            self.source = Some((id, t));
            return Ok(Val::Node(id));
        }
        let mut names: Vec<&str> = self.scope.keys().map(String::as_str).collect();
        names.extend(["stream", "batch"]);
        match did_you_mean(name, names) {
            Some(s) => self.err_hint(
                span,
                format!("undefined variable `{name}`"),
                format!("did you mean `{s}`?"),
            ),
            None => self.err(span, format!("undefined variable `{name}`")),
        }
        Err(())
    }

    /// The value of an expression outside a lambda, as Kapacitor evaluates it; one that
    /// names a field or tag (`"value"`) is a lambda missing its `lambda:`.
    fn evaluate(&mut self, e: &Expr) -> R<Value> {
        use crate::expr::Val as V;
        let resolved = self.resolve_lambda(e)?;
        if names_a_reference(&resolved) {
            self.err_hint(
                e.span,
                "an expression outside a lambda",
                "wrap it in a lambda: lambda: <expression>",
            );
            return Err(());
        }
        let lowered = match lambda::lower(&resolved) {
            Ok(l) => l,
            Err(diags) => {
                self.diags.extend(diags);
                return Err(());
            }
        };
        let result = crate::expr::Compiled::new(&lowered)
            .map_err(|c| c.0)
            .and_then(|c| {
                let series = crate::model::Series::new(crate::model::Name::new(""), Vec::new());
                c.eval(&mut crate::expr::Scope::of(&[], &series, 0))
                    .map_err(|err| err.0)
            });
        match result {
            Ok(V::Float(f)) => Ok(Value::Float(f)),
            Ok(V::Int(i)) => Ok(Value::Int(i)),
            Ok(V::Str(s)) => Ok(Value::Str(s.to_string())),
            Ok(V::Bool(b)) => Ok(Value::Bool(b)),
            Ok(V::Duration(d)) => Ok(Value::Duration(d)),
            Ok(V::Time(t)) => Ok(Value::Int(t)),
            Err(reason) => {
                self.err(
                    e.span,
                    format!("cannot evaluate `{}`: {reason}", lowered.text),
                );
                Err(())
            }
        }
    }

    /// A lambda with its variables replaced by their values; references stay.
    fn resolve_lambda(&mut self, e: &Expr) -> R<Expr> {
        let mut out = e.clone();
        let mut ok = true;
        self.resolve_in(&mut out, &mut ok);
        if ok { Ok(out) } else { Err(()) }
    }

    fn resolve_in(&mut self, e: &mut Expr, ok: &mut bool) {
        match &mut e.kind {
            ExprKind::Ident(name) => match self.scope.get(name.as_str()).cloned() {
                Some(Val::Value(v)) => {
                    if let Some(kind) = literal_expr(&v) {
                        e.kind = kind;
                    }
                }
                Some(_) => {
                    self.err(
                        e.span,
                        format!("`{name}` is a node; a lambda can only use values"),
                    );
                    *ok = false;
                }
                None => {
                    let names: Vec<&str> = self.scope.keys().map(String::as_str).collect();
                    let hint = match did_you_mean(name, names) {
                        Some(s) => format!(
                            "did you mean `{s}`? fields and tags are written in double quotes: \"{name}\""
                        ),
                        None => format!("fields and tags are written in double quotes: \"{name}\""),
                    };
                    self.err_hint(
                        e.span,
                        format!("undefined variable `{name}` in lambda"),
                        hint,
                    );
                    *ok = false;
                }
            },
            ExprKind::Unary { expr, .. } => self.resolve_in(expr, ok),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.resolve_in(lhs, ok);
                self.resolve_in(rhs, ok);
            }
            ExprKind::Call { args, .. } => args.iter_mut().for_each(|a| self.resolve_in(a, ok)),
            ExprKind::Lambda(_) => {
                self.err(e.span, "a lambda inside a lambda");
                *ok = false;
            }
            _ => {}
        }
    }

    fn add_node(
        &mut self,
        spec: &'static NodeSpec,
        method: String,
        args: Vec<Value>,
        parents: &[NodeId],
        span: Span,
        input: Edge,
    ) -> NodeId {
        let id = self.nodes.len();
        let links = parents.len().max(1);
        let name_id = self.next_name_id + links - 1;
        self.next_name_id += links;
        let wants = match spec.wants {
            Wants::Stream => Edge::Stream,
            Wants::Batch => Edge::Batch,
            Wants::Any => input,
            Wants::None => Edge::None,
        };
        let provides = match spec.provides {
            Provides::Stream => Edge::Stream,
            Provides::Batch => Edge::Batch,
            Provides::Same => {
                if matches!(spec.kind, NodeKind::Stream) {
                    Edge::Stream
                } else if matches!(spec.kind, NodeKind::Batch) {
                    Edge::Batch
                } else {
                    input
                }
            }
            Provides::None => Edge::None,
        };
        let desc = if spec.kind == NodeKind::Udf {
            method.clone()
        } else {
            desc(spec).to_owned()
        };
        self.nodes.push(PlanNode {
            id,
            name_id,
            kind: spec.kind,
            method,
            desc,
            args,
            properties: Vec::new(),
            parents: parents.to_vec(),
            children: Vec::new(),
            wants,
            provides,
            watches: None,
            span,
        });
        for &p in parents {
            self.nodes[p].children.push(id);
        }
        id
    }

    fn chain(&mut self, target: Val, op: ChainOp, rhs: &Expr, lhs_span: Span) -> R<Val> {
        let (node, handler) = match target {
            Val::Node(n) => (n, None),
            Val::Handler { node, property } => (node, Some(property)),
            Val::Value(v) => {
                self.err(
                    lhs_span,
                    format!(
                        "cannot chain on a {}: only nodes have `{}` methods",
                        v.type_name(),
                        op.text()
                    ),
                );
                return Err(());
            }
        };
        let (name, args_ast, span) = match &rhs.kind {
            ExprKind::Call { name, args, .. } => (name, args.as_slice(), name.span),
            ExprKind::Ident(n) => {
                self.err_hint(
                    rhs.span,
                    format!("`{}{n}` needs parentheses", op.text()),
                    format!("write {}{n}()", op.text()),
                );
                return Err(());
            }
            _ => return Err(()),
        };
        let mut args = Vec::with_capacity(args_ast.len());
        let mut bad_arg = false;
        for a in args_ast {
            match self.eval(a) {
                Ok(Val::Value(v)) => args.push((v, a.span)),
                Ok(Val::Node(n)) => args.push((Value::Node(n), a.span)),
                Ok(Val::Handler { node, .. }) => args.push((Value::Node(node), a.span)),
                Err(()) => bad_arg = true,
            }
        }
        // A bad property leaves its node usable: keep checking the rest of the chain.
        let keep_going = if op == ChainOp::Dot {
            Ok(Val::Node(node))
        } else {
            Err(())
        };
        if bad_arg {
            return keep_going;
        }
        match op {
            ChainOp::Pipe => self.chain_node(node, &name.name, args, span),
            ChainOp::At => {
                let spec = NODES.iter().find(|s| s.kind == NodeKind::Udf).ok_or(())?;
                let signature = match &self.opts.udfs {
                    None => None,
                    Some(udfs) => match udfs.get(&name.name) {
                        Some(sig) => Some(sig.clone()),
                        None => {
                            let hint = match did_you_mean(&name.name, udfs.keys().map(|k| &**k)) {
                                Some(m) => format!("did you mean @{m}()?"),
                                None if udfs.is_empty() => {
                                    "no UDFs are loaded: upload one with POST /kapacitor/v1/udfs/<name>"
                                        .into()
                                }
                                None => format!(
                                    "loaded UDFs: {}",
                                    udfs.keys().map(|k| format!("@{k}")).collect::<Vec<_>>().join(", ")
                                ),
                            };
                            self.err_hint(span, format!("no UDF named `{}`", name.name), hint);
                            return Err(());
                        }
                    },
                };
                if !args.is_empty() {
                    self.err_hint(
                        span,
                        format!("@{}() takes no arguments", name.name),
                        "give UDF options as properties: @name().option(value)",
                    );
                }
                let input = self.nodes[node].provides;
                let vals = args.into_iter().map(|(v, _)| v).collect();
                let id = self.add_node(spec, name.name.clone(), vals, &[node], span, input);
                if let Some(sig) = signature {
                    self.nodes[id].wants = sig.wants;
                    self.nodes[id].provides = sig.provides;
                }
                Ok(Val::Node(id))
            }
            ChainOp::Dot => self
                .set_property(node, handler, &name.name, args, span)
                .or(keep_going),
        }
    }

    fn chain_node(
        &mut self,
        parent: NodeId,
        name: &str,
        args: Vec<(Value, Span)>,
        span: Span,
    ) -> R<Val> {
        let parent_kind = self.nodes[parent].kind;
        let parent_desc = self.nodes[parent].desc.clone();
        let candidates: Vec<&'static NodeSpec> = spec_named(name)
            .filter(|s| chain_spec(s.name).is_some())
            .collect();
        if candidates.is_empty() {
            return self.unknown_chain(parent, name, span);
        }
        let fits = |s: &&NodeSpec| {
            if s.parents.is_empty() {
                // Sources start with their own first node; stats and deadman may follow anything.
                s.wants == Wants::None || !matches!(parent_kind, NodeKind::Stream | NodeKind::Batch)
            } else {
                s.parents.contains(&parent_kind)
            }
        };
        let Some(spec) = candidates.iter().copied().find(|s| fits(s)) else {
            let hint = match parent_kind {
                NodeKind::Stream => "start with |from()".to_owned(),
                NodeKind::Batch => "start with |query('SELECT ...')".to_owned(),
                _ => {
                    let after: Vec<&str> = candidates
                        .iter()
                        .flat_map(|s| s.parents.iter())
                        .filter_map(|k| NODES.iter().find(|s| s.kind == *k))
                        .map(|s| s.name)
                        .collect();
                    format!("`{name}` follows {}", after.join(" or "))
                }
            };
            self.err_hint(span, format!("`{name}` cannot follow {parent_desc}"), hint);
            return Err(());
        };
        if self.nodes[parent].provides == Edge::None && spec.wants != Wants::None {
            self.err(
                span,
                format!("nothing can follow {parent_desc}: it has no output"),
            );
            return Err(());
        }
        self.check_args(spec.args, &args, &format!("|{name}()"), span)?;
        let input = self.nodes[parent].provides;
        let mut parents = vec![parent];
        // join and union take other nodes as arguments: they become parents too.
        if matches!(spec.kind, NodeKind::Join | NodeKind::Union) {
            for (v, _) in &args {
                if let Value::Node(n) = v {
                    parents.push(*n);
                }
            }
        }
        let vals: Vec<Value> = args.into_iter().map(|(v, _)| v).collect();
        if spec.kind == NodeKind::Deadman {
            return Ok(Val::Node(self.deadman(parent, vals, span)));
        }
        if spec.kind == NodeKind::Stats {
            return Ok(Val::Node(self.stats(parent, spec, vals, span)));
        }
        let id = self.add_node(spec, name.to_owned(), vals, &parents, span, input);
        Ok(Val::Node(id))
    }

    /// `stats(interval)` reads the counters of the node it follows; like Kapacitor, it is a
    /// source of its own, and a watched node without children gets a `noop` child so that it
    /// has somewhere to emit.
    fn stats(
        &mut self,
        watched: NodeId,
        spec: &'static NodeSpec,
        args: Vec<Value>,
        span: Span,
    ) -> NodeId {
        if self.nodes[watched].children.is_empty()
            && let Some(noop) = NODES.iter().find(|s| s.kind == NodeKind::Noop)
        {
            let input = self.nodes[watched].provides;
            self.add_node(noop, "noop".into(), Vec::new(), &[watched], span, input);
        }
        let id = self.add_node(spec, "stats".into(), args, &[], span, Edge::None);
        self.nodes[id].watches = Some(watched);
        id
    }

    /// `deadman(threshold, interval, [lambdas...])` is sugar for stats → derivative → alert.
    fn deadman(&mut self, watched: NodeId, args: Vec<Value>, span: Span) -> NodeId {
        let stats = chain_spec("stats").expect("stats is in the node table");
        let derivative = chain_spec("derivative").expect("derivative is in the node table");
        let alert = NODES
            .iter()
            .find(|s| s.kind == NodeKind::Deadman)
            .expect("deadman is in the node table");
        let interval = args.get(1).cloned();
        let watched_name = self.nodes[watched].name();
        let s = self.stats(watched, stats, interval.clone().into_iter().collect(), span);
        let prop = |name: &'static str, args: Vec<Value>| PropertyValue {
            name,
            args,
            span,
            sub: Vec::new(),
        };
        self.nodes[s].properties.push(prop("align", Vec::new()));
        let d = self.add_node(
            derivative,
            "derivative".into(),
            vec![Value::Str("emitted".into())],
            &[s],
            span,
            Edge::Stream,
        );
        self.nodes[d]
            .properties
            .push(prop("unit", interval.clone().into_iter().collect()));
        self.nodes[d]
            .properties
            .push(prop("nonNegative", Vec::new()));
        // As Kapacitor: critical when the rate is at or below the threshold (and the extra
        // lambdas hold), with `[deadman]`'s default id and message; the script's own
        // `.crit()`, `.id()` or `.message()` after it win.
        let threshold = match args.first() {
            Some(Value::Float(f)) => *f,
            Some(Value::Int(i)) => *i as f64,
            _ => 0.0,
        };
        let mut expr = LambdaExpr::Binary {
            op: BinaryOp::Le,
            lhs: Box::new(LambdaExpr::Ref("emitted".into())),
            rhs: Box::new(LambdaExpr::Float(threshold)),
        };
        let mut text = format!("\"emitted\" <= {threshold:?}");
        for extra in args.iter().skip(2) {
            if let Value::Lambda(l) = extra {
                expr = LambdaExpr::Binary {
                    op: BinaryOp::And,
                    lhs: Box::new(expr),
                    rhs: Box::new(l.expr.clone()),
                };
                text = format!("{text} AND {}", l.text);
            }
        }
        let every = match interval {
            Some(Value::Duration(d)) => crate::duration::format_go_duration(d),
            _ => "10s".into(),
        };
        let defaults = vec![
            prop("crit", vec![Value::Lambda(Box::new(Lambda { expr, text }))]),
            prop(
                "id",
                vec![Value::Str(format!(
                    "{{{{ .Group }}}}:{watched_name} for task '{{{{ .TaskName }}}}'"
                ))],
            ),
            prop(
                "message",
                vec![Value::Str(format!(
                    "{{{{ .ID }}}} is {{{{ if eq .Level \"OK\" }}}}alive{{{{ else }}}}dead{{{{ end }}}}: \
                     {{{{ index .Fields \"emitted\" | printf \"%0.3f\" }}}} points/{every}."
                ))],
            ),
        ];
        let a = self.add_node(alert, "deadman".into(), args, &[d], span, Edge::Stream);
        self.nodes[a].desc = "alert".into();
        self.nodes[a].properties.splice(0..0, defaults);
        a
    }

    fn unknown_chain(&mut self, node: NodeId, name: &str, span: Span) -> R<Val> {
        let desc = self.nodes[node].desc.clone();
        if self.find_property(node, name).is_some() {
            self.err_hint(
                span,
                format!(
                    "no chaining method `{name}` on {desc}, but a property of that name exists"
                ),
                format!("use `.` for properties: .{name}(...)"),
            );
        } else {
            let candidates: Vec<&str> = NODES
                .iter()
                .filter(|s| chain_spec(s.name).is_some())
                .map(|s| s.name)
                .collect();
            match did_you_mean(name, candidates) {
                Some(s) => self.err_hint(
                    span,
                    format!("unknown node `|{name}()`"),
                    format!("did you mean `|{s}()`?"),
                ),
                None => self.err_hint(
                    span,
                    format!("unknown node `|{name}()`"),
                    "a user-defined function is called with `@`: @name()",
                ),
            }
        }
        Err(())
    }

    fn spec_of(&self, node: NodeId) -> Option<&'static NodeSpec> {
        let n = &self.nodes[node];
        NODES
            .iter()
            .find(|s| s.kind == n.kind && (s.name == n.method || s.kind == NodeKind::Udf))
    }

    fn find_property(&self, node: NodeId, name: &str) -> Option<&'static Property> {
        let own = self.spec_of(node)?.properties.iter();
        own.chain(COMMON_PROPERTIES)
            .find(|p| same_name(name, p.name))
    }

    fn set_property(
        &mut self,
        node: NodeId,
        handler: Option<usize>,
        name: &str,
        args: Vec<(Value, Span)>,
        span: Span,
    ) -> R<Val> {
        // A handler's own options first (`.slack().channel(...)`), then the node's properties.
        if let Some(hi) = handler {
            let parent_prop = self.nodes[node].properties[hi].name;
            let sub = self
                .find_property(node, parent_prop)
                .and_then(|p| p.sub_properties.iter().find(|s| same_name(name, s.name)));
            if let Some(sub) = sub {
                self.check_args(sub.args, &args, &format!(".{}()", sub.name), span)?;
                let v = PropertyValue {
                    name: sub.name,
                    args: args.into_iter().map(|(v, _)| v).collect(),
                    span,
                    sub: Vec::new(),
                };
                self.nodes[node].properties[hi].sub.push(v);
                return Ok(Val::Handler { node, property: hi });
            }
        }
        if self.nodes[node].kind == NodeKind::Udf {
            // A UDF's options are declared by its module.
            let udf = &self.nodes[node].method;
            if let Some(sig) = self.opts.udfs.as_ref().and_then(|u| u.get(udf)) {
                let values: Vec<Value> = args.iter().map(|(v, _)| v.clone()).collect();
                match sig.options.iter().find(|o| o.name == name) {
                    None => {
                        let hint = match did_you_mean(name, sig.options.iter().map(|o| &*o.name)) {
                            Some(m) => format!("did you mean .{m}()?"),
                            None if sig.options.is_empty() => format!("@{udf}() takes no options"),
                            None => format!(
                                "@{udf}() options: {}",
                                sig.options
                                    .iter()
                                    .map(|o| o.usage())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        self.err_hint(span, format!("@{udf}() has no option `{name}`"), hint);
                        return Ok(Val::Node(node));
                    }
                    Some(opt) => {
                        if let Err(e) = opt.check(&values) {
                            self.err(span, format!("@{udf}(): {e}"));
                            return Ok(Val::Node(node));
                        }
                    }
                }
            }
            let v = PropertyValue {
                name: "option",
                args: std::iter::once(Value::Str(name.to_owned()))
                    .chain(args.into_iter().map(|(v, _)| v))
                    .collect(),
                span,
                sub: Vec::new(),
            };
            self.nodes[node].properties.push(v);
            return Ok(Val::Node(node));
        }
        let Some(prop) = self.find_property(node, name) else {
            let desc = self.nodes[node].desc.clone();
            if chain_spec(name).is_some() {
                self.err_hint(
                    span,
                    format!("no property `{name}` on {desc}, but a node of that name exists"),
                    format!("use `|` to chain a node: |{name}(...)"),
                );
            } else {
                let props: Vec<&str> = self
                    .spec_of(node)
                    .map(|s| s.properties.iter().map(|p| p.name).collect())
                    .unwrap_or_default();
                match did_you_mean(name, props) {
                    Some(s) => self.err_hint(
                        span,
                        format!("unknown property `.{name}` on {desc}"),
                        format!("did you mean `.{s}`?"),
                    ),
                    None => self.err(span, format!("unknown property `.{name}` on {desc}")),
                }
            }
            return Err(());
        };
        self.check_args(prop.args, &args, &format!(".{}()", prop.name), span)?;
        let v = PropertyValue {
            name: prop.name,
            args: args.into_iter().map(|(v, _)| v).collect(),
            span,
            sub: Vec::new(),
        };
        let props = &mut self.nodes[node].properties;
        props.push(v);
        if prop.sub_properties.is_empty() {
            Ok(Val::Node(node))
        } else {
            Ok(Val::Handler {
                node,
                property: props.len() - 1,
            })
        }
    }

    fn check_args(&mut self, args: Args, given: &[(Value, Span)], what: &str, span: Span) -> R<()> {
        let min = args.required.len();
        let max = if args.rest.is_some() {
            usize::MAX
        } else {
            min + args.optional.len()
        };
        if given.len() < min || given.len() > max {
            let expected = match (min, max) {
                (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
                (a, usize::MAX) => {
                    format!("at least {a} argument{}", if a == 1 { "" } else { "s" })
                }
                (a, b) => format!("{a} to {b} arguments"),
            };
            self.err_hint(
                span,
                format!("{what} takes {expected}, got {}", given.len()),
                format!("signature: {what}{}", signature(args)).replace("()(", "("),
            );
            return Err(());
        }
        let mut ok = true;
        for (i, (v, vspan)) in given.iter().enumerate() {
            let want = if i < min {
                args.required[i]
            } else {
                args.optional
                    .get(i - min)
                    .copied()
                    .or(args.rest)
                    .unwrap_or(Arg::Any)
            };
            if let Err(msg) = arg_fits(v, want) {
                ok = false;
                let hint = match v {
                    Value::Reference(r) => Some(format!(
                        "double quotes make a field reference; write the string in single quotes: '{r}'"
                    )),
                    Value::Float(_) if want == Arg::Int => Some("write a whole number".to_owned()),
                    _ => None,
                };
                let d = Diagnostic::new(*vspan, format!("argument {} of {what}: {msg}", i + 1));
                self.diags.push(match hint {
                    Some(h) => d.with_hint(h),
                    None => d,
                });
            }
        }
        if ok { Ok(()) } else { Err(()) }
    }

    /// Edge types: every node must receive the edge it wants.
    fn check_edges(&mut self) {
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if n.wants == Edge::None {
                continue;
            }
            for &p in &n.parents {
                let got = self.nodes[p].provides;
                let want = n.wants;
                if got != want && got != Edge::None {
                    let msg = format!(
                        "{} wants a {} edge but {} gives a {} edge",
                        n.desc,
                        edge_name(want),
                        self.nodes[p].desc,
                        edge_name(got)
                    );
                    let hint = match (want, got) {
                        (Edge::Batch, Edge::Stream) => "turn a stream into batches with |window()",
                        (Edge::Stream, Edge::Batch) => {
                            "a batch edge needs a node that works on batches here"
                        }
                        _ => "",
                    };
                    let span = n.span;
                    let d = Diagnostic::new(span, msg);
                    self.diags.push(if hint.is_empty() {
                        d
                    } else {
                        d.with_hint(hint)
                    });
                }
            }
        }
    }
}

fn type_name(t: TaskType) -> &'static str {
    match t {
        TaskType::Stream => "stream",
        TaskType::Batch => "batch",
    }
}

fn edge_name(e: Edge) -> &'static str {
    match e {
        Edge::None => "no",
        Edge::Stream => "stream",
        Edge::Batch => "batch",
    }
}

fn signature(args: Args) -> String {
    let mut parts: Vec<String> = args
        .required
        .iter()
        .map(|a| arg_name(*a).to_owned())
        .collect();
    parts.extend(args.optional.iter().map(|a| format!("[{}]", arg_name(*a))));
    if let Some(r) = args.rest {
        parts.push(format!("{}...", arg_name(r)));
    }
    format!("({})", parts.join(", "))
}

fn arg_name(a: Arg) -> &'static str {
    match a {
        Arg::Int => "int",
        Arg::Float => "float",
        Arg::Number => "number",
        Arg::String => "string",
        Arg::Bool => "bool",
        Arg::Duration => "duration",
        Arg::Lambda => "lambda",
        Arg::Regex => "regex",
        Arg::Star => "*",
        Arg::StringOrStar => "string or *",
        Arg::StringOrLambda => "string or lambda",
        Arg::IntOrDuration => "int or duration",
        Arg::Node => "node",
        Arg::Any => "value",
    }
}

/// Whether a value may be passed where `want` is declared; Kapacitor converts ints to floats.
fn arg_fits(v: &Value, want: Arg) -> Result<(), String> {
    if let Value::Template { ty, .. } = v {
        let ok = match want {
            Arg::Any => true,
            Arg::Int => *ty == VarType::Int,
            Arg::Float | Arg::Number => matches!(ty, VarType::Int | VarType::Float),
            Arg::String => *ty == VarType::String,
            Arg::Bool => *ty == VarType::Bool,
            Arg::Duration => *ty == VarType::Duration,
            Arg::Lambda => *ty == VarType::Lambda,
            Arg::Regex => *ty == VarType::Regex,
            Arg::Star => *ty == VarType::Star,
            Arg::StringOrStar => matches!(ty, VarType::String | VarType::Star | VarType::List),
            Arg::StringOrLambda => matches!(ty, VarType::String | VarType::Lambda),
            Arg::IntOrDuration => matches!(ty, VarType::Int | VarType::Duration),
            Arg::Node => false,
        };
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "expected {}, got a {} var",
                arg_name(want),
                ty.name()
            ))
        };
    }
    let ok = match want {
        Arg::Any => !matches!(v, Value::Node(_) | Value::Reference(_)),
        _ if matches!(v, Value::TimeDimension { .. }) => false,
        Arg::Int => matches!(v, Value::Int(_)),
        Arg::Float | Arg::Number => matches!(v, Value::Int(_) | Value::Float(_)),
        Arg::String => matches!(v, Value::Str(_)),
        Arg::Bool => matches!(v, Value::Bool(_)),
        Arg::Duration => matches!(v, Value::Duration(_)),
        Arg::Lambda => matches!(v, Value::Lambda(_)),
        Arg::Regex => matches!(v, Value::Regex(_)),
        Arg::Star => matches!(v, Value::Star),
        Arg::StringOrStar => matches!(v, Value::Str(_) | Value::Star | Value::List(_)),
        Arg::StringOrLambda => matches!(v, Value::Str(_) | Value::Lambda(_)),
        Arg::IntOrDuration => matches!(v, Value::Int(_) | Value::Duration(_)),
        Arg::Node => matches!(v, Value::Node(_)),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {}, got {}", arg_name(want), describe(v)))
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Reference(r) => format!("the reference \"{r}\""),
        Value::Node(_) => "a node".into(),
        other => format!("a {}", other.type_name()),
    }
}

fn var_type_of(v: &Value) -> Option<VarType> {
    Some(match v {
        Value::Int(_) => VarType::Int,
        Value::Float(_) => VarType::Float,
        Value::Str(_) => VarType::String,
        Value::Bool(_) => VarType::Bool,
        Value::Duration(_) => VarType::Duration,
        Value::Regex(_) => VarType::Regex,
        Value::Star => VarType::Star,
        Value::Lambda(_) => VarType::Lambda,
        Value::List(_) => VarType::List,
        _ => return None,
    })
}

fn var_fits(v: &Value, t: VarType) -> bool {
    var_type_of(v) == Some(t) || matches!(v, Value::Template { ty, .. } if *ty == t)
}

/// Whether `e` names a field or tag (`"value"`).
fn names_a_reference(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Reference(_) => true,
        ExprKind::Unary { expr, .. } => names_a_reference(expr),
        ExprKind::Binary { lhs, rhs, .. } => names_a_reference(lhs) || names_a_reference(rhs),
        ExprKind::Call { args, .. } => args.iter().any(names_a_reference),
        _ => false,
    }
}

/// A value as a literal expression, to substitute a variable inside a lambda.
fn literal_expr(v: &Value) -> Option<ExprKind> {
    Some(match v {
        Value::Int(i) => ExprKind::Int(*i),
        Value::Float(f) => ExprKind::Float(*f),
        Value::Str(s) => ExprKind::Str {
            value: s.clone(),
            triple: false,
        },
        Value::Bool(b) => ExprKind::Bool(*b),
        Value::Duration(d) => ExprKind::Duration {
            nanos: *d,
            literal: crate::duration::format_go_duration(*d),
        },
        Value::Regex(r) => ExprKind::Regex {
            pattern: r.clone(),
            literal: r.replace('/', "\\/"),
        },
        Value::Star => ExprKind::Star,
        // A lambda variable inside a lambda: its expression, parsed back from its canonical text.
        Value::Lambda(l) => return crate::tick::parse_lambda(&l.text).ok().map(|e| e.kind),
        Value::Reference(r) => ExprKind::Reference(r.clone()),
        _ => return None,
    })
}
