//! Placeholder for the Perl-dialect regex wrapper (being written on its own branch):
//! `regex::bytes` first, `fancy-regex` for look-around and back-references.

/// A compiled Perl regular expression.
#[derive(Debug)]
pub struct PerlRegex {
    re: regex::bytes::Regex,
    names: Vec<(String, usize)>,
}

impl PerlRegex {
    /// Compiles a pattern; the error says why it does not compile.
    pub fn new(pattern: &str) -> Result<PerlRegex, String> {
        let re = regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .or_else(|_| regex::bytes::Regex::new(pattern))
            .map_err(|e| e.to_string())?;
        let names = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
            .collect();
        Ok(PerlRegex { re, names })
    }

    /// Compiles a pattern given as bytes.
    pub fn from_bytes(pattern: &[u8]) -> Result<PerlRegex, String> {
        Self::new(&String::from_utf8_lossy(pattern))
    }

    /// True if the pattern matches somewhere in `hay`.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        self.re.is_match(hay)
    }

    /// The number of capture groups, not counting the whole match.
    pub fn group_count(&self) -> usize {
        self.re.captures_len() - 1
    }

    /// Named groups and their indexes.
    pub fn group_names(&self) -> &[(String, usize)] {
        &self.names
    }

    /// Matches and fills `locs` (0 = whole match, then groups).
    pub fn captures_into(&self, hay: &[u8], locs: &mut Vec<Option<(usize, usize)>>) -> bool {
        locs.clear();
        match self.re.captures(hay) {
            Some(c) => {
                locs.extend(c.iter().map(|m| m.map(|m| (m.start(), m.end()))));
                true
            }
            None => false,
        }
    }
}
