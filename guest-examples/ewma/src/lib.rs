//! `@ewma().field('value').alpha(0.3).k(3.0).warmup(10)`: an exponentially weighted moving
//! average forecasts each value, with bands k exponentially weighted standard deviations wide;
//! a value outside the bands is an anomaly. Each point comes out with `forecast`, `lower`,
//! `upper` and `anomaly` (after `warmup` values of the group).

use farad_udf_sdk::{
    Edge, Emitter, Error, Group, Info, Options, PerGroup, PointRef, StateReader, StateWriter, Udf,
    ValueType,
};

#[derive(Clone, Copy, Default)]
struct Ewma {
    mean: f64,
    var: f64,
    n: u64,
}

impl Ewma {
    fn update(&mut self, alpha: f64, x: f64) {
        if self.n == 0 {
            self.mean = x;
        } else {
            let d = x - self.mean;
            self.mean += alpha * d;
            self.var = (1.0 - alpha) * (self.var + alpha * d * d);
        }
        self.n += 1;
    }
}

pub struct EwmaBands {
    field: String,
    alpha: f64,
    k: f64,
    warmup: u64,
    groups: PerGroup<Ewma>,
}

const STATE_VERSION: u32 = 1;

impl Udf for EwmaBands {
    fn info() -> Info {
        Info::new(Edge::Stream, Edge::Stream)
            .option("field", &[ValueType::Str], "the field to forecast")
            .option(
                "alpha",
                &[ValueType::Double],
                "smoothing, 0 < alpha <= 1 (default 0.3)",
            )
            .option(
                "k",
                &[ValueType::Double],
                "band half-width in standard deviations (default 3)",
            )
            .option(
                "warmup",
                &[ValueType::Int],
                "values before bands are used (default 10)",
            )
    }

    fn new(o: &Options) -> Result<Self, Error> {
        let alpha = o.float("alpha")?.unwrap_or(0.3);
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(format!("alpha must be in (0, 1], got {alpha}").into());
        }
        Ok(EwmaBands {
            field: o
                .string("field")?
                .ok_or("option .field() is required")?
                .to_owned(),
            alpha,
            k: o.float("k")?.unwrap_or(3.0),
            warmup: o.int("warmup")?.unwrap_or(10).max(1) as u64,
            groups: PerGroup::new(),
        })
    }

    fn point(&mut self, p: &PointRef<'_>, out: &mut Emitter) -> Result<(), Error> {
        let Some(x) = p.number(&self.field) else {
            return Ok(());
        };
        let e = self.groups.get_or_default(&p.group());
        let before = *e;
        e.update(self.alpha, x);
        let b = out.copy(p);
        if before.n >= self.warmup {
            let band = self.k * before.var.sqrt();
            let (lower, upper) = (before.mean - band, before.mean + band);
            b.float("forecast", before.mean)
                .float("lower", lower)
                .float("upper", upper)
                .bool("anomaly", x < lower || x > upper);
        }
        Ok(())
    }

    fn forget(&mut self, group: &Group<'_>) {
        self.groups.remove(group);
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = StateWriter::new(STATE_VERSION);
        w.u64(self.groups.len() as u64);
        for (id, e) in self.groups.iter() {
            w.str(id).f64(e.mean).f64(e.var).u64(e.n);
        }
        w.finish()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), Error> {
        let mut r = StateReader::new(state, STATE_VERSION)?;
        for _ in 0..r.u64()? {
            let id = r.str()?;
            let e = Ewma {
                mean: r.f64()?,
                var: r.f64()?,
                n: r.u64()?,
            };
            self.groups.insert(id, e);
        }
        Ok(())
    }
}

farad_udf_sdk::export_udf!(EwmaBands);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_udf_sdk::Value;
    use farad_udf_sdk::testing::{Field, Harness, TestPoint};

    #[test]
    fn a_level_shift_leaves_the_bands() {
        let mut h = Harness::<EwmaBands>::new(&[
            ("field", &[Value::Str("v".into())]),
            ("alpha", &[Value::Double(0.2)]),
        ])
        .unwrap();
        let pts: Vec<TestPoint> = (0..40)
            .map(|i| {
                let v = if i < 30 { 20.0 + (i % 3) as f64 } else { 60.0 };
                TestPoint::new("load", i).float("v", v)
            })
            .collect();
        let out = h.points(&pts).unwrap();
        assert!(out[5].get("forecast").is_none(), "no bands during warm-up");
        let first = out
            .iter()
            .find(|p| p.get("anomaly") == Some(&Field::Bool(true)))
            .unwrap();
        assert_eq!(first.time, 30);
        assert!(first.number("upper").unwrap() < 60.0);
        // The state carries over a snapshot.
        let state = h.snapshot();
        let mut h2 = Harness::<EwmaBands>::new(&[("field", &[Value::Str("v".into())])]).unwrap();
        h2.restore(&state).unwrap();
        let out = h2
            .points(&[TestPoint::new("load", 41).float("v", 60.0)])
            .unwrap();
        assert!(out[0].number("forecast").unwrap() > 40.0);
    }
}
