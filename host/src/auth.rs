//! Who may call the API, when `[http] auth-enabled` is on, as Kapacitor decides it.
//!
//! A request names its user with HTTP basic auth, `?u=&p=`, or a bearer JWT signed with
//! `[http] shared-secret` (HMAC, with `exp` and `username` claims). Users live in the store
//! with a bcrypt hash. A user holds *permissions* (`api`, `config_api`, `write_points`, `all`,
//! and Farad's `api_read`), which grant *privileges* (read, write, delete) on resources:
//! `/api` plus the request path without `/kapacitor/v1`. The method decides the privilege
//! needed (GET read; POST, PUT, PATCH write; DELETE delete; HEAD and OPTIONS none); the
//! nearest resource the user has a grant on, walking up the path, decides.
//!
//! While there is no user at all, one request may come without credentials: creating the
//! first admin user (InfluxDB's rule), so that a server can be set up over its own API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{self, Store};

/// The user name InfluxDB subscriptions present, with the subscription token as password.
pub const SUBSCRIBER: &str = "~subscriber";

/// What a user may do, as the users API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    None,
    /// Everything under the API but writes and config.
    Api,
    /// Farad: reading the API (GET), nothing else.
    ApiRead,
    ConfigApi,
    WritePoints,
    All,
}

/// A user as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// bcrypt.
    pub hash: String,
    pub admin: bool,
    pub permissions: Vec<Permission>,
}

impl UserRecord {
    /// The permissions as the API shows them: all three grants read as `all`.
    pub fn shown_permissions(&self) -> Vec<Permission> {
        let mut p = self.permissions.clone();
        p.sort();
        p.dedup();
        p.retain(|p| *p != Permission::None);
        let full = [
            Permission::Api,
            Permission::ConfigApi,
            Permission::WritePoints,
        ];
        if p.contains(&Permission::All) || full.iter().all(|f| p.contains(f)) {
            return vec![Permission::All];
        }
        p
    }

    pub fn user_type(&self) -> &'static str {
        if self.admin { "admin" } else { "normal" }
    }
}

/// Privilege bits, as Kapacitor numbers them.
mod privilege {
    pub const NONE: u8 = 1;
    pub const READ: u8 = 2;
    pub const WRITE: u8 = 4;
    pub const DELETE: u8 = 8;
    pub const ALL: u8 = 16;

    pub fn name(p: u8) -> &'static str {
        match p {
            NONE => "none",
            READ => "read",
            WRITE => "write",
            DELETE => "delete",
            ALL => "all",
            _ => "unknown",
        }
    }
}

const API_ROOT: &str = "/api";
const API_WRITE: &str = "/api/write";
const API_PING: &str = "/api/ping";
const API_CONFIG: &str = "/api/config";

/// The grants permissions make, by resource (Kapacitor's `convertPermissions`).
fn grants(perms: &[Permission]) -> BTreeMap<&'static str, u8> {
    use privilege::*;
    let mut g = BTreeMap::new();
    for p in perms {
        match p {
            Permission::None => {}
            Permission::Api => {
                g.insert(API_ROOT, ALL);
                g.entry(API_WRITE).or_insert(NONE);
                g.entry(API_CONFIG).or_insert(NONE);
            }
            Permission::ApiRead => {
                let root = g.entry(API_ROOT).or_insert(0);
                if *root != ALL {
                    *root |= READ;
                }
                g.entry(API_WRITE).or_insert(NONE);
                g.entry(API_CONFIG).or_insert(NONE);
            }
            Permission::ConfigApi => {
                g.insert(API_PING, ALL);
                g.insert(API_CONFIG, ALL);
            }
            Permission::WritePoints => {
                g.insert(API_PING, ALL);
                g.insert(API_WRITE, ALL);
            }
            Permission::All => {
                g.insert(API_ROOT, ALL);
                g.insert(API_CONFIG, ALL);
                g.insert(API_WRITE, ALL);
            }
        }
    }
    g
}

