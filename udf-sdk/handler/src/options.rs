//! Option names as Kapacitor's handlers take them: a canonical name and every name it may
//! be given under (its topic handler option, the kebab-case name Farad makes of the
//! TICKscript property), some matching in any case as Go's mapstructure matches them.

use serde_json::{Map, Value};

use crate::{Context, Error};

pub struct OptionNames {
    /// Each canonical name, and the names it is accepted under.
    pub names: &'static [(&'static str, &'static [&'static str])],
    /// The names that match regardless of case.
    pub any_case: &'static [&'static str],
}

impl OptionNames {
    /// The canonical name of option `key`, if it is one of the handler's.
    pub fn canonical(&self, key: &str) -> Option<&'static str> {
        self.names.iter().find_map(|(c, names)| {
            names
                .iter()
                .any(|n| *n == key || (self.any_case.contains(n) && n.eq_ignore_ascii_case(key)))
                .then_some(*c)
        })
    }

    /// The option `name` (canonical) under any of its names, when set and not empty.
    pub fn get<'a>(&self, cx: &'a Context, name: &str) -> Option<&'a Value> {
        cx.options
            .iter()
            .filter(|(k, _)| self.canonical(k) == Some(name))
            .map(|(_, v)| v)
            .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
    }

    /// [`OptionNames::get`] as a string, empty when unset.
    pub fn str<'a>(&self, cx: &'a Context, name: &str) -> &'a str {
        self.get(cx, name).and_then(Value::as_str).unwrap_or("")
    }

    /// Refuses an option under no known name, naming the ones there are.
    pub fn check(&self, options: &Map<String, Value>) -> Result<(), Error> {
        match options.keys().find(|k| self.canonical(k).is_none()) {
            None => Ok(()),
            Some(k) => {
                let all: Vec<&str> = self
                    .names
                    .iter()
                    .flat_map(|(_, n)| n.iter().copied())
                    .collect();
                Err(Error(format!(
                    "unknown option {k:?} (options: {})",
                    all.join(", ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Level};
    use serde_json::json;

    const OPTIONS: OptionNames = OptionNames {
        names: &[
            ("metric-name", &["metricName", "metric-name"]),
            ("url", &["url"]),
        ],
        any_case: &["metricName"],
    };

    #[test]
    fn names_aliases_and_case() {
        assert_eq!(OPTIONS.canonical("metric-name"), Some("metric-name"));
        assert_eq!(OPTIONS.canonical("METRICNAME"), Some("metric-name"));
        assert_eq!(
            OPTIONS.canonical("URL"),
            None,
            "only the listed names match in any case"
        );
        let cx = Context {
            config: Map::new(),
            options: json!({"metricname": "cpu", "url": ""})
                .as_object()
                .cloned()
                .unwrap(),
            event: Event::example(Level::Ok, "m"),
        };
        assert_eq!(OPTIONS.str(&cx, "metric-name"), "cpu");
        assert_eq!(OPTIONS.get(&cx, "url"), None, "empty is unset");
        assert!(OPTIONS.check(&cx.options).is_ok());
        let err = OPTIONS
            .check(json!({"nope": 1}).as_object().unwrap())
            .unwrap_err();
        assert!(
            err.0
                .contains("unknown option \"nope\" (options: metricName, metric-name, url)"),
            "{}",
            err.0
        );
    }
}
