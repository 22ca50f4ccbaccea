//! `@name()`: a Wasm UDF. Points (or batches) gather into a micro-batch that crosses into the
//! guest as columns when the task's write is done, when it is full, or before a barrier.

use std::sync::Arc;

use super::NodeExec;
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, GroupKey};
use crate::pipeline::schema::Edge;
use crate::pipeline::{PlanNode, Value};
use crate::wasm::{Decoder, Encoder, UdfError, UdfInstance, UdfModule, UdfSlot, wit};

/// Rows gathered before a call even within one write: enough that a write of a few thousand
/// points crosses into the guest once (a call from a server thread costs a thread hop).
const MAX_ROWS: usize = 8192;

pub(super) struct Udf {
    slot: Arc<UdfSlot>,
    version: u64,
    /// A version whose `init` failed: not retried until the next one.
    refused: Option<u64>,
    module: Arc<UdfModule>,
    /// `None` after a trap, until the next call starts a fresh one.
    instance: Option<UdfInstance>,
    options: Vec<wit::OptionValue>,
    label: String,
    enc: Encoder,
    dec: Decoder,
    provides_batch: bool,
    traps: i64,
    restarts: i64,
    swaps: i64,
    /// Guest calls (one per micro-batch) and the time spent in them: the UDF's latency.
    calls: i64,
    call_ns: i64,
}

impl Udf {
    pub(super) fn new(node: &PlanNode, env: &crate::exec::TaskEnv) -> Result<Udf, String> {
        let name = &node.method;
        let registry = env
            .udfs
            .as_ref()
            .ok_or_else(|| format!("no UDF named `{name}`: this host runs no UDFs"))?;
        let slot = registry
            .get(name)
            .ok_or_else(|| format!("no UDF named `{name}`"))?;
        let (version, module) = slot.current();
        let options = options(node, &module)?;
        let label = format!("{}/{}", env.task_id, node.name());
        let mut udf = Udf {
            slot,
            version,
            refused: None,
            module,
            instance: None,
            options,
            label,
            enc: Encoder::default(),
            dec: Decoder::default(),
            provides_batch: node.provides == Edge::Batch,
            traps: 0,
            restarts: 0,
            swaps: 0,
            calls: 0,
            call_ns: 0,
        };
        // Start now: a UDF that refuses the task's options refuses the task.
        udf.instance = Some(udf.start(&udf.module.clone()).map_err(|e| e.to_string())?);
        Ok(udf)
    }

    fn start(&self, module: &UdfModule) -> Result<UdfInstance, UdfError> {
        let mut inst = UdfInstance::new(module, &self.label)?;
        inst.init(&self.options)?;
        Ok(inst)
    }