/// The privilege a method needs.
fn needed(method: &str) -> Result<u8, String> {
    match method {
        "HEAD" | "OPTIONS" => Ok(privilege::NONE),
        "GET" => Ok(privilege::READ),
        "POST" | "PATCH" | "PUT" => Ok(privilege::WRITE),
        "DELETE" => Ok(privilege::DELETE),
        m => Err(format!("unknown method {m:?}")),
    }
}

/// Whether `user` may call `method path`; the refusal's text otherwise.
pub fn authorize(user: &UserRecord, method: &str, path: &str) -> Result<(), String> {
    let need = needed(method)?;
    if need == privilege::NONE || user.admin {
        return Ok(());
    }
    let rel = path.strip_prefix("/kapacitor/v1").unwrap_or(path);
    let mut resource = clean(&format!("{API_ROOT}/{rel}"));
    let grants = grants(&user.permissions);
    loop {
        if let Some(&have) = grants.get(resource.as_str()) {
            if have & need != 0 || have == privilege::ALL {
                return Ok(());
            }
            break;
        }
        if resource == "/" {
            break;
        }
        resource = match resource.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(i) => resource[..i].to_owned(),
        };
    }
    Err(format!(
        "user {} does not have \"{}\" privilege for API endpoint {path:?}",
        user.name,
        privilege::name(need)
    ))
}

/// A path with empty and `.` segments removed and `..` applied (Go's `path.Clean`).
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Credentials as a request carries them.
#[derive(Debug, PartialEq)]
pub enum Credentials {
    User { name: String, password: String },
    Bearer(String),
    Subscription(String),
}

