//! The languages gatehouse has every text in, as accounts carry them.

use std::fmt;

/// A language gatehouse has every text in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    En,
    De,
    Fr,
    Es,
}

impl Locale {
    pub const ALL: [Locale; 4] = [Locale::En, Locale::De, Locale::Fr, Locale::Es];

    /// The language's code, as accounts carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::De => "de",
            Locale::Fr => "fr",
            Locale::Es => "es",
        }
    }

    /// A language tag (`de`, `de-AT`, `fr_CA`; any case) whose language gatehouse speaks.
    pub fn parse(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Locale::ALL.into_iter().find(|locale| locale.as_str().eq_ignore_ascii_case(primary))
    }

    /// The first language of an `Accept-Language` header, by its weight, that gatehouse speaks.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut wanted: Vec<(u16, usize, Locale)> = header
            .split(',')
            .enumerate()
            .filter_map(|(at, item)| {
                let mut parts = item.split(';');
                let locale = Locale::parse(parts.next()?)?;
                let weight = parts.filter_map(|p| p.trim().strip_prefix("q=")).next().map_or(Some(1000), |q| {
                    q.trim().parse::<f32>().ok().map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                })?;
                (weight > 0).then_some((weight, at, locale))
            })
            .collect();
        wanted.sort_by_key(|&(weight, at, _)| (std::cmp::Reverse(weight), at));
        wanted.first().map(|&(_, _, locale)| locale)
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
