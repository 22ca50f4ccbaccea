//! The outside world of a task under test: what it sends out is kept to compare, nothing
//! leaves the process.

use std::sync::Arc;

use farad_runtime::exec::{
    HttpRequest, InfluxWrite, Io, Output, PostEndpoint, SideloadSource, TopicEvent,
};
use farad_runtime::model::Point;
use parking_lot::Mutex;

/// A write of influxDBOut, as it arrived.
pub struct Written {
    pub database: String,
    pub retention_policy: String,
    pub points: Vec<Point>,
}

#[derive(Default)]
pub struct Capture {
    pub events: Mutex<Vec<TopicEvent>>,
    pub writes: Mutex<Vec<Written>>,
    /// Points written back into the input (`kapacitorLoopback`), to run through the task.
    pub loopback: Mutex<Vec<(String, String, Vec<Point>)>>,
    pub posts: Mutex<Vec<HttpRequest>>,
}

impl Io for Capture {
    fn post(&self, req: HttpRequest) {
        self.posts.lock().push(req);
    }

    fn send(&self, _out: Output) {}

    /// A task under test may name any built-in handler plugin (`.slack()`): nothing is sent,
    /// its events are checked in their topics.
    fn handler_plugin(
        &self,
        property: &str,
        _options: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Result<String, String>> {
        crate::plugins::Plugins::bundled_kind(property).map(|k| Ok(k.to_owned()))
    }

    fn publish(&self, event: TopicEvent) {
        self.events.lock().push(event);
    }

    fn influxdb(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }

    fn write_influxdb(&self, write: InfluxWrite) {
        let n = write.points.len() as i64;
        write
            .counters
            .written
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        self.writes.lock().push(Written {
            database: write.database,
            retention_policy: write.retention_policy,
            points: write.points,
        });
    }

    fn query_influxdb(&self, _cluster: &str, _query: &str) -> Result<serde_json::Value, String> {
        Err("a test runs without InfluxDB: give the batch task's data as its input".into())
    }

    fn post_and_wait(&self, req: HttpRequest) -> u16 {
        self.post(req);
        200
    }

    fn endpoint(&self, _name: &str) -> Option<PostEndpoint> {
        None
    }

    fn sideload(&self, source: &str) -> Result<Arc<dyn SideloadSource>, String> {
        Err(format!(
            "sideload source {source:?}: tests run without sideload sources"
        ))
    }

    fn write_points(&self, db: &str, rp: &str, points: Vec<Point>) {
        self.loopback
            .lock()
            .push((db.to_owned(), rp.to_owned(), points));
    }
}
