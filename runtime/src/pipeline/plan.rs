//! The checked pipeline a task runs: nodes with validated arguments and properties, joined by
//! typed edges. Built from a parsed script by [`super::build`]; what the engine instantiates.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::lambda::Lambda;
use super::schema::{Edge, NodeKind};
use crate::tick::Span;

/// A node's index in [`Plan::nodes`].
pub type NodeId = usize;

/// The task types Kapacitor has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskType {
    Stream,
    Batch,
}

/// A value given to a node or property, with its type settled.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// A regular expression, already known to compile.
    Regex(String),
    Star,
    /// A lambda, its variables substituted.
    Lambda(Box<Lambda>),
    List(Vec<Value>),
    /// Another node (e.g. `join(other)`).
    Node(NodeId),
    /// `"name"`: only valid inside lambdas; kept so the checker can say so precisely.
    Reference(String),
    /// `time(10s[, offset])` in a query's `.groupBy()`: group by time intervals.
    TimeDimension {
        length: i64,
        offset: i64,
    },
    /// A template variable declared with a type and no value yet.
    Template {
        name: String,
        ty: VarType,
    },
}

impl Value {
    /// Kapacitor's name for the value's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bool(_) => "bool",
            Value::Duration(_) => "duration",
            Value::Regex(_) => "regex",
            Value::Star => "star",
            Value::Lambda(_) => "lambda",
            Value::List(_) => "list",
            Value::Node(_) => "node",
            Value::Reference(_) => "reference",
            Value::TimeDimension { .. } => "time dimension",
            Value::Template { ty, .. } => ty.name(),
        }
    }
}

/// Types of template variables (`var x float`) and of task `vars`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    Bool,
    Int,
    Float,
    String,
    Regex,
    Duration,
    Lambda,
    List,
    Star,
}

impl VarType {
    pub const ALL: [VarType; 9] = [
        VarType::Bool,
        VarType::Int,
        VarType::Float,
        VarType::String,
        VarType::Regex,
        VarType::Duration,
        VarType::Lambda,
        VarType::List,
        VarType::Star,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VarType::Bool => "bool",
            VarType::Int => "int",
            VarType::Float => "float",
            VarType::String => "string",
            VarType::Regex => "regex",
            VarType::Duration => "duration",
            VarType::Lambda => "lambda",
            VarType::List => "list",
            VarType::Star => "star",
        }
    }

    pub fn parse(s: &str) -> Option<VarType> {
        VarType::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// One `.property(args)` as set on a node, with the sub-properties set on it (alert handlers:
/// `.slack().channel('#ops')`).
#[derive(Clone, Debug, PartialEq)]
pub struct PropertyValue {
    pub name: &'static str,
    pub args: Vec<Value>,
    pub span: Span,
    pub sub: Vec<PropertyValue>,
}

/// A node of the pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanNode {
    pub id: NodeId,
    /// The number in Kapacitor's name for the node. Kapacitor assigns an id at each parent
    /// link, so a node with k parents (join, union) takes k ids and keeps the last: in
    /// `stream0, from1, from2, s2|join(s1)` the join is `join4`, and the nodes after it count on
    /// from there.
    pub name_id: usize,
    pub kind: NodeKind,
    /// The chaining method that made it (`window`, `mean`, or the UDF's name).
    pub method: String,
    /// Kapacitor's node name prefix (`window`, `http_out`, ...); the name is `desc` + `id`.
    pub desc: String,
    pub args: Vec<Value>,
    pub properties: Vec<PropertyValue>,
    pub parents: Vec<NodeId>,
    pub children: Vec<NodeId>,
    /// The edge it takes and the edge it gives.
    pub wants: Edge,
    pub provides: Edge,
    /// For `stats` (and `deadman`'s stats): the node whose counters it reports. Such a node
    /// is a source of its own, not a child of the node it watches.
    pub watches: Option<NodeId>,
    pub span: Span,
}

impl PlanNode {
    /// Kapacitor's node name: `stream0`, `from1`, `window2`...
    pub fn name(&self) -> String {
        format!("{}{}", self.desc, self.name_id)
    }

    /// The last value set for a property.
    pub fn property(&self, name: &str) -> Option<&PropertyValue> {
        self.properties.iter().rev().find(|p| p.name == name)
    }
}

/// A template variable the script declares, with its type and default (if any).
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateVar {
    pub name: String,
    pub ty: VarType,
    pub default: Option<Value>,
}

/// A checked task.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub task_type: TaskType,
    /// `dbrp` statements, in order.
    pub dbrps: Vec<(String, String)>,
    pub nodes: Vec<PlanNode>,
    /// Declared variables (templates' `var x type` and `var x = value`), by name.
    pub vars: BTreeMap<String, TemplateVar>,
}

impl Plan {
    /// The pipeline in Graphviz DOT, as Kapacitor's task `dot` field shows it without stats.
    pub fn dot(&self, name: &str) -> String {
        let mut s = format!("digraph {name} {{\n");
        for n in self.topological() {
            for &c in &self.nodes[n].children {
                let _ = writeln!(s, "{} -> {};", self.nodes[n].name(), self.nodes[c].name());
            }
        }
        s.push('}');
        s
    }

    /// A batch task's query nodes in Kapacitor's walk order: the order its recordings and
    /// replays number them.
    pub fn batch_queries(&self) -> Vec<NodeId> {
        let Some(batch) = self
            .nodes
            .iter()
            .find(|n| n.kind == super::schema::NodeKind::Batch)
        else {
            return Vec::new();
        };
        self.topological()
            .into_iter()
            .filter(|i| batch.children.contains(i))
            .collect()
    }

    /// Node ids with every parent before its children, in Kapacitor's order: a depth-first
    /// post-order from the sources (last source first), reversed.
    pub fn topological(&self) -> Vec<NodeId> {
        fn visit(plan: &Plan, n: NodeId, done: &mut [bool], out: &mut Vec<NodeId>) {
            if done[n] {
                return;
            }
            done[n] = true;
            for &c in &plan.nodes[n].children {
                visit(plan, c, done, out);
            }
            out.push(n);
        }
        let mut done = vec![false; self.nodes.len()];
        let mut out = Vec::with_capacity(self.nodes.len());
        let sources: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|n| n.parents.is_empty())
            .map(|n| n.id)
            .collect();
        for &s in sources.iter().rev() {
            visit(self, s, &mut done, &mut out);
        }
        out.reverse();
        out
    }
}
