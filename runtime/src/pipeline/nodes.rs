//! The table of every TICKscript node type: chaining call, edges, arguments and properties.
//!
//! Reading the table:
//! - A property name is the Go field or method name with its first letter in lower case, as
//!   Kapacitor's formatter prints it (`retentionPolicy`, `idTag`, `uRL`); Kapacitor also accepts
//!   the first letter in upper case, nothing else.
//! - [`COMMON_PROPERTIES`] (`quiet`) apply to every node and are not repeated per node.
//! - `stream` and `batch` are the task's implicit source variables, never chained; their only
//!   children are `from` (after `stream`) and `query` / `queryFlux` (after `batch`), which name
//!   them in `parents`, plus `stats` / `deadman`, which may follow any node (see [`Wants::None`]).
//! - `from` also keeps `|where` / `|groupBy` as chaining methods next to its `.where` /
//!   `.groupBy` properties; `query` keeps `|groupBy`; `alert` keeps `|log` next to `.log(path)`;
//!   `barrier` keeps `|delete` next to `.delete(bool)`.
//! - `udf` stands for every `@name()` call; its edges and properties come from the UDF process
//!   at runtime, so its entry only says "any in, same out".
//! - `noop` is Kapacitor's internal placeholder; no script can write it.
//! - A node whose `since` is set carries it for all its properties, which then say `None`.

use super::schema::*;

// ---------------------------------------------------------------------------------------------
// Shorthands (private): they only build the literals below.

const NONE: Args = Args::NONE;
const STR: Args = Args::exact(&[Arg::String]);
const STRS: Args = Args::many(Arg::String);
const DUR: Args = Args::exact(&[Arg::Duration]);
const INT: Args = Args::exact(&[Arg::Int]);
const BOOL: Args = Args::exact(&[Arg::Bool]);
const LAMBDA: Args = Args::exact(&[Arg::Lambda]);
const ANY: Args = Args::exact(&[Arg::Any]);
/// `(key, value)` with a string value.
const KEY_STR: Args = Args::exact(&[Arg::String, Arg::String]);
/// `(key, value)` with a value of any literal type.
const KEY_ANY: Args = Args::exact(&[Arg::String, Arg::Any]);

const fn optional(args: &'static [Arg]) -> Args {
    Args {
        required: &[],
        optional: args,
        rest: None,
    }
}

const fn then_many(required: &'static [Arg], rest: Arg) -> Args {
    Args {
        required,
        optional: &[],
        rest: Some(rest),
    }
}

/// A property that replaces its value when called again.
const fn prop(name: &'static str, args: Args) -> Property {
    Property {
        name,
        args,
        repeatable: false,
        since: None,
        sub_properties: &[],
    }
}

/// A property without arguments that switches something on.
const fn flag(name: &'static str) -> Property {
    prop(name, NONE)
}

/// A property that adds an entry each time it is called.
const fn multi(name: &'static str, args: Args) -> Property {
    Property {
        repeatable: true,
        ..prop(name, args)
    }
}

/// An alert handler: repeatable, returning an object with its own properties.
const fn handler(name: &'static str, args: Args, sub_properties: &'static [Property]) -> Property {
    Property {
        repeatable: true,
        sub_properties,
        ..prop(name, args)
    }
}

/// Marks a property as new in Kapacitor 1.8 (absent from 1.5.0).
const fn v18(p: Property) -> Property {
    Property {
        since: Some("1.8"),
        ..p
    }
}

/// A node chained from any parent whose output it accepts.
const fn node(
    kind: NodeKind,
    name: &'static str,
    args: Args,
    wants: Wants,
    provides: Provides,
    properties: &'static [Property],
    doc: &'static str,
) -> NodeSpec {
    NodeSpec {
        kind,
        name,
        args,
        wants,
        provides,
        parents: &[],
        properties,
        since: None,
        doc,
    }
}

/// One InfluxQL function node; they differ only in name, arguments and output edge.
const fn influxql(
    name: &'static str,
    args: Args,
    provides: Provides,
    doc: &'static str,
) -> NodeSpec {
    node(
        NodeKind::InfluxQl,
        name,
        args,
        Wants::Any,
        provides,
        INFLUXQL_PROPS,
        doc,
    )
}

const FIELD: Args = STR;

// ---------------------------------------------------------------------------------------------
// Shared property lists.

