//! What a UDF declares about itself (its edges and options), and the checks of `@name()`
//! calls against it. The declarations come from the modules the host has loaded.

use super::plan::Value;
use super::schema::Edge;

/// A UDF's edges and options.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UdfSignature {
    pub wants: Edge,
    pub provides: Edge,
    pub options: Vec<UdfOption>,
}

impl Default for UdfSignature {
    fn default() -> Self {
        UdfSignature {
            wants: Edge::Stream,
            provides: Edge::Stream,
            options: Vec::new(),
        }
    }
}

/// One option: `.name(arg, ...)` with typed arguments.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UdfOption {
    pub name: String,
    pub args: Vec<UdfArg>,
    pub doc: String,
}

/// The type of an option argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UdfArg {
    Bool,
    Int,
    Float,
    String,
    Duration,
}

impl UdfArg {
    pub fn name(self) -> &'static str {
        match self {
            UdfArg::Bool => "bool",
            UdfArg::Int => "int",
            UdfArg::Float => "float",
            UdfArg::String => "string",
            UdfArg::Duration => "duration",
        }
    }

    /// Whether `v` can be passed where this type is declared (an int literal is a float too).
    pub fn accepts(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (UdfArg::Bool, Value::Bool(_))
                | (UdfArg::Int, Value::Int(_))
                | (UdfArg::Float, Value::Float(_) | Value::Int(_))
                | (UdfArg::String, Value::Str(_))
                | (UdfArg::Duration, Value::Duration(_))
        )
    }
}

impl UdfOption {
    /// `name(float, duration)`, for messages.
    pub fn usage(&self) -> String {
        let args: Vec<&str> = self.args.iter().map(|a| a.name()).collect();
        format!(".{}({})", self.name, args.join(", "))
    }

    /// Checks the arguments of one use of the option; the error says what is wrong.
    pub fn check(&self, args: &[Value]) -> Result<(), String> {
        if args.len() != self.args.len() {
            return Err(format!(
                "option .{}() takes {} argument{}, got {}: {}",
                self.name,
                self.args.len(),
                if self.args.len() == 1 { "" } else { "s" },
                args.len(),
                self.usage()
            ));
        }
        for (i, (want, got)) in self.args.iter().zip(args).enumerate() {
            if !want.accepts(got) {
                let article = if *want == UdfArg::Int { "an" } else { "a" };
                return Err(format!(
                    "option .{}() argument {} must be {article} {}: {}",
                    self.name,
                    i + 1,
                    want.name(),
                    self.usage()
                ));
            }
        }
        Ok(())
    }
}
