//! A small built-in table of number-formatting cultures for `formatNumber`,
//! `float` and `isFloat`.
//!
//! The runtime formats with .NET culture data. Conflux carries the handful of
//! cultures workflows use in practice (separators, currency symbol and pattern,
//! percent pattern), taken from the Windows culture data, so that no ICU database
//! is needed. Names are matched case-insensitively (`en-us` = `en-US`), and a bare
//! language (`de`) selects its main country.

use crate::error::EvalError;

/// How numbers are written in one culture. Patterns use `n` for the number,
/// `$` for the currency symbol and `-` for the negative sign, as .NET documents
/// its `CurrencyPositivePattern` family.
#[derive(Debug)]
pub struct Culture {
    pub name: &'static str,
    pub decimal: &'static str,
    pub group: &'static str,
    /// Digits per group, from the decimal point leftwards; the last size repeats.
    pub group_sizes: &'static [usize],
    pub currency_symbol: &'static str,
    pub currency_digits: usize,
    pub currency_positive: &'static str,
    pub currency_negative: &'static str,
    pub percent_positive: &'static str,
    pub percent_negative: &'static str,
}

const fn culture(
    name: &'static str,
    decimal: &'static str,
    group: &'static str,
    currency: (&'static str, usize, &'static str, &'static str),
    percent: (&'static str, &'static str),
) -> Culture {
    Culture {
        name,
        decimal,
        group,
        group_sizes: &[3],
        currency_symbol: currency.0,
        currency_digits: currency.1,
        currency_positive: currency.2,
        currency_negative: currency.3,
        percent_positive: percent.0,
        percent_negative: percent.1,
    }
}

const NBSP: &str = "\u{a0}";

/// The invariant culture: what `isFloat` uses without a locale.
pub static INVARIANT: Culture = culture("", ".", ",", ("¤", 2, "$n", "($n)"), ("n %", "-n %"));

/// Every culture Conflux knows, the default (`en-US`) first.
pub static CULTURES: &[Culture] = &[
    culture("en-US", ".", ",", ("$", 2, "$n", "($n)"), ("n %", "-n %")),
    culture("en-GB", ".", ",", ("£", 2, "$n", "-$n"), ("n%", "-n%")),
    culture("en-CA", ".", ",", ("$", 2, "$n", "-$n"), ("n %", "-n %")),
    culture("en-AU", ".", ",", ("$", 2, "$n", "-$n"), ("n%", "-n%")),
    Culture {
        group_sizes: &[3, 2],
        ..culture("en-IN", ".", ",", ("₹", 2, "$ n", "-$ n"), ("n%", "-n%"))
    },
    culture("de-DE", ",", ".", ("€", 2, "n $", "-n $"), ("n %", "-n %")),
    culture("de-AT", ",", ".", ("€", 2, "$ n", "-$ n"), ("n %", "-n %")),
    culture("de-CH", ".", "'", ("CHF", 2, "$ n", "$-n"), ("n%", "-n%")),
    culture("fr-FR", ",", NBSP, ("€", 2, "n $", "-n $"), ("n %", "-n %")),
    culture("fr-CA", ",", NBSP, ("$", 2, "n $", "-n $"), ("n %", "-n %")),
    culture("fr-BE", ",", ".", ("€", 2, "n $", "-n $"), ("n %", "-n %")),
    culture("es-ES", ",", ".", ("€", 2, "n $", "-n $"), ("n %", "-n %")),
    culture("es-MX", ".", ",", ("$", 2, "$n", "-$n"), ("n%", "-n%")),
    culture("it-IT", ",", ".", ("€", 2, "$ n", "-$ n"), ("n%", "-n%")),
    culture("nl-NL", ",", ".", ("€", 2, "$ n", "$ -n"), ("n%", "-n%")),
    culture("nl-BE", ",", ".", ("€", 2, "$ n", "$ -n"), ("n%", "-n%")),
    culture("pt-BR", ",", ".", ("R$", 2, "$ n", "-$ n"), ("n%", "-n%")),
    culture("pt-PT", ",", NBSP, ("€", 2, "n $", "-n $"), ("n%", "-n%")),
    culture("ja-JP", ".", ",", ("¥", 0, "$n", "-$n"), ("n%", "-n%")),
    culture("zh-CN", ".", ",", ("¥", 2, "$n", "$-n"), ("n%", "-n%")),
    culture("zh-TW", ".", ",", ("NT$", 2, "$n", "-$n"), ("n%", "-n%")),
    culture("ko-KR", ".", ",", ("₩", 0, "$n", "-$n"), ("n%", "-n%")),
    culture(
        "sv-SE",
        ",",
        NBSP,
        ("kr", 2, "n $", "-n $"),
        ("n %", "-n %"),
    ),
    culture(
        "nb-NO",
        ",",
        NBSP,
        ("kr", 2, "$ n", "$ -n"),
        ("n %", "-n %"),
    ),
    culture(
        "da-DK",
        ",",
        ".",
        ("kr.", 2, "$ n", "$ -n"),
        ("n %", "-n %"),
    ),
    culture("fi-FI", ",", NBSP, ("€", 2, "n $", "-n $"), ("n %", "-n %")),
    culture("is-IS", ",", ".", ("kr", 0, "n $", "-n $"), ("n%", "-n%")),
    culture("pl-PL", ",", NBSP, ("zł", 2, "n $", "-n $"), ("n%", "-n%")),
    culture(
        "cs-CZ",
        ",",
        NBSP,
        ("Kč", 2, "n $", "-n $"),
        ("n %", "-n %"),
    ),
    culture("ru-RU", ",", NBSP, ("₽", 2, "n $", "-n $"), ("n%", "-n%")),
    culture("tr-TR", ",", ".", ("₺", 2, "$n", "-$n"), ("%n", "-%n")),
];

/// The culture for an optional locale argument; `None` means `en-US`.
pub fn resolve(locale: Option<&str>) -> Result<&'static Culture, EvalError> {
    let Some(name) = locale.map(str::trim) else {
        return Ok(&CULTURES[0]);
    };
    if name.is_empty() {
        return Ok(&INVARIANT);
    }
    let name = name.replace('_', "-");
    if let Some(c) = CULTURES.iter().find(|c| c.name.eq_ignore_ascii_case(&name)) {
        return Ok(c);
    }
    if !name.contains('-') {
        if let Some(c) = CULTURES.iter().find(|c| {
            c.name
                .split('-')
                .next()
                .is_some_and(|lang| lang.eq_ignore_ascii_case(&name))
        }) {
            return Ok(c);
        }
    }
    let known: Vec<&str> = CULTURES.iter().map(|c| c.name).collect();
    Err(EvalError::new(format!(
        "the locale '{name}' is not supported; use one of {}",
        known.join(", ")
    )))
}

