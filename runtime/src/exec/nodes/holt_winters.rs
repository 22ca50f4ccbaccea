//! `holtWinters(field, h, m, interval)` and `holtWintersWithFit(...)`: InfluxQL's damped
//! Holt-Winters forecast of each batch, `h` values past its last point (with `WithFit`, the
//! fitted values of the batch too). Seasonal when `m` >= 2.
//!
//! Kapacitor runs InfluxDB's reducer; exact results depend on its every detail, all kept here:
//! the 2^4 grid of starting guesses, its Nelder-Mead optimizer (whose objective clamps and
//! rewrites the simplex vertex it is given) and Go's `math.Pow` by repeated squaring.

use crate::exec::groups::GroupTable;
use std::sync::Arc;

use super::NodeExec;
use crate::exec::{Msg, StreamPoint};
use crate::model::{Batch, BatchPoint, Fields, Name, Series, Value};
use crate::pipeline::{PlanNode, Value as PV};

pub struct HoltWinters {
    field: Name,
    out_name: Name,
    h: usize,
    m: usize,
    interval: i64,
    with_fit: bool,
    pending: super::SameTime,
}

impl HoltWinters {
    pub fn new(node: &PlanNode) -> Result<HoltWinters, String> {
        let Some(PV::Str(field)) = node.args.first() else {
            return Err(format!("{} needs a field name", node.method));
        };
        let int = |i: usize| match node.args.get(i) {
            Some(PV::Int(n)) => Ok(*n),
            _ => Err(format!(
                "{} needs an integer argument {}",
                node.method,
                i + 1
            )),
        };
        let interval = match node.args.get(3) {
            Some(PV::Duration(d)) if *d > 0 => *d,
            _ => return Err(format!("{} needs a positive interval", node.method)),
        };
        let out_name = match node.property("as").and_then(|p| p.args.first()) {
            Some(PV::Str(s)) => Name::new(s),
            _ => Name::new("holtWinters"),
        };
        Ok(HoltWinters {
            field: Name::new(field),
            out_name,
            h: int(1)?.max(0) as usize,
            m: int(2)?.max(0) as usize,
            interval,
            with_fit: node.method == "holtWintersWithFit",
            pending: super::SameTime::default(),
        })
    }
}

impl NodeExec for HoltWinters {
    fn groups(&self) -> Option<&dyn GroupTable> {
        Some(&self.pending)
    }

    fn groups_mut(&mut self) -> Option<&mut dyn GroupTable> {
        Some(&mut self.pending)
    }

    fn point(&mut self, p: StreamPoint, out: &mut Vec<Msg>) -> Result<(), String> {
        match self.pending.push_batch(p) {
            Some(b) => self.batch(b, out),
            None => Ok(()),
        }
    }

    fn batch(&mut self, b: Batch, out: &mut Vec<Msg>) -> Result<(), String> {
        let mut data = Vec::with_capacity(b.points.len());
        for p in &b.points {
            match p
                .fields
                .iter()
                .find(|(k, _)| *k == self.field)
                .map(|f| &f.1)
            {
                Some(Value::Float(v)) => data.push((p.time, *v)),
                Some(Value::Int(v)) => data.push((p.time, *v as f64)),
                Some(other) => {
                    return Err(format!(
                        "unsupported type {} for holtWinters",
                        other.type_name()
                    ));
                }
                None => {}
            }
        }
        let forecast = forecast(&data, self.h, self.m, self.interval, self.with_fit);
        let mut result = Batch::new(b.name, b.tmax, b.group.clone(), b.by_name);
        result.tags = b.tags.clone();
        let series = Arc::new(Series::new(b.name, b.tags.to_vec()));
        for (time, v) in forecast {
            let mut fields = Fields::new();
            fields.push((self.out_name, Value::Float(v)));
            result.points.push(BatchPoint {
                time,
                series: series.clone(),
                fields,
            });
        }
        out.push(Msg::Batch(result));
        Ok(())
    }
}

