//! TICKscript tokens, with the context sensitivity of Kapacitor's lexer: after an operand
//! (identifier, literal, reference, `)`) the characters `- * / ! =` are binary operators or `=`;
//! elsewhere `-` and `!` are unary, `*` is the star literal and `/` starts a regex. A lexing
//! error becomes an [`Tok::Error`] token and lexing goes on, so the parser can report several.

use super::diag::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tok {
    Error,
    Eof,
    Var,
    Dbrp,
    /// `=` in a declaration.
    Asgn,
    Dot,
    Pipe,
    At,
    Ident,
    /// `"name"`, a field or tag reference.
    Reference,
    /// `lambda:`.
    Lambda,
    Number,
    String,
    Duration,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Not,
    True,
    False,
    Regex,
    Comment,
    Star,
    Plus,
    Minus,
    Mult,
    Div,
    Mod,
    And,
    Or,
    Equal,
    NotEqual,
    Less,
    Greater,
    LessEqual,
    GreaterEqual,
    RegexEqual,
    RegexNotEqual,
}

impl Tok {
    /// How the token is named in "expected ..." messages.
    pub fn describe(self) -> &'static str {
        match self {
            Tok::Error => "an error",
            Tok::Eof => "end of script",
            Tok::Var => "`var`",
            Tok::Dbrp => "`dbrp`",
            Tok::Asgn => "`=`",
            Tok::Dot => "`.`",
            Tok::Pipe => "`|`",
            Tok::At => "`@`",
            Tok::Ident => "an identifier",
            Tok::Reference => "a \"reference\"",
            Tok::Lambda => "`lambda:`",
            Tok::Number => "a number",
            Tok::String => "a 'string'",
            Tok::Duration => "a duration",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::LBracket => "`[`",
            Tok::RBracket => "`]`",
            Tok::Comma => "`,`",
            Tok::Not => "`!`",
            Tok::True => "`TRUE`",
            Tok::False => "`FALSE`",
            Tok::Regex => "a /regex/",
            Tok::Comment => "a comment",
            Tok::Star => "`*`",
            Tok::Plus => "`+`",
            Tok::Minus => "`-`",
            Tok::Mult => "`*`",
            Tok::Div => "`/`",
            Tok::Mod => "`%`",
            Tok::And => "`AND`",
            Tok::Or => "`OR`",
            Tok::Equal => "`==`",
            Tok::NotEqual => "`!=`",
            Tok::Less => "`<`",
            Tok::Greater => "`>`",
            Tok::LessEqual => "`<=`",
            Tok::GreaterEqual => "`>=`",
            Tok::RegexEqual => "`=~`",
            Tok::RegexNotEqual => "`!~`",
        }
    }

    /// Binary operator precedence, loosest first (Kapacitor's table); `None` if not an operator.
    pub fn precedence(self) -> Option<u8> {
        Some(match self {
            Tok::Or => 0,
            Tok::And => 1,
            Tok::Equal | Tok::NotEqual | Tok::RegexEqual | Tok::RegexNotEqual => 2,
            Tok::Greater | Tok::GreaterEqual | Tok::Less | Tok::LessEqual => 3,
            Tok::Plus | Tok::Minus => 4,
            Tok::Mult | Tok::Div | Tok::Mod => 5,
            _ => return None,
        })
    }

    /// The operator's text.
    pub fn operator_text(self) -> &'static str {
        match self {
            Tok::Not => "!",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Mult => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Equal => "==",
            Tok::NotEqual => "!=",
            Tok::Less => "<",
            Tok::Greater => ">",
            Tok::LessEqual => "<=",
            Tok::GreaterEqual => ">=",
            Tok::RegexEqual => "=~",
            Tok::RegexNotEqual => "!~",
            _ => "",
        }
    }
}

/// A token: its kind and where it is. Its text is `&source[span]`; for [`Tok::Error`] the
/// message is in `error`.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
    pub error: Option<String>,
}