/// Parses localized number text the way .NET's `double.Parse` does with
/// `NumberStyles.Float | NumberStyles.AllowThousands` plus a trailing sign:
/// group separators may appear anywhere among the integer digits
/// (`'12,3,4,5678'` is 12345678) and the sign may trail (`'12345678.-'`).
pub fn parse_number(text: &str, culture: &Culture) -> Option<f64> {
    let s = text.trim();
    let mut rest = s;
    let mut out = String::with_capacity(s.len() + 2);
    let mut negative = false;
    let mut signed = false;
    if let Some(r) = rest.strip_prefix('-') {
        (negative, signed, rest) = (true, true, r);
    } else if let Some(r) = rest.strip_prefix('+') {
        (signed, rest) = (true, r);
    }
    let mut digits = 0usize;
    loop {
        if let Some(c) = rest.chars().next().filter(char::is_ascii_digit) {
            out.push(c);
            digits += 1;
            rest = &rest[1..];
        } else if digits > 0 && rest.starts_with(culture.group) {
            rest = &rest[culture.group.len()..];
        } else if digits > 0 && culture.group == NBSP && rest.starts_with(' ') {
            rest = &rest[1..];
        } else {
            break;
        }
    }
    if let Some(r) = rest.strip_prefix(culture.decimal) {
        rest = r;
        out.push('.');
        while let Some(c) = rest.chars().next().filter(char::is_ascii_digit) {
            out.push(c);
            digits += 1;
            rest = &rest[1..];
        }
    }
    if digits == 0 {
        return None;
    }
    if let Some(r) = rest.strip_prefix(['e', 'E']) {
        let (exp_sign, r) = match r.strip_prefix('-') {
            Some(r) => ("-", r),
            None => ("", r.strip_prefix('+').unwrap_or(r)),
        };
        let exp_len = r.chars().take_while(char::is_ascii_digit).count();
        if exp_len == 0 {
            return None;
        }
        out.push('e');
        out.push_str(exp_sign);
        out.push_str(&r[..exp_len]);
        rest = &r[exp_len..];
    }
    if !signed {
        if let Some(r) = rest.strip_prefix('-') {
            (negative, rest) = (true, r);
        } else if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        }
    }
    if !rest.is_empty() {
        return None;
    }
    let value: f64 = out.parse().ok()?;
    let value = if negative { -value } else { value };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(text: &str) -> Option<f64> {
        parse_number(text, &CULTURES[0])
    }

    #[test]
    fn documented_odd_forms_parse() {
        assert_eq!(us("10,000.333"), Some(10000.333));
        assert_eq!(us("12,3,4,5678"), Some(12345678.0));
        assert_eq!(us("1234567,8+"), Some(12345678.0));
        assert_eq!(us("12345,6,78,-"), Some(-12345678.0));
        assert_eq!(us("-12,345,678,"), Some(-12345678.0));
        assert_eq!(us("12345678.-"), Some(-12345678.0));
        assert_eq!(us(".12345678"), Some(0.12345678));
        assert_eq!(us(" 1.5e3 "), Some(1500.0));
    }

    #[test]
    fn garbage_does_not_parse() {
        for bad in ["", "abc", ",5", "1.2.3", "--1", "1e", "-1-", "1 2"] {
            assert_eq!(us(bad), None, "{bad}");
        }
    }

    #[test]
    fn locales_resolve_case_insensitively() {
        let de = resolve(Some("de-de")).unwrap();
        assert_eq!(parse_number("10.000,333", de), Some(10000.333));
        assert_eq!(resolve(Some("fr")).unwrap().name, "fr-FR");
        assert!(resolve(Some("xx-YY"))
            .unwrap_err()
            .message
            .contains("'xx-YY'"));
        assert_eq!(
            parse_number("1 234,5", resolve(Some("fr-FR")).unwrap()),
            Some(1234.5)
        );
    }
}
