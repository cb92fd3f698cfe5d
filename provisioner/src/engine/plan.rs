//! The diff between the desired stack and what exists.

use crate::engine::{diff, order_resources, Change, Inventory, Key, Observed, Refs, Resource};
use crate::Error;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    pub action: Action,
    pub kind: &'static str,
    pub name: String,
    /// Physical id of what exists (none for a create).
    pub id: Option<String>,
    /// For updates, the drifted attributes.
    pub changes: Vec<Change>,
}

/// The changes, plus what the apply step needs: the desired resources
/// matched with what exists, and the owned resources no longer wanted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<PlannedChange>,
    #[serde(skip)]
    pub matched: HashMap<Key, Observed>,
    #[serde(skip)]
    pub unwanted: Vec<Observed>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    /// References as far as they exist now.
    pub fn refs(&self) -> Refs {
        let mut refs = Refs::default();
        for (key, o) in &self.matched {
            refs.set(key.clone(), o.id.clone());
        }
        refs
    }
}

/// Matches every desired resource with what exists (by Name, then by the
/// kind's `adopts`), diffs them, and lists owned leftovers as deletes.
pub fn plan(resources: &[Arc<dyn Resource>], inventory: &Inventory) -> Result<Plan, Error> {
    let order = order_resources(resources)?;
    let matched = match_resources(resources, inventory);
    let used: HashSet<(&'static str, String)> =
        matched.values().map(|o| (o.kind, o.id.clone())).collect();
    let mut plan = Plan {
        matched,
        ..Plan::default()
    };
    let refs = plan.refs();
    for i in order {
        let r = &resources[i];
        let key = r.key();
        let change = match plan.matched.get(&key) {
            None => Some(PlannedChange {
                action: Action::Create,
                kind: key.kind,
                name: key.name.clone(),
                id: None,
                changes: Vec::new(),
            }),
            Some(o) => {
                let changes = diff(&r.desired(&refs), &o.attrs);
                (!changes.is_empty()).then(|| PlannedChange {
                    action: Action::Update,
                    kind: key.kind,
                    name: key.name.clone(),
                    id: Some(o.id.clone()),
                    changes,
                })
            }
        };
        plan.changes.extend(change);
    }
    plan.unwanted = inventory
        .all()
        .filter(|o| o.owned && !used.contains(&(o.kind, o.id.clone())))
        .cloned()
        .collect();
    for o in &plan.unwanted {
        plan.changes.push(PlannedChange {
            action: Action::Delete,
            kind: o.kind,
            name: o.display_name().to_string(),
            id: Some(o.id.clone()),
            changes: Vec::new(),
        });
    }
    Ok(plan)
}

fn match_resources(
    resources: &[Arc<dyn Resource>],
    inventory: &Inventory,
) -> HashMap<Key, Observed> {
    let mut matched = HashMap::new();
    let mut taken: HashSet<(&str, &str)> = HashSet::new();
    let mut unmatched = Vec::new();
    for r in resources {
        let key = r.key();
        let found = inventory.of(key.kind).iter().find(|o| {
            o.name.as_deref() == Some(key.name.as_str())
                && !taken.contains(&(o.kind, o.id.as_str()))
        });
        match found {
            Some(o) => {
                taken.insert((o.kind, o.id.as_str()));
                matched.insert(key, o.clone());
            }
            None => unmatched.push(r),
        }
    }
    for r in unmatched {
        let key = r.key();
        let found = inventory
            .of(key.kind)
            .iter()
            .find(|o| !taken.contains(&(o.kind, o.id.as_str())) && r.adopts(o));
        if let Some(o) = found {
            taken.insert((o.kind, o.id.as_str()));
            matched.insert(key, o.clone());
        }
    }
    matched
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            let (sign, verb) = match c.action {
                Action::Create => ('+', "create"),
                Action::Update => ('~', "update"),
                Action::Delete => ('-', "delete"),
            };
            write!(f, "{sign} {verb} {} {}", c.kind, c.name)?;
            if let Some(id) = &c.id {
                write!(f, " ({id})")?;
            }
            writeln!(f)?;
            for change in &c.changes {
                writeln!(f, "    {change}")?;
            }
        }
        write!(
            f,
            "Plan: {} to create, {} to update, {} to delete.",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Delete)
        )
    }
}
