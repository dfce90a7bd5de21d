//! Recursive-descent parser: tokens to an [`Expr`] tree.
//!
//! Nesting (calls within calls, indexes within indexes) is capped at
//! [`MAX_DEPTH`] so that a hostile definition cannot overflow the stack of the
//! parser, the compiler or the evaluator.

use crate::ast::{Accessor, Expr, ExprKind, Step};
use crate::error::ParseError;
use crate::lexer::{tokenize, Token, TokenKind};
use crate::value::Value;

/// The deepest nesting of calls and index expressions accepted.
pub const MAX_DEPTH: usize = 100;

/// The longest expression text accepted, in characters (the Logic Apps limit).
pub const MAX_EXPRESSION_CHARS: usize = 8192;

/// Parses `chars[start..end]` of `source` as exactly one expression.
pub fn parse_expression(
    source: &str,
    chars: &[char],
    start: usize,
    end: usize,
) -> Result<Expr, ParseError> {
    if end.saturating_sub(start) > MAX_EXPRESSION_CHARS {
        return Err(ParseError::new(
            source,
            start + 1,
            format!(
                "the expression is {} characters long; the limit is {MAX_EXPRESSION_CHARS}",
                end - start
            ),
        ));
    }
    let tokens = tokenize(source, chars, start, end)?;
    let mut parser = Parser {
        source,
        tokens,
        pos: 0,
    };
    if parser.peek().kind == TokenKind::End {
        return Err(parser.error_here("the expression is empty"));
    }
    let expr = parser.expression(0)?;
    let next = parser.peek();
    if next.kind != TokenKind::End {
        return Err(parser.error_here(format!(
            "unexpected {} after the end of the expression (to mix text and expressions use @{{...}})",
            next.kind.describe()
        )));
    }
    Ok(expr)
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with `End` and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokenKind::End {
            self.pos += 1;
        }
        t
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.source, self.peek().column, message)
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<Token, ParseError> {
        if self.peek().kind == kind {
            Ok(self.advance())
        } else {
            Err(self.error_here(format!(
                "expected {what} but found {}",
                self.peek().kind.describe()
            )))
        }
    }

    fn expression(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error_here(format!(
                "the expression is nested more than {MAX_DEPTH} levels deep"
            )));
        }
        let primary = self.primary(depth)?;
        let mut steps = Vec::new();
        loop {
            let column = self.peek().column;
            let null_safe = if self.peek().kind == TokenKind::Question {
                self.advance();
                true
            } else {
                false
            };
            match self.peek().kind {
                TokenKind::Dot => {
                    self.advance();
                    let t = self.advance();
                    match t.kind {
                        TokenKind::Ident(name) => steps.push(Step {
                            null_safe,
                            key: Accessor::Name(name),
                            column,
                        }),
                        other => {
                            return Err(ParseError::new(
                                self.source,
                                t.column,
                                format!(
                                    "expected a property name after '.' but found {}",
                                    other.describe()
                                ),
                            ))
                        }
                    }
                }
                TokenKind::LBracket => {
                    self.advance();
                    if self.peek().kind == TokenKind::RBracket {
                        return Err(
                            self.error_here("expected an index or property name inside '[]'")
                        );
                    }
                    let index = self.expression(depth + 1)?;
                    self.expect(TokenKind::RBracket, "']'")?;
                    steps.push(Step {
                        null_safe,
                        key: Accessor::Index(index),
                        column,
                    });
                }
                _ if null_safe => {
                    return Err(self.error_here("expected '.' or '[' after '?'"));
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            Ok(primary)
        } else {
            let column = primary.column;
            Ok(Expr {
                kind: ExprKind::Access {
                    target: Box::new(primary),
                    steps,
                },
                column,
            })
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let t = self.advance();
        let literal = |v: Value| {
            Ok(Expr {
                kind: ExprKind::Literal(v),
                column: t.column,
            })
        };
        match &t.kind {
            TokenKind::Str(s) => literal(Value::string(s.as_str())),
            TokenKind::Int(i) => literal(Value::Int(*i)),
            TokenKind::Float(f) => literal(Value::Float(*f)),
            TokenKind::Ident(name) if self.peek().kind == TokenKind::LParen => {
                self.advance();
                let mut args = Vec::new();
                if self.peek().kind != TokenKind::RParen {
                    loop {
                        if matches!(self.peek().kind, TokenKind::Comma | TokenKind::RParen) {
                            return Err(self.error_here(format!(
                                "expected an argument of '{name}' but found {}",
                                self.peek().kind.describe()
                            )));
                        }
                        args.push(self.expression(depth + 1)?);
                        match self.peek().kind {
                            TokenKind::Comma => {
                                self.advance();
                            }
                            TokenKind::RParen => break,
                            ref other => {
                                return Err(self.error_here(format!(
                                    "expected ',' or ')' in the arguments of '{name}' but found {}",
                                    other.describe()
                                )))
                            }
                        }
                    }
                }
                self.advance();
                Ok(Expr {
                    kind: ExprKind::Call {
                        name: name.clone(),
                        args,
                    },
                    column: t.column,
                })
            }
            TokenKind::Ident(name) => match name.to_ascii_lowercase().as_str() {
                "true" => literal(Value::Bool(true)),
                "false" => literal(Value::Bool(false)),
                "null" => literal(Value::Null),
                _ => Err(ParseError::new(
                    self.source,
                    t.column,
                    format!(
                        "unexpected '{name}': a function call needs parentheses ('{name}()') \
                         and text must be quoted ('{name}')"
                    ),
                )),
            },
            TokenKind::End => Err(ParseError::new(
                self.source,
                t.column,
                "the expression ends where a value was expected",
            )),
            other => Err(ParseError::new(
                self.source,
                t.column,
                format!("expected a value but found {}", other.describe()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Expr, ParseError> {
        let chars: Vec<char> = text.chars().collect();
        parse_expression(text, &chars, 0, chars.len())
    }

    #[test]
    fn calls_and_accessors() {
        let e = parse("body('x')?['a'].b[0]").unwrap();
        match e.kind {
            ExprKind::Access { steps, .. } => {
                assert_eq!(steps.len(), 3);
                assert!(steps[0].null_safe);
                assert!(!steps[1].null_safe);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn trailing_text_and_missing_parens_are_errors() {
        assert_eq!(parse("concat('a') x").unwrap_err().column, 13);
        assert!(parse("add(1,").is_err());
        assert!(parse("add(1,,2)").is_err());
        assert!(parse("foo").unwrap_err().message.contains("parentheses"));
    }

    #[test]
    fn nesting_is_capped() {
        let deep = format!("{}1{}", "f(".repeat(150), ")".repeat(150));
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
        let ok = format!("{}1{}", "f(".repeat(50), ")".repeat(50));
        assert!(parse(&ok).is_ok());
    }
}
