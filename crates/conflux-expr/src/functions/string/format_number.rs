//! `formatNumber(number, format, locale?)`: .NET numeric format strings.
//!
//! Standard formats (`C`, `D`, `E`, `F`, `G`, `N`, `P`, `R`, `X`, each with an
//! optional precision) and custom patterns (`0 # . , % ‰ E+0`, `;` sections,
//! quoted and escaped literals). Numbers are rounded half away from zero on their
//! shortest decimal form, so `2.675` with two decimals is `2.68`, as a reader of
//! the number expects.

use super::culture::{self, Culture};
use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

/// The largest precision a standard format accepts (.NET Framework's limit); it
/// also keeps a format like `F999999999` from building a gigabyte of zeros.
const MAX_PRECISION: usize = 99;

/// A non-negative decimal number `0.d1d2d3... × 10^exp` and its sign.
#[derive(Clone, Debug)]
struct Digits {
    negative: bool,
    /// Decimal digits without leading or trailing zeros; empty for zero.
    digits: Vec<u8>,
    exp: i32,
}

impl Digits {
    fn from_decimal_text(negative: bool, text: &str) -> Digits {
        // `text` is `123.456` or `1.23e-7` style, non-negative.
        let (mantissa, e) = match text.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (text, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        let mut exp = int.len() as i32 + e;
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..lead);
        exp -= lead as i32;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            exp = 0;
        }
        Digits {
            negative,
            digits,
            exp,
        }
    }

    fn from_value(v: &Value) -> Result<Digits, EvalError> {
        match v {
            Value::Int(i) => Ok(Digits::from_decimal_text(
                *i < 0,
                &i.unsigned_abs().to_string(),
            )),
            Value::Float(f) => Ok(Digits::from_decimal_text(
                f.is_sign_negative(),
                &format!("{:e}", f.abs()),
            )),
            Value::Decimal(d) => Ok(Digits::from_decimal_text(
                d.is_sign_negative(),
                &d.abs().to_string(),
            )),
            other => Err(args::type_error(0, "Number", other)),
        }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Rounds (half away from zero) to keep `keep` leading digits.
    fn round_to_digits(&mut self, keep: i32) {
        if keep < 0 {
            self.digits.clear();
            self.exp = 0;
            return;
        }
        let keep = keep as usize;
        if keep >= self.digits.len() {
            return;
        }
        let round_up = self.digits[keep] >= 5;
        self.digits.truncate(keep);
        if round_up {
            let mut i = keep;
            loop {
                if i == 0 {
                    self.digits.insert(0, 1);
                    self.exp += 1;
                    break;
                }
                i -= 1;
                if self.digits[i] == 9 {
                    self.digits[i] = 0;
                } else {
                    self.digits[i] += 1;
                    break;
                }
            }
        }
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        if self.digits.is_empty() {
            self.exp = 0;
        }
    }

    fn round_to_decimals(&mut self, decimals: i32) {
        self.round_to_digits(self.exp.saturating_add(decimals));
    }

    fn digit_at(&self, index: i64) -> char {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.digits.get(i))
            .map_or('0', |d| char::from(b'0' + d))
    }

    /// Integer part digits without leading zeros ("" for values below 1).
    fn int_part(&self) -> String {
        (0..i64::from(self.exp.max(0)))
            .map(|i| self.digit_at(i))
            .collect()
    }

    /// The first `count` fraction digits.
    fn frac_part(&self, count: usize) -> String {
        (0..count as i64)
            .map(|i| self.digit_at(i64::from(self.exp) + i))
            .collect()
    }
}

/// Inserts group separators into integer digits.
fn group(int: &str, culture: &Culture) -> String {
    let boundaries = group_boundaries(int.len(), culture.group_sizes);
    let mut out = String::with_capacity(int.len() + int.len() / 3 * culture.group.len());
    for (i, c) in int.chars().enumerate() {
        out.push(c);
        if boundaries.contains(&(int.len() - 1 - i)) {
            out.push_str(culture.group);
        }
    }
    out
}

