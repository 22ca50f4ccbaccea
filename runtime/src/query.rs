//! A batch task's `query` node as the host runs it: the InfluxQL statement rewritten for each
//! run (the time range, `.groupBy()` dimensions, `.fill()`), its schedule (`.every()`,
//! `.align()`, `.offset()`, `.period()`), and InfluxDB's JSON answer turned into batches
//! (Kapacitor's `ResultToBufferedBatches`). No I/O: the host sends the query.

use std::sync::Arc;

use crate::model::{Batch, BatchPoint, Fields, GroupKey, Name, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};
use crate::recording::batch::NO_TIME;

/// One query node, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchQuery {
    /// The statement up to its first clause (`SELECT ... FROM ...`).
    head: String,
    /// The statement's own `WHERE` condition, if any.
    condition: Option<String>,
    /// `GROUP BY` as `.groupBy()` sets it (empty: none).
    dimensions: Vec<String>,
    /// `time(d, offset)` when grouped by time.
    group_time: Option<(i64, i64)>,
    align_group: bool,
    /// `fill(...)`: the node's, else the statement's own.
    fill: Option<String>,
    /// `ORDER BY`, `LIMIT` and what follows, as written.
    tail: String,
    pub period: i64,
    pub every: i64,
    pub offset: i64,
    pub align: bool,
    pub cluster: String,
    pub by_name: bool,
    /// `.cron()`: the schedule instead of `every`.
    pub cron: Option<Cron>,
}

impl BatchQuery {
    pub fn from_node(node: &PlanNode) -> Result<BatchQuery, String> {
        if node.kind == crate::pipeline::schema::NodeKind::QueryFlux {
            return Err("queryFlux nodes do not run yet (Flux queries to InfluxDB 2)".into());
        }
        let Some(PV::Str(text)) = node.args.first() else {
            return Err("query needs an InfluxQL statement".into());
        };
        let clauses = Clauses::find(text)?;
        let mut dimensions = Vec::new();
        let mut group_time = None;
        for arg in node.property("groupBy").map_or(&[][..], |p| &p.args[..]) {
            match arg {
                PV::TimeDimension { length, offset } => {
                    if group_time.is_some() {
                        return Err("groupBy cannot have more than one time dimension".into());
                    }
                    group_time = Some((*length, *offset));
                }
                PV::Str(tag) => dimensions.push(quote_ident(tag)),
                PV::Star => dimensions.push("*".into()),
                other => return Err(format!("invalid groupBy dimension {other:?}")),
            }
        }
        let fill = match node.property("fill").and_then(|p| p.args.first()) {
            None => clauses.fill,
            Some(PV::Str(s)) if matches!(s.as_str(), "null" | "none" | "previous" | "linear") => {
                Some(format!("fill({s})"))
            }
            Some(PV::Int(i)) => Some(format!("fill({i})")),
            Some(PV::Float(f)) => Some(format!("fill({f})")),
            Some(other) => return Err(format!("unexpected fill option {other:?}")),
        };
        let dur = |name: &str| match node.property(name).and_then(|p| p.args.first()) {
            Some(PV::Duration(d)) => *d,
            _ => 0,
        };
        let every = dur("every");
        let cron = match node.property("cron").and_then(|p| p.args.first()) {
            Some(PV::Str(expr)) => Some(Cron::parse(expr)?),
            _ => None,
        };
        if every <= 0 && cron.is_none() {
            return Err("must define one of 'every' or 'cron'".into());
        }
        Ok(BatchQuery {
            head: clauses.head,
            condition: clauses.condition,
            dimensions,
            group_time,
            align_group: node.property("alignGroup").is_some(),
            fill,
            tail: clauses.tail,
            period: dur("period"),
            every,
            offset: dur("offset"),
            align: node.property("align").is_some(),
            cluster: match node.property("cluster").and_then(|p| p.args.first()) {
                Some(PV::Str(s)) => s.clone(),
                _ => String::new(),
            },
            by_name: node.property("groupByMeasurement").is_some(),
            cron,
        })
    }

