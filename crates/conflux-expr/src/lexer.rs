//! Tokens of an expression.
//!
//! The lexer works on the characters of the whole JSON string so that every
//! token carries the 1-based column a user sees in their definition, and it
//! never slices bytes (so no input can make it panic on a char boundary).

use crate::error::ParseError;

/// One token and the column (1-based, in characters) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A function name, a property name after `.`, or `true`/`false`/`null`.
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Question,
    End,
}

impl TokenKind {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(s) => format!("'{s}'"),
            TokenKind::Str(s) => format!("the string '{s}'"),
            TokenKind::Int(i) => format!("the number {i}"),
            TokenKind::Float(f) => format!("the number {f}"),
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::LBracket => "'['".into(),
            TokenKind::RBracket => "']'".into(),
            TokenKind::Comma => "','".into(),
            TokenKind::Dot => "'.'".into(),
            TokenKind::Question => "'?'".into(),
            TokenKind::End => "the end of the expression".into(),
        }
    }

    /// True for tokens after which `.` is member access (not a leading-dot number).
    fn ends_value(&self) -> bool {
        matches!(
            self,
            TokenKind::Ident(_)
                | TokenKind::Str(_)
                | TokenKind::Int(_)
                | TokenKind::Float(_)
                | TokenKind::RParen
                | TokenKind::RBracket
        )
    }
}

/// Characters that end an identifier (besides whitespace).
fn is_delimiter(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | '(' | ')' | '[' | ']' | '{' | '}' | '@' | '?' | '\'' | '"'
    )
}

fn is_ident_char(c: char) -> bool {
    !c.is_whitespace() && !is_delimiter(c)
}

const OPERATOR_CHARS: &[char] = &['+', '-', '*', '/', '=', '<', '>', '!', '&', '|', '%'];

/// Splits `chars[start..end]` (part of `source`) into tokens, ending with `End`.
pub fn tokenize(
    source: &str,
    chars: &[char],
    start: usize,
    end: usize,
) -> Result<Vec<Token>, ParseError> {
    let end = end.min(chars.len());
    let err = |pos: usize, msg: String| ParseError::new(source, pos + 1, msg);
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = start;
    while i < end {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let prev_ends_value = tokens.last().is_some_and(|t| t.kind.ends_value());
        let after_dot = tokens.last().is_some_and(|t| t.kind == TokenKind::Dot);
        let after_question = tokens.last().is_some_and(|t| t.kind == TokenKind::Question);
        let at = |kind| Token {
            kind,
            column: i + 1,
        };
        let simple = match c {
            '(' => Some(TokenKind::LParen),
            ')' => Some(TokenKind::RParen),
            '[' => Some(TokenKind::LBracket),
            ']' => Some(TokenKind::RBracket),
            ',' => Some(TokenKind::Comma),
            '?' => Some(TokenKind::Question),
            _ => None,
        };
        if let Some(kind) = simple {
            tokens.push(at(kind));
            i += 1;
            continue;
        }
        match c {
            '\'' => {
                let (text, next) = lex_string(chars, i, end)
                    .ok_or_else(|| err(i, "unterminated string: a closing ' is missing".into()))?;
                tokens.push(at(TokenKind::Str(text)));
                i = next;
            }
            '"' => {
                return Err(err(
                    i,
                    "strings are written in single quotes ('text'), not double quotes".into(),
                ))
            }
            '{' | '}' | '@' => {
                return Err(err(i, format!("unexpected '{c}' inside an expression")));
            }
            '.' if prev_ends_value
                || after_question
                || !chars.get(i + 1).is_some_and(char::is_ascii_digit) =>
            {
                tokens.push(at(TokenKind::Dot));
                i += 1;
            }
            _ if after_dot && is_ident_char(c) => {
                // A property name: any identifier characters, even if it starts with a digit.
                let s = i;
                while i < end && is_ident_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[s..i].iter().collect();
                tokens.push(Token {
                    kind: TokenKind::Ident(name),
                    column: s + 1,
                });
            }
            _ if starts_number(chars, i, end) => {
                let (kind, next) = lex_number(source, chars, i, end)?;
                tokens.push(at(kind));
                i = next;
            }
            _ if OPERATOR_CHARS.contains(&c) => {
                return Err(err(
                    i,
                    format!(
                        "unexpected '{c}': expressions have no operators; use functions \
                         such as add(), sub(), equals(), greater(), and(), not()"
                    ),
                ));
            }
            _ => {
                let s = i;
                while i < end && is_ident_char(chars[i]) {
                    i += 1;
                }
                // Always make progress, whatever the character was.
                i = i.max(s + 1);
                let name: String = chars[s..i].iter().collect();
                tokens.push(Token {
                    kind: TokenKind::Ident(name),
                    column: s + 1,
                });
            }
        }
    }
    tokens.push(Token {
        kind: TokenKind::End,
        column: end + 1,
    });
    Ok(tokens)
}

