//! Which part of a search term a trigram index (PostgreSQL's `pg_trgm` GIN index, SQLite's
//! FTS5 table with the trigram tokenizer) is best asked for.
//!
//! A trigram index answers `LIKE '%q%'` by intersecting the entries of every trigram of `q`,
//! and the entry of a trigram that most accounts share (the `ben`, `enc`, `nch` of a million
//! addresses that begin alike, an `exa` of `example.com`) is read whole: at a million accounts
//! that is most of the time of a search for one of them. So the store keeps a small random
//! sample of the accounts' search texts, and asks the index for the longest part of the term
//! whose trigrams fewer than a quarter of the sample hold; the full `LIKE` still decides each
//! candidate, so the results are those of the whole term. A term that a quarter of the sample
//! holds whole is not asked of the index at all: a scan in id order finds a page of its
//! accounts sooner than the index hands over thousands of candidates (and on SQLite, without
//! the megabytes the index's reading of them takes on each connection).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a sample serves before the next search takes a fresh one.
const LIFETIME: Duration = Duration::from_secs(600);
/// The fewest sampled texts that say anything: below this the table is small enough for the
/// whole term to be cheap.
const MIN_SAMPLE: usize = 100;
/// A trigram at least this share of the sample holds is common: the index is not asked for it.
const COMMON_SHARE: usize = 4;
/// The longest term weighed; a longer one is rare enough as typed.
const MAX_TERM_CHARS: usize = 64;

/// The sample of search texts a store keeps, and when it was taken.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    held: Mutex<Option<(Instant, Arc<[String]>)>>,
}

impl Samples {
    /// The sample, if one was taken within [`LIFETIME`].
    pub(crate) fn fresh(&self) -> Option<Arc<[String]>> {
        let held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.as_ref().filter(|(taken, _)| taken.elapsed() < LIFETIME).map(|(_, texts)| Arc::clone(texts))
    }

    /// Keeps `texts` as the sample from now on.
    pub(crate) fn keep(&self, texts: Vec<String>) -> Arc<[String]> {
        let texts: Arc<[String]> = texts.into();
        *self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), Arc::clone(&texts)));
        texts
    }
}

/// The longest part of `term` (lower-cased, as the search texts are) made of letters and digits
/// whose every trigram fewer than one in [`COMMON_SHARE`] of `sample` holds; `None` when the
/// whole term is that part, when no trigram of it is rare, or when the sample is too small to
/// tell.
pub(crate) fn rarest_part<'t>(term: &'t str, sample: &[String]) -> Option<&'t str> {
    if sample.len() < MIN_SAMPLE || term.chars().count() > MAX_TERM_CHARS {
        return None;
    }
    // Byte offsets of the term's characters, with its end.
    let bounds: Vec<usize> = term.char_indices().map(|(at, _)| at).chain([term.len()]).collect();
    let chars: Vec<char> = term.chars().collect();
    let rare = |at: usize| {
        let trigram = &term[bounds[at]..bounds[at + 3]];
        let holders = sample.iter().filter(|text| text.contains(trigram)).count();
        holders * COMMON_SHARE < sample.len()
    };
    // The longest run of consecutive rare trigrams within one word (trigram indexes split the
    // text at every character that is neither a letter nor a digit).
    let mut best: Option<(usize, usize)> = None;
    let mut run_start = None;
    for at in 0..chars.len().saturating_sub(2) {
        let in_word = chars[at..at + 3].iter().all(|c| c.is_alphanumeric());
        if in_word && rare(at) {
            let start = *run_start.get_or_insert(at);
            if best.is_none_or(|(from, to)| at - start > to - from) {
                best = Some((start, at));
            }
        } else {
            run_start = None;
        }
    }
    let (first, last) = best?;
    let part = &term[bounds[first]..bounds[last + 3]];
    (part.len() < term.len()).then_some(part)
}

/// Whether at least one in [`COMMON_SHARE`] of `sample` holds the whole `term` (lower-cased);
/// `false` when the sample is too small to tell.
pub(crate) fn held_by_many(term: &str, sample: &[String]) -> bool {
    sample.len() >= MIN_SAMPLE
        && sample.iter().filter(|text| text.contains(term)).count() * COMMON_SHARE >= sample.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million seeded addresses in miniature: every one begins with `bench`.
    fn seeded(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                let k = i * 7919 % 1_000_000;
                format!("bench{k}@example.com bench{k} seed {k}")
            })
            .collect()
    }

    #[test]
    fn the_index_is_asked_for_the_part_without_the_shared_trigrams() {
        let sample = seeded(500);
        assert_eq!(rarest_part("bench700000", &sample), Some("ch700000"));
        assert_eq!(rarest_part("bench700000@example.com", &sample), Some("ch700000"));
        assert_eq!(rarest_part("bénch7ü0000", &sample), Some("ch7ü0000"));
        assert_eq!(rarest_part("seed 123456", &sample), Some("123456"));
    }

    #[test]
    fn a_term_that_is_rare_whole_or_common_whole_is_asked_as_typed() {
        let sample = seeded(500);
        assert_eq!(rarest_part("zqx912", &sample), None);
        assert_eq!(rarest_part("bench", &sample), None);
        assert_eq!(rarest_part("ch", &sample), None);
        assert_eq!(rarest_part("", &sample), None);
    }

    #[test]
    fn a_small_sample_says_nothing() {
        assert_eq!(rarest_part("bench700000", &seeded(MIN_SAMPLE - 1)), None);
        assert_eq!(rarest_part("bench700000", &seeded(MIN_SAMPLE)), Some("ch700000"));
        assert!(!held_by_many("example.com", &seeded(MIN_SAMPLE - 1)));
    }

    #[test]
    fn a_term_a_quarter_of_the_sample_holds_whole_is_held_by_many() {
        let sample = seeded(500);
        assert!(held_by_many("example.com", &sample));
        assert!(held_by_many("bench", &sample));
        assert!(held_by_many("seed ", &sample));
        // Each trigram common, the whole term rare.
        assert!(!held_by_many("com.example", &sample));
        // About one in nine seeded numbers begins with 7.
        assert!(!held_by_many("bench7", &sample));
        assert!(!held_by_many("bench700000", &sample));
    }

    #[test]
    fn a_stale_sample_is_not_served() {
        let samples = Samples::default();
        assert!(samples.fresh().is_none());
        samples.keep(vec!["a".into()]);
        assert_eq!(samples.fresh().as_deref(), Some(&["a".to_string()][..]));
        samples.held.lock().unwrap().as_mut().unwrap().0 = Instant::now() - LIFETIME;
        assert!(samples.fresh().is_none());
    }
}
