//! Placeholder for the Perl-dialect regex wrapper (being written on its own branch):
//! `regex::bytes` first, `fancy-regex` for look-around and back-references.

/// A compiled Perl regular expression.
#[derive(Debug)]
pub struct PerlRegex {
    re: regex::bytes::Regex,
}

impl PerlRegex {
    /// Compiles a pattern; the error says why it does not compile.
    pub fn new(pattern: &str) -> Result<PerlRegex, String> {
        let re = regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .or_else(|_| regex::bytes::Regex::new(pattern))
            .map_err(|e| e.to_string())?;
        Ok(PerlRegex { re })
    }

    /// True if the pattern matches somewhere in `hay`.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        self.re.is_match(hay)
    }

    /// The number of capture groups, not counting the whole match.
    pub fn group_count(&self) -> usize {
        self.re.captures_len() - 1
    }
}
