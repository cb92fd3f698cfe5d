//! Plausible first names for ships whose players chose none.

use super::rng::Rng;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Alice", "Amara", "Anya", "Arlo", "Astrid", "Ben", "Bianca", "Carla", "Cleo",
    "Dara", "Dev", "Elena", "Elio", "Emil", "Farah", "Felix", "Freya", "Gus", "Hana", "Hugo",
    "Ines", "Ivan", "Jade", "Jonas", "Kai", "Kira", "Lars", "Lena", "Leo", "Lina", "Luca", "Maya",
    "Milo", "Mira", "Nadia", "Nico", "Nina", "Noah", "Olga", "Omar", "Otto", "Pia", "Quinn",
    "Rafa", "Rosa", "Ruth", "Sami", "Sara", "Theo", "Tomas", "Uma", "Vera", "Viktor", "Wren",
    "Xena", "Yara", "Yuri", "Zane", "Zoe",
];

/// A generated name that no live ship carries (`taken` says which are), so a
/// scoreboard never shows two of the same. Past the list's length, names get
/// the ship's id as a number: unique without scanning a big room.
pub fn unused_name(rng: &mut Rng, suffix: &str, id: u32, taken: &[&str]) -> String {
    let pick = |rng: &mut Rng| format!("{}{suffix}", FIRST_NAMES[rng.below(FIRST_NAMES.len())]);
    if taken.len() >= FIRST_NAMES.len() {
        return format!("{}{id}", pick(rng));
    }
    for _ in 0..8 {
        let name = pick(rng);
        if !taken.contains(&name.as_str()) {
            return name;
        }
    }
    FIRST_NAMES
        .iter()
        .map(|n| format!("{n}{suffix}"))
        .find(|n| !taken.contains(&n.as_str()))
        .unwrap_or_else(|| format!("{}{id}", pick(rng)))
}
