//! A component of another world (`wasi:cli/command`): Farad must refuse it as a UDF.

fn main() {
    println!("hello from a command component");
}
