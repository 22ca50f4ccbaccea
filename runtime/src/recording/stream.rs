//! Stream recordings: `<db>\n<rp>\n<line protocol>\n` per point.

use super::RecordingError;
use crate::lineproto::{self, PointBuilder, Precision};
use crate::model::Point;

/// A recorded point and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamPoint {
    pub db: String,
    pub rp: String,
    pub point: Point,
}

/// Reads a stream recording whose timestamps are in `precision` units (Kapacitor records in
/// nanoseconds). Blank lines between records are allowed.
pub fn parse_stream(text: &[u8], precision: Precision) -> Result<Vec<StreamPoint>, RecordingError> {
    let text = std::str::from_utf8(text).map_err(|e| RecordingError {
        at: format!("byte {}", e.valid_up_to()),
        reason: "invalid UTF-8".into(),
    })?;
    let mut builder = PointBuilder::default();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());
    let mut out = Vec::new();
    while let Some((_, db)) = lines.next() {
        let missing = |what: &str| RecordingError {
            at: format!("end of recording (after {} points)", out.len()),
            reason: format!("expected the {what} of a point"),
        };
        let (_, rp) = lines.next().ok_or_else(|| missing("retention policy"))?;
        let (n, line) = lines.next().ok_or_else(|| missing("line protocol"))?;
        let mut point = None;
        let outcome = lineproto::parse(line.as_bytes(), precision, 0, |l| {
            point = Some(builder.build(l))
        });
        let point = match (point, outcome.errors.first()) {
            (Some(p), None) => p,
            (_, Some(e)) => {
                return Err(RecordingError {
                    at: format!("line {n}"),
                    reason: e.reason.clone(),
                });
            }
            (None, None) => {
                return Err(RecordingError {
                    at: format!("line {n}"),
                    reason: "expected a point".into(),
                });
            }
        };
        out.push(StreamPoint {
            db: db.to_owned(),
            rp: rp.to_owned(),
            point,
        });
    }
    Ok(out)
}

/// Appends one point as a stream recording has it.
pub fn write_stream_point(out: &mut String, db: &str, rp: &str, point: &Point) {
    out.push_str(db);
    out.push('\n');
    out.push_str(rp);
    out.push('\n');
    lineproto::write_point(out, point, Precision::Nanoseconds);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kapacitor_test_data() {
        let text = b"dbname\nrpname\ncpu,host=a value=1 0000000001\n\
                     dbname\nrpname\ncpu,host=b value=2        0000000002\n\n";
        let pts = parse_stream(text, Precision::Seconds).unwrap();
        assert_eq!(pts.len(), 2);
        assert_eq!(pts[1].db, "dbname");
        assert_eq!(pts[1].point.time, 2_000_000_000);
        assert_eq!(pts[1].point.tag(crate::model::Name::new("host")), Some("b"));
    }

    #[test]
    fn round_trips() {
        let pts = parse_stream(b"db\nrp\nm,t=x v=1.5,n=2i 123\n", Precision::Nanoseconds).unwrap();
        let mut s = String::new();
        write_stream_point(&mut s, "db", "rp", &pts[0].point);
        assert_eq!(s, "db\nrp\nm,t=x n=2i,v=1.5 123\n");
        assert_eq!(
            parse_stream(s.as_bytes(), Precision::Nanoseconds).unwrap(),
            pts
        );
    }

    #[test]
    fn says_where_it_is_broken() {
        let e = parse_stream(b"db\nrp\nm v=1 1\ndb\nrp\nm v= 2\n", Precision::Seconds).unwrap_err();
        assert_eq!(e.at, "line 6");
        let e = parse_stream(b"db\nrp\n", Precision::Seconds).unwrap_err();
        assert!(e.reason.contains("line protocol"), "{e}");
    }
}