/// Counts of digits to the right after which a separator follows.
fn group_boundaries(len: usize, sizes: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    loop {
        let size = sizes.get(i).or(sizes.last()).copied().unwrap_or(3).max(1);
        at += size;
        if at >= len {
            return out;
        }
        out.push(at);
        i += 1;
    }
}

fn fixed(d: &Digits, decimals: usize, grouped: bool, culture: &Culture) -> String {
    let mut int = d.int_part();
    if int.is_empty() {
        int.push('0');
    }
    let mut out = if grouped { group(&int, culture) } else { int };
    if decimals > 0 {
        out.push_str(culture.decimal);
        out.push_str(&d.frac_part(decimals));
    }
    out
}

fn apply_pattern(pattern: &str, number: &str, symbol: &str) -> String {
    let mut out = String::new();
    for c in pattern.chars() {
        match c {
            'n' => out.push_str(number),
            '$' => out.push_str(symbol),
            other => out.push(other),
        }
    }
    out
}

fn scientific(
    d: &Digits,
    decimals: usize,
    upper: bool,
    min_exp_digits: usize,
    dec: &str,
) -> String {
    let exp = if d.is_zero() { 0 } else { d.exp - 1 };
    let mut out = String::new();
    out.push(d.digit_at(0));
    if decimals > 0 {
        out.push_str(dec);
        out.extend((1..=decimals as i64).map(|i| d.digit_at(i)));
    }
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!(
        "{:0width$}",
        exp.unsigned_abs(),
        width = min_exp_digits
    ));
    out
}

fn general(d: &Digits, precision: usize, upper: bool, dec: &str) -> String {
    let exp = if d.is_zero() { 0 } else { d.exp - 1 };
    if exp >= -5 && exp < precision as i32 {
        let frac_len = (d.digits.len() as i32 - d.exp).max(0) as usize;
        let mut int = d.int_part();
        if int.is_empty() {
            int.push('0');
        }
        if frac_len > 0 {
            int.push_str(dec);
            int.push_str(&d.frac_part(frac_len));
        }
        int
    } else {
        let decimals = d.digits.len().saturating_sub(1);
        scientific(d, decimals, upper, 2, dec)
    }
}

fn negate(text: String, negative: bool, d: &Digits) -> String {
    if negative && !d.is_zero() {
        format!("-{text}")
    } else {
        text
    }
}

/// Standard format `letter` + optional precision, or `None` when `format` is a custom pattern.
fn standard(value: &Value, format: &str, culture: &Culture) -> Option<Result<String, EvalError>> {
    let mut chars = format.chars();
    let letter = chars.next()?;
    let rest = chars.as_str();
    if !letter.is_ascii_alphabetic() || rest.len() > 9 || !rest.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let precision: Option<usize> = rest.parse().ok();
    if precision.is_some_and(|p| p > MAX_PRECISION) {
        return Some(Err(EvalError::new(format!(
            "the precision in '{format}' is above the maximum of {MAX_PRECISION}"
        ))));
    }
    Some(standard_format(value, letter, precision, culture))
}

