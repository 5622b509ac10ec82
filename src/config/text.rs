//! Rule-file text that keeps every byte. Rule files are mostly UTF-8, but SEC reads them
//! as bytes, and a pattern may hold bytes that are not UTF-8 (Latin-1 log text, for
//! example). Such a byte `b` is decoded to the private-use character U+F700+b, so the
//! loader can treat the file as text, and encoded back to the byte wherever the text
//! becomes a pattern or an engine string.

use std::borrow::Cow;

const BASE: u32 = 0xF700;

/// Decodes rule-file bytes: valid UTF-8 as is, every other byte to U+F700+byte.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for &b in &bad[..n] {
                    out.push(char::from_u32(BASE + u32::from(b)).unwrap_or('\u{FFFD}'));
                }
                rest = &bad[n..];
            }
        }
    }
    Cow::Owned(out)
}

/// Encodes text from [`decode`] back to the original bytes.
pub fn encode(s: &str) -> Cow<'_, [u8]> {
    if !s.chars().any(|c| (BASE..BASE + 256).contains(&(c as u32))) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let u = c as u32;
        if (BASE..BASE + 256).contains(&u) {
            out.push((u - BASE) as u8);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let raw = b"pattern=[\xe9-\xe0] caf\xc3\xa9 \xff";
        let text = decode(raw);
        assert!(text.contains("caf\u{e9}"));
        assert_eq!(encode(&text).as_ref(), raw);
        assert!(matches!(decode(b"plain"), Cow::Borrowed(_)));
    }
}