/// Properties every node has.
pub static COMMON_PROPERTIES: &[Property] = &[flag("quiet")];

const INFLUXQL_PROPS: &[Property] = &[prop("as", STR), flag("usePointTimes")];

/// `alert()` and `deadman()`: levels, state handling, output decoration and the handlers.
const ALERT_PROPS: &[Property] = &[
    prop("category", STR),
    prop("topic", STR),
    prop("id", STR),
    prop("message", STR),
    prop("details", STR),
    prop("info", LAMBDA),
    prop("warn", LAMBDA),
    prop("crit", LAMBDA),
    prop("infoReset", LAMBDA),
    prop("warnReset", LAMBDA),
    prop("critReset", LAMBDA),
    prop("flapping", Args::exact(&[Arg::Float, Arg::Float])),
    prop("history", INT),
    prop("levelTag", STR),
    prop("levelField", STR),
    prop("messageField", STR),
    prop("durationField", STR),
    prop("idTag", STR),
    prop("idField", STR),
    flag("all"),
    flag("noRecoveries"),
    prop("stateChangesOnly", optional(&[Arg::Duration])),
    multi("inhibit", then_many(&[Arg::String], Arg::String)),
    // Handlers. Each call adds one handler; its sub-properties configure that handler.
    // Kapacitor takes any number of URLs and posts to the first.
    handler(
        "post",
        STRS,
        &[
            prop("endpoint", STR),
            multi("header", KEY_STR),
            flag("captureResponse"),
            prop("timeout", DUR),
            v18(flag("skipSSLVerification")),
        ],
    ),
    handler("tcp", STR, &[prop("address", STR)]),
    handler(
        "email",
        STRS,
        &[multi("to", STRS), v18(multi("toTemplates", STRS))],
    ),
    handler("exec", then_many(&[Arg::String], Arg::String), &[]),
    handler("log", STR, &[prop("mode", INT)]),
    handler("victorOps", NONE, &[prop("routingKey", STR)]),
    handler("pagerDuty", NONE, &[prop("serviceKey", STR)]),
    handler(
        "pagerDuty2",
        NONE,
        &[
            v18(prop("routingKey", STR)),
            prop("serviceKey", STR),
            v18(multi(
                "link",
                Args {
                    required: &[Arg::String],
                    optional: &[Arg::String],
                    rest: None,
                },
            )),
        ],
    ),
    handler(
        "pushover",
        NONE,
        &[
            prop("userKey", STR),
            prop("device", STR),
            prop("title", STR),
            prop("uRL", STR),
            prop("uRLTitle", STR),
            prop("sound", STR),
        ],
    ),
    handler(
        "sensu",
        NONE,
        &[
            prop("source", STR),
            prop("handlers", STRS),
            v18(multi("metadata", KEY_ANY)),
        ],
    ),
    handler(
        "slack",
        NONE,
        &[
            prop("workspace", STR),
            prop("channel", STR),
            prop("username", STR),
            prop("iconEmoji", STR),
        ],
    ),
    v18(handler(
        "discord",
        NONE,
        &[
            prop("workspace", STR),
            prop("username", STR),
            prop("avatarURL", STR),
            prop("embedTitle", STR),
        ],
    )),
    v18(handler(
        "bigPanda",
        NONE,
        &[
            prop("appKey", STR),
            prop("host", STR),
            prop("primaryProperty", STR),
            prop("secondaryProperty", STR),
            multi("attribute", KEY_ANY),
        ],
    )),
    handler(
        "telegram",
        NONE,
        &[
            prop("chatId", STR),
            prop("parseMode", STR),
            flag("disableWebPagePreview"),
            flag("disableNotification"),
        ],
    ),
    handler("hipChat", NONE, &[prop("room", STR), prop("token", STR)]),
    handler(
        "alerta",
        NONE,
        &[
            prop("token", STR),
            prop("resource", STR),
            prop("event", STR),
            prop("environment", STR),
            prop("group", STR),
            prop("value", STR),
            prop("origin", STR),
            prop("services", STRS),
            v18(prop("correlated", STRS)),
            v18(multi("attribute", KEY_ANY)),
            prop("timeout", DUR),
        ],
    ),
    handler(
        "opsGenie",
        NONE,
        &[prop("teams", STRS), prop("recipients", STRS)],
    ),
    handler(
        "opsGenie2",
        NONE,
        &[
            prop("teams", STRS),
            prop("recipients", STRS),
            v18(prop("recoveryAction", STR)),
            v18(flag("details")),
        ],
    ),
    handler("talk", NONE, &[]),
    handler(
        "mqtt",
        STR,
        &[
            prop("brokerName", STR),
            prop("topic", STR),
            prop("qos", INT),
            prop("retained", BOOL),
        ],
    ),
    handler(
        "snmpTrap",
        STR,
        &[multi(
            "data",
            Args::exact(&[Arg::String, Arg::String, Arg::String]),
        )],
    ),
    handler(
        "kafka",
        NONE,
        &[
            prop("cluster", STR),
            prop("kafkaTopic", STR),
            prop("template", STR),
            v18(flag("disablePartitionById")),
            v18(prop("partitionHashAlgorithm", STR)),
        ],
    ),
    v18(handler("teams", NONE, &[prop("channelURL", STR)])),
    v18(handler(
        "serviceNow",
        NONE,
        &[
            prop("uRL", STR),
            prop("username", STR),
            prop("password", STR),
            prop("source", STR),
            prop("node", STR),
            prop("type", STR),
            prop("resource", STR),
            prop("metricName", STR),
            prop("messageKey", STR),
            multi("additionalInfo", KEY_ANY),
        ],
    )),
    v18(handler(
        "zenoss",
        NONE,
        &[
            prop("uRL", STR),
            prop("username", STR),
            prop("password", STR),
            prop("action", STR),
            prop("method", STR),
            prop("type", STR),
            prop("tid", INT),
            prop("collector", STR),
            prop("summary", STR),
            prop("device", STR),
            prop("component", STR),
            prop("eventClassKey", STR),
            prop("eventClass", STR),
            prop("message", STR),
            multi("customField", KEY_ANY),
        ],
    )),
];