/// The forecast points (time, value) of `points`, which are in time order.
pub fn forecast(
    points: &[(i64, f64)],
    h: usize,
    m: usize,
    interval: i64,
    with_fit: bool,
) -> Vec<(i64, f64)> {
    let seasonal = m >= 2;
    if points.len() < 2 || (seasonal && points.len() < m) || h == 0 {
        return Vec::new();
    }
    let round = |t: i64| {
        let rem = t % interval;
        if rem > interval / 2 {
            (t / interval + 1) * interval
        } else {
            (t / interval) * interval
        }
    };
    let (start, stop) = (round(points[0].0), round(points[points.len() - 1].0));
    if (stop - start) / interval <= 0 {
        return Vec::new();
    }
    // One value per interval, NaN where none; later points in a taken bucket are dropped.
    let mut y = vec![points[0].1];
    let mut t = start;
    for &(pt, v) in &points[1..] {
        let rounded = round(pt);
        if rounded <= t {
            continue;
        }
        t += interval;
        while rounded != t {
            y.push(f64::NAN);
            t += interval;
        }
        y.push(v);
    }
    if seasonal && y.len() < m {
        // Fewer buckets than a season (InfluxDB would index past its data here).
        return Vec::new();
    }
    let model = Model { y: &y, seasonal };

    const WEIGHT: f64 = 0.5;
    let mut l0 = 0.0;
    let mut b0 = 0.0;
    let mut s = Vec::new();
    if seasonal {
        for &v in y.iter().take(m).filter(|v| !v.is_nan()) {
            l0 += (1.0 / m as f64) * v;
        }
        for i in 0..m {
            if m + i < y.len() && !y[i].is_nan() && !y[m + i].is_nan() {
                b0 += 1.0 / (m * m) as f64 * (y[m + i] - y[i]);
            }
        }
        s = (0..m)
            .map(|i| if y[i].is_nan() { 0.0 } else { y[i] / l0 })
            .collect();
    } else {
        l0 += WEIGHT * y[0];
        if !y[1].is_nan() {
            b0 = WEIGHT * (y[1] - y[0]);
        }
    }
    let mut params = vec![0.0; 6 + s.len()];
    params[4] = l0;
    params[5] = b0;
    params[6..].copy_from_slice(&s);

    // A grid of starting guesses for alpha, beta, gamma and phi: 0.3 and 0.7 each.
    let mut best: Option<(f64, Vec<f64>)> = None;
    let guesses = || {
        let mut g = Vec::new();
        let mut x = 0.3;
        while x < 1.0 {
            g.push(x);
            x += 0.4;
        }
        g
    };
    for &alpha in &guesses() {
        for &beta in &guesses() {
            for &gamma in &guesses() {
                for &phi in &guesses() {
                    params[..4].copy_from_slice(&[alpha, beta, gamma, phi]);
                    let (sse, p) = nelder_mead(|x| model.sse(x), &params, 1.0e-4, 1.0);
                    if best.as_ref().is_none_or(|(min, _)| sse < *min) {
                        best = Some((sse, p));
                    }
                }
            }
        }
    }
    let (_, mut best) = best.expect("the grid is not empty");
    let values = model.forecast(h, &mut best);
    if with_fit {
        let first = points[0].0;
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(i, v)| (first + interval * i as i64, *v))
            .collect()
    } else {
        let last = points[points.len() - 1].0;
        values[y.len()..]
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(i, v)| (last + interval * (i as i64 + 1), *v))
            .collect()
    }
}

struct Model<'a> {
    y: &'a [f64],
    seasonal: bool,
}

impl Model<'_> {
    /// The fitted values and `h` forecasts. Clamps alpha..phi into [0, 1] and uses the
    /// seasonal part of `params` as its ring buffer, as InfluxDB does (callers see both).
    fn forecast(&self, h: usize, params: &mut [f64]) -> Vec<f64> {
        for p in &mut params[..4] {
            *p = p.clamp(0.0, 1.0);
        }
        let (alpha, beta, gamma, phi) = (params[0], params[1], params[2], params[3]);
        let mut y_t = self.y[0];
        let mut phi_h = phi;
        let mut l_t = params[4];
        let mut b_t = params[5];
        let m = params.len() - 6;
        let mut so = 0;
        if self.seasonal {
            if m == 1 {
                params[6] = 1.0;
            }
            so = m - 1;
        }
        let n = self.y.len();
        let mut out = vec![0.0; n + h];
        out[0] = y_t;
        for t in 1..n + h {
            let (mut stm, mut stmh) = (1.0, 1.0);
            let seasons = &mut params[6..];
            if self.seasonal {
                let hm = t % m;
                stm = seasons[(t + so - m) % m];
                stmh = seasons[(t + so + hm - m) % m];
            }
            let l_prev = l_t;
            l_t = alpha * (y_t / stm) + (1.0 - alpha) * (l_prev + phi * b_t);
            let b_new = beta * (l_t - l_prev) + (1.0 - beta) * phi * b_t;
            let s_t = gamma * (y_t / (l_prev + phi * b_t)) + (1.0 - gamma) * stm;
            b_t = b_new;
            y_t = (l_t + phi_h * b_t) * stmh;
            phi_h += go_pow_int(phi, t as u64);
            if self.seasonal {
                seasons[(t + so) % m] = s_t;
                so += 1;
            }
            out[t] = y_t;
        }
        out
    }

    /// Sum of squared errors of the fit (infinite if the fit has a NaN where data is).
    fn sse(&self, params: &mut [f64]) -> f64 {
        let fit = self.forecast(0, params);
        let mut sse = 0.0;
        for (f, y) in fit.iter().zip(self.y) {
            if y.is_nan() {
                continue;
            }
            if f.is_nan() {
                return f64::INFINITY;
            }
            let d = f - y;
            sse += d * d;
        }
        sse
    }
}

