//! `static_configs`: target groups written in the configuration. Sent once;
//! each group's source is its index, as in Prometheus.

use tokio::sync::mpsc;

use crate::{BoxFuture, Provider, TargetGroup, group_from_static};

/// Serves the groups of `static_configs`.
#[derive(Debug, Clone)]
pub struct StaticProvider {
    groups: Vec<TargetGroup>,
}

impl StaticProvider {
    /// A provider for these groups.
    pub fn new(configs: &[config::discovery::StaticConfig]) -> StaticProvider {
        let groups = configs
            .iter()
            .enumerate()
            .map(|(i, g)| group_from_static(i.to_string(), g, &[]))
            .collect();
        StaticProvider { groups }
    }

    /// The groups it serves.
    pub fn groups(&self) -> &[TargetGroup] {
        &self.groups
    }
}

impl Provider for StaticProvider {
    fn name(&self) -> &'static str {
        "static"
    }

    fn run(self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            if updates.send(self.groups).await.is_err() {
                return;
            }
            // Stay alive until the manager drops the receiver, so a running
            // provider always means a live set of groups.
            updates.closed().await;
        })
    }
}
