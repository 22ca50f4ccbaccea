//! How a task runs: its [`Plan`](crate::pipeline::Plan) instantiated as executors, one per node,
//! driven push-style.
//!
//! A write's points enter [`Task::push`] on the writer's thread; each node processes a message
//! and emits into a scratch buffer, and the driver hands each emitted message to the node's
//! children, depth first. There is no thread hop and no queue between nodes: a task is one
//! sequential state machine, so per-group state needs no locking. Different tasks run in
//! parallel on different writers' threads.

pub(crate) mod groups;
pub mod inhibit;
mod io;
mod msg;
pub mod nodes;
mod stats;
mod task;

pub use io::{
    EventData, HttpRequest, InfluxCounters, InfluxWrite, Io, KnownEvent, MqttTopic, NoIo, Output,
    PostEndpoint, SideloadSource, TaskEnv, TopicEvent, email_templates, no_io,
};
pub use msg::{Dims, Msg, StreamPoint};
pub use stats::NodeStats;
pub use task::{BuildError, Task};

#[cfg(test)]
mod tests;
