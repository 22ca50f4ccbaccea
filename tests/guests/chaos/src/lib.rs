//! `@chaos().mode('loop' | 'alloc' | 'trap' | 'error' | 'pass').after(n)`: passes points through
//! until the `n`-th, then misbehaves in the chosen way.

use farad_udf_sdk::{Edge, Emitter, Error, Info, Options, PointRef, Udf, ValueType};

pub struct Chaos {
    mode: String,
    after: i64,
    seen: i64,
    hoard: Vec<Vec<u8>>,
}

impl Udf for Chaos {
    fn info() -> Info {
        Info::new(Edge::Stream, Edge::Stream)
            .option(
                "mode",
                &[ValueType::Str],
                "loop, alloc, trap, error or pass",
            )
            .option(
                "after",
                &[ValueType::Int],
                "points passed before misbehaving",
            )
    }

    fn new(o: &Options) -> Result<Self, Error> {
        let mode = o.string("mode")?.unwrap_or("pass").to_owned();
        if !["loop", "alloc", "trap", "error", "pass"].contains(&mode.as_str()) {
            return Err(format!("unknown mode {mode:?}").into());
        }
        Ok(Chaos {
            mode,
            after: o.int("after")?.unwrap_or(0),
            seen: 0,
            hoard: Vec::new(),
        })
    }

    fn point(&mut self, p: &PointRef<'_>, out: &mut Emitter) -> Result<(), Error> {
        self.seen += 1;
        if self.seen > self.after {
            match self.mode.as_str() {
                "loop" => {
                    let mut x = 0u64;
                    loop {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                }
                "alloc" => loop {
                    let mut v = vec![0u8; 1 << 20];
                    v[0] = 1;
                    self.hoard.push(std::hint::black_box(v));
                },
                "trap" => panic!("chaos: trapping at point {}", self.seen),
                "error" => return Err(format!("chaos: refusing point {}", self.seen).into()),
                _ => {}
            }
        }
        out.copy(p);
        Ok(())
    }
}

farad_udf_sdk::export_udf!(Chaos);
