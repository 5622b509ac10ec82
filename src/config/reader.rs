//! The first phase of loading: bytes to raw rules. It owns SEC's line handling (trailing
//! `\` continuation that keeps inner whitespace and swallows what follows, comment and
//! blank-line separation, `rem=`, `label=`, duplicate keywords) and knows nothing about
//! what keywords mean.

use pest::Parser;

/// The pest parser for one logical rule-file line (grammar/rulefile.pest).
#[derive(pest_derive::Parser)]
#[grammar = "../grammar/rulefile.pest"]
struct LineParser;

/// A rule as written: its keywords in file order, before validation.
#[derive(Clone, Debug, Default)]
pub struct RawRule {
    /// The line SEC reports for the rule: the line after the previous separator.
    pub start_line: usize,
    /// The keyword/value pairs; a repeated keyword keeps only its last value.
    pub fields: Vec<(String, String)>,
}

impl RawRule {
    /// The value of a keyword, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// True if the keyword is present.
    pub fn has(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == key)
    }
}

/// What the reader found, in file order.
#[derive(Clone, Debug)]
pub enum Item {
    /// A complete raw rule (to be validated and numbered in order).
    Rule(RawRule),
    /// `label=NAME`, naming the position of the next valid rule.
    Label(String),
}

/// The result of reading one file.
#[derive(Clone, Debug, Default)]
pub struct ReadResult {
    /// Rules and labels in order.
    pub items: Vec<Item>,
    /// False if a line was not in keyword=value form.
    pub ok: bool,
}

/// Perl's `\s` (without `/u`): space, `\t`, `\n`, `\x0B`, `\f`, `\r`.
pub fn is_perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// Trims Perl whitespace from both ends.
pub fn perl_trim(s: &str) -> &str {
    s.trim_matches(is_perl_space)
}

/// Reads a rule file's text into raw rules and labels, logging bad lines and duplicate
/// keywords as SEC does.
pub fn read(name: &str, text: &str) -> ReadResult {
    let mut out = ReadResult {
        items: Vec::new(),
        ok: true,
    };
    let mut rule = RawRule {
        start_line: 1,
        fields: Vec::new(),
    };
    let mut pending = String::new();
    let mut cont = false;
    // Perl's <$fh> yields lines split after "\n"; a final "\n" yields no empty line.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = if text.is_empty() {
        Vec::new()
    } else {
        body.split('\n').collect::<Vec<_>>()
    };
    // A sentinel for end of file.
    let eof_index = lines.len();
    lines.push("");
    for (idx, raw) in lines.iter().enumerate() {
        let lineno = idx + 1;
        let at_eof = idx == eof_index;
        let line: String = if at_eof {
            String::new()
        } else {
            let joined = if cont {
                let mut s = std::mem::take(&mut pending);
                s.push_str(raw);
                s
            } else {
                (*raw).to_string()
            };
            let trimmed = perl_trim(&joined).to_string();
            if let Some(stripped) = trimmed.strip_suffix('\\') {
                pending = stripped.to_string();
                cont = true;
                continue;
            }
            cont = false;
            trimmed
        };
        if at_eof || line.is_empty() || line.starts_with('#') {
            if !rule.fields.is_empty() {
                out.items.push(Item::Rule(std::mem::take(&mut rule)));
            }
            rule.start_line = lineno + 1;
            if at_eof {
                break;
            }
            continue;
        }
        let Some((keyword, value)) = split_keyword(&line) else {
            crate::err!(
                "{name} line {lineno} ({line}): Line not in keyword=value format or non-alphanumeric keyword"
            );
            out.ok = false;
            continue;
        };
        match keyword.as_str() {
            "label" => out.items.push(Item::Label(value)),
            "rem" => {}
            _ => {
                if let Some(slot) = rule.fields.iter_mut().find(|(k, _)| *k == keyword) {
                    crate::warn!(
                        "Several '{keyword}' keywords specified, overriding previous value '{}' with '{value}'",
                        slot.1
                    );
                    slot.1 = value;
                } else {
                    rule.fields.push((keyword, value));
                }
            }
        }
    }
    out
}

