//! `@outliers().field('value').scale(1.5)` on a batch edge: Kapacitor's `outliers` UDF example.
//! For each batch, the quartiles of the field (Q1 the median of the lower half, Q3 of the upper
//! half, the median itself left out of both when the count is odd) give the fences
//! Q1 - scale·IQR and Q3 + scale·IQR; the batch goes on with only the points outside them.

use farad_udf_sdk::rolling::median;
use farad_udf_sdk::{BatchRef, Edge, Emitter, Error, Info, Options, Udf, ValueType};

pub struct Outliers {
    field: String,
    scale: f64,
}

/// Tukey's fences of `values`; `None` below four values.
pub fn fences(values: &mut [f64], scale: f64) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 4 {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let half = n / 2;
    let q1 = median(&mut values[..half].to_vec())?;
    let q3 = median(&mut values[n - half..].to_vec())?;
    let iqr = q3 - q1;
    Some((q1 - scale * iqr, q3 + scale * iqr))
}

impl Udf for Outliers {
    fn info() -> Info {
        Info::new(Edge::Batch, Edge::Batch)
            .option(
                "field",
                &[ValueType::Str],
                "the field to look for outliers in",
            )
            .option(
                "scale",
                &[ValueType::Double],
                "how many IQRs past the quartiles (default 1.5)",
            )
    }

    fn new(o: &Options) -> Result<Self, Error> {
        let scale = o.float("scale")?.unwrap_or(1.5);
        if scale.is_nan() || scale < 0.0 {
            return Err(format!("scale must not be negative, got {scale}").into());
        }
        Ok(Outliers {
            field: o
                .string("field")?
                .ok_or("option .field() is required")?
                .to_owned(),
            scale,
        })
    }

    fn batch(&mut self, b: &BatchRef<'_>, out: &mut Emitter) -> Result<(), Error> {
        let mut values: Vec<f64> = b.points().filter_map(|p| p.number(&self.field)).collect();
        out.begin_batch_like(b);
        if let Some((low, high)) = fences(&mut values, self.scale) {
            for p in b.points() {
                if p.number(&self.field).is_some_and(|v| v < low || v > high) {
                    out.copy(&p);
                }
            }
        }
        out.end_batch();
        Ok(())
    }
}

farad_udf_sdk::export_udf!(Outliers);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_udf_sdk::Value;
    use farad_udf_sdk::testing::{Harness, TestPoint};

    #[test]
    fn keeps_only_points_past_the_fences() {
        let mut h = Harness::<Outliers>::new(&[
            ("field", &[Value::Str("v".into())]),
            ("scale", &[Value::Double(1.5)]),
        ])
        .unwrap();
        let values = [10.0, 12.0, 11.0, 13.0, 12.0, 11.0, 40.0, 12.0, -20.0, 11.0];
        let pts: Vec<TestPoint> = values
            .iter()
            .enumerate()
            .map(|(i, v)| TestPoint::new("cpu", i as i64).float("v", *v))
            .collect();
        let out = h.batch("host=a", "cpu", 100, &pts).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].name.as_str(), out[0].tmax), ("cpu", 100));
        let times: Vec<i64> = out[0].points.iter().map(|p| p.time).collect();
        assert_eq!(times, [6, 8]);
    }

    #[test]
    fn quartiles_like_kapacitors_example() {
        // 1..=9: lower half 1..4 (Q1 2.5), upper half 6..9 (Q3 7.5), IQR 5.
        let mut v: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_eq!(fences(&mut v, 1.0), Some((-2.5, 12.5)));
    }
}
