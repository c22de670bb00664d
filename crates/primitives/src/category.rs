//! Work categories: a name and a time reference from which every deadline of a deal derives.
//!
//! The defaults are iExec's (XS 5 min … XL 10 h). Category ids are indices in the hub's list,
//! so `dexec devnet` creates [`DEFAULT_CATEGORIES`] in this order: XS = 0 … XL = 4.

use serde::Serialize;

/// A category of work as the hub stores it (`createCategory(name, description, timeref)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Short name (`XS`, `S`, …).
    pub name: &'static str,
    /// What the category is for.
    pub description: &'static str,
    /// Time reference in seconds: the expected upper bound of one task's run.
    pub timeref: u64,
}

/// Contribution deadline multiplier: workers must contribute within 7 × timeref of the deal start.
pub const CONTRIBUTION_DEADLINE_RATIO: u64 = 7;
/// Reveal deadline multiplier: workers must reveal within 2 × timeref of consensus.
pub const REVEAL_DEADLINE_RATIO: u64 = 2;
/// Final deadline multiplier: a task not finalized 10 × timeref after the deal start can be claimed.
pub const FINAL_DEADLINE_RATIO: u64 = 10;

impl Category {
    /// Seconds after the deal start by which a task must be contributed to.
    pub const fn contribution_deadline(&self) -> u64 {
        self.timeref * CONTRIBUTION_DEADLINE_RATIO
    }

    /// Seconds after consensus by which contributors must reveal.
    pub const fn reveal_deadline(&self) -> u64 {
        self.timeref * REVEAL_DEADLINE_RATIO
    }

    /// Seconds after the deal start after which an unfinished task can be claimed (refund).
    pub const fn final_deadline(&self) -> u64 {
        self.timeref * FINAL_DEADLINE_RATIO
    }
}

/// The five default categories, in id order.
pub const DEFAULT_CATEGORIES: [Category; 5] = [
    Category {
        name: "XS",
        description: "extra small: tasks of up to 5 minutes",
        timeref: 300,
    },
    Category {
        name: "S",
        description: "small: tasks of up to 20 minutes",
        timeref: 1_200,
    },
    Category {
        name: "M",
        description: "medium: tasks of up to 1 hour",
        timeref: 3_600,
    },
    Category {
        name: "L",
        description: "large: tasks of up to 3 hours",
        timeref: 10_800,
    },
    Category {
        name: "XL",
        description: "extra large: tasks of up to 10 hours",
        timeref: 36_000,
    },
];

/// The default category named `name` (case-insensitive) and its id.
pub fn default_by_name(name: &str) -> Option<(usize, &'static Category)> {
    DEFAULT_CATEGORIES
        .iter()
        .enumerate()
        .find(|(_, c)| c.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_iexec() {
        let timerefs: Vec<u64> = DEFAULT_CATEGORIES.iter().map(|c| c.timeref).collect();
        assert_eq!(timerefs, [300, 1200, 3600, 10800, 36000]);
        let names: Vec<&str> = DEFAULT_CATEGORIES.iter().map(|c| c.name).collect();
        assert_eq!(names, ["XS", "S", "M", "L", "XL"]);
    }

    #[test]
    fn deadlines() {
        let xs = DEFAULT_CATEGORIES[0];
        assert_eq!(xs.contribution_deadline(), 2100);
        assert_eq!(xs.reveal_deadline(), 600);
        assert_eq!(xs.final_deadline(), 3000);
    }

    #[test]
    fn lookup_by_name() {
        assert_eq!(default_by_name("xl").map(|(id, _)| id), Some(4));
        assert!(default_by_name("XXL").is_none());
    }
}