    /// True when batches are grouped by time: their times are their points', not the
    /// query's stop.
    pub fn grouped_by_time(&self) -> bool {
        self.group_time.is_some()
    }

    /// The run due at `tick` (ns): its start and stop, as Kapacitor computes them.
    pub fn range(&self, tick: i64) -> (i64, i64) {
        let stop = tick - self.offset;
        (stop - self.period, stop)
    }

    /// The first tick after `now` (ns): the cron schedule's next, else on multiples of
    /// `every` with `.align()`, else `every` after `last` (or after `now` for the first).
    pub fn next_tick(&self, now: i64, last: Option<i64>) -> i64 {
        if let Some(c) = &self.cron {
            return c.next_after(last.map_or(now, |l| l.max(now)));
        }
        if self.align {
            (now.div_euclid(self.every) + 1) * self.every
        } else {
            last.map_or(now + self.every, |l| l + self.every)
        }
    }

    /// The ranges of the runs whose ticks fall in `(start, stop]` and have happened by `now`
    /// (`record batch`), as Kapacitor's `Queries` lists them.
    pub fn ranges(&self, start: i64, stop: i64, now: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut current = start;
        loop {
            current = self.next_tick(current, Some(current));
            if current > stop || current - self.offset > now {
                return out;
            }
            out.push(self.range(current));
        }
    }

    /// The statement for the range `[start, stop)`.
    pub fn render(&self, start: i64, stop: i64) -> String {
        let mut q = self.head.trim_end().to_owned();
        q.push_str(" WHERE ");
        if let Some(c) = &self.condition {
            q.push_str(&format!("({}) AND ", c.trim()));
        }
        q.push_str(&format!(
            "time >= '{}' AND time < '{}'",
            crate::time::format_rfc3339_nanos(start),
            crate::time::format_rfc3339_nanos(stop)
        ));
        let mut dims = Vec::new();
        if let Some((length, offset)) = self.group_time {
            let offset = if self.align_group && length > 0 {
                start.rem_euclid(length)
            } else {
                offset
            };
            dims.push(format!(
                "time({}, {})",
                influxql_duration(length),
                influxql_duration(offset)
            ));
        }
        dims.extend(self.dimensions.iter().cloned());
        if !dims.is_empty() {
            q.push_str(" GROUP BY ");
            q.push_str(&dims.join(", "));
        }
        if let Some(f) = &self.fill {
            q.push(' ');
            q.push_str(f);
        }
        if !self.tail.trim().is_empty() {
            q.push(' ');
            q.push_str(self.tail.trim());
        }
        q
    }
}

