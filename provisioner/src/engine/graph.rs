//! Dependency ordering of resources and of kinds.

use crate::engine::{Key, Kind, Resource};
use crate::Error;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Indices of `resources` in an order where every resource comes after the
/// ones it depends on. Fails on unknown dependencies, duplicates and cycles.
pub fn order_resources(resources: &[Arc<dyn Resource>]) -> Result<Vec<usize>, Error> {
    let index: HashMap<Key, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key(), i))
        .collect();
    if index.len() != resources.len() {
        return Err(Error::Plan(
            "two desired resources share a kind and name".into(),
        ));
    }
    let mut deps = Vec::with_capacity(resources.len());
    for r in resources {
        let mut d = Vec::new();
        for k in r.depends_on() {
            let i = index.get(&k).ok_or_else(|| {
                Error::Plan(format!(
                    "{} depends on {k}, which is not in the stack",
                    r.key()
                ))
            })?;
            d.push(*i);
        }
        deps.push(d);
    }
    let names: Vec<String> = resources.iter().map(|r| r.key().to_string()).collect();
    topological(&deps, &names)
}

/// Kinds grouped by level: level 0 depends on nothing, level n only on
/// lower levels. Discovery walks the levels up, deletion down.
pub fn kind_levels(kinds: &[Arc<dyn Kind>]) -> Result<Vec<Vec<usize>>, Error> {
    let index: HashMap<&str, usize> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| (k.name(), i))
        .collect();
    let mut deps = Vec::with_capacity(kinds.len());
    for k in kinds {
        let mut d = Vec::new();
        for dep in k.depends_on() {
            let i = index.get(dep).ok_or_else(|| {
                Error::Plan(format!(
                    "kind {} depends on kind {dep}, which is not registered",
                    k.name()
                ))
            })?;
            d.push(*i);
        }
        deps.push(d);
    }
    let names: Vec<String> = kinds.iter().map(|k| k.name().to_string()).collect();
    let order = topological(&deps, &names)?;
    let mut level = vec![0usize; kinds.len()];
    for &i in &order {
        level[i] = deps[i].iter().map(|&d| level[d] + 1).max().unwrap_or(0);
    }
    let mut levels: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, l) in level.iter().enumerate() {
        levels.entry(*l).or_default().push(i);
    }
    Ok(levels.into_values().collect())
}

/// Kahn's algorithm over `deps[i]` = indices node i depends on.
fn topological(deps: &[Vec<usize>], names: &[String]) -> Result<Vec<usize>, Error> {
    let n = deps.len();
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &j in d {
            dependents[j].push(i);
        }
    }
    // First in, first out keeps the declared order where dependencies allow.
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &j in &dependents[i] {
            remaining[j] -= 1;
            if remaining[j] == 0 {
                ready.push_back(j);
            }
        }
    }
    if order.len() != n {
        let stuck: Vec<&str> = (0..n)
            .filter(|i| remaining[*i] > 0)
            .map(|i| names[i].as_str())
            .collect();
        return Err(Error::Plan(format!(
            "dependency cycle among: {}",
            stuck.join(", ")
        )));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn orders_dependencies_first() {
        let deps = vec![vec![1, 2], vec![2], vec![]];
        let order = topological(&deps, &names(3)).unwrap();
        let pos = |x| order.iter().position(|&i| i == x).unwrap();
        assert!(pos(2) < pos(1) && pos(1) < pos(0));
    }

    #[test]
    fn rejects_cycles_naming_them() {
        let deps = vec![vec![1], vec![0], vec![]];
        let err = topological(&deps, &names(3)).unwrap_err().to_string();
        assert!(
            err.contains("cycle") && err.contains('0') && err.contains('1'),
            "{err}"
        );
    }
}