fn standard_format(
    value: &Value,
    letter: char,
    precision: Option<usize>,
    culture: &Culture,
) -> Result<String, EvalError> {
    let mut d = Digits::from_value(value)?;
    let negative = d.negative;
    let dec = culture.decimal;
    let text = match letter.to_ascii_uppercase() {
        'C' => {
            let decimals = precision.unwrap_or(culture.currency_digits);
            d.round_to_decimals(decimals as i32);
            let number = fixed(&d, decimals, true, culture);
            let pattern = if negative && !d.is_zero() {
                culture.currency_negative
            } else {
                culture.currency_positive
            };
            apply_pattern(pattern, &number, culture.currency_symbol)
        }
        'D' => {
            let Value::Int(i) = value else {
                return Err(EvalError::new(format!(
                    "the format '{letter}' needs an Integer, got {}",
                    value.type_name()
                )));
            };
            let digits = format!("{:0width$}", i.unsigned_abs(), width = precision.unwrap_or(1));
            if *i < 0 { format!("-{digits}") } else { digits }
        }
        'X' => {
            let Value::Int(i) = value else {
                return Err(EvalError::new(format!(
                    "the format '{letter}' needs an Integer, got {}",
                    value.type_name()
                )));
            };
            let width = precision.unwrap_or(1);
            // Negative numbers print as their two's complement, as .NET does.
            let hex = format!("{:0width$x}", *i as u64, width = width);
            if letter == 'X' { hex.to_uppercase() } else { hex }
        }
        'E' => {
            let decimals = precision.unwrap_or(6);
            d.round_to_digits(decimals as i32 + 1);
            negate(scientific(&d, decimals, letter == 'E', 3, dec), negative, &d)
        }
        'F' | 'N' => {
            let decimals = precision.unwrap_or(2);
            d.round_to_decimals(decimals as i32);
            let grouped = letter.eq_ignore_ascii_case(&'N');
            negate(fixed(&d, decimals, grouped, culture), negative, &d)
        }
        'P' => {
            let decimals = precision.unwrap_or(2);
            if !d.is_zero() {
                d.exp += 2;
            }
            d.round_to_decimals(decimals as i32);
            let number = fixed(&d, decimals, true, culture);
            let pattern = if negative && !d.is_zero() {
                culture.percent_negative
            } else {
                culture.percent_positive
            };
            apply_pattern(&pattern.replace('%', "$"), &number, "%")
        }
        'G' => match precision.filter(|&p| p > 0) {
            Some(p) => {
                d.round_to_digits(p as i32);
                negate(general(&d, p, letter == 'G', dec), negative, &d)
            }
            None => round_trip(value, dec),
        },
        'R' => round_trip(value, dec),
        _ => {
            return Err(EvalError::new(format!(
                "'{letter}' is not a number format; use C, D, E, F, G, N, P, R, X or a custom pattern such as '#,##0.00'"
            )))
        }
    };
    Ok(text)
}

fn round_trip(value: &Value, dec: &str) -> String {
    value.to_text().replace('.', dec)
}

/// One token of a custom pattern.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Digit {
        zero: bool,
    },
    Point,
    Comma,
    Percent,
    Permille,
    Exponent {
        upper: bool,
        always_sign: bool,
        min_digits: usize,
    },
    Literal(String),
}

fn split_sections(format: &str) -> Vec<String> {
    let mut sections = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        let current = sections.last_mut().expect("sections is never empty");
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, '\\') => {
                current.push(c);
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            (None, ';') => sections.push(String::new()),
            (None, c) => current.push(c),
        }
    }
    sections
}

fn tokenize(section: &str) -> Vec<Tok> {
    let chars: Vec<char> = section.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut seen_point = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '0' => toks.push(Tok::Digit { zero: true }),
            '#' => toks.push(Tok::Digit { zero: false }),
            '.' if !seen_point => {
                seen_point = true;
                toks.push(Tok::Point);
            }
            '.' => {}
            ',' => toks.push(Tok::Comma),
            '%' => toks.push(Tok::Percent),
            '‰' => toks.push(Tok::Permille),
            'E' | 'e' => {
                let mut j = i;
                let mut always_sign = false;
                if let Some(&s) = chars.get(j).filter(|&&s| s == '+' || s == '-') {
                    always_sign = s == '+';
                    j += 1;
                }
                let zeros = chars[j..].iter().take_while(|&&z| z == '0').count();
                if zeros > 0 {
                    toks.push(Tok::Exponent {
                        upper: c == 'E',
                        always_sign,
                        min_digits: zeros,
                    });
                    i = j + zeros;
                } else {
                    toks.push(Tok::Literal(c.to_string()));
                }
            }
            '\\' => {
                if let Some(&n) = chars.get(i) {
                    toks.push(Tok::Literal(n.to_string()));
                    i += 1;
                }
            }
            '\'' | '"' => {
                let end = chars[i..]
                    .iter()
                    .position(|&q| q == c)
                    .map_or(chars.len(), |p| i + p);
                toks.push(Tok::Literal(chars[i..end].iter().collect()));
                i = end + 1;
            }
            other => toks.push(Tok::Literal(other.to_string())),
        }
    }
    toks
}

