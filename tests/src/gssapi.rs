//! The accepting side of SASL GSSAPI (RFC 4752), as a Kerberized Kafka broker runs it, over
//! MIT's GSS-API library (`libgssapi_krb5.so.2`, on every Debian system with Kerberos): the
//! client's AP-REQ is accepted with a service keytab, then the security layer is agreed
//! (none) in a wrapped exchange, and the client's principal is known.

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::Path;
use std::ptr::null_mut;

type Status = u32;

#[repr(C)]
struct Buffer {
    length: usize,
    value: *mut c_void,
}

impl Buffer {
    fn of(bytes: &[u8]) -> Buffer {
        Buffer {
            length: bytes.len(),
            value: bytes.as_ptr() as *mut c_void,
        }
    }

    fn empty() -> Buffer {
        Buffer {
            length: 0,
            value: null_mut(),
        }
    }

    /// The bytes of a buffer the library allocated, which it then frees.
    fn take(mut self) -> Vec<u8> {
        let bytes = if self.value.is_null() {
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(self.value as *const u8, self.length) }.to_vec()
        };
        let mut minor = 0;
        unsafe { gss_release_buffer(&mut minor, &mut self) };
        bytes
    }
}

#[repr(C)]
struct KeyValue {
    key: *const c_char,
    value: *const c_char,
}

#[repr(C)]
struct KeyValueSet {
    count: u32,
    elements: *const KeyValue,
}

const ACCEPT: c_int = 2;
const CONTINUE_NEEDED: Status = 1;
const GSS_CODE: c_int = 1;
const MECH_CODE: c_int = 2;

#[link(name = "libgssapi_krb5.so.2", kind = "dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    fn gss_acquire_cred_from(
        minor: *mut Status,
        name: *mut c_void,
        time: Status,
        mechs: *mut c_void,
        usage: c_int,
        store: *const KeyValueSet,
        cred: *mut *mut c_void,
        actual: *mut c_void,
        time_rec: *mut Status,
    ) -> Status;
    fn gss_accept_sec_context(
        minor: *mut Status,
        context: *mut *mut c_void,
        cred: *mut c_void,
        input: *mut Buffer,
        bindings: *mut c_void,
        source: *mut *mut c_void,
        mech: *mut c_void,
        output: *mut Buffer,
        flags: *mut Status,
        time_rec: *mut Status,
        delegated: *mut c_void,
    ) -> Status;
    fn gss_display_name(
        minor: *mut Status,
        name: *mut c_void,
        out: *mut Buffer,
        kind: *mut c_void,
    ) -> Status;
    fn gss_wrap(
        minor: *mut Status,
        context: *mut c_void,
        confidential: c_int,
        qop: Status,
        input: *mut Buffer,
        conf_state: *mut c_int,
        output: *mut Buffer,
    ) -> Status;
    fn gss_unwrap(
        minor: *mut Status,
        context: *mut c_void,
        input: *mut Buffer,
        output: *mut Buffer,
        conf_state: *mut c_int,
        qop: *mut Status,
    ) -> Status;
    fn gss_display_status(
        minor: *mut Status,
        value: Status,
        kind: c_int,
        mech: *mut c_void,
        more: *mut Status,
        out: *mut Buffer,
    ) -> Status;
    fn gss_release_buffer(minor: *mut Status, buffer: *mut Buffer) -> Status;
    fn gss_release_name(minor: *mut Status, name: *mut *mut c_void) -> Status;
    fn gss_release_cred(minor: *mut Status, cred: *mut *mut c_void) -> Status;
    fn gss_delete_sec_context(
        minor: *mut Status,
        context: *mut *mut c_void,
        token: *mut Buffer,
    ) -> Status;
}

/// The library's words for a failed call.
fn error(call: &str, major: Status, minor: Status) -> String {
    let mut words = vec![call.to_owned()];
    for (value, kind) in [(major, GSS_CODE), (minor, MECH_CODE)] {
        let mut more = 0;
        loop {
            let (mut m, mut out) = (0, Buffer::empty());
            unsafe { gss_display_status(&mut m, value, kind, null_mut(), &mut more, &mut out) };
            words.push(String::from_utf8_lossy(&out.take()).into_owned());
            if more == 0 {
                break;
            }
        }
    }
    words.join(": ")
}