/// Reads credentials the way Kapacitor does: the Authorization header (bearer, else basic),
/// else `u` and `p` in the query.
pub fn credentials(authorization: Option<&str>, query: &str) -> Option<Credentials> {
    use base64::Engine;
    if let Some(h) = authorization.filter(|h| !h.is_empty()) {
        if let Some(token) = h.strip_prefix("Bearer ") {
            return Some(Credentials::Bearer(token.to_owned()));
        }
        let basic = h
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((name, password)) = basic.as_deref().and_then(|b| b.split_once(':')) {
            if name == SUBSCRIBER {
                return Some(Credentials::Subscription(password.to_owned()));
            }
            return Some(Credentials::User {
                name: name.to_owned(),
                password: password.to_owned(),
            });
        }
    }
    let (mut u, mut p) = (String::new(), String::new());
    for (k, v) in url_pairs(query) {
        match k.as_str() {
            "u" => u = v,
            "p" => p = v,
            _ => {}
        }
    }
    (!u.is_empty() && !p.is_empty()).then_some(Credentials::User {
        name: u,
        password: p,
    })
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// A refusal: 401 (who are you?) or 403 (not you).
#[derive(Debug, PartialEq)]
pub enum Denied {
    Unauthenticated(String),
    Forbidden(String),
}

/// The users and the checks, shared by the API.
pub struct Auth {
    pub enabled: bool,
    secret: String,
    store: Arc<Store>,
    cost: u32,
    expiry: Duration,
    /// Passwords checked lately, by user: a salted SHA-256 of the password and when, so
    /// that a client sending basic auth with every write costs one bcrypt, not one each.
    checked: DashMap<String, ([u8; 32], Instant)>,
    salt: [u8; 16],
    subscription_token: String,
    /// A bearer token for Farad's own calls to its API (the `[load]` service); never leaves
    /// the process.
    internal_token: String,
}

impl Auth {
    pub fn new(config: &crate::config::Config, store: Arc<Store>) -> Result<Auth> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random salt: {e}"))?;
        let subscription_token = store.meta_or_insert("subscription_token", random_token)?;
        Ok(Auth {
            enabled: config.http.auth_enabled,
            secret: config.http.shared_secret.clone(),
            store,
            cost: config.auth.bcrypt_cost,
            expiry: config.auth.cache_expiration.to_std(),
            checked: DashMap::new(),
            salt,
            subscription_token,
            internal_token: random_token(),
        })
    }

    /// The password InfluxDB subscriptions send as user [`SUBSCRIBER`].
    pub fn subscription_token(&self) -> &str {
        &self.subscription_token
    }

    /// The bearer token of Farad's own API calls.
    pub fn internal_token(&self) -> &str {
        &self.internal_token
    }

    /// Decides a request. Blocking: a password not checked lately costs a bcrypt.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        query: &str,
    ) -> Result<(), Denied> {
        if !self.enabled {
            return Ok(());
        }
        let Some(creds) = credentials(authorization, query) else {
            if method == "POST" && path == "/kapacitor/v1/users" && self.no_users() {
                return Ok(()); // the first admin; the users API insists on admin
            }
            return Err(Denied::Unauthenticated(
                "unable to parse authentication credentials".into(),
            ));
        };
        let user = match creds {
            Credentials::User { name, password } => self.authenticate(&name, &password)?,
            Credentials::Bearer(token) if token == self.internal_token => return Ok(()),
            Credentials::Bearer(token) => self.bearer(&token)?,
            Credentials::Subscription(token) => {
                if token != self.subscription_token {
                    return Err(Denied::Unauthenticated("invalid subscription token".into()));
                }
                UserRecord {
                    name: SUBSCRIBER.into(),
                    hash: String::new(),
                    admin: false,
                    permissions: vec![Permission::WritePoints],
                }
            }
        };
        authorize(&user, method, path).map_err(Denied::Forbidden)
    }

    /// Whether no user exists yet (and anonymous requests may create the first admin).
    pub fn no_users(&self) -> bool {
        self.store.count(&store::USERS).is_ok_and(|n| n == 0)
    }

    fn authenticate(&self, name: &str, password: &str) -> Result<UserRecord, Denied> {
        let failed = || Denied::Unauthenticated("authorization failed".into());
        if name.is_empty() {
            return Err(Denied::Unauthenticated("username required".into()));
        }
        let user = self
            .store
            .get(&store::USERS, name)
            .ok()
            .flatten()
            .ok_or_else(failed)?;
        let digest = self.digest(password);
        if let Some(e) = self.checked.get(name)
            && e.0 == digest
            && e.1.elapsed() < self.expiry
        {
            return Ok(user);
        }
        if !bcrypt::verify(password, &user.hash).unwrap_or(false) {
            return Err(failed());
        }
        self.checked
            .insert(name.to_owned(), (digest, Instant::now()));
        Ok(user)
    }

    fn bearer(&self, token: &str) -> Result<UserRecord, Denied> {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let bad = |m: String| Denied::Unauthenticated(m);
        if self.secret.is_empty() {
            return Err(bad("invalid token: [http] shared-secret is not set".into()));
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
        v.set_required_spec_claims(&["exp"]);
        v.leeway = 0;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &DecodingKey::from_secret(self.secret.as_bytes()),
            &v,
        )
        .map_err(|e| bad(format!("invalid token: {e}")))?;
        if !data.claims["exp"].as_f64().is_some_and(|e| e > 0.0) {
            return Err(bad("token expiration required".into()));
        }
        let name = match &data.claims["username"] {
            serde_json::Value::String(s) if !s.is_empty() => s.clone(),
            serde_json::Value::String(_) => {
                return Err(bad("token must contain a username".into()));
            }
            _ => return Err(bad("username in token must be a string".into())),
        };
        self.store
            .get(&store::USERS, &name)
            .ok()
            .flatten()
            .ok_or_else(|| bad(format!("user {name:?} does not exist")))
    }

    fn digest(&self, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// A bcrypt hash of `password` at the configured cost.
    pub fn hash(&self, password: &str) -> Result<String> {
        Ok(bcrypt::hash(password, self.cost)?)
    }

    /// Forgets a user's checked password (after a change or a delete).
    pub fn forget(&self, name: &str) {
        self.checked.remove(name);
    }
}

