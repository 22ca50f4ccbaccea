//! Sideload sources: directories of YAML/JSON files (`file://`) or an HTTP endpoint returning
//! `{"path": {"key": value}}`, loaded whole and shared by every task that names them;
//! `POST /kapacitor/v1/sideload/reload` reads them all again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use farad_runtime::exec::SideloadSource;
use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};

type Files = HashMap<String, Map<String, Value>>;

pub struct Source {
    location: Location,
    files: RwLock<Files>,
}

enum Location {
    Dir(PathBuf),
    Url(String),
}

impl SideloadSource for Source {
    fn lookup(&self, order: &[String], key: &str) -> Option<Value> {
        let files = self.files.read();
        order
            .iter()
            .filter_map(|o| files.get(o.as_str()))
            .find_map(|values| values.get(key).cloned())
    }
}

impl Source {
    fn load(&self, agent: &ureq::Agent) -> Result<(), String> {
        let files = match &self.location {
            Location::Dir(dir) => {
                let mut files = Files::new();
                read_dir(dir, dir, &mut files)?;
                files
            }
            Location::Url(url) => {
                let mut resp = agent
                    .get(url)
                    .call()
                    .map_err(|e| format!("failed to GET sideload source {url:?}: {e}"))?;
                if resp.status().as_u16() / 100 != 2 {
                    return Err(format!(
                        "sideload source {url:?} answered {}",
                        resp.status()
                    ));
                }
                let body = resp
                    .body_mut()
                    .read_to_string()
                    .map_err(|e| format!("reading sideload source {url:?}: {e}"))?;
                serde_json::from_str(&body)
                    .map_err(|e| format!("failed to unmarshal json values in response body: {e}"))?
            }
        };
        *self.files.write() = files;
        Ok(())
    }
}

fn read_dir(root: &Path, dir: &Path, files: &mut Files) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("reading sideload dir {dir:?}: {e}"))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("reading {dir:?}: {e}"))?.path();
        if path.is_dir() {
            read_dir(root, &path, files)?;
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("failed to read values file {path:?}: {e}"))?;
        let values: Map<String, Value> = match path.extension().and_then(|e| e.to_str()) {
            Some("yml" | "yaml") => serde_norway::from_str(&text)
                .map_err(|e| format!("failed to unmarshal yaml values {path:?}: {e}"))?,
            Some("json") => serde_json::from_str(&text)
                .map_err(|e| format!("failed to unmarshal json values {path:?}: {e}"))?,
            _ => Map::new(),
        };
        let rel = path
            .strip_prefix(root)
            .map_err(|_| format!("{path:?} is outside {root:?}"))?;
        files.insert(rel.to_string_lossy().into_owned(), values);
    }
    Ok(())
}

/// Every source in use, by the text that named it.
pub struct Sideloads {
    sources: Mutex<HashMap<String, Arc<Source>>>,
    agent: ureq::Agent,
}

impl Sideloads {
    pub fn new(agent: ureq::Agent) -> Sideloads {
        Sideloads {
            sources: Mutex::default(),
            agent,
        }
    }

    /// The source at `url` (`file:///dir`, `http(s)://...`), loaded on first use.
    pub fn source(&self, url: &str) -> Result<Arc<Source>, String> {
        if let Some(s) = self.sources.lock().get(url) {
            return Ok(s.clone());
        }
        let location = if let Some(path) = url.strip_prefix("file://") {
            Location::Dir(PathBuf::from(path))
        } else if url.starts_with("http://") || url.starts_with("https://") {
            Location::Url(url.to_owned())
        } else {
            return Err(format!(
                "unsupported source scheme in {url:?}, must be 'file', 'http', or 'https'"
            ));
        };
        let source = Arc::new(Source {
            location,
            files: RwLock::default(),
        });
        source.load(&self.agent)?;
        self.sources.lock().insert(url.to_owned(), source.clone());
        Ok(source)
    }

    /// Reads every source again.
    pub fn reload(&self) -> Result<(), String> {
        let sources: Vec<(String, Arc<Source>)> = self
            .sources
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (url, s) in sources {
            s.load(&self.agent)
                .map_err(|e| format!("failed to update source {url:?}: {e}"))?;
        }
        Ok(())
    }
}
