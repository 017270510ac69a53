//! Which known word a mistyped one was meant to be: the command-line parser
//! and the config hints both suggest the nearest command or key.

/// The known word closest to `word`, if it is at most two edits away (ties go to the first).
pub(crate) fn nearest<'k>(word: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    known
        .into_iter()
        .map(|k| (distance(word, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, for short words.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_word_within_two_edits_is_suggested() {
        assert_eq!(nearest("doctr", ["doctor", "token"]), Some("doctor"));
        assert_eq!(nearest("instalation_id", ["installation_id", "app_id"]), Some("installation_id"));
        assert_eq!(nearest("frobnicate", ["doctor", "token"]), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
