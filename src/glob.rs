//! Perl's `glob()` as SEC uses it for `--conf` and `--input`: whitespace separates
//! patterns, `{a,b}` expands, `~` is the home directory, `*`, `?` and `[...]` match within
//! one path component, results of a wildcard pattern are sorted and a pattern without
//! wildcards is returned as written, whether or not the file exists.

use std::path::Path;

/// Expands a glob expression into file names.
pub fn glob(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in expr.split_whitespace() {
        for pat in expand_braces(word) {
            let pat = expand_tilde(&pat);
            if !pat.contains(['*', '?', '[']) {
                out.push(pat);
                continue;
            }
            let mut found = Vec::new();
            let absolute = pat.starts_with('/');
            let comps: Vec<&str> = pat.split('/').filter(|c| !c.is_empty()).collect();
            walk(if absolute { "/" } else { "" }, &comps, &mut found);
            found.sort();
            out.extend(found);
        }
    }
    out
}

fn expand_tilde(p: &str) -> String {
    if p == "~" || p.starts_with("~/") {
        if let Ok(home) = std::env::var("HOME") {
            return format!("{home}{}", &p[1..]);
        }
    }
    p.to_string()
}

fn expand_braces(word: &str) -> Vec<String> {
    let bytes = word.as_bytes();
    let Some(open) = word.find('{') else {
        return vec![word.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![word.to_string()];
    };
    let (pre, post) = (&word[..open], &word[close + 1..]);
    let mut alts = Vec::new();
    let mut start = open + 1;
    for c in commas.iter().copied().chain(std::iter::once(close)) {
        alts.push(&word[start..c]);
        start = c + 1;
    }
    if alts.len() == 1 && alts[0].is_empty() {
        return vec![word.to_string()];
    }
    let mut out = Vec::new();
    for alt in alts {
        for rest in expand_braces(&format!("{alt}{post}")) {
            out.push(format!("{pre}{rest}"));
        }
    }
    out
}

fn walk(dir: &str, comps: &[&str], out: &mut Vec<String>) {
    let Some((first, rest)) = comps.split_first() else {
        return;
    };
    let join = |name: &str| {
        if dir.is_empty() {
            name.to_string()
        } else if dir.ends_with('/') {
            format!("{dir}{name}")
        } else {
            format!("{dir}/{name}")
        }
    };
    if !first.contains(['*', '?', '[']) {
        let p = join(first);
        if rest.is_empty() {
            if Path::new(&p).exists() || std::fs::symlink_metadata(&p).is_ok() {
                out.push(p);
            }
        } else {
            walk(&p, rest, out);
        }
        return;
    }
    let read_dir = if dir.is_empty() { "." } else { dir };
    let Ok(entries) = std::fs::read_dir(read_dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') || first.starts_with('.'))
        .filter(|n| wildcard(first.as_bytes(), n.as_bytes()))
        .collect();
    names.sort();
    for n in names {
        let p = join(&n);
        if rest.is_empty() {
            out.push(p);
        } else if Path::new(&p).is_dir() {
            walk(&p, rest, out);
        }
    }
}

/// Matches one path component against a shell wildcard (`*`, `?`, `[...]`, `\x`).
pub fn wildcard(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && wildcard(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            let (negate, body) = match rest.first() {
                Some(b'!') | Some(b'^') => (true, &rest[1..]),
                _ => (false, rest),
            };
            let Some(end) = body.iter().skip(1).position(|&b| b == b']').map(|p| p + 1) else {
                return c == b'[' && wildcard(rest, name_rest);
            };
            let set = &body[..end];
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && wildcard(&body[end + 1..], name_rest)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            name.first() == rest.first() && wildcard(&rest[1..], &name[1..])
        }
        Some((&p, rest)) => name.first() == Some(&p) && wildcard(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard(b"*.sec", b"a.sec"));
        assert!(!wildcard(b"*.sec", b"a.rules"));
        assert!(wildcard(b"a?[0-9]", b"ab7"));
        assert!(wildcard(b"[!a]*", b"b"));
    }

    #[test]
    fn braces_and_literals() {
        assert_eq!(glob("x{a,b}y"), vec!["xay", "xby"]);
        assert_eq!(glob("no_such_file.sec"), vec!["no_such_file.sec"]);
        assert!(glob("/no_such_dir/*.sec").is_empty());
    }
}