/// Go's `math.Pow(x, n)` for a whole n >= 1: repeated squaring of the mantissa. Not always the
/// correctly rounded power, so results match Kapacitor's bit for bit only this way.
fn go_pow_int(x: f64, n: u64) -> f64 {
    if n == 0 || x == 1.0 {
        return 1.0;
    }
    if n == 1 {
        return x;
    }
    if x.is_nan() || x == 0.0 || x.is_infinite() {
        return x.powf(n as f64);
    }
    let (mut x1, mut xe) = frexp(x);
    let (mut a1, mut ae) = (1.0f64, 0i64);
    let mut i = n;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    ldexp(a1, ae)
}

/// x = frac * 2^exp with frac in [0.5, 1) (x finite and non-zero).
fn frexp(x: f64) -> (f64, i64) {
    let (mut x, mut exp) = (x, 0i64);
    if x.abs() < f64::MIN_POSITIVE {
        x *= (1u64 << 52) as f64;
        exp = -52;
    }
    let bits = x.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i64 - 1022;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, exp)
}

/// frac * 2^exp, rounding once as Go's `math.Ldexp` does.
fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || frac.is_nan() || frac.is_infinite() {
        return frac;
    }
    let (f, e) = frexp(frac);
    let exp = exp + e;
    if exp < -1075 {
        return 0.0f64.copysign(f);
    }
    if exp > 1024 {
        return f64::INFINITY.copysign(f);
    }
    // Split the scaling so each factor is a normal power of two.
    let mut x = f;
    let mut exp = exp;
    if exp < -1021 {
        x *= 2f64.powi(-53);
        exp += 53;
    }
    x * f64::from_bits(((exp + 1023) as u64) << 52)
}

