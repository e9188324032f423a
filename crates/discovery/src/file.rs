//! `file_sd_configs`: target groups read from JSON or YAML files.
//!
//! No inotify: the provider stats the files matching its patterns every
//! [`FileOptions::poll_interval`] (a cheap approximation of watching) and
//! re-reads a file when its modification time or size changed, and every
//! file at `refresh_interval`. A file that fails to read or parse keeps its
//! last good groups and the failure is logged; a file that disappears
//! removes its groups. Each group gets `__meta_filepath` and the source
//! `<path>:<index>`, as in Prometheus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::{BoxFuture, Error, Provider, TargetGroup, group_from_static};

/// The label naming the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// Knobs of the file provider beyond its configuration.
#[derive(Clone, Debug)]
pub struct FileOptions {
    /// How often file modification times are checked.
    pub poll_interval: Duration,
}

impl Default for FileOptions {
    fn default() -> FileOptions {
        FileOptions {
            poll_interval: Duration::from_secs(3),
        }
    }
}

/// What is known of one file.
#[derive(Clone, Debug)]
struct FileState {
    /// Modification time and size when last read (successfully or not).
    stamp: Option<(SystemTime, u64)>,
    /// The groups of the last good read.
    groups: Vec<TargetGroup>,
}

/// Discovers targets from files.
#[derive(Debug)]
pub struct FileProvider {
    patterns: Vec<String>,
    refresh_interval: Duration,
    options: FileOptions,
    files: BTreeMap<PathBuf, FileState>,
}

impl FileProvider {
    /// A provider for one `file_sd_configs` entry.
    pub fn new(cfg: &config::discovery::FileSdConfig, options: FileOptions) -> FileProvider {
        FileProvider {
            patterns: cfg.files.clone(),
            refresh_interval: cfg.refresh_interval.as_std(),
            options,
            files: BTreeMap::new(),
        }
    }

    /// One pass: returns the groups that changed (including emptied ones).
    /// `full` re-reads every file.
    pub fn refresh(&mut self, full: bool) -> Vec<TargetGroup> {
        let mut seen = Vec::new();
        for p in &self.patterns {
            match config::check::glob(p) {
                Ok(paths) => seen.extend(paths),
                Err(e) => tracing::error!(pattern = %p, err = %e, "file_sd: bad pattern"),
            }
        }
        seen.sort();
        seen.dedup();
        let mut changed = Vec::new();
        // Files gone since the last pass: their groups are removed.
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| seen.binary_search(p).is_err())
            .cloned()
            .collect();
        for p in gone {
            if let Some(st) = self.files.remove(&p) {
                changed.extend(st.groups.into_iter().map(|g| TargetGroup {
                    source: g.source,
                    ..TargetGroup::default()
                }));
            }
        }
        for path in seen {
            let stamp = std::fs::metadata(&path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            let known = self.files.get(&path);
            if !full && known.is_some_and(|k| k.stamp.is_some() && k.stamp == stamp) {
                continue;
            }
            match read_file(&path) {
                Ok(groups) => {
                    let old = self.files.get(&path).map_or(0, |k| k.groups.len());
                    changed.extend(groups.iter().cloned());
                    // Groups beyond the new count are removed.
                    for i in groups.len()..old {
                        changed.push(TargetGroup {
                            source: source(&path, i),
                            ..TargetGroup::default()
                        });
                    }
                    self.files.insert(path, FileState { stamp, groups });
                }
                Err(e) => {
                    tracing::error!(err = %e, "file_sd: keeping the last good targets");
                    let st = self.files.entry(path).or_insert(FileState {
                        stamp: None,
                        groups: Vec::new(),
                    });
                    st.stamp = stamp;
                }
            }
        }
        changed
    }
}

fn source(path: &Path, i: usize) -> String {
    format!("{}:{i}", path.display())
}