/// Lexes all of `src`. The last token is always [`Tok::Eof`].
pub fn lex(src: &str) -> Vec<Token> {
    let mut l = Lexer {
        src,
        pos: 0,
        start: 0,
        out: Vec::new(),
    };
    let mut after_operand = false;
    loop {
        after_operand = if after_operand {
            l.binary_operator()
        } else {
            l.token()
        };
        if l.out.last().is_some_and(|t| t.tok == Tok::Eof) {
            return l.out;
        }
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    start: usize,
    out: Vec<Token>,
}

const DURATION_UNITS: &str = "uµsmhdw";

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut c = self.src[self.pos..].chars();
        c.next();
        c.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn emit(&mut self, tok: Tok) {
        self.out.push(Token {
            tok,
            span: Span::new(self.start, self.pos),
            error: None,
        });
        self.start = self.pos;
    }

    fn error(&mut self, msg: impl Into<String>) {
        let span = Span::new(self.start, self.pos.max(self.start));
        self.out.push(Token {
            tok: Tok::Error,
            span,
            error: Some(msg.into()),
        });
        self.start = self.pos;
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        self.start = self.pos;
    }

    /// Lexes one token where an operand may start. Returns whether an operand was just lexed.
    fn token(&mut self) -> bool {
        self.skip_space();
        let Some(c) = self.bump() else {
            self.emit(Tok::Eof);
            return false;
        };
        match c {
            '-' => self.emit(Tok::Minus),
            '!' => self.emit(Tok::Not),
            '0'..='9' | '.' => return self.number_or_duration_or_dot(c),
            c if c.is_alphabetic() => return self.ident_or_keyword(),
            '"' => return self.reference(),
            '\'' => return self.string(),
            '(' => self.emit(Tok::LParen),
            ')' => {
                self.emit(Tok::RParen);
                return true;
            }
            '[' => self.emit(Tok::LBracket),
            ']' => self.emit(Tok::RBracket),
            '|' => self.emit(Tok::Pipe),
            '@' => self.emit(Tok::At),
            ',' => self.emit(Tok::Comma),
            '*' => self.emit(Tok::Star),
            '/' => {
                if self.peek() == Some('/') {
                    self.comment();
                } else {
                    self.regex();
                }
            }
            other => {
                self.error(format!("unexpected character {other:?}"));
            }
        }
        false
    }

    /// After an operand: a binary operator, or else back to [`Lexer::token`].
    fn binary_operator(&mut self) -> bool {
        self.skip_space();
        let Some(c) = self.peek() else {
            return self.token();
        };
        // `//` is a comment even here: an empty regex is useless, and reading a comment that a
        // formatter put after `=~` as a regex would change the script.
        let regex_may_follow = |l: &mut Lexer<'_>| {
            l.skip_space();
            if l.peek() == Some('/') && l.peek2() != Some('/') {
                l.bump();
                l.regex();
            }
        };
        match c {
            '+' | '-' | '*' | '%' => {
                self.bump();
                self.emit(match c {
                    '+' => Tok::Plus,
                    '-' => Tok::Minus,
                    '*' => Tok::Mult,
                    _ => Tok::Mod,
                });
            }
            '/' => {
                if self.peek2() == Some('/') {
                    self.bump();
                    self.comment();
                    return false;
                }
                self.bump();
                self.emit(Tok::Div);
            }
            '!' => {
                self.bump();
                match self.peek() {
                    Some('=') => {
                        self.bump();
                        self.emit(Tok::NotEqual);
                    }
                    Some('~') => {
                        self.bump();
                        self.emit(Tok::RegexNotEqual);
                        regex_may_follow(self);
                    }
                    _ => self.emit(Tok::Not),
                }
            }
            '<' | '>' => {
                self.bump();
                let eq = self.peek() == Some('=');
                if eq {
                    self.bump();
                }
                self.emit(match (c, eq) {
                    ('<', false) => Tok::Less,
                    ('<', true) => Tok::LessEqual,
                    ('>', false) => Tok::Greater,
                    _ => Tok::GreaterEqual,
                });
            }
            '=' => {
                self.bump();
                match self.peek() {
                    Some('=') => {
                        self.bump();
                        self.emit(Tok::Equal);
                    }
                    Some('~') => {
                        self.bump();
                        self.emit(Tok::RegexEqual);
                        regex_may_follow(self);
                    }
                    _ => {
                        self.emit(Tok::Asgn);
                        regex_may_follow(self);
                    }
                }
            }
            _ => return self.token(),
        }
        false
    }

    fn number_or_duration_or_dot(&mut self, first: char) -> bool {
        if first == '.' && !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.emit(Tok::Dot);
            return false;
        }
        let mut decimal = first == '.';
        loop {
            match self.peek() {
                Some('.') => {
                    if decimal {
                        self.bump();
                        self.error("multiple decimals in number");
                        return true;
                    }
                    decimal = true;
                    self.bump();
                }
                Some(c) if c.is_ascii_digit() => {
                    self.bump();
                }
                Some(c) if !decimal && DURATION_UNITS.contains(c) => {
                    self.bump();
                    if c == 'm' && self.peek() == Some('s') {
                        self.bump();
                    }
                    self.emit(Tok::Duration);
                    return true;
                }
                _ => {
                    self.emit(Tok::Number);
                    return true;
                }
            }
        }
    }

    fn ident_or_keyword(&mut self) -> bool {
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        let tok = match &self.src[self.start..self.pos] {
            "AND" => Tok::And,
            "OR" => Tok::Or,
            "TRUE" => Tok::True,
            "FALSE" => Tok::False,
            "var" => Tok::Var,
            "dbrp" => Tok::Dbrp,
            "lambda" if self.peek() == Some(':') => {
                self.bump();
                Tok::Lambda
            }
            _ => Tok::Ident,
        };
        self.emit(tok);
        // Kapacitor tries a binary operator after any word, keywords included.
        true
    }

    fn reference(&mut self) -> bool {
        loop {
            match self.bump() {
                Some('\\') => {
                    if self.peek() == Some('"') {
                        self.bump();
                    }
                }
                Some('"') => {
                    self.emit(Tok::Reference);
                    return true;
                }
                Some('\n') | None => {
                    self.error(
                        "unterminated field reference: a \"reference\" must close on its line",
                    );
                    return false;
                }
                Some(_) => {}
            }
        }
    }

    fn string(&mut self) -> bool {
        // Opening quote consumed. `''` is empty, `'''` opens a triple-quoted string.
        if self.peek() == Some('\'') {
            self.bump();
            if self.peek() != Some('\'') {
                self.emit(Tok::String);
                return true;
            }
            self.bump();
            match self.src[self.pos..].find("'''") {
                Some(i) => {
                    self.pos += i + 3;
                    self.emit(Tok::String);
                    true
                }
                None => {
                    self.pos = self.src.len();
                    self.error("unterminated string: ''' is never closed");
                    false
                }
            }
        } else {
            loop {
                match self.bump() {
                    Some('\\') => {
                        if self.peek() == Some('\'') {
                            self.bump();
                        }
                    }
                    Some('\'') => {
                        self.emit(Tok::String);
                        return true;
                    }
                    None => {
                        self.error("unterminated string: ' is never closed");
                        return false;
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn regex(&mut self) {
        // Opening slash consumed.
        loop {
            match self.bump() {
                Some('\\') => {
                    if self.peek() == Some('/') {
                        self.bump();
                    }
                }
                Some('/') => {
                    self.emit(Tok::Regex);
                    return;
                }
                Some('\n') | None => {
                    self.error("unterminated regex: a /regex/ must close on its line");
                    return;
                }
                Some(_) => {}
            }
        }
    }

    fn comment(&mut self) {
        // First slash consumed; a comment runs to the end of the line.
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
        self.emit(Tok::Comment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).into_iter().map(|t| t.tok).collect()
    }

    fn texts(src: &str) -> Vec<String> {
        lex(src)
            .into_iter()
            .map(|t| src[t.span.range()].to_owned())
            .collect()
    }

    #[test]
    fn operators_depend_on_context() {
        use Tok::*;
        assert_eq!(kinds("a - -1"), [Ident, Minus, Minus, Number, Eof]);
        assert_eq!(kinds("a * *"), [Ident, Mult, Star, Eof]);
        assert_eq!(kinds("a / b"), [Ident, Div, Ident, Eof]);
        assert_eq!(kinds("/a\\/b/"), [Regex, Eof]);
        assert_eq!(kinds("\"h\" =~ /x/"), [Reference, RegexEqual, Regex, Eof]);
        assert_eq!(
            kinds("\"h\" !~ /x/ AND !TRUE"),
            [Reference, RegexNotEqual, Regex, And, Not, True, Eof]
        );
        assert_eq!(kinds("var x = /re/"), [Var, Ident, Asgn, Regex, Eof]);
        assert_eq!(
            kinds("(1) - 2"),
            [LParen, Number, RParen, Minus, Number, Eof]
        );
        assert_eq!(
            kinds("a<=b>c!=d==e"),
            [
                Ident, LessEqual, Ident, Greater, Ident, NotEqual, Ident, Equal, Ident, Eof
            ]
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            texts("10s 5ms 3u 2µ 1w 1.5 .5 7 'a\\'b' '''x\ny''' ''"),
            [
                "10s",
                "5ms",
                "3u",
                "2µ",
                "1w",
                "1.5",
                ".5",
                "7",
                "'a\\'b'",
                "'''x\ny'''",
                "''",
                ""
            ]
        );
        use Tok::*;
        assert_eq!(kinds("lambda: lambda"), [Lambda, Ident, Eof]);
        assert_eq!(
            kinds("stream|from().measurement('cpu')"),
            [
                Ident, Pipe, Ident, LParen, RParen, Dot, Ident, LParen, String, RParen, Eof
            ]
        );
        assert_eq!(kinds("@udf()"), [At, Ident, LParen, RParen, Eof]);
        assert_eq!(
            kinds("[a, 'b', *]"),
            [LBracket, Ident, Comma, String, Comma, Star, RBracket, Eof]
        );
    }

    #[test]
    fn comments() {
        use Tok::*;
        assert_eq!(
            kinds("// one\n// two\nstream // end"),
            [Comment, Comment, Ident, Comment, Eof]
        );
        // A slash that starts a line after a comment opens a regex, here an unterminated one.
        assert_eq!(kinds("a // c\n/ b"), [Ident, Comment, Error, Eof]);
    }

    #[test]
    fn errors_keep_going() {
        let toks = lex("a = 'open\nb = 1");
        assert!(toks.iter().any(|t| t.tok == Tok::Error));
        let toks = lex("x # y");
        assert_eq!(toks[1].tok, Tok::Error);
        assert_eq!(toks[2].tok, Tok::Ident);
        assert_eq!(toks.last().unwrap().tok, Tok::Eof);
        let toks = lex("1.2.3");
        assert_eq!(
            toks[0].error.as_deref(),
            Some("multiple decimals in number")
        );
    }
}