/// Reads a single-quoted string starting at `chars[start] == '\''`; `''` is one quote.
/// Returns the text and the index after the closing quote.
pub fn lex_string(chars: &[char], start: usize, end: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut i = start + 1;
    while i < end {
        if chars[i] == '\'' {
            if i + 1 < end && chars[i + 1] == '\'' {
                out.push('\'');
                i += 2;
                continue;
            }
            return Some((out, i + 1));
        }
        out.push(chars[i]);
        i += 1;
    }
    None
}

fn starts_number(chars: &[char], i: usize, end: usize) -> bool {
    let digit_at = |j: usize| j < end && chars[j].is_ascii_digit();
    let dot_digit_at = |j: usize| j + 1 < end && chars[j] == '.' && chars[j + 1].is_ascii_digit();
    match chars[i] {
        '0'..='9' => true,
        '+' | '-' => digit_at(i + 1) || dot_digit_at(i + 1),
        '.' => digit_at(i + 1),
        _ => false,
    }
}

fn lex_number(
    source: &str,
    chars: &[char],
    start: usize,
    end: usize,
) -> Result<(TokenKind, usize), ParseError> {
    let mut i = start;
    if matches!(chars[i], '+' | '-') {
        i += 1;
    }
    let mut is_float = false;
    while i < end && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i < end && chars[i] == '.' {
        is_float = true;
        i += 1;
        while i < end && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < end && matches!(chars[i], 'e' | 'E') {
        let mut j = i + 1;
        if j < end && matches!(chars[j], '+' | '-') {
            j += 1;
        }
        if j < end && chars[j].is_ascii_digit() {
            is_float = true;
            while j < end && chars[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let text: String = chars[start..i].iter().collect();
    if i < end && is_ident_char(chars[i]) && !OPERATOR_CHARS.contains(&chars[i]) {
        return Err(ParseError::new(
            source,
            start + 1,
            format!("invalid number '{text}{}'", chars[i]),
        ));
    }
    let kind = if is_float {
        let f: f64 = text
            .parse()
            .map_err(|_| ParseError::new(source, start + 1, format!("invalid number '{text}'")))?;
        if !f.is_finite() {
            return Err(ParseError::new(
                source,
                start + 1,
                format!("the number '{text}' is too large"),
            ));
        }
        TokenKind::Float(f)
    } else {
        let n: i64 = text.parse().map_err(|_| {
            ParseError::new(
                source,
                start + 1,
                format!(
                    "the integer '{text}' is outside the 64-bit range; write it with a \
                     fraction ('{text}.0') to make it a float"
                ),
            )
        })?;
        TokenKind::Int(n)
    };
    Ok((kind, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let chars: Vec<char> = text.chars().collect();
        tokenize(text, &chars, 0, chars.len())
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn numbers_strings_and_accessors() {
        use TokenKind::*;
        assert_eq!(
            kinds("sub(10.3, .3)"),
            vec![
                Ident("sub".into()),
                LParen,
                Float(10.3),
                Comma,
                Float(0.3),
                RParen,
                End
            ]
        );
        assert_eq!(
            kinds("x()?.a.0['it''s']"),
            vec![
                Ident("x".into()),
                LParen,
                RParen,
                Question,
                Dot,
                Ident("a".into()),
                Dot,
                Ident("0".into()),
                LBracket,
                Str("it's".into()),
                RBracket,
                End
            ]
        );
        assert_eq!(kinds("-5 1e3")[..2], [Int(-5), Float(1000.0)]);
    }

    #[test]
    fn errors_point_at_the_character() {
        let text = "length(\"x\")";
        let chars: Vec<char> = text.chars().collect();
        let e = tokenize(text, &chars, 0, chars.len()).unwrap_err();
        assert_eq!(e.column, 8);
        assert!(e.message.contains("single quotes"));
    }
}