/// InfluxDB's answer to one statement (`{"series": [...], "error"?}`) as batches: one per
/// series, its group all of the series' tags (and the name with `byName`); numbers become
/// floats and nulls are left out, as in Kapacitor. A batch's time is its latest point's
/// ([`NO_TIME`] when it has none): the host replaces it with the query's stop unless the
/// query groups by time.
pub fn result_to_batches(result: &serde_json::Value, by_name: bool) -> Result<Vec<Batch>, String> {
    if let Some(e) = result.get("error").and_then(|e| e.as_str()) {
        return Err(e.to_owned());
    }
    let mut out = Vec::new();
    for s in result["series"].as_array().into_iter().flatten() {
        let name = Name::new(s["name"].as_str().unwrap_or(""));
        let mut tags: Vec<(Name, Box<str>)> = s["tags"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (Name::new(k), Box::<str>::from(v.as_str().unwrap_or(""))))
            .collect();
        tags.sort_by_key(|t| t.0);
        let series = Arc::new(Series::new(name, tags.clone()));
        let group = GroupKey::from_parts(by_name.then_some(name), tags);
        let mut batch = Batch::new(name, NO_TIME, group, by_name);
        let columns: Vec<Name> = s["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| Name::new(c.as_str().unwrap_or("")))
            .collect();
        let time_col = Name::new("time");
        for row in s["values"].as_array().into_iter().flatten() {
            let mut time = NO_TIME;
            let mut fields = Fields::new();
            for (c, v) in columns.iter().zip(row.as_array().into_iter().flatten()) {
                if *c == time_col {
                    time = match v {
                        serde_json::Value::Number(n) => n.as_i64().unwrap_or(NO_TIME),
                        serde_json::Value::String(t) => crate::time::parse_rfc3339(t)
                            .ok_or_else(|| format!("unexpected time format: {t:?}"))?,
                        other => return Err(format!("unexpected time value: {other}")),
                    };
                    continue;
                }
                let v = match v {
                    serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                    serde_json::Value::String(s) => Value::Str(s.as_str().into()),
                    serde_json::Value::Bool(b) => Value::Bool(*b),
                    _ => continue,
                };
                fields.push((*c, v));
            }
            if fields.is_empty() {
                continue;
            }
            fields.sort_by_key(|f| f.0);
            batch.tmax = batch.tmax.max(time);
            batch.points.push(BatchPoint {
                time,
                series: series.clone(),
                fields,
            });
        }
        out.push(batch);
    }
    Ok(out)
}

/// The database and retention policy of a statement's one source (`FROM "db"."rp"."m"`), as
/// an ad-hoc query (`record query`, `replay-live query`) must name them.
pub fn source_dbrp(text: &str) -> Result<(String, String), String> {
    let unqualified =
        || "could not determine database and retention policy. Is the query fully qualified?";
    let head = Clauses::find(text)?.head;
    let b = head.as_bytes();
    // The top-level FROM: outside quotes and parentheses.
    let (mut i, mut depth, mut from) = (0, 0i32, None);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += usize::from(b[i] == b'\\') + 1;
                }
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            c if depth == 0
                && c.is_ascii_alphabetic()
                && (i == 0 || !is_word(b[i - 1]))
                && head[i..].len() > 4
                && head[i..i + 4].eq_ignore_ascii_case("from")
                && !is_word(b[i + 4]) =>
            {
                from = Some(i + 4);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let source = head[from.ok_or_else(unqualified)?..].trim();
    // Dotted parts, each bare or double-quoted.
    let mut parts: Vec<String> = Vec::new();
    let mut rest = source;
    loop {
        let (part, after) = if let Some(q) = rest.strip_prefix('"') {
            let mut part = String::new();
            let mut chars = q.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => part.extend(chars.next().map(|c| c.1)),
                    Some((j, '"')) => break j + 1,
                    Some((_, c)) => part.push(c),
                    None => return Err("failed to parse InfluxQL query: unterminated quote".into()),
                }
            };
            (part, &q[end..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None => {
                if after.trim_start().starts_with(',') {
                    return Err(unqualified().into());
                }
                break;
            }
        }
    }
    match parts.as_slice() {
        [db, rp, _] if !db.is_empty() && !rp.is_empty() => Ok((db.clone(), rp.clone())),
        _ => Err(unqualified().into()),
    }
}

/// A `.cron()` schedule, read as Kapacitor's (gorhill/cronexpr) reads it: 5 fields (minute to
/// day of week), 6 (and a year) or 7 (seconds first), or `@hourly`-style names; days of the
/// week 0-7 with Sunday 0 and 7; times in the server's local time zone.
#[derive(Clone, Debug)]
pub struct Cron {
    text: String,
    schedule: cron::Schedule,
}

impl PartialEq for Cron {
    fn eq(&self, other: &Cron) -> bool {
        self.text == other.text
    }
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let converted = match fields.as_slice() {
            [alias] if alias.starts_with('@') => match *alias {
                "@annually" => "@yearly".to_owned(),
                a => a.to_owned(),
            },
            [m, h, dom, mon, dow] => format!("0 {m} {h} {dom} {mon} {}", weekdays(dow)?),
            [m, h, dom, mon, dow, year] => {
                format!("0 {m} {h} {dom} {mon} {} {year}", weekdays(dow)?)
            }
            [s, m, h, dom, mon, dow, year] => {
                format!("{s} {m} {h} {dom} {mon} {} {year}", weekdays(dow)?)
            }
            _ => return Err(format!("invalid cron expression {text:?}: 5 to 7 fields")),
        };
        let schedule = converted
            .parse::<cron::Schedule>()
            .map_err(|e| format!("invalid cron expression {text:?}: {e}"))?;
        Ok(Cron {
            text: text.to_owned(),
            schedule,
        })
    }

    /// The first time of the schedule after `ns` (i64::MAX when there is none).
    pub fn next_after(&self, ns: i64) -> i64 {
        let after = chrono::DateTime::from_timestamp_nanos(ns).with_timezone(&chrono::Local);
        self.schedule
            .after(&after)
            .next()
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(i64::MAX)
    }
}