fn random_token() -> String {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).expect("the OS random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a new user's name as Kapacitor does.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("username is required");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '@' | '_'))
    {
        bail!("username must contain only letters, numbers, '-', '.', '@' and '_'. {name:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(admin: bool, permissions: &[Permission]) -> UserRecord {
        UserRecord {
            name: "bob".into(),
            hash: String::new(),
            admin,
            permissions: permissions.to_vec(),
        }
    }

    #[test]
    fn permissions_grant_as_kapacitor_decides() {
        use Permission::*;
        let api = user(false, &[Api]);
        assert!(authorize(&api, "GET", "/kapacitor/v1/tasks").is_ok());
        assert!(authorize(&api, "DELETE", "/kapacitor/v1/tasks/x").is_ok());
        let e = authorize(&api, "POST", "/kapacitor/v1/write").unwrap_err();
        assert_eq!(
            e,
            "user bob does not have \"write\" privilege for API endpoint \"/kapacitor/v1/write\""
        );
        assert!(authorize(&api, "GET", "/kapacitor/v1/config").is_err());
        assert!(authorize(&api, "POST", "/write").is_err());

        let writer = user(false, &[WritePoints]);
        assert!(authorize(&writer, "POST", "/write").is_ok());
        assert!(authorize(&writer, "POST", "/kapacitor/v1/write").is_ok());
        assert!(authorize(&writer, "GET", "/kapacitor/v1/ping").is_ok());
        assert!(authorize(&writer, "GET", "/kapacitor/v1/tasks").is_err());

        let reader = user(false, &[ApiRead]);
        assert!(authorize(&reader, "GET", "/kapacitor/v1/tasks").is_ok());
        assert!(authorize(&reader, "POST", "/kapacitor/v1/tasks").is_err());
        assert!(authorize(&reader, "DELETE", "/kapacitor/v1/tasks/t").is_err());
        assert!(authorize(&reader, "GET", "/kapacitor/v1/config").is_err());
        assert!(authorize(&reader, "HEAD", "/kapacitor/v1/tasks").is_ok());

        let nobody = user(false, &[]);
        assert!(authorize(&nobody, "GET", "/kapacitor/v1/ping").is_err());
        assert!(authorize(&user(true, &[]), "DELETE", "/kapacitor/v1/x").is_ok());
        assert!(authorize(&user(false, &[All]), "POST", "/kapacitor/v1/config/x").is_ok());
        // `..` does not climb to another grant.
        assert!(authorize(&writer, "POST", "/kapacitor/v1/write/../tasks").is_err());
        assert!(authorize(&nobody, "TRACE", "/").is_err());
    }

    #[test]
    fn all_three_grants_show_as_all() {
        use Permission::*;
        let u = user(false, &[WritePoints, Api, ConfigApi, Api]);
        assert_eq!(u.shown_permissions(), [All]);
        assert_eq!(
            user(false, &[WritePoints, None, Api]).shown_permissions(),
            [Api, WritePoints]
        );
    }

    #[test]
    fn credentials_come_from_the_header_or_the_query() {
        assert_eq!(
            credentials(Some("Basic Ym9iOnNlY3JldA=="), ""),
            Some(Credentials::User {
                name: "bob".into(),
                password: "secret".into()
            })
        );
        assert_eq!(
            credentials(Some("Bearer abc"), "u=x&p=y"),
            Some(Credentials::Bearer("abc".into()))
        );
        assert_eq!(
            credentials(None, "db=x&u=al%40x&p=p%20w"),
            Some(Credentials::User {
                name: "al@x".into(),
                password: "p w".into()
            })
        );
        assert_eq!(credentials(None, "u=x"), None);
        // `~subscriber:token`
        assert_eq!(
            credentials(Some("Basic fnN1YnNjcmliZXI6dG9r"), ""),
            Some(Credentials::Subscription("tok".into()))
        );
    }
}
