//! Strings as the Logic Apps runtime sees them: sequences of UTF-16 code units.
//!
//! Lengths and indexes in the expression language are .NET `char` counts, so a
//! character outside the Basic Multilingual Plane (an emoji) counts as two. The
//! helpers here convert between Rust strings and code-unit slices; a slice that
//! cuts a surrogate pair in half decodes the lone half as U+FFFD instead of failing.

/// The UTF-16 code units of `s`.
pub fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// The length of `s` in UTF-16 code units.
pub fn len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Text from code units; lone surrogates become U+FFFD.
pub fn text(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// Case folding that keeps one code unit per code unit (ordinal ignore-case, as
/// .NET compares), so indexes found in folded text are indexes in the original.
pub fn fold(units: &[u16]) -> Vec<u16> {
    units.iter().map(|&u| fold_unit(u)).collect()
}

fn fold_unit(u: u16) -> u16 {
    let Some(c) = char::from_u32(u32::from(u)) else {
        return u; // a surrogate half
    };
    if c.is_ascii() {
        return c.to_ascii_uppercase() as u16;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(up), None) if up.len_utf16() == 1 => {
            let mut buf = [0u16; 1];
            up.encode_utf16(&mut buf);
            buf[0]
        }
        _ => u,
    }
}

/// First index of `needle` in `hay` at or after `from`.
pub fn find_from(hay: &[u16], needle: &[u16], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    if needle.is_empty() {
        return Some(from);
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Last index of `needle` in `hay` that starts at or before `upto`.
pub fn rfind_upto(hay: &[u16], needle: &[u16], upto: usize) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    let last_start = (hay.len() - needle.len()).min(upto);
    (0..=last_start)
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_bmp_characters_count_two_units() {
        assert_eq!(len("a😀b"), 4);
        assert_eq!(text(&units("a😀b")[1..2]), "\u{FFFD}");
    }

    #[test]
    fn folding_keeps_positions() {
        assert_eq!(fold(&units("aBç😀")), units("ABÇ😀"));
        assert_eq!(
            find_from(&fold(&units("Hello")), &fold(&units("LL")), 0),
            Some(2)
        );
        assert_eq!(rfind_upto(&units("abab"), &units("ab"), 10), Some(2));
        assert_eq!(rfind_upto(&units("abab"), &units("ab"), 1), Some(0));
    }
}
