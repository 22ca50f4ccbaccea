//! `@movingAverage().field('value').size(10).as('avg')`: for each point, the average of the
//! field over the group's last `size` points, as Kapacitor's `moving_avg` UDF example computes
//! it (a running update, emitted from the first point on, in the point's series and group).

use farad_udf_sdk::{
    Edge, Emitter, Error, Group, Info, Options, PerGroup, PointRef, StateReader, StateWriter, Udf,
    ValueType,
};
use std::collections::VecDeque;

#[derive(Default)]
struct Window {
    values: VecDeque<f64>,
    avg: f64,
}

impl Window {
    fn update(&mut self, size: usize, value: f64) -> f64 {
        let l = self.values.len() as f64;
        if self.values.len() == size {
            let oldest = self.values.pop_front().unwrap_or(0.0);
            self.avg += value / l - oldest / l;
        } else {
            self.avg = (value + l * self.avg) / (l + 1.0);
        }
        self.values.push_back(value);
        self.avg
    }
}

pub struct MovingAverage {
    field: String,
    size: usize,
    as_: String,
    windows: PerGroup<Window>,
}

const STATE_VERSION: u32 = 1;

impl Udf for MovingAverage {
    fn info() -> Info {
        Info::new(Edge::Stream, Edge::Stream)
            .option("field", &[ValueType::Str], "the field to average")
            .option("size", &[ValueType::Int], "how many points to average over")
            .option("as", &[ValueType::Str], "the output field (default `avg`)")
    }

    fn new(o: &Options) -> Result<Self, Error> {
        let field = o.string("field")?.ok_or("option .field() is required")?;
        let size = o.int("size")?.ok_or("option .size() is required")?;
        if size < 1 {
            return Err(format!("size must be at least 1, got {size}").into());
        }
        Ok(MovingAverage {
            field: field.to_owned(),
            size: size as usize,
            as_: o.string("as")?.unwrap_or("avg").to_owned(),
            windows: PerGroup::new(),
        })
    }

    fn point(&mut self, p: &PointRef<'_>, out: &mut Emitter) -> Result<(), Error> {
        let Some(value) = p.number(&self.field) else {
            return Ok(());
        };
        let avg = self
            .windows
            .get_or_default(&p.group())
            .update(self.size, value);
        out.point(p).float(&self.as_, avg);
        Ok(())
    }

    fn forget(&mut self, group: &Group<'_>) {
        self.windows.remove(group);
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = StateWriter::new(STATE_VERSION);
        w.u64(self.windows.len() as u64);
        for (id, win) in self.windows.iter() {
            w.str(id).f64(win.avg);
            w.f64s(&win.values.iter().copied().collect::<Vec<_>>());
        }
        w.finish()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), Error> {
        let mut r = StateReader::new(state, STATE_VERSION)?;
        let n = r.u64()?;
        for _ in 0..n {
            let id = r.str()?;
            let avg = r.f64()?;
            let mut values: VecDeque<f64> = r.f64s()?.into();
            // A smaller size than before keeps the newest values.
            while values.len() > self.size {
                values.pop_front();
            }
            self.windows.insert(id, Window { values, avg });
        }
        Ok(())
    }
}

farad_udf_sdk::export_udf!(MovingAverage);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_udf_sdk::Value;
    use farad_udf_sdk::testing::{Harness, TestPoint};

    fn harness(size: i64) -> Harness<MovingAverage> {
        Harness::new(&[
            ("field", &[Value::Str("value".into())]),
            ("size", &[Value::Int(size)]),
            ("as", &[Value::Str("mean".into())]),
        ])
        .unwrap()
    }

    fn pt(t: i64, group: &str, v: f64) -> TestPoint {
        TestPoint::new("cpu", t)
            .tag("host", group)
            .group(&format!("host={group}"))
            .float("value", v)
    }

    #[test]
    fn averages_the_last_size_points_per_group() {
        let mut h = harness(3);
        let out = h
            .points(&[
                pt(1, "a", 1.0),
                pt(2, "a", 2.0),
                pt(3, "b", 10.0),
                pt(4, "a", 3.0),
                pt(5, "a", 7.0),
            ])
            .unwrap();
        let means: Vec<f64> = out.iter().map(|p| p.number("mean").unwrap()).collect();
        assert_eq!(means, [1.0, 1.5, 10.0, 2.0, 4.0]);
        assert_eq!(out[4].time, 5);
        assert_eq!(out[4].group, "host=a");
        assert_eq!(out[4].tags, [("host".to_owned(), "a".to_owned())]);
        assert_eq!(out[4].fields.len(), 1, "only the average is emitted");
    }

    #[test]
    fn state_survives_snapshot_and_restore() {
        let mut h = harness(2);
        h.points(&[pt(1, "a", 4.0), pt(2, "a", 6.0)]).unwrap();
        let state = h.snapshot();
        let mut h2 = harness(2);
        h2.restore(&state).unwrap();
        let out = h2.points(&[pt(3, "a", 10.0)]).unwrap();
        assert_eq!(out[0].number("mean"), Some(8.0));
    }

    #[test]
    fn forgotten_groups_start_again() {
        let mut h = harness(2);
        h.points(&[pt(1, "a", 4.0)]).unwrap();
        h.forget(&["host=a"]).unwrap();
        let out = h.points(&[pt(2, "a", 10.0)]).unwrap();
        assert_eq!(out[0].number("mean"), Some(10.0));
    }

    #[test]
    fn options_are_checked() {
        let err = Harness::<MovingAverage>::new(&[("field", &[Value::Str("v".into())])])
            .err()
            .unwrap();
        assert!(err.0.contains(".size() is required"), "{err}");
    }
}
