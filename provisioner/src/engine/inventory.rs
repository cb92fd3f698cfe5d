//! What exists: discovery of every kind, and references between resources.

use crate::engine::{kind_levels, Ctx, Key, Kind, Observed};
use crate::Error;
use futures::future::try_join_all;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Stands for an id that will be known once its resource is created.
pub const PENDING: &str = "(known after apply)";

/// Discovered resources by kind.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    by_kind: BTreeMap<&'static str, Vec<Observed>>,
}

impl Inventory {
    pub fn of(&self, kind: &str) -> &[Observed] {
        self.by_kind.get(kind).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn all(&self) -> impl Iterator<Item = &Observed> {
        self.by_kind.values().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.values().all(Vec::is_empty)
    }

    pub fn insert(&mut self, kind: &'static str, items: Vec<Observed>) {
        self.by_kind.insert(kind, items);
    }
}

/// Lists every kind's resources, a level of independent kinds at a time.
pub async fn discover(ctx: &Ctx, kinds: &[Arc<dyn Kind>]) -> Result<Inventory, Error> {
    let mut inventory = Inventory::default();
    for level in kind_levels(kinds)? {
        let found = try_join_all(level.iter().map(|&i| {
            let kind = &kinds[i];
            let inv = &inventory;
            async move { Ok::<_, Error>((kind.name(), kind.discover(ctx, inv).await?)) }
        }))
        .await?;
        for (name, items) in found {
            inventory.insert(name, items);
        }
    }
    Ok(inventory)
}

/// Physical ids of the desired resources that exist.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    ids: HashMap<Key, String>,
}

impl Refs {
    pub fn set(&mut self, key: Key, id: String) {
        self.ids.insert(key, id);
    }

    /// The id, or [`PENDING`] while it does not exist yet.
    pub fn id(&self, key: &Key) -> String {
        self.ids
            .get(key)
            .cloned()
            .unwrap_or_else(|| PENDING.to_string())
    }

    /// The id of a dependency that must exist by now.
    pub fn require(&self, key: &Key) -> Result<&str, Error> {
        self.ids
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::Plan(format!("{key} is needed but does not exist")))
    }
}
