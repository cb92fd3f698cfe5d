//! Plausible first names for ships whose players chose none.

use super::rng::Rng;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Alice", "Amara", "Anya", "Arlo", "Astrid", "Ben", "Bianca", "Carla", "Cleo",
    "Dara", "Dev", "Elena", "Elio", "Emil", "Farah", "Felix", "Freya", "Gus", "Hana", "Hugo",
    "Ines", "Ivan", "Jade", "Jonas", "Kai", "Kira", "Lars", "Lena", "Leo", "Lina", "Luca",
    "Maya", "Milo", "Mira", "Nadia", "Nico", "Nina", "Noah", "Olga", "Omar", "Otto", "Pia",
    "Quinn", "Rafa", "Rosa", "Ruth", "Sami", "Sara", "Theo", "Tomas", "Uma", "Vera", "Viktor",
    "Wren", "Xena", "Yara", "Yuri", "Zane", "Zoe",
];

pub fn first_name(rng: &mut Rng) -> String {
    FIRST_NAMES[rng.below(FIRST_NAMES.len())].to_string()
}

pub fn bot_name(rng: &mut Rng) -> String {
    format!("{}Bot", first_name(rng))
}