/// Shared by the three autoscale nodes.
const AUTOSCALE_COMMON: [Property; 6] = [
    prop("currentField", STR),
    prop("max", INT),
    prop("min", INT),
    prop("replicas", LAMBDA),
    prop("increaseCooldown", DUR),
    prop("decreaseCooldown", DUR),
];

// ---------------------------------------------------------------------------------------------
// The table.

/// Every node type, in the order of Kapacitor's inventory: sources, core, transformations,
/// outputs, then the InfluxQL functions.
pub static NODES: &[NodeSpec] = &[
    // --- Sources -----------------------------------------------------------------------------
    node(
        NodeKind::Stream,
        "stream",
        NONE,
        Wants::None,
        Provides::Stream,
        &[],
        "Root of a stream task: every point written to Kapacitor; select a slice with |from().",
    ),
    node(
        NodeKind::Batch,
        "batch",
        NONE,
        Wants::None,
        Provides::Batch,
        &[],
        "Root of a batch task: add scheduled queries with |query() or |queryFlux().",
    ),
    NodeSpec {
        parents: &[NodeKind::Stream, NodeKind::From],
        ..node(
            NodeKind::From,
            "from",
            NONE,
            Wants::Stream,
            Provides::Stream,
            &[
                multi("where", LAMBDA),
                prop("groupBy", Args::many(Arg::StringOrStar)),
                flag("groupByMeasurement"),
                prop("database", STR),
                prop("retentionPolicy", STR),
                prop("measurement", STR),
                prop("truncate", DUR),
                prop("round", DUR),
            ],
            "Selects the points of a database, retention policy and measurement from the stream; \
             repeated .where() calls are ANDed.",
        )
    },
    NodeSpec {
        parents: &[NodeKind::Batch],
        ..node(
            NodeKind::Query,
            "query",
            STR,
            Wants::Batch,
            Provides::Batch,
            &[
                prop("period", DUR),
                prop("every", DUR),
                flag("align"),
                prop("cron", STR),
                prop("offset", DUR),
                flag("alignGroup"),
                prop("groupBy", Args::many(Arg::Any)),
                flag("groupByMeasurement"),
                prop("fill", ANY),
                prop("cluster", STR),
            ],
            "Runs an InfluxQL SELECT against InfluxDB on a schedule and emits one batch per group; \
             groupBy takes tags and at most one time(d[, offset]).",
        )
    },
    NodeSpec {
        parents: &[NodeKind::Batch],
        since: Some("1.8"),
        ..node(
            NodeKind::QueryFlux,
            "queryFlux",
            STR,
            Wants::Batch,
            Provides::Batch,
            &[
                prop("period", DUR),
                prop("every", DUR),
                flag("align"),
                prop("cron", STR),
                prop("offset", DUR),
                prop("cluster", STR),
                prop("org", STR),
                prop("orgID", STR),
            ],
            "Runs a Flux query against InfluxDB 2.x on a schedule and emits the result as batches.",
        )
    },
    // --- Core --------------------------------------------------------------------------------
    node(
        NodeKind::Where,
        "where",
        LAMBDA,
        Wants::Any,
        Provides::Same,
        &[],
        "Drops every point for which the lambda is not true.",
    ),
    node(
        NodeKind::Eval,
        "eval",
        Args::many(Arg::Lambda),
        Wants::Any,
        Provides::Same,
        &[prop("as", STRS), prop("tags", STRS), prop("keep", STRS)],
        "Evaluates lambdas in order into new fields named by .as(); later lambdas see earlier \
         results. Without .keep() only the results (and tags) remain.",
    ),
    node(
        NodeKind::Window,
        "window",
        NONE,
        Wants::Stream,
        Provides::Batch,
        &[
            prop("period", DUR),
            prop("every", DUR),
            flag("align"),
            flag("fillPeriod"),
            prop("periodCount", INT),
            prop("everyCount", INT),
        ],
        "Buffers stream points into batches by time (period/every) or by count.",
    ),
    node(
        NodeKind::GroupBy,
        "groupBy",
        Args::many(Arg::StringOrStar),
        Wants::Any,
        Provides::Same,
        &[multi("exclude", STRS), flag("byMeasurement")],
        "Regroups data by the given tags, or by all tags with *; .exclude() needs *.",
    ),
    node(
        NodeKind::Alert,
        "alert",
        NONE,
        Wants::Any,
        Provides::Same,
        ALERT_PROPS,
        "Evaluates info/warn/crit lambdas per group, tracks alert state and sends events to its \
         handlers; passes the alert data on.",
    ),
    node(
        NodeKind::Deadman,
        "deadman",
        then_many(&[Arg::Float, Arg::Duration], Arg::Lambda),
        Wants::None,
        Provides::Stream,
        ALERT_PROPS,
        "Alerts critical when the parent emitted at most `threshold` points per `interval` \
         (shorthand for stats|derivative|alert); extra lambdas are ANDed to the condition.",
    ),
    node(
        NodeKind::HttpOut,
        "httpOut",
        STR,
        Wants::Any,
        Provides::Same,
        &[],
        "Keeps the latest result per group, served under the task's HTTP endpoint with this name.",
    ),
    node(
        NodeKind::HttpPost,
        "httpPost",
        optional(&[Arg::String]),
        Wants::Any,
        Provides::Same,
        &[
            multi("endpoint", STR),
            multi("header", KEY_STR),
            prop("codeField", STR),
            flag("captureResponse"),
            prop("timeout", DUR),
        ],
        "POSTs each point or batch as JSON to a URL or a configured endpoint (exactly one of \
         the two), and passes the data on.",
    ),
    node(
        NodeKind::InfluxDbOut,
        "influxDBOut",
        NONE,
        Wants::Any,
        Provides::None,
        &[
            prop("cluster", STR),
            prop("database", STR),
            prop("retentionPolicy", STR),
            prop("measurement", STR),
            prop("writeConsistency", STR),
            prop("precision", STR),
            prop("buffer", INT),
            prop("flushInterval", DUR),
            multi("tag", KEY_STR),
            flag("create"),
        ],
        "Writes the data to InfluxDB in buffered batches; .create() makes the database and \
         retention policy first.",
    ),
    node(
        NodeKind::KapacitorLoopback,
        "kapacitorLoopback",
        NONE,
        Wants::Any,
        Provides::None,
        &[
            prop("database", STR),
            prop("retentionPolicy", STR),
            prop("measurement", STR),
            multi("tag", KEY_STR),
        ],
        "Writes the data back into Kapacitor's own stream (database and retention policy \
         required).",
    ),
    node(
        NodeKind::Log,
        "log",
        NONE,
        Wants::Any,
        Provides::Same,
        &[prop("level", STR), prop("prefix", STR)],
        "Logs every message at the given level (default INFO) and passes it on.",
    ),
    node(
        NodeKind::Default,
        "default",
        NONE,
        Wants::Any,
        Provides::Same,
        &[multi("field", KEY_ANY), multi("tag", KEY_STR)],
        "Sets fields and tags that are missing to default values.",
    ),
    node(
        NodeKind::Delete,
        "delete",
        NONE,
        Wants::Any,
        Provides::Same,
        &[multi("field", STR), multi("tag", STR)],
        "Removes the named fields and tags.",
    ),
    node(
        NodeKind::Derivative,
        "derivative",
        FIELD,
        Wants::Any,
        Provides::Same,
        &[prop("as", STR), prop("unit", DUR), flag("nonNegative")],
        "Rate of change of a field between consecutive points of a group, per unit (default 1s).",
    ),
    // --- Combining and reshaping -------------------------------------------------------------
    node(
        NodeKind::Join,
        "join",
        Args::many(Arg::Node),
        Wants::Any,
        Provides::Same,
        &[
            prop("as", STRS),
            prop("on", STRS),
            prop("delimiter", STR),
            v18(prop("deleteAll", BOOL)),
            prop("streamName", STR),
            prop("tolerance", DUR),
            prop("fill", ANY),
        ],
        "Joins this node with the given nodes on time (within a tolerance) and group; fields \
         are prefixed with the .as() names, one per parent.",
    ),
    node(
        NodeKind::Union,
        "union",
        Args::many(Arg::Node),
        Wants::Any,
        Provides::Same,
        &[prop("rename", STR)],
        "Merges this node's data with the given nodes' data unchanged.",
    ),
    node(
        NodeKind::Combine,
        "combine",
        Args::many(Arg::Lambda),
        Wants::Any,
        Provides::Stream,
        &[
            prop("as", STRS),
            prop("delimiter", STR),
            prop("tolerance", DUR),
            prop("max", INT),
        ],
        "Pairs points of one parent that share a time and each match one of the lambdas; fields \
         are prefixed with the .as() names.",
    ),
    node(
        NodeKind::Flatten,
        "flatten",
        NONE,
        Wants::Any,
        Provides::Same,
        &[
            prop("on", STRS),
            prop("delimiter", STR),
            prop("tolerance", DUR),
            prop("dropOriginalFieldName", optional(&[Arg::Bool])),
        ],
        "Folds points that share a time into one point whose field names carry the values of \
         the .on() tags.",
    ),
    node(
        NodeKind::Shift,
        "shift",
        DUR,
        Wants::Any,
        Provides::Same,
        &[],
        "Moves every timestamp by the given (possibly negative) duration.",
    ),
    node(
        NodeKind::Sample,
        "sample",
        Args::exact(&[Arg::IntOrDuration]),
        Wants::Any,
        Provides::Same,
        &[],
        "Keeps every n-th point or batch, or one per duration.",
    ),
    node(
        NodeKind::ChangeDetect,
        "changeDetect",
        then_many(&[Arg::String], Arg::String),
        Wants::Any,
        Provides::Same,
        &[],
        "Passes a point only when one of the fields changed from the previous point of its \
         group (Kapacitor 1.5 takes exactly one field).",
    ),
    node(
        NodeKind::StateDuration,
        "stateDuration",
        LAMBDA,
        Wants::Any,
        Provides::Same,
        &[prop("as", STR), prop("unit", DUR)],
        "Adds how long the lambda has been true in a row (in units, default 1s), -1 when false; \
         field `state_duration` unless .as().",
    ),
    node(
        NodeKind::StateCount,
        "stateCount",
        LAMBDA,
        Wants::Any,
        Provides::Same,
        &[prop("as", STR)],
        "Adds how many points in a row the lambda has been true, -1 when false; field \
         `state_count` unless .as().",
    ),
    node(
        NodeKind::Stats,
        "stats",
        DUR,
        Wants::None,
        Provides::Stream,
        &[flag("align")],
        "Emits the parent node's counters (`emitted`) per group every interval of wall-clock \
         time.",
    ),
    node(
        NodeKind::Udf,
        "udf",
        NONE,
        Wants::Any,
        Provides::Same,
        &[],
        "A user-defined function called as @name(); its edges and properties are declared by \
         the UDF itself at runtime.",
    ),
    node(
        NodeKind::Barrier,
        "barrier",
        NONE,
        Wants::Any,
        Provides::Same,
        &[
            prop("idle", DUR),
            prop("period", DUR),
            v18(prop("delete", BOOL)),
        ],
        "Emits a barrier on wall-clock idle time or period so downstream windows and joins can \
         flush; exactly one of idle or period.",
    ),
    node(
        NodeKind::Sideload,
        "sideload",
        NONE,
        Wants::Any,
        Provides::Same,
        &[
            prop("source", STR),
            prop("order", STRS),
            multi("field", KEY_ANY),
            multi("tag", KEY_STR),
        ],
        "Adds fields and tags looked up in external files along a tag-templated path order, with \
         defaults.",
    ),
    NodeSpec {
        since: Some("1.8"),
        ..node(
            NodeKind::Trickle,
            "trickle",
            NONE,
            Wants::Batch,
            Provides::Stream,
            &[],
            "Turns batches back into a stream of single points.",
        )
    },
    // --- Autoscaling -------------------------------------------------------------------------
    node(
        NodeKind::K8sAutoscale,
        "k8sAutoscale",
        NONE,
        Wants::Any,
        Provides::Stream,
        &[
            prop("cluster", STR),
            prop("namespace", STR),
            prop("kind", STR),
            prop("resourceName", STR),
            prop("resourceNameTag", STR),
            AUTOSCALE_COMMON[0],
            AUTOSCALE_COMMON[1],
            AUTOSCALE_COMMON[2],
            AUTOSCALE_COMMON[3],
            AUTOSCALE_COMMON[4],
            AUTOSCALE_COMMON[5],
            prop("namespaceTag", STR),
            prop("kindTag", STR),
            prop("resourceTag", STR),
        ],
        "Sets a Kubernetes resource's replica count from the replicas lambda, and emits a point \
         per change.",
    ),
    node(
        NodeKind::SwarmAutoscale,
        "swarmAutoscale",
        NONE,
        Wants::Any,
        Provides::Stream,
        &[
            prop("cluster", STR),
            prop("serviceName", STR),
            prop("serviceNameTag", STR),
            prop("outputServiceNameTag", STR),
            AUTOSCALE_COMMON[0],
            AUTOSCALE_COMMON[1],
            AUTOSCALE_COMMON[2],
            AUTOSCALE_COMMON[3],
            AUTOSCALE_COMMON[4],
            AUTOSCALE_COMMON[5],
        ],
        "Sets a Docker Swarm service's replica count from the replicas lambda, and emits a point \
         per change.",
    ),
    node(
        NodeKind::Ec2Autoscale,
        "ec2Autoscale",
        NONE,
        Wants::Any,
        Provides::Stream,
        &[
            prop("cluster", STR),
            prop("groupName", STR),
            prop("groupNameTag", STR),
            prop("outputGroupNameTag", STR),
            AUTOSCALE_COMMON[0],
            AUTOSCALE_COMMON[1],
            AUTOSCALE_COMMON[2],
            AUTOSCALE_COMMON[3],
            AUTOSCALE_COMMON[4],
            AUTOSCALE_COMMON[5],
        ],
        "Sets an AWS autoscaling group's desired capacity from the replicas lambda, and emits a \
         point per change.",
    ),
    node(
        NodeKind::Noop,
        "noop",
        NONE,
        Wants::Any,
        Provides::Same,
        &[],
        "Internal: added under a childless node watched by stats so its emitted count is real.",
    ),
    // --- InfluxQL functions ------------------------------------------------------------------
    // Aggregates and selectors reduce a batch (or the stream points sharing a time) to a point.
    influxql(
        "count",
        FIELD,
        Provides::Stream,
        "Number of values of the field.",
    ),
    influxql(
        "distinct",
        FIELD,
        Provides::Batch,
        "One point per distinct value of the field.",
    ),
    influxql(
        "mean",
        FIELD,
        Provides::Stream,
        "Arithmetic mean of the field.",
    ),
    influxql(
        "median",
        FIELD,
        Provides::Stream,
        "Median of the field (an aggregate, not a selector).",
    ),
    influxql(
        "mode",
        FIELD,
        Provides::Stream,
        "Most frequent value of the field.",
    ),
    influxql(
        "spread",
        FIELD,
        Provides::Stream,
        "Difference between the largest and smallest value.",
    ),
    influxql("sum", FIELD, Provides::Stream, "Sum of the field."),
    influxql(
        "first",
        FIELD,
        Provides::Stream,
        "The earliest point's value.",
    ),
    influxql("last", FIELD, Provides::Stream, "The latest point's value."),
    influxql(
        "min",
        FIELD,
        Provides::Stream,
        "The point with the smallest value.",
    ),
    influxql(
        "max",
        FIELD,
        Provides::Stream,
        "The point with the largest value.",
    ),
    influxql(
        "percentile",
        Args::exact(&[Arg::String, Arg::Float]),
        Provides::Stream,
        "The point at the given percentile (nearest rank, no interpolation).",
    ),
    influxql(
        "top",
        then_many(&[Arg::Int, Arg::String], Arg::String),
        Provides::Batch,
        "The n points with the largest values; extra fields or tags are carried along.",
    ),
    influxql(
        "bottom",
        then_many(&[Arg::Int, Arg::String], Arg::String),
        Provides::Batch,
        "The n points with the smallest values; extra fields or tags are carried along.",
    ),
    influxql(
        "stddev",
        FIELD,
        Provides::Stream,
        "Sample standard deviation of the field.",
    ),
    // Transformations keep one output per input (after the first) and keep the edge type.
    influxql(
        "elapsed",
        Args::exact(&[Arg::String, Arg::Duration]),
        Provides::Same,
        "Time between consecutive points, in the given unit.",
    ),
    influxql(
        "difference",
        FIELD,
        Provides::Same,
        "Difference from the previous value.",
    ),
    influxql(
        "movingAverage",
        Args::exact(&[Arg::String, Arg::Int]),
        Provides::Same,
        "Mean of the last n values, once n values have been seen.",
    ),
    influxql(
        "cumulativeSum",
        FIELD,
        Provides::Same,
        "Running sum of the field.",
    ),
    // Forecasts: (field, number of predicted values, seasonal pattern length, interval).
    influxql(
        "holtWinters",
        Args::exact(&[Arg::String, Arg::Int, Arg::Int, Arg::Duration]),
        Provides::Batch,
        "Holt-Winters forecast of the next h values at the given interval.",
    ),
    influxql(
        "holtWintersWithFit",
        Args::exact(&[Arg::String, Arg::Int, Arg::Int, Arg::Duration]),
        Provides::Batch,
        "Holt-Winters forecast preceded by the fitted values for the input.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every kind, kept complete by the exhaustive match in `position`.
    const ALL_KINDS: [NodeKind; 38] = [
        NodeKind::Stream,
        NodeKind::Batch,
        NodeKind::From,
        NodeKind::Query,
        NodeKind::QueryFlux,
        NodeKind::Where,
        NodeKind::Eval,
        NodeKind::Window,
        NodeKind::GroupBy,
        NodeKind::Alert,
        NodeKind::HttpOut,
        NodeKind::HttpPost,
        NodeKind::InfluxDbOut,
        NodeKind::KapacitorLoopback,
        NodeKind::Log,
        NodeKind::Default,
        NodeKind::Delete,
        NodeKind::Derivative,
        NodeKind::InfluxQl,
        NodeKind::Join,
        NodeKind::Union,
        NodeKind::Combine,
        NodeKind::Flatten,
        NodeKind::Shift,
        NodeKind::Sample,
        NodeKind::ChangeDetect,
        NodeKind::StateDuration,
        NodeKind::StateCount,
        NodeKind::Stats,
        NodeKind::Deadman,
        NodeKind::Udf,
        NodeKind::Barrier,
        NodeKind::Sideload,
        NodeKind::Trickle,
        NodeKind::K8sAutoscale,
        NodeKind::SwarmAutoscale,
        NodeKind::Ec2Autoscale,
        NodeKind::Noop,
    ];

    fn position(kind: NodeKind) -> usize {
        use NodeKind::*;
        match kind {
            Stream => 0,
            Batch => 1,
            From => 2,
            Query => 3,
            QueryFlux => 4,
            Where => 5,
            Eval => 6,
            Window => 7,
            GroupBy => 8,
            Alert => 9,
            HttpOut => 10,
            HttpPost => 11,
            InfluxDbOut => 12,
            KapacitorLoopback => 13,
            Log => 14,
            Default => 15,
            Delete => 16,
            Derivative => 17,
            InfluxQl => 18,
            Join => 19,
            Union => 20,
            Combine => 21,
            Flatten => 22,
            Shift => 23,
            Sample => 24,
            ChangeDetect => 25,
            StateDuration => 26,
            StateCount => 27,
            Stats => 28,
            Deadman => 29,
            Udf => 30,
            Barrier => 31,
            Sideload => 32,
            Trickle => 33,
            K8sAutoscale => 34,
            SwarmAutoscale => 35,
            Ec2Autoscale => 36,
            Noop => 37,
        }
    }

    const INFLUXQL_FUNCTIONS: [&str; 21] = [
        "mean",
        "sum",
        "count",
        "min",
        "max",
        "first",
        "last",
        "median",
        "mode",
        "spread",
        "stddev",
        "distinct",
        "percentile",
        "top",
        "bottom",
        "difference",
        "elapsed",
        "movingAverage",
        "cumulativeSum",
        "holtWinters",
        "holtWintersWithFit",
    ];

    #[test]
    fn all_kinds_list_is_complete() {
        for (i, kind) in ALL_KINDS.iter().enumerate() {
            assert_eq!(position(*kind), i, "{kind:?}");
        }
    }

    #[test]
    fn every_kind_but_noop_has_a_spec() {
        for kind in ALL_KINDS {
            if kind == NodeKind::Noop {
                continue;
            }
            assert!(NODES.iter().any(|n| n.kind == kind), "no spec for {kind:?}");
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for n in NODES {
            assert!(
                seen.insert((position(n.kind), n.name)),
                "duplicate spec {:?} {}",
                n.kind,
                n.name
            );
        }
        // Chaining method names are unique across kinds too, so a name alone finds its spec.
        let mut names = HashSet::new();
        for n in NODES {
            assert!(names.insert(n.name), "name {} used by two kinds", n.name);
        }
    }

    fn assert_unique(owner: &str, props: &[Property]) {
        let mut seen = HashSet::new();
        for p in props {
            assert!(
                seen.insert(p.name),
                "{owner}: property {} declared twice",
                p.name
            );
            assert!(
                p.name.starts_with(|c: char| c.is_ascii_lowercase()),
                "{owner}: {}",
                p.name
            );
            assert_unique(&format!("{owner}.{}", p.name), p.sub_properties);
        }
    }

    #[test]
    fn property_names_are_unique_per_node() {
        for n in NODES {
            assert_unique(n.name, n.properties);
            for p in n.properties {
                assert!(
                    !COMMON_PROPERTIES.iter().any(|c| c.name == p.name),
                    "{}: {} repeats a common property",
                    n.name,
                    p.name
                );
            }
        }
    }

    #[test]
    fn all_influxql_functions_are_present() {
        let iql: HashSet<&str> = NODES
            .iter()
            .filter(|n| n.kind == NodeKind::InfluxQl)
            .map(|n| n.name)
            .collect();
        for f in INFLUXQL_FUNCTIONS {
            assert!(iql.contains(f), "missing InfluxQL function {f}");
        }
        assert_eq!(iql.len(), INFLUXQL_FUNCTIONS.len());
    }

    #[test]
    fn restricted_parents_and_sources() {
        let by_name = |name: &str| NODES.iter().find(|n| n.name == name).unwrap();
        assert_eq!(by_name("from").parents, &[NodeKind::Stream, NodeKind::From]);
        assert_eq!(by_name("query").parents, &[NodeKind::Batch]);
        assert_eq!(by_name("queryFlux").parents, &[NodeKind::Batch]);
        for source in ["stream", "batch"] {
            assert_eq!(by_name(source).wants, Wants::None);
        }
        // Deadman configures the alert it builds, so it has exactly the alert's properties.
        assert_eq!(by_name("deadman").properties, by_name("alert").properties);
    }

    #[test]
    fn versions_are_only_1_8() {
        for n in NODES {
            assert!(matches!(n.since, None | Some("1.8")));
            for p in n.properties {
                assert!(matches!(p.since, None | Some("1.8")));
                if n.since.is_some() {
                    assert_eq!(
                        p.since, None,
                        "{}.{} repeats its node's version",
                        n.name, p.name
                    );
                }
            }
        }
    }
}