/// Splits a trimmed, non-comment line into keyword and value with the rule-file grammar.
fn split_keyword(line: &str) -> Option<(String, String)> {
    // The common shape, `keyword=value` with nothing around the `=`, needs no parser
    // (a pest parse costs some 5000 instructions a line, most of a big file's load).
    if let Some((k, v)) = line.split_once('=') {
        let plain = !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_alphanumeric())
            && v.chars().next().is_some_and(|c| !is_perl_space(c));
        if plain {
            return Some((k.to_string(), v.to_string()));
        }
    }
    split_keyword_pest(line)
}

/// [`split_keyword`] by the grammar (grammar/rulefile.pest).
fn split_keyword_pest(line: &str) -> Option<(String, String)> {
    let pairs = LineParser::parse(Rule::line, line).ok()?;
    let mut keyword = None;
    let mut value = None;
    for pair in pairs.flatten() {
        match pair.as_rule() {
            Rule::keyword => keyword = Some(pair.as_str().to_string()),
            Rule::value => value = Some(pair.as_str().to_string()),
            _ => {}
        }
    }
    Some((keyword?, value?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<RawRule> {
        read("t", text)
            .items
            .into_iter()
            .filter_map(|i| match i {
                Item::Rule(r) => Some(r),
                Item::Label(_) => None,
            })
            .collect()
    }

    #[test]
    fn plain_lines_split_as_the_grammar_does() {
        for line in [
            "type=Single",
            "pattern=a=b",
            "desc=x ",
            "a b=c",
            "a_b=c",
            "k= v",
            "k =v",
            "=v",
            "k=",
            "K9=\u{e9}",
            "\u{e9}=v",
        ] {
            let line = perl_trim(line);
            assert_eq!(split_keyword(line), split_keyword_pest(line), "{line:?}");
        }
        // Every line of the shared corpus of real rule files.
        fn walk(dir: &std::path::Path, n: &mut usize) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, n);
                } else if let Ok(text) = std::fs::read(&p) {
                    for line in String::from_utf8_lossy(&text).lines() {
                        let line = perl_trim(line);
                        assert_eq!(split_keyword(line), split_keyword_pest(line), "{line:?}");
                        *n += 1;
                    }
                }
            }
        }
        let mut n = 0;
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
            &mut n,
        );
        if std::env::var_os("CI").is_some() {
            assert!(n > 1000, "the shared corpus is missing ({n} lines)");
        }
    }

    #[test]
    fn continuation_keeps_inner_whitespace() {
        let r = rules("desc=a   \\\n      b\n");
        assert_eq!(r[0].get("desc"), Some("a         b"));
    }

    #[test]
    fn continuation_swallows_blank_and_comment() {
        let r = rules("type=single\ndesc=x \\\n\ntype=pair\n");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].get("type"), Some("pair"));
        let r = rules("desc=x \\\n# c\nptype=substr\n");
        assert_eq!(r[0].get("desc"), Some("x # c"));
    }

    #[test]
    fn hash_inside_value_is_literal() {
        let r = rules("desc=d1 # not a comment\n");
        assert_eq!(r[0].get("desc"), Some("d1 # not a comment"));
    }

    #[test]
    fn start_lines_follow_separators() {
        let r = rules("\n\ntype=a\n# c\ntype=b\n\n\ntype=c");
        let starts: Vec<_> = r.iter().map(|r| r.start_line).collect();
        assert_eq!(starts, vec![3, 5, 8]);
    }

    #[test]
    fn bad_line_is_reported_and_skipped() {
        let res = read("t", "type=single\nnot a keyword line\ndesc=x\n");
        assert!(!res.ok);
        assert_eq!(res.items.len(), 1);
    }

    #[test]
    fn keyword_rules() {
        assert_eq!(
            split_keyword("desc  =  x y"),
            Some(("desc".into(), "x y".into()))
        );
        assert_eq!(split_keyword("de_sc=x"), None);
        assert_eq!(split_keyword("desc="), None);
        assert_eq!(split_keyword("=x"), None);
    }

    #[test]
    fn dangling_continuation_at_eof_is_dropped() {
        let r = rules("type=single\ndesc=x \\");
        assert_eq!(r[0].get("desc"), None);
    }
}