/// What a custom section asks for.
struct Layout {
    int_placeholders: usize,
    min_int: usize,
    frac_max: usize,
    frac_min: usize,
    grouped: bool,
    /// Powers of ten to multiply by (percent, permille, scaling commas).
    scale: i32,
    exponent: bool,
}

fn layout(toks: &[Tok]) -> Layout {
    let end_int = toks
        .iter()
        .position(|t| matches!(t, Tok::Point | Tok::Exponent { .. }))
        .unwrap_or(toks.len());
    let end_frac = toks
        .iter()
        .position(|t| matches!(t, Tok::Exponent { .. }))
        .unwrap_or(toks.len());
    let int_digits: Vec<usize> = (0..end_int)
        .filter(|&i| matches!(toks[i], Tok::Digit { .. }))
        .collect();
    let first_zero = (0..end_int).find(|&i| toks[i] == Tok::Digit { zero: true });
    let min_int = first_zero.map_or(0, |z| int_digits.iter().filter(|&&i| i >= z).count());
    let (first_int, last_int) = (int_digits.first().copied(), int_digits.last().copied());
    let mut grouped = false;
    let mut scale = 0;
    for (i, tok) in toks.iter().enumerate().take(end_int) {
        if *tok == Tok::Comma {
            match (first_int, last_int) {
                (Some(f), Some(l)) if i > f && i < l => grouped = true,
                (Some(_), Some(l)) if i > l => scale -= 3,
                _ => {}
            }
        }
    }
    let frac: Vec<&Tok> = toks[end_int.min(end_frac)..end_frac]
        .iter()
        .filter(|t| matches!(t, Tok::Digit { .. }))
        .collect();
    let frac_min = frac
        .iter()
        .rposition(|t| **t == Tok::Digit { zero: true })
        .map_or(0, |p| p + 1);
    for t in toks {
        match t {
            Tok::Percent => scale += 2,
            Tok::Permille => scale += 3,
            _ => {}
        }
    }
    Layout {
        int_placeholders: int_digits.len(),
        min_int,
        frac_max: frac.len(),
        frac_min,
        grouped,
        scale,
        exponent: end_frac < toks.len(),
    }
}

fn custom_section(d: &Digits, toks: &[Tok], culture: &Culture) -> (String, bool) {
    let lay = layout(toks);
    let mut d = d.clone();
    if !d.is_zero() {
        d.exp += lay.scale;
    }
    let mut exponent = 0i32;
    let int_digits: String;
    if lay.exponent {
        let int_count = lay.int_placeholders.max(1);
        d.round_to_digits((int_count + lay.frac_max) as i32);
        if !d.is_zero() {
            exponent = d.exp - int_count as i32;
            d.exp = int_count as i32;
        }
        int_digits = d.int_part();
    } else {
        d.round_to_decimals(lay.frac_max as i32);
        int_digits = d.int_part();
    }
    let int_digits = if int_digits.len() < lay.min_int {
        format!("{}{int_digits}", "0".repeat(lay.min_int - int_digits.len()))
    } else {
        int_digits
    };
    let mut frac = d.frac_part(lay.frac_max);
    while frac.len() > lay.frac_min && frac.ends_with('0') {
        frac.pop();
    }
    let boundaries = if lay.grouped {
        group_boundaries(int_digits.len(), culture.group_sizes)
    } else {
        Vec::new()
    };
    let int_chars: Vec<char> = int_digits.chars().collect();
    let extra = int_chars.len().saturating_sub(lay.int_placeholders);
    let mut out = String::new();
    let push_int = |out: &mut String, idx: usize| {
        out.push(int_chars[idx]);
        if boundaries.contains(&(int_chars.len() - 1 - idx)) {
            out.push_str(culture.group);
        }
    };
    let mut int_seen = 0usize;
    let mut int_done = lay.int_placeholders == 0;
    let mut frac_chars = frac.chars();
    let mut in_frac = false;
    for t in toks {
        match t {
            Tok::Digit { .. } if !in_frac => {
                if int_seen == 0 {
                    for idx in 0..extra {
                        push_int(&mut out, idx);
                    }
                }
                // Placeholder `int_seen` lines up with digit `idx`, counted from the right.
                let from_right = lay.int_placeholders - 1 - int_seen;
                if from_right < int_chars.len() {
                    push_int(&mut out, int_chars.len() - 1 - from_right);
                }
                int_seen += 1;
                int_done = int_seen == lay.int_placeholders;
            }
            Tok::Digit { .. } => {
                if let Some(c) = frac_chars.next() {
                    out.push(c);
                }
            }
            Tok::Point => {
                if !int_done {
                    for idx in 0..int_chars.len() {
                        push_int(&mut out, idx);
                    }
                    int_done = true;
                }
                in_frac = true;
                if !frac.is_empty() {
                    out.push_str(culture.decimal);
                }
            }
            Tok::Comma => {}
            Tok::Percent => out.push('%'),
            Tok::Permille => out.push('‰'),
            Tok::Exponent {
                upper,
                always_sign,
                min_digits,
            } => {
                in_frac = true;
                out.push(if *upper { 'E' } else { 'e' });
                if exponent < 0 {
                    out.push('-');
                } else if *always_sign {
                    out.push('+');
                }
                out.push_str(&format!("{:0w$}", exponent.unsigned_abs(), w = *min_digits));
            }
            Tok::Literal(s) => out.push_str(s),
        }
    }
    (out, d.is_zero())
}

