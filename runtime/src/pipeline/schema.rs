//! What every TICKscript node *is*: its chaining method, the edges it takes and gives, the
//! arguments of the call that creates it, and its properties. One declarative table drives the
//! checker (arity, types, "did you mean"), DOT labels and documentation.
//!
//! Facts here are Kapacitor's (`pipeline/*.go`, tags v1.5.0 and v1.8.3), restated as data.

/// The edge type between two nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Edge {
    /// No data (e.g. the output of `influxDBOut` or `kapacitorLoopback`). Nothing can be chained
    /// after a node that provides `None`, except the nodes that want [`Wants::None`]
    /// (`stats`, `deadman`), which read their parent's counters rather than its data.
    None,
    Stream,
    Batch,
}

/// Which edge a node accepts from its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wants {
    Stream,
    Batch,
    /// Either; the node then usually provides what it received.
    Any,
    /// No data edge from a parent. The source variables `stream` and `batch` (never chained;
    /// their only children are the nodes naming them in [`NodeSpec::parents`]) and `stats` /
    /// `deadman`, which count what their parent emits on a wall-clock ticker and so may follow
    /// any node, a source or a node that provides [`Provides::None`] included.
    None,
}

/// Which edge a node gives its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provides {
    Stream,
    Batch,
    /// The same edge type as its input (most nodes).
    Same,
    None,
}

/// The type of one argument, as TICKscript values are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An integer literal (or int variable).
    Int,
    /// A float; an integer literal is accepted and converted, as Kapacitor does.
    Float,
    /// Int or float, kept as written (e.g. `sample(10)` vs …).
    Number,
    String,
    Bool,
    Duration,
    Lambda,
    Regex,
    /// `*`.
    Star,
    /// A string or `*` (e.g. `groupBy('host')`, `groupBy(*)`).
    StringOrStar,
    /// A string or a lambda (e.g. `groupBy` also accepts lambdas... only where Kapacitor does).
    StringOrLambda,
    /// An int or a duration (e.g. `sample(10)` or `sample(10s)`).
    IntOrDuration,
    /// Another node (e.g. `join(other)`, `union(a, b)`).
    Node,
    /// Any literal value (int, float, string, bool, duration), e.g. `default().field('f', 0)`.
    Any,
}

/// The arguments of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Args {
    /// Arguments that must come first, in order.
    pub required: &'static [Arg],
    /// Arguments that may follow the required ones, in order.
    pub optional: &'static [Arg],
    /// If set, any number (zero or more) of further arguments of this type may follow.
    pub rest: Option<Arg>,
}

impl Args {
    /// No arguments.
    pub const NONE: Args = Args {
        required: &[],
        optional: &[],
        rest: None,
    };

    /// Exactly these arguments.
    pub const fn exact(required: &'static [Arg]) -> Args {
        Args {
            required,
            optional: &[],
            rest: None,
        }
    }

    /// Zero or more arguments of one type.
    pub const fn many(of: Arg) -> Args {
        Args {
            required: &[],
            optional: &[],
            rest: Some(of),
        }
    }
}

/// A property: `.name(args)` on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Property {
    /// As written in TICKscript (Kapacitor also accepts the first letter in upper case).
    pub name: &'static str,
    pub args: Args,
    /// True when calling it several times adds rather than replaces (e.g. `.tag(k, v)`,
    /// alert handlers such as `.post(url)`).
    pub repeatable: bool,
    /// Present only from this Kapacitor version on (`"1.8"`), else `None`.
    pub since: Option<&'static str>,
    /// Properties of the object the call returns, for calls that return one (alert handlers:
    /// `.slack().channel('#x')`). They apply after the call, alongside the node's own
    /// properties, and shadow a node property of the same name. Empty for ordinary properties.
    pub sub_properties: &'static [Property],
}

/// Every kind of node. `Noop` is Kapacitor's internal placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Stream,
    Batch,
    From,
    Query,
    QueryFlux,
    Where,
    Eval,
    Window,
    GroupBy,
    Alert,
    HttpOut,
    HttpPost,
    InfluxDbOut,
    KapacitorLoopback,
    Log,
    Default,
    Delete,
    Derivative,
    /// Any of the 21 InfluxQL functions; which one is the spec's `name`.
    InfluxQl,
    Join,
    Union,
    Combine,
    Flatten,
    Shift,
    Sample,
    ChangeDetect,
    StateDuration,
    StateCount,
    Stats,
    Deadman,
    Udf,
    Barrier,
    Sideload,
    Trickle,
    K8sAutoscale,
    SwarmAutoscale,
    Ec2Autoscale,
    Noop,
}

/// One node type as TICKscript sees it.
#[derive(Clone, Copy, Debug)]
pub struct NodeSpec {
    pub kind: NodeKind,
    /// The chaining method that creates it (`window`, `mean`, `from`...).
    pub name: &'static str,
    /// Arguments of that chaining method.
    pub args: Args,
    pub wants: Wants,
    pub provides: Provides,
    /// The node kinds it may be chained from, when restricted (e.g. `from` only after `stream`,
    /// `query` only after `batch`); empty means any node whose output edge it accepts.
    pub parents: &'static [NodeKind],
    pub properties: &'static [Property],
    /// Present only from this Kapacitor version on, else `None`.
    pub since: Option<&'static str>,
    /// One line on what it does (for docs and hints).
    pub doc: &'static str,
}
