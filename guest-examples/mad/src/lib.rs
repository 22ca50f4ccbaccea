//! `@mad().field('value').size(50).threshold(3.5)`: the modified z-score of Iglewicz and
//! Hoaglin, 0.6745 (x - median) / MAD over the group's last `size` values. Robust where the
//! mean and standard deviation are dragged by the outliers themselves.

use farad_udf_sdk::detector::{Score, WindowDetector};
use farad_udf_sdk::rolling::{Rolling, median};

pub struct Mad;

impl Score for Mad {
    const DEFAULT_THRESHOLD: f64 = 3.5;
    const MIN_VALUES: usize = 3;

    fn score(w: &Rolling, x: f64) -> Option<f64> {
        let mut values: Vec<f64> = w.values().collect();
        let med = median(&mut values)?;
        let mut dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
        let mad = median(&mut dev)?;
        (mad > 0.0).then(|| 0.6745 * (x - med) / mad)
    }
}

farad_udf_sdk::export_udf!(WindowDetector<Mad>);

#[cfg(test)]
mod tests {
    use super::*;
    use farad_udf_sdk::Value;
    use farad_udf_sdk::testing::{Field, Harness, TestPoint};

    #[test]
    fn robust_to_earlier_outliers() {
        let mut h = Harness::<WindowDetector<Mad>>::new(&[
            ("field", &[Value::Str("latency".into())]),
            ("size", &[Value::Int(15)]),
        ])
        .unwrap();
        // Two large outliers close together: a mean/stddev window would be inflated by the
        // first and miss the second; the median and MAD are not.
        let pts: Vec<TestPoint> = (0..30)
            .map(|i| {
                let v = match i {
                    20 | 22 => 500.0,
                    _ => 100.0 + (i % 4) as f64,
                };
                TestPoint::new("http", i).float("latency", v)
            })
            .collect();
        let out = h.points(&pts).unwrap();
        let flagged: Vec<i64> = out
            .iter()
            .filter(|p| p.get("anomaly") == Some(&Field::Bool(true)))
            .map(|p| p.time)
            .collect();
        assert_eq!(flagged, [20, 22]);
    }
}
