//! What a UDF declares (edges, options) and the options a task gives it.

use crate::Error;
use crate::bindings::farad::udf::types as wit;
use crate::{Edge, ValueType};

/// A UDF's declaration of itself.
#[derive(Clone, Debug)]
pub struct Info {
    pub(crate) inner: wit::Info,
}

impl Info {
    /// A UDF taking `wants` and giving `provides`, with no options yet.
    pub fn new(wants: Edge, provides: Edge) -> Info {
        Info {
            inner: wit::Info {
                wants,
                provides,
                options: Vec::new(),
            },
        }
    }

    /// Declares the option `.name(args...)`.
    pub fn option(mut self, name: &str, args: &[ValueType], doc: &str) -> Info {
        self.inner.options.push(wit::OptionSpec {
            name: name.to_owned(),
            args: args.to_vec(),
            doc: doc.to_owned(),
        });
        self
    }
}

/// An option argument. Durations are nanoseconds.
pub type Value = wit::Value;

/// The options a task set, by name (an option set twice keeps both, in order).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub(crate) values: Vec<wit::OptionValue>,
}

impl Options {
    /// Options from explicit values (for tests of a UDF on the host).
    pub fn from_pairs(pairs: &[(&str, &[Value])]) -> Options {
        Options {
            values: pairs
                .iter()
                .map(|(n, a)| wit::OptionValue {
                    name: (*n).to_owned(),
                    args: a.to_vec(),
                })
                .collect(),
        }
    }

    /// The arguments of the last use of `name`.
    pub fn get(&self, name: &str) -> Option<&[Value]> {
        self.values
            .iter()
            .rev()
            .find(|o| o.name == name)
            .map(|o| &o.args[..])
    }

    /// The arguments of every use of `name`, in order.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &[Value]> {
        self.values
            .iter()
            .filter(move |o| o.name == name)
            .map(|o| &o.args[..])
    }

    fn first(&self, name: &str) -> Option<&Value> {
        self.get(name).and_then(|a| a.first())
    }

    fn wrong(name: &str, want: &str) -> Error {
        Error(format!("option .{name}() must be a {want}"))
    }

    /// A string option's value.
    pub fn string(&self, name: &str) -> Result<Option<&str>, Error> {
        match self.first(name) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(Self::wrong(name, "string")),
        }
    }

    /// An int option's value.
    pub fn int(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.first(name) {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(_) => Err(Self::wrong(name, "int")),
        }
    }

    /// A float option's value (ints are accepted).
    pub fn float(&self, name: &str) -> Result<Option<f64>, Error> {
        match self.first(name) {
            None => Ok(None),
            Some(Value::Double(f)) => Ok(Some(*f)),
            Some(Value::Int(i)) => Ok(Some(*i as f64)),
            Some(_) => Err(Self::wrong(name, "float")),
        }
    }

    /// A bool option's value; an option declared with no arguments is `true` when present.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some([]) => Ok(Some(true)),
            Some([Value::Boolean(b), ..]) => Ok(Some(*b)),
            Some(_) => Err(Self::wrong(name, "bool")),
        }
    }

    /// A duration option's value, in nanoseconds.
    pub fn duration(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.first(name) {
            None => Ok(None),
            Some(Value::Duration(d)) => Ok(Some(*d)),
            Some(_) => Err(Self::wrong(name, "duration")),
        }
    }
}
