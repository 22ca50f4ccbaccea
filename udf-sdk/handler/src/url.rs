//! Go's `u.Path = path.Join(u.Path, ...); u.String()`, which Kapacitor builds vendor URLs
//! with: the same cleaning and escaping, so the same URL.

/// `base` with `segments` joined to its path as Go's `path.Join` does (empty segments
/// dropped; `//`, `.`, `..` and a trailing `/` cleaned away), the path escaped as Go's
/// `URL.String` does, and the query replaced by `query` when given.
pub fn join(base: &str, segments: &[&str], query: Option<&str>) -> String {
    let (rest, fragment) = base.split_once('#').unwrap_or((base, ""));
    let (rest, old_query) = rest.split_once('?').unwrap_or((rest, ""));
    let path_at = match rest.find("://") {
        Some(i) => rest[i + 3..].find('/').map_or(rest.len(), |j| i + 3 + j),
        None => 0,
    };
    let (prefix, path) = rest.split_at(path_at);
    let path = unescape(path);
    let mut parts = vec![path.as_str()];
    parts.extend_from_slice(segments);
    let joined = path_join(&parts);
    let mut out = prefix.to_owned();
    if !prefix.is_empty() && !joined.is_empty() && !joined.starts_with('/') {
        out.push('/');
    }
    out.push_str(&escape(&joined));
    let query = query.unwrap_or(old_query);
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Go's `path.Join`: "" when every element is empty, else the cleaned join.
fn path_join(elems: &[&str]) -> String {
    let parts: Vec<&str> = elems.iter().copied().filter(|e| !e.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    let joined = parts.join("/");
    let rooted = joined.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Percent-decoding, as `url.Parse` does to the path.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's path escaping: all but unreserved characters and `$&+,/:;=@`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(b as char),
            b'-' | b'_' | b'.' | b'~' | b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'='
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn paths_join_as_go_joins_them() {
        assert_eq!(
            join(
                "https://api.opsgenie.com/v2/alerts",
                &["YQ==", "close"],
                Some("identifierType=alias")
            ),
            "https://api.opsgenie.com/v2/alerts/YQ==/close?identifierType=alias"
        );
        assert_eq!(
            join("https://a.example/api/", &["alert"], None),
            "https://a.example/api/alert"
        );
        assert_eq!(
            join("http://a.example", &["alert"], None),
            "http://a.example/alert"
        );
        assert_eq!(
            join("http://a.example/x?k=v", &["", "b c"], None),
            "http://a.example/x/b%20c?k=v"
        );
        assert_eq!(
            join("http://a.example/x/", &["", ""], None),
            "http://a.example/x"
        );
        assert_eq!(
            join("http://a.example/x", &["../y"], Some("q=1")),
            "http://a.example/y?q=1"
        );
        assert_eq!(
            join("http://a.example/x%2Fy", &["a?b"], None),
            "http://a.example/x/y/a%3Fb"
        );
    }
}