    /// Moves to a newly installed version, carrying the guest's state over when it can.
    fn follow_slot(&mut self) {
        let version = self.slot.version();
        if version == self.version || self.refused == Some(version) {
            return;
        }
        let (version, module) = self.slot.current();
        let (old, new) = (&self.module.signature, &module.signature);
        if (old.wants, old.provides) != (new.wants, new.provides) {
            tracing::error!(
                udf = self.label,
                version,
                "new version refused, keeping the old: it changes the UDF's edges; redefine the task"
            );
            self.refused = Some(version);
            return;
        }
        let next = options(&PlanNodeOptions(&self.options), &module)
            .map_err(UdfError::Guest)
            .and_then(|_| self.start(&module));
        let mut next = match next {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(
                    udf = self.label,
                    version,
                    "new version refused, keeping the old: {e}"
                );
                self.refused = Some(version);
                return;
            }
        };
        if let Some(old) = &mut self.instance {
            match old.snapshot() {
                Ok(state) if !state.is_empty() => {
                    if let Err(e) = next.restore(&state) {
                        tracing::warn!(udf = self.label, "new version did not take the state: {e}");
                        match self.start(&module) {
                            Ok(fresh) => next = fresh,
                            Err(e) => {
                                tracing::error!(udf = self.label, "{e}");
                                self.refused = Some(version);
                                return;
                            }
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(udf = self.label, "no state to carry over: {e}"),
            }
        }
        self.module = module;
        self.version = version;
        self.instance = Some(next);
        self.enc.reset();
        self.dec.reset();
        self.swaps += 1;
    }

    /// Sends what has gathered and emits what comes back.
    fn call(&mut self, out: &mut Vec<Msg>) -> Result<(), String> {
        if self.enc.is_empty() {
            return Ok(());
        }
        if self.instance.is_none() {
            match self.start(&self.module.clone()) {
                Ok(i) => {
                    self.instance = Some(i);
                    self.restarts += 1;
                }
                Err(e) => {
                    self.enc.sent();
                    return Err(format!("cannot restart the UDF: {e}"));
                }
            }
        }
        let Some(inst) = self.instance.as_mut() else {
            return Ok(());
        };
        if self.enc.resets() {
            // The guest starts its output series over with its input tables.
            self.dec.reset();
        }
        let started = std::time::Instant::now();
        let result = inst.process(self.enc.input());
        self.calls += 1;
        self.call_ns += started.elapsed().as_nanos() as i64;
        let result = match result {
            Ok(output) => self.dec.decode(output, &self.enc, self.provides_batch, out),
            Err(UdfError::Trap(e)) => {
                // The instance may be half-way through anything: drop it and its tables.
                tracing::warn!(
                    udf = self.label,
                    error = e,
                    "UDF trapped; a fresh instance takes the next call"
                );
                self.instance = None;
                self.traps += 1;
                self.enc.sent();
                self.enc.reset();
                self.dec.reset();
                return Err(e);
            }
            Err(e) => Err(e.to_string()),
        };
        self.enc.sent();
        result
    }

    /// Before the first row of a micro-batch: follow a new version (the swap starts the
    /// tables over, so it cannot happen with rows already encoded against the old ones).
    fn touch(&mut self) {
        if self.enc.is_empty() {
            self.follow_slot();
        }
    }
}

impl NodeExec for Udf {
    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        self.touch();
        self.enc.point(&p);
        if self.enc.len() >= MAX_ROWS {
            return self.call(out);
        }
        Ok(())
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        self.touch();
        self.enc.batch(&b);
        if self.enc.len() >= MAX_ROWS {
            return self.call(out);
        }
        Ok(())
    }

    fn barrier(
        &mut self,
        _input: usize,
        group: GroupKey,
        time: i64,
        out: &mut Vec<Msg>,
    ) -> Result<(), String> {
        let r = self.call(out);
        out.push(Msg::Barrier { group, time });
        r
    }

    fn delete_group(&mut self, _input: usize, group: &GroupKey) {
        self.enc.forget(group);
    }

    fn expire(&mut self, cutoff: i64) -> usize {
        self.enc.expire(cutoff)
    }

    fn flushes(&self) -> bool {
        true
    }

    fn flush(&mut self, out: &mut Vec<Msg>) -> Result<(), String> {
        self.call(out)
    }

    fn snapshot(&mut self) -> Option<Result<Vec<u8>, String>> {
        let inst = self.instance.as_mut()?;
        Some(inst.snapshot().map_err(|e| e.to_string()))
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        match self.instance.as_mut() {
            Some(inst) => inst.restore(state).map_err(|e| e.to_string()),
            None => Err("the UDF is not running".into()),
        }
    }

    fn cardinality(&self) -> usize {
        self.enc.groups_len()
    }

    fn state_bytes(&self) -> usize {
        self.enc.bytes() + self.instance.as_ref().map_or(0, |i| i.memory_bytes())
    }

    fn extra_stats(&self, out: &mut Vec<(&'static str, i64)>) {
        out.push(("udf_traps", self.traps));
        out.push(("udf_restarts", self.restarts));
        out.push(("udf_swaps", self.swaps));
        out.push(("udf_calls", self.calls));
        out.push(("udf_call_ns", self.call_ns));
        out.push(("udf_version", self.version as i64));
        out.push((
            "udf_memory_bytes",
            self.instance.as_ref().map_or(0, |i| i.memory_bytes()) as i64,
        ));
    }
}

/// The options a node was given, for re-checking against a new version.
struct PlanNodeOptions<'a>(&'a [wit::OptionValue]);

/// Where options come from: a plan node, or the values already converted.
trait OptionSource {
    fn values(&self) -> Vec<(String, Vec<Value>)>;
}

impl OptionSource for PlanNode {
    fn values(&self) -> Vec<(String, Vec<Value>)> {
        self.properties
            .iter()
            .filter(|p| p.name == "option")
            .filter_map(|p| match p.args.split_first() {
                Some((Value::Str(name), rest)) => Some((name.clone(), rest.to_vec())),
                _ => None,
            })
            .collect()
    }
}

impl OptionSource for PlanNodeOptions<'_> {
    fn values(&self) -> Vec<(String, Vec<Value>)> {
        use wit::Value as W;
        self.0
            .iter()
            .map(|o| {
                let args = o
                    .args
                    .iter()
                    .map(|a| match a {
                        W::Boolean(b) => Value::Bool(*b),
                        W::Int(i) => Value::Int(*i),
                        W::Double(f) => Value::Float(*f),
                        W::Str(s) => Value::Str(s.clone()),
                        W::Duration(d) => Value::Duration(*d),
                    })
                    .collect();
                (o.name.clone(), args)
            })
            .collect()
    }
}

/// Checks the options against what `module` declares and converts them for the guest.
fn options(src: &dyn OptionSource, module: &UdfModule) -> Result<Vec<wit::OptionValue>, String> {
    use crate::pipeline::UdfArg;
    let sig = &module.signature;
    src.values()
        .into_iter()
        .map(|(name, args)| {
            let opt = sig
                .options
                .iter()
                .find(|o| o.name == name)
                .ok_or_else(|| format!("@{}() has no option `{name}`", module.name))?;
            opt.check(&args)
                .map_err(|e| format!("@{}(): {e}", module.name))?;
            let args = opt
                .args
                .iter()
                .zip(args)
                .map(|(t, v)| match (t, v) {
                    (UdfArg::Float, Value::Int(i)) => wit::Value::Double(i as f64),
                    (_, Value::Float(f)) => wit::Value::Double(f),
                    (_, Value::Int(i)) => wit::Value::Int(i),
                    (_, Value::Bool(b)) => wit::Value::Boolean(b),
                    (_, Value::Duration(d)) => wit::Value::Duration(d),
                    (_, Value::Str(s)) => wit::Value::Str(s),
                    (_, other) => wit::Value::Str(format!("{other:?}")),
                })
                .collect();
            Ok(wit::OptionValue { name, args })
        })
        .collect()
}