fn custom(value: &Value, format: &str, culture: &Culture) -> Result<String, EvalError> {
    let d = Digits::from_value(value)?;
    let sections = split_sections(format);
    let section_toks: Vec<Vec<Tok>> = sections.iter().map(|s| tokenize(s)).collect();
    let use_negative = d.negative && section_toks.len() >= 2 && !sections[1].is_empty();
    let toks = if use_negative {
        &section_toks[1]
    } else {
        &section_toks[0]
    };
    let (text, rounded_zero) = custom_section(&d, toks, culture);
    if (d.is_zero() || rounded_zero) && section_toks.len() >= 3 && !sections[2].is_empty() {
        return Ok(custom_section(&d, &section_toks[2], culture).0);
    }
    if d.negative && !use_negative && !rounded_zero {
        return Ok(format!("-{text}"));
    }
    Ok(text)
}

/// Formats a number with a .NET format string in the given culture.
pub fn format_number_text(
    value: &Value,
    format: &str,
    culture: &Culture,
) -> Result<String, EvalError> {
    if let Value::Float(f) = value {
        if !f.is_finite() {
            return Ok(value.to_text());
        }
    }
    // An empty format means the general format, as in .NET.
    let format = if format.is_empty() { "G" } else { format };
    match standard(value, format, culture) {
        Some(result) => result,
        None => custom(value, format, culture),
    }
}

fn format_number(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let value = args::arg(args, 0);
    if value.as_f64().is_none() {
        return Err(args::type_error(0, "Number", value));
    }
    let format = args::string(args, 1)?;
    let culture = match args::arg(args, 2) {
        Value::Null => culture::resolve(None)?,
        _ => culture::resolve(Some(args::string(args, 2)?))?,
    };
    Ok(Value::from(format_number_text(value, format, culture)?))
}

