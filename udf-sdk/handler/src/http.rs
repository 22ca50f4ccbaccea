//! Requests out of the sandbox: the host sends them, to hosts the config names.

use crate::Error;

/// An HTTP request to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What came back.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, url: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, body: &serde_json::Value) -> Request {
        let mut r = self.header("Content-Type", "application/json");
        r.body = body.to_string().into_bytes();
        r
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(self, fields: &[(&str, String)]) -> Request {
        let mut r = self.header("Content-Type", "application/x-www-form-urlencoded");
        let mut body = String::new();
        for (k, v) in fields {
            if !body.is_empty() {
                body.push('&');
            }
            // As Go's `url.Values.Encode`: spaces become `+`.
            body.push_str(&urlencode(k).replace("%20", "+"));
            body.push('=');
            body.push_str(&urlencode(v).replace("%20", "+"));
        }
        r.body = body.into_bytes();
        r
    }

    /// HTTP basic authentication.
    pub fn basic_auth(self, user: &str, password: &str) -> Request {
        let token = base64(format!("{user}:{password}").as_bytes());
        self.header("Authorization", format!("Basic {token}"))
    }

    /// Sends the request through the host and waits for the response.
    pub fn send(self) -> Result<Response, Error> {
        #[cfg(target_arch = "wasm32")]
        {
            use crate::bindings::farad::udf::alerts::Request as R;
            crate::bindings::send(&R {
                method: self.method,
                url: self.url,
                headers: self.headers,
                body: self.body,
            })
            .map(|r| Response {
                status: r.status,
                body: r.body,
            })
            .map_err(Error)
        }
        #[cfg(not(target_arch = "wasm32"))]
        Err(Error(format!(
            "requests are sent only inside Farad (to {})",
            self.url
        )))
    }
}

impl Response {
    /// The response itself when its status is 2xx; otherwise an error with the status and
    /// the start of the body, which is where vendors explain.
    pub fn ok(self) -> Result<Response, Error> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(512).collect();
        Err(Error(format!("status {}: {}", self.status, text.trim())))
    }

    /// A vendor's refusal as Kapacitor reports it: the non-empty string `field` of the JSON
    /// body when there is one (`message`, `error`), else "failed to understand <vendor>
    /// response" with the status and the start of the body.
    pub fn refusal(&self, vendor: &str, field: &str) -> Error {
        let said = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| Some(v.get(field)?.as_str()?.to_owned()))
            .filter(|m| !m.is_empty());
        Error(said.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&self.body);
            format!(
                "failed to understand {vendor} response. code: {} content: {}",
                self.status,
                text.chars().take(512).collect::<String>()
            )
        }))
    }
}

/// Writes `data` to a TCP connection to `addr` (`host:port`, as the config section names it)
/// and returns what the peer answers before closing it.
pub fn tcp_send(addr: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::tcp_send(addr, data).map_err(Error);
    #[cfg(not(target_arch = "wasm32"))]
    Err(Error(format!(
        "connections are made only inside Farad (to {addr}, {} bytes)",
        data.len()
    )))
}

/// Percent-encoding for form values and URL parts: everything but unreserved characters.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = u32::from(c[0]) << 16
            | u32::from(*c.get(1).unwrap_or(&0)) << 8
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_the_vendors_words_or_the_body() {
        let r = |status, body: &[u8]| Response {
            status,
            body: body.to_vec(),
        };
        assert_eq!(
            r(400, br#"{"message":"bad key"}"#)
                .refusal("X", "message")
                .0,
            "bad key"
        );
        for body in [&br#"{"message":""}"#[..], b"oops", br#"{"error":"e"}"#] {
            assert_eq!(
                r(500, body).refusal("X", "message").0,
                format!(
                    "failed to understand X response. code: 500 content: {}",
                    String::from_utf8_lossy(body)
                )
            );
        }
    }

    #[test]
    fn basic_auth_and_forms_encode_as_http_wants() {
        let r = Request::post("http://x/").basic_auth("Aladdin", "open sesame");
        assert_eq!(r.headers[0].1, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        let f =
            Request::post("http://x/").form(&[("message", "a b&c=d".into()), ("t", "é".into())]);
        assert_eq!(f.body, b"message=a+b%26c%3Dd&t=%C3%A9");
    }
}