/// Reads one file into groups with `__meta_filepath` and their sources.
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, Error> {
    let groups = config::check::read_sd_file(path).map_err(|message| Error::File {
        path: path.display().to_string(),
        message,
    })?;
    let p = path.display().to_string();
    Ok(groups
        .iter()
        .enumerate()
        .map(|(i, g)| group_from_static(source(path, i), g, &[(FILEPATH_LABEL, &p)]))
        .collect())
}

impl Provider for FileProvider {
    fn name(&self) -> &'static str {
        "file"
    }

    fn run(mut self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            let mut last_full = Instant::now();
            let mut first = true;
            loop {
                let full = first || last_full.elapsed() >= self.refresh_interval;
                if full {
                    last_full = Instant::now();
                }
                // File I/O is blocking: do the pass off the runtime.
                let pass = tokio::task::spawn_blocking(move || {
                    let changed = self.refresh(full);
                    (self, changed)
                })
                .await;
                let changed;
                (self, changed) = match pass {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(err = %e, "file_sd: refresh task failed");
                        return;
                    }
                };
                if (first || !changed.is_empty()) && updates.send(changed).await.is_err() {
                    return;
                }
                first = false;
                tokio::select! {
                    _ = tokio::time::sleep(self.options.poll_interval) => {}
                    _ = updates.closed() => return,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn provider(pattern: &str) -> FileProvider {
        let cfg = config::discovery::FileSdConfig {
            files: vec![pattern.to_owned()],
            refresh_interval: config::Duration::from_secs(300),
        };
        FileProvider::new(&cfg, FileOptions::default())
    }

    fn addresses(groups: &[TargetGroup]) -> Vec<(String, Vec<String>)> {
        groups
            .iter()
            .map(|g| {
                (
                    g.source.rsplit('/').next().unwrap().to_owned(),
                    g.targets
                        .iter()
                        .map(|t| t.get("__address__").unwrap().to_owned())
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn reads_json_and_yaml_keeps_last_good_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("a.json");
        let yaml = dir.path().join("b.yml");
        std::fs::write(
            &json,
            r#"[{"targets":["h1:9100","h2:9100"],"labels":{"env":"prod"}}]"#,
        )
        .unwrap();
        std::fs::write(&yaml, "- targets: ['h3:80']\n- targets: ['h4:80']\n").unwrap();
        let mut p = provider(&format!("{}/*", dir.path().display()).replace("/*", "/*.json"));
        let mut y = provider(&format!("{}/*.yml", dir.path().display()));
        let g = p.refresh(true);
        assert_eq!(
            addresses(&g),
            vec![(
                "a.json:0".to_owned(),
                vec!["h1:9100".to_owned(), "h2:9100".to_owned()]
            )]
        );
        assert_eq!(g[0].labels.get("env"), Some("prod"));
        assert_eq!(
            g[0].labels.get(FILEPATH_LABEL),
            Some(json.to_str().unwrap())
        );
        assert_eq!(addresses(&y.refresh(true)).len(), 2);

        // Unchanged: nothing to send.
        assert!(p.refresh(false).is_empty());
        // A bad file keeps the last good groups (nothing changes).
        std::fs::write(&json, "[{\"targets\": [").unwrap();
        assert!(p.refresh(false).is_empty());
        assert!(p.refresh(true).is_empty());
        // Fixed, with fewer groups in YAML: the extra group is emptied.
        std::fs::write(&yaml, "- targets: ['h5:80']\n").unwrap();
        let g = y.refresh(false);
        assert_eq!(
            addresses(&g),
            vec![
                ("b.yml:0".to_owned(), vec!["h5:80".to_owned()]),
                ("b.yml:1".to_owned(), vec![]),
            ]
        );
        // Removed file: its groups are emptied.
        std::fs::remove_file(&json).unwrap();
        assert_eq!(
            addresses(&p.refresh(false)),
            vec![("a.json:0".to_owned(), vec![])]
        );
    }
}