pub const FORMAT_NUMBER: FunctionDef = FunctionDef {
    name: "formatNumber",
    min_args: 2,
    max_args: Some(3),
    body: format_number,
    examples: &[
        (
            "@formatNumber(1234567890, '#,##0.00', 'en-US')",
            "\"1,234,567,890.00\"",
        ),
        (
            "@formatNumber(1234567890, '#,##0.00', 'is-IS')",
            "\"1.234.567.890,00\"",
        ),
        ("@formatNumber(17.35, 'C2')", "\"$17.35\""),
        ("@formatNumber(17.35, 'C2', 'is-IS')", "\"17,35 kr\""),
        ("@formatNumber(0.1234, 'P1')", "\"12.3 %\""),
        ("@formatNumber(255, 'X4')", "\"00FF\""),
        (
            "@formatNumber(5551234567, '(###) ###-####')",
            "\"(555) 123-4567\"",
        ),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(v: impl Into<Value>, format: &str) -> String {
        format_number_text(&v.into(), format, &culture::CULTURES[0]).unwrap()
    }

    fn fmt_in(v: impl Into<Value>, format: &str, locale: &str) -> String {
        format_number_text(&v.into(), format, culture::resolve(Some(locale)).unwrap()).unwrap()
    }

    #[test]
    fn standard_formats() {
        assert_eq!(fmt(1234.5678, "F"), "1234.57");
        assert_eq!(fmt(1234.5678, "N1"), "1,234.6");
        assert_eq!(fmt(-1234.5678, "N0"), "-1,235");
        assert_eq!(fmt(2.675, "F2"), "2.68");
        assert_eq!(fmt(42, "D5"), "00042");
        assert_eq!(fmt(-42, "D"), "-42");
        assert_eq!(fmt(-1, "x"), "ffffffffffffffff");
        assert_eq!(fmt(1052.0329112756, "E"), "1.052033E+003");
        assert_eq!(fmt(-1052.0329112756, "e2"), "-1.05e+003");
        assert_eq!(fmt(12345.6789, "G"), "12345.6789");
        assert_eq!(fmt(12345.6789, "G4"), "1.235E+04");
        assert_eq!(fmt(0.0001234, "G3"), "0.000123");
        assert_eq!(fmt(-17.35, "C"), "($17.35)");
        assert_eq!(fmt(0.5, "P0"), "50 %");
        assert_eq!(fmt(0.0, "F1"), "0.0");
        assert_eq!(fmt(-0.001, "F2"), "0.00");
        assert_eq!(fmt(2.5, ""), "2.5");
        assert_eq!(fmt(-0.5, "F0"), "-1");
        assert_eq!(fmt(1e15, "G"), "1E+15");
    }

    #[test]
    fn cultures_change_separators_and_currency() {
        assert_eq!(fmt_in(1234567.891, "N2", "de-DE"), "1.234.567,89");
        assert_eq!(fmt_in(1234.5, "C", "fr-FR"), "1\u{a0}234,50 €");
        assert_eq!(fmt_in(1234.5, "C", "ja-JP"), "¥1,235");
        assert_eq!(fmt_in(1234567.0, "N0", "en-IN"), "12,34,567");
        assert_eq!(fmt_in(1234.5, "C", "en-GB"), "£1,234.50");
    }

    #[test]
    fn custom_patterns() {
        assert_eq!(fmt(1234.5, "0.00"), "1234.50");
        assert_eq!(fmt(1234.5, "#,##0.##"), "1,234.5");
        assert_eq!(fmt(0.5, "#.##"), ".5");
        assert_eq!(fmt(0.5, "0.##"), "0.5");
        assert_eq!(fmt(1.0, "0.##"), "1");
        assert_eq!(fmt(123, "00000"), "00123");
        assert_eq!(fmt(1234567, "#,#"), "1,234,567");
        assert_eq!(fmt(1234567, "#,##0,K"), "1,235K");
        assert_eq!(fmt(0.256, "0.0%"), "25.6%");
        assert_eq!(fmt(-5, "0;(0)"), "(5)");
        assert_eq!(fmt(0, "0;(0);'zero'"), "zero");
        assert_eq!(fmt(-5, "0"), "-5");
        assert_eq!(fmt(1234, "0.00E+00"), "1.23E+03");
        assert_eq!(fmt(0.00012, "0.0e0"), "1.2e-4");
        assert_eq!(fmt(42, "'#'0\\%"), "#42%");
        assert_eq!(fmt(1234567890, "0,0.00"), "1,234,567,890.00");
        assert_eq!(fmt(0, "#"), "");
        assert_eq!(fmt(-5, "$#,##0.00"), "-$5.00");
        assert_eq!(fmt(12345, "0.###E+0"), "1.235E+4");
        assert_eq!(fmt(0.0125, "0.0‰"), "12.5‰");
        assert_eq!(fmt(0, "#,##0.00;(#,##0.00);Zero"), "Zero");
    }

    #[test]
    fn bad_formats_and_types_are_errors() {
        let us = &culture::CULTURES[0];
        assert!(format_number_text(&Value::Float(1.5), "D", us).is_err());
        assert!(format_number_text(&Value::Int(1), "Z", us).is_err());
    }
}