/// Day-of-week numbers from cronexpr's 0-7 (Sunday 0 or 7) to the cron crate's 1-7 (Sunday 1);
/// names, `*` and `?` pass, steps keep their number.
fn weekdays(field: &str) -> Result<String, String> {
    let day = |d: &str| -> Result<String, String> {
        match d.parse::<u32>() {
            Ok(n @ 0..=6) => Ok((n + 1).to_string()),
            Ok(7) => Ok("1".into()),
            Ok(n) => Err(format!("day of week {n} is out of range 0-7")),
            Err(_) => Ok(d.to_owned()),
        }
    };
    let items: Result<Vec<String>, String> = field
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            let range = match range.split_once('-') {
                Some((a, b)) => format!("{}-{}", day(a)?, day(b)?),
                None => day(range)?,
            };
            Ok(match step {
                Some(s) => format!("{range}/{s}"),
                None => range,
            })
        })
        .collect();
    Ok(items?.join(","))
}

/// InfluxQL's duration literal: the largest unit that divides it.
fn influxql_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    for (unit, size) in [
        ("w", 604_800_000_000_000),
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("u", 1_000),
    ] {
        if ns % size == 0 {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{ns}ns")
}

/// InfluxQL's identifier quoting.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A SELECT statement cut at its top-level clauses.
struct Clauses {
    head: String,
    condition: Option<String>,
    fill: Option<String>,
    tail: String,
}

impl Clauses {
    fn find(text: &str) -> Result<Clauses, String> {
        let t = text.trim().trim_end_matches(';');
        if !t.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("select")) {
            return Err(format!("query is not a select statement {t:?}"));
        }
        // Top-level keywords: outside strings, identifiers, regexes and parentheses.
        let b = t.as_bytes();
        let mut marks: Vec<(usize, &'static str)> = Vec::new();
        let (mut i, mut depth) = (0, 0i32);
        let mut prev_op = false;
        while i < b.len() {
            let c = b[i];
            match c {
                b'\'' | b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != c {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    if i >= b.len() {
                        return Err("failed to parse InfluxQL query: unterminated quote".into());
                    }
                }
                b'/' if prev_op => {
                    i += 1;
                    while i < b.len() && b[i] != b'/' {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ if depth == 0 && c.is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1])) => {
                    let end = (i..b.len()).find(|&j| !is_word(b[j])).unwrap_or(b.len());
                    let word = t[i..end].to_ascii_uppercase();
                    let next = t[end..].trim_start();
                    let kw = match word.as_str() {
                        "WHERE" => Some("where"),
                        "GROUP" if next.to_ascii_uppercase().starts_with("BY") => Some("group"),
                        "FILL" if next.starts_with('(') => Some("fill"),
                        "ORDER" if next.to_ascii_uppercase().starts_with("BY") => Some("tail"),
                        "LIMIT" | "OFFSET" | "SLIMIT" | "SOFFSET" => Some("tail"),
                        "TZ" if next.starts_with('(') => Some("tail"),
                        _ => None,
                    };
                    if let Some(k) = kw {
                        marks.push((i, k));
                    }
                    i = end;
                    prev_op = false;
                    continue;
                }
                _ => {}
            }
            if !c.is_ascii_whitespace() {
                prev_op = i > 0 && matches!((b[i - 1], c), (b'=', b'~') | (b'!', b'~'));
            }
            i += 1;
        }
        let first = |k: &str| marks.iter().find(|m| m.1 == k).map(|m| m.0);
        let end_of = |start: usize| {
            marks
                .iter()
                .map(|m| m.0)
                .filter(|&p| p > start)
                .min()
                .unwrap_or(t.len())
        };
        let head_end = marks.first().map_or(t.len(), |m| m.0);
        let condition = first("where").map(|w| t[w + 5..end_of(w)].to_owned());
        let fill = first("fill").map(|f| t[f..end_of(f)].trim().to_owned());
        let tail = first("tail").map_or(String::new(), |p| t[p..].to_owned());
        Ok(Clauses {
            head: t[..head_end].to_owned(),
            condition,
            fill,
            tail,
        })
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{BuildOptions, TaskType, compile};

    fn query(script: &str) -> BatchQuery {
        let opts = BuildOptions {
            task_type: Some(TaskType::Batch),
            ..BuildOptions::default()
        };
        let plan = compile(script, &opts).unwrap_or_else(|d| panic!("{}", d.one_line(script)));
        let node = plan
            .nodes
            .iter()
            .find(|n| n.kind == crate::pipeline::schema::NodeKind::Query)
            .unwrap();
        BatchQuery::from_node(node).unwrap()
    }

    const T0: i64 = 1_700_000_000_000_000_000;

    #[test]
    fn flux_queries_are_refused_by_name() {
        let opts = BuildOptions {
            task_type: Some(TaskType::Batch),
            ..BuildOptions::default()
        };
        let script =
            "batch|queryFlux('from(bucket: \"b\") |> range(start: -1m)').period(1m).every(1m)";
        let plan = compile(script, &opts).unwrap_or_else(|d| panic!("{}", d.one_line(script)));
        let node = plan
            .nodes
            .iter()
            .find(|n| n.kind == crate::pipeline::schema::NodeKind::QueryFlux)
            .unwrap();
        let err = BatchQuery::from_node(node).err().unwrap();
        assert!(err.starts_with("queryFlux nodes do not run yet"), "{err}");
    }

    #[test]
    fn rewrites_the_statement_for_each_run() {
        let q = query(
            "batch|query('SELECT mean(\"value\") FROM \"telegraf\".\"autogen\".cpu WHERE \"cpu\" = \\'cpu-total\\' GROUP BY x LIMIT 5')\
             .period(5m).every(1m).offset(10s).groupBy(time(1m), 'host').fill(0)",
        );
        let (start, stop) = q.range(T0);
        assert_eq!(stop - start, 300_000_000_000);
        assert_eq!(
            q.render(start, stop),
            "SELECT mean(\"value\") FROM \"telegraf\".\"autogen\".cpu WHERE (\"cpu\" = 'cpu-total') AND \
             time >= '2023-11-14T22:08:10Z' AND time < '2023-11-14T22:13:10Z' \
             GROUP BY time(1m, 0s), \"host\" fill(0) LIMIT 5"
        );
        assert!(q.grouped_by_time());
    }

    #[test]
    fn an_ad_hoc_query_names_its_database_and_retention_policy() {
        let dbrp = |q: &str| source_dbrp(q);
        assert_eq!(
            dbrp("SELECT mean(v) FROM \"tele.graf\".autogen.\"cpu\" WHERE time > now() - 1h"),
            Ok(("tele.graf".into(), "autogen".into()))
        );
        assert_eq!(
            dbrp("select * from db.rp.m group by *"),
            Ok(("db".into(), "rp".into()))
        );
        for bad in [
            "SELECT v FROM m",
            "SELECT v FROM db..m",
            "SELECT v FROM db.rp.m, db.rp.n",
            "SELECT v",
        ] {
            assert!(dbrp(bad).unwrap_err().contains("fully qualified"), "{bad}");
        }
    }

    #[test]
    fn cron_schedules_tick_as_kapacitors() {
        // 2023-11-14T22:13:20Z; the server's zone may not be UTC, so whole hours only.
        let hourly = query("batch|query('SELECT v FROM m').period(1h).cron('0 * * * *')");
        let next = hourly.next_tick(T0, None);
        assert!(next > T0 && next - T0 <= 3_600_000_000_000);
        assert_eq!(next % 60_000_000_000, 0);
        assert_eq!(hourly.next_tick(next, Some(next)) - next, 3_600_000_000_000);
        // Seconds first with seven fields; a step of ten.
        let c = Cron::parse("*/10 * * * * * *").unwrap();
        assert_eq!(c.next_after(T0) - T0, 10_000_000_000);
        // Kapacitor's weekdays: 0 and 7 are Sunday, 1-5 Monday to Friday.
        assert_eq!(weekdays("0,7").unwrap(), "1,1");
        assert_eq!(weekdays("1-5/2").unwrap(), "2-6/2");
        assert_eq!(weekdays("MON-FRI").unwrap(), "MON-FRI");
        let weekday = Cron::parse("0 12 * * 1-5").unwrap();
        let t = chrono::DateTime::from_timestamp_nanos(weekday.next_after(T0))
            .with_timezone(&chrono::Local);
        use chrono::Datelike;
        assert!(t.weekday().number_from_monday() <= 5, "{t}");
        assert!(Cron::parse("* * *").is_err());
        assert!(Cron::parse("0 12 * * 9").is_err());
        assert_eq!(
            hourly
                .ranges(T0, T0 + 3 * 3_600_000_000_000, i64::MAX)
                .len(),
            3
        );
    }

    #[test]
    fn keywords_inside_strings_and_regexes_are_not_clauses() {
        let q = query(
            "batch|query('SELECT v FROM m WHERE t =~ /where|group by/ AND s = \\'limit 1\\'').period(1m).every(1m)",
        );
        let text = q.render(0, 60_000_000_000);
        assert_eq!(
            text,
            "SELECT v FROM m WHERE (t =~ /where|group by/ AND s = 'limit 1') AND \
             time >= '1970-01-01T00:00:00Z' AND time < '1970-01-01T00:01:00Z'"
        );
    }

    #[test]
    fn aligned_schedules_tick_on_multiples() {
        let q = query("batch|query('SELECT v FROM m').period(1m).every(1m).align()");
        assert_eq!(q.next_tick(90_000_000_000, None), 120_000_000_000);
        let q = query("batch|query('SELECT v FROM m').period(1m).every(1m)");
        assert_eq!(q.next_tick(90_000_000_000, None), 150_000_000_000);
        assert_eq!(q.next_tick(0, Some(150_000_000_000)), 210_000_000_000);
    }

    #[test]
    fn past_runs_are_listed_for_recording() {
        let q = query("batch|query('SELECT v FROM m').period(2m).every(1m).align()");
        let m = 60_000_000_000;
        assert_eq!(
            q.ranges(30_000_000_000, 3 * m, 10 * m),
            vec![(-m, m), (0, 2 * m), (m, 3 * m)]
        );
        assert_eq!(q.ranges(0, 10 * m, 2 * m).len(), 2, "not past now");
    }

    #[test]
    fn results_become_batches() {
        let result = serde_json::json!({"statement_id": 0, "series": [
            {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "mean", "s"],
             "values": [[60_000_000_000i64, 1, "x"], [120_000_000_000i64, null, null]]},
            {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "mean"],
             "values": [["1970-01-01T00:03:00Z", 2.5]]}]});
        let bs = result_to_batches(&result, false).unwrap();
        assert_eq!(bs.len(), 2);
        assert_eq!(bs[0].points.len(), 1, "a row of nulls is no point");
        assert_eq!(bs[0].points[0].fields[0].1, Value::Float(1.0));
        assert_eq!(bs[0].tmax, 60_000_000_000);
        assert_eq!(bs[1].tmax, 180_000_000_000);
        assert_eq!(bs[1].group.tags().len(), 1);
        let err = result_to_batches(
            &serde_json::json!({"error": "database not found: x"}),
            false,
        );
        assert_eq!(err.unwrap_err(), "database not found: x");
    }
}
