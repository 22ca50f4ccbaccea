//! Diagnostics: where (a [`Span`], shown as line:column), what went wrong, and what to do.

use std::fmt;

/// A byte range of the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// The span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: u32) -> (usize, usize) {
    let offset = (offset as usize).min(src.len());
    let before = &src[..floor_char(src, offset)];
    let line = 1 + before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One problem in a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    /// One line: what is wrong.
    pub message: String,
    /// What to do about it, when there is something to suggest.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// `line:col: message (hint)` on one line, as the API's `error` field shows it.
    pub fn one_line(&self, src: &str) -> String {
        let (l, c) = line_col(src, self.span.start);
        match &self.hint {
            Some(h) => format!("{l}:{c}: {}; {h}", self.message),
            None => format!("{l}:{c}: {}", self.message),
        }
    }

    /// A report with the source line and a caret under the span, for terminals.
    pub fn render(&self, src: &str, file: &str) -> String {
        let (line, col) = line_col(src, self.span.start);
        let text = src.lines().nth(line - 1).unwrap_or("");
        let width = {
            let end = (self.span.end as usize).min(src.len());
            let start = (self.span.start as usize).min(end);
            let shown = &src[floor_char(src, start)..floor_char(src, end)];
            shown
                .split('\n')
                .next()
                .unwrap_or("")
                .chars()
                .count()
                .max(1)
        };
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        let mut out = format!(
            "error: {}\n{pad}--> {file}:{line}:{col}\n{pad} |\n{line} | {text}\n{pad} | {}{}\n",
            self.message,
            " ".repeat(col - 1),
            "^".repeat(width)
        );
        if let Some(h) = &self.hint {
            out.push_str(&format!("{pad} = help: {h}\n"));
        }
        out
    }
}

/// Diagnostics of one script, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every diagnostic as [`Diagnostic::one_line`], joined by newlines.
    pub fn one_line(&self, src: &str) -> String {
        self.0
            .iter()
            .map(|d| d.one_line(src))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every diagnostic rendered with its snippet.
    pub fn render(&self, src: &str, file: &str) -> String {
        self.0
            .iter()
            .map(|d| d.render(src, file))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The closest of `candidates` to `word`, if close enough to be worth suggesting.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&lower, &c.to_lowercase());
        let limit = (word.chars().count().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_rendering() {
        let src = "stream\n    |window()\n        .perod(10s)\n";
        let at = src.find("perod").unwrap();
        assert_eq!(line_col(src, at as u32), (3, 10));
        let d = Diagnostic::new(Span::new(at, at + 5), "unknown property `perod` on window")
            .with_hint("did you mean `period`?");
        assert_eq!(
            d.one_line(src),
            "3:10: unknown property `perod` on window; did you mean `period`?"
        );
        let r = d.render(src, "t.tick");
        assert!(r.contains("--> t.tick:3:10"), "{r}");
        assert!(
            r.contains("3 |         .perod(10s)\n  |          ^^^^^\n"),
            "{r}"
        );
    }

    #[test]
    fn suggestions() {
        let props = ["period", "every", "align", "fillPeriod"];
        assert_eq!(did_you_mean("perod", props), Some("period"));
        assert_eq!(did_you_mean("fillperiod", props), Some("fillPeriod"));
        assert_eq!(did_you_mean("zzz", props), None);
    }
}
