//! `@zscore().field('value').size(100).threshold(3.0)`: how many standard deviations a value
//! lies from the mean of the group's last `size` values (Kapacitor's `sigma()`, over a window).

use farad_udf_sdk::detector::{Score, WindowDetector};
use farad_udf_sdk::rolling::Rolling;

pub struct ZScore;

impl Score for ZScore {
    const DEFAULT_THRESHOLD: f64 = 3.0;

    fn score(w: &Rolling, x: f64) -> Option<f64> {
        let (mean, sd) = (w.mean()?, w.stddev()?);
        (sd > 0.0).then(|| (x - mean) / sd)
    }
}

farad_udf_sdk::export_udf!(WindowDetector<ZScore>);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_udf_sdk::Value;
    use farad_udf_sdk::testing::{Field, Harness, TestPoint};

    #[test]
    fn flags_the_spike_and_only_it() {
        let mut h = Harness::<WindowDetector<ZScore>>::new(&[
            ("field", &[Value::Str("v".into())]),
            ("size", &[Value::Int(20)]),
            ("anomaliesOnly", &[]),
        ])
        .unwrap();
        let pts: Vec<TestPoint> = (0..40)
            .map(|i| {
                let v = if i == 30 { 95.0 } else { 50.0 + (i % 5) as f64 };
                TestPoint::new("cpu", i).group("host=a").float("v", v)
            })
            .collect();
        let out = h.points(&pts).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].time, 30);
        assert_eq!(out[0].get("anomaly"), Some(&Field::Bool(true)));
        assert!(out[0].number("score").unwrap() > 20.0);
        assert_eq!(
            out[0].number("v"),
            Some(95.0),
            "the point's own fields come along"
        );
    }
}
