//! Escaping strings as Go's encoder does, per byte of input: alert details (HTML-escaped
//! JSON, an `&` every few bytes: most of a `log` handler's line), plain text, and the
//! details' own HTML escaping.

use farad_gojson::{write_str, write_str_html};

/// Kapacitor's default details of a one-point event, as the alert node writes them.
fn details() -> String {
    let json = r#"{"Name":"cpu","TaskName":"benchW3L","Group":"host=h2","Tags":{"host":"h2"},"ServerInfo":{"Hostname":"localhost","ClusterID":"2b3c7d5e-91aa-4e0f-8c1d-0f6a1b2c3d4e","ServerID":"7e6d5c4b-3a29-4817-9f0e-1d2c3b4a5968"},"ID":"cpu:host=h2","Fields":{"value":77.31257},"Level":"WARNING","Time":"2023-11-14T22:13:20Z","Duration":0,"Message":"cpu:host=h2 is WARNING"}"#;
    json.replace('"', "&#34;")
}

fn main() {
    divan::main();
}

fn bench(bencher: divan::Bencher, text: &str, html: bool) {
    let mut out = Vec::with_capacity(text.len() * 2);
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench_local(|| {
            out.clear();
            if html {
                write_str_html(&mut out, divan::black_box(text));
            } else {
                write_str(&mut out, divan::black_box(text));
            }
            out.len()
        });
}

#[divan::bench]
fn alert_details(bencher: divan::Bencher) {
    bench(bencher, &details(), false);
}

#[divan::bench]
fn plain_text(bencher: divan::Bencher) {
    let text = "cpu:host=h2 is WARNING, value 77.31257 over the threshold of 70 for 5m ".repeat(10);
    bench(bencher, &text, false);
}

#[divan::bench]
fn details_as_html(bencher: divan::Bencher) {
    let json = details().replace("&#34;", "\"");
    bench(bencher, &json, true);
}