fn failed(major: Status) -> bool {
    major & 0xffff_0000 != 0
}

/// Where a login stands.
pub enum Step {
    /// Send this token and wait for the client's next.
    Challenge(Vec<u8>),
    /// Logged in as this principal.
    Done(String),
}

/// One client's login.
pub struct Acceptor {
    cred: *mut c_void,
    context: *mut c_void,
    client: Option<String>,
    /// The wrapped security-layer offer has been sent.
    offered: bool,
}

// Each acceptor is used by one connection's thread at a time.
unsafe impl Send for Acceptor {}

impl Acceptor {
    /// Accepts logins to the service principals in `keytab`.
    pub fn new(keytab: &Path) -> Result<Acceptor, String> {
        let key = CString::new("keytab").unwrap();
        let value = CString::new(keytab.to_str().expect("a UTF-8 path")).unwrap();
        let element = KeyValue {
            key: key.as_ptr(),
            value: value.as_ptr(),
        };
        let store = KeyValueSet {
            count: 1,
            elements: &element,
        };
        let (mut minor, mut cred) = (0, null_mut());
        let major = unsafe {
            gss_acquire_cred_from(
                &mut minor,
                null_mut(),
                0,
                null_mut(),
                ACCEPT,
                &store,
                &mut cred,
                null_mut(),
                null_mut(),
            )
        };
        if failed(major) {
            return Err(error("gss_acquire_cred_from", major, minor));
        }
        Ok(Acceptor {
            cred,
            context: null_mut(),
            client: None,
            offered: false,
        })
    }

    /// Takes the client's next token.
    pub fn step(&mut self, token: &[u8]) -> Result<Step, String> {
        let mut minor = 0;
        let Some(client) = &self.client else {
            let (mut input, mut output, mut source) =
                (Buffer::of(token), Buffer::empty(), null_mut());
            let major = unsafe {
                gss_accept_sec_context(
                    &mut minor,
                    &mut self.context,
                    self.cred,
                    &mut input,
                    null_mut(),
                    &mut source,
                    null_mut(),
                    &mut output,
                    null_mut(),
                    null_mut(),
                    null_mut(),
                )
            };
            let output = output.take();
            if failed(major) {
                return Err(error("gss_accept_sec_context", major, minor));
            }
            if major & CONTINUE_NEEDED == 0 {
                let mut name = Buffer::empty();
                let major = unsafe { gss_display_name(&mut minor, source, &mut name, null_mut()) };
                unsafe { gss_release_name(&mut minor, &mut source) };
                if failed(major) {
                    return Err(error("gss_display_name", major, minor));
                }
                self.client = Some(String::from_utf8_lossy(&name.take()).into_owned());
            }
            return Ok(Step::Challenge(output));
        };
        if !self.offered {
            // The client answered the last context token (with nothing): offer no security
            // layer (bit 1), and no maximum message size.
            self.offered = true;
            let mut input = Buffer::of(&[1, 0, 0, 0]);
            let mut output = Buffer::empty();
            let major = unsafe {
                gss_wrap(
                    &mut minor,
                    self.context,
                    0,
                    0,
                    &mut input,
                    null_mut(),
                    &mut output,
                )
            };
            let output = output.take();
            if failed(major) {
                return Err(error("gss_wrap", major, minor));
            }
            return Ok(Step::Challenge(output));
        }
        let (mut input, mut output) = (Buffer::of(token), Buffer::empty());
        let major = unsafe {
            gss_unwrap(
                &mut minor,
                self.context,
                &mut input,
                &mut output,
                null_mut(),
                null_mut(),
            )
        };
        let choice = output.take();
        if failed(major) {
            return Err(error("gss_unwrap", major, minor));
        }
        match choice.first() {
            Some(1) => Ok(Step::Done(client.clone())),
            other => Err(format!(
                "the client chose security layer {other:?}, not none"
            )),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        let mut minor = 0;
        unsafe {
            if !self.context.is_null() {
                gss_delete_sec_context(&mut minor, &mut self.context, null_mut());
            }
            gss_release_cred(&mut minor, &mut self.cred);
        }
    }
}