/// InfluxDB's Nelder-Mead minimizer (reflection 1, contraction 0.5, expansion 2, at most 1000
/// iterations; stops when the vertex values' standard deviation falls below `epsilon`).
/// `f` may rewrite the vertex it evaluates.
fn nelder_mead(
    mut f: impl FnMut(&mut [f64]) -> f64,
    start: &[f64],
    epsilon: f64,
    scale: f64,
) -> (f64, Vec<f64>) {
    const ALPHA: f64 = 1.0;
    const BETA: f64 = 0.5;
    const GAMMA: f64 = 2.0;
    let n = start.len();
    let nf = n as f64;
    let pn = scale * ((nf + 1.0).sqrt() - 1.0 + nf) / (nf * 2f64.sqrt());
    let qn = scale * ((nf + 1.0).sqrt() - 1.0) / (nf * 2f64.sqrt());
    let mut v = vec![start.to_vec(); n + 1];
    for (i, row) in v.iter_mut().enumerate().skip(1) {
        for (j, x) in row.iter_mut().enumerate() {
            *x = if i - 1 == j { pn } else { qn } + start[j];
        }
    }
    let mut fv: Vec<f64> = v.iter_mut().map(|row| f(row)).collect();
    let (mut vr, mut ve, mut vc, mut vm) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for _ in 0..1000 {
        let (mut vg, mut vs) = (0, 0);
        for i in 0..=n {
            if fv[i] > fv[vg] {
                vg = i;
            }
            if fv[i] < fv[vs] {
                vs = i;
            }
        }
        let mut vh = vs;
        for i in 0..=n {
            if fv[i] > fv[vh] && fv[i] < fv[vg] {
                vh = i;
            }
        }
        for i in 0..n {
            let mut cent = 0.0;
            for (m, row) in v.iter().enumerate() {
                if m != vg {
                    cent += row[i];
                }
            }
            vm[i] = cent / nf;
        }
        for i in 0..n {
            vr[i] = vm[i] + ALPHA * (vm[i] - v[vg][i]);
        }
        let fr = f(&mut vr);
        if fr < fv[vh] && fr >= fv[vs] {
            v[vg].copy_from_slice(&vr);
            fv[vg] = fr;
        }
        if fr < fv[vs] {
            for i in 0..n {
                ve[i] = vm[i] + GAMMA * (vr[i] - vm[i]);
            }
            let fe = f(&mut ve);
            if fe < fr {
                v[vg].copy_from_slice(&ve);
                fv[vg] = fe;
            } else {
                v[vg].copy_from_slice(&vr);
                fv[vg] = fr;
            }
        }
        if fr >= fv[vh] {
            if fr < fv[vg] && fr >= fv[vh] {
                for i in 0..n {
                    vc[i] = vm[i] + BETA * (vr[i] - vm[i]);
                }
            } else {
                for i in 0..n {
                    vc[i] = vm[i] - BETA * (vm[i] - v[vg][i]);
                }
            }
            let fc = f(&mut vc);
            if fc < fv[vg] {
                v[vg].copy_from_slice(&vc);
                fv[vg] = fc;
            } else {
                let best = v[vs].clone();
                for (row, r) in v.iter_mut().enumerate() {
                    if row != vs {
                        for i in 0..n {
                            r[i] = best[i] + (r[i] - best[i]) / 2.0;
                        }
                    }
                }
                fv[vg] = f(&mut v[vg]);
                fv[vh] = f(&mut v[vh]);
            }
        }
        let favg = fv.iter().sum::<f64>() / (nf + 1.0);
        let mut s = 0.0;
        for x in &fv {
            s += (x - favg) * (x - favg) / nf;
        }
        if s.sqrt() < epsilon {
            break;
        }
    }
    let mut vs = 0;
    for i in 0..=n {
        if fv[i] < fv[vs] {
            vs = i;
        }
    }
    // The answer is the vertex as it was; evaluating it once more may rewrite it.
    let params = v[vs].clone();
    let min = f(&mut v[vs]);
    (min, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn go_pow_by_squaring() {
        assert_eq!(go_pow_int(0.5, 3), 0.125);
        assert_eq!(go_pow_int(1.0, 40), 1.0);
        assert_eq!(go_pow_int(0.0, 5), 0.0);
        for (x, n) in [(0.3, 7u64), (0.987_654_321, 13), (0.7, 2)] {
            let p = go_pow_int(x, n);
            assert!(
                (p - x.powi(n as i32)).abs() <= 4.0 * f64::EPSILON * p,
                "{x}^{n}"
            );
        }
        assert_eq!(go_pow_int(0.7, 2), 0.7 * 0.7, "squares round once");
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(ldexp(0.75, 3), 6.0);
    }

    #[test]
    fn forecasts_follow_a_trend() {
        let points: Vec<(i64, f64)> = (0..10).map(|i| (i * S, 100.0 + 2.0 * i as f64)).collect();
        let f = forecast(&points, 3, 0, S, false);
        assert_eq!(
            f.iter().map(|p| p.0).collect::<Vec<_>>(),
            [10 * S, 11 * S, 12 * S]
        );
        for (i, (_, v)) in f.iter().enumerate() {
            let want = 120.0 + 2.0 * i as f64;
            assert!((v - want).abs() < 1.0, "step {i}: {v} vs {want}");
        }
        let fit = forecast(&points, 3, 0, S, true);
        assert_eq!(fit.len(), 13);
        assert_eq!(fit[0], (0, 100.0), "the fit starts at the first value");
        assert_eq!(&fit[10..], &f[..]);
    }

    #[test]
    fn seasonal_forecast_repeats_the_season() {
        let season = [10.0, 20.0, 30.0, 20.0];
        let points: Vec<(i64, f64)> = (0..16).map(|i| (i * S, season[i as usize % 4])).collect();
        let f = forecast(&points, 4, 4, S, false);
        assert_eq!(f.len(), 4);
        let v: Vec<f64> = f.iter().map(|p| p.1).collect();
        // The season's peak comes back at its place.
        assert!(v.iter().all(|x| *x <= v[2]) && v[2] > 20.0, "{v:?}");
    }

    #[test]
    fn too_little_data_forecasts_nothing() {
        assert!(forecast(&[(0, 1.0)], 3, 0, S, false).is_empty());
        assert!(forecast(&[(0, 1.0), (S, 2.0)], 0, 0, S, false).is_empty());
        assert!(forecast(&[(0, 1.0), (S, 2.0)], 3, 4, S, false).is_empty());
        // Both points in one bucket.
        assert!(forecast(&[(0, 1.0), (S / 4, 2.0)], 3, 0, S, false).is_empty());
        // Gaps are skipped, not fatal.
        let gappy = [(0, 1.0), (S, 2.0), (5 * S, 6.0), (6 * S, 7.0)];
        assert_eq!(forecast(&gappy, 2, 0, S, false).len(), 2);
    }
}
