//! POSIX extended regular expressions for `rsc-pattern` (Pacemaker hands
//! them to `regcomp(REG_EXTENDED)` and searches resource ids with
//! `regexec`): alternation, groups, `. * + ? {m,n}`, bracket expressions
//! with ranges and `[:class:]`, anchors. Matching is a Thompson NFA
//! simulation: time linear in the text for a given pattern, so no pattern
//! can make it run away. Back-references and GNU word-boundary escapes are
//! refused.

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    program: Vec<Inst>,
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError(pub String);

#[derive(Debug, Clone)]
enum Inst {
    Char(Class),
    Split(usize, usize),
    Jump(usize),
    LineStart,
    LineEnd,
    Match,
}

#[derive(Debug, Clone)]
enum Class {
    Any,
    One(char),
    Set { negated: bool, items: Vec<Item> },
}

#[derive(Debug, Clone)]
enum Item {
    Range(char, char),
    Named(fn(char) -> bool),
}

#[derive(Debug, Clone)]
enum Ast {
    Empty,
    Char(Class),
    LineStart,
    LineEnd,
    Concat(Vec<Ast>),
    Alternate(Vec<Ast>),
    Repeat(Box<Ast>, u32, Option<u32>),
}

/// POSIX `RE_DUP_MAX`.
const DUP_MAX: u32 = 255;
/// Bounds on the compiled program and on nesting, so hostile patterns are
/// refused rather than blown up.
const MAX_PROGRAM: usize = 20_000;
const MAX_DEPTH: usize = 64;

impl Pattern {
    /// Compiles an extended regular expression.
    pub(crate) fn compile(pattern: &str) -> Result<Pattern, PatternError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
        };
        let ast = parser.alternation(0)?;
        if parser.pos < chars.len() {
            return Err(PatternError(format!(
                "unmatched `)` at character {}",
                parser.pos + 1
            )));
        }
        let mut program = Vec::new();
        emit(&ast, &mut program)?;
        program.push(Inst::Match);
        Ok(Pattern { program })
    }

    /// Whether the pattern matches anywhere in `text` (`regexec`).
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let n = self.program.len();
        let mut current = Vec::with_capacity(n);
        let mut next = Vec::with_capacity(n);
        let mut marks = vec![usize::MAX; n];
        let mut stamp = 0usize;
        for pos in 0..=chars.len() {
            // Unanchored search: a thread starts at every position.
            self.add(&mut current, &mut marks, stamp, 0, pos, chars.len());
            if current
                .iter()
                .any(|&pc| matches!(self.program[pc], Inst::Match))
            {
                return true;
            }
            let Some(&c) = chars.get(pos) else { break };
            stamp += 1;
            next.clear();
            for &pc in &current {
                if let Inst::Char(class) = &self.program[pc] {
                    if class.matches(c) {
                        self.add(&mut next, &mut marks, stamp, pc + 1, pos + 1, chars.len());
                    }
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Adds `pc` and everything reachable from it without consuming a
    /// character (`marks` avoids visiting a state twice in one step).
    fn add(
        &self,
        list: &mut Vec<usize>,
        marks: &mut [usize],
        stamp: usize,
        pc: usize,
        pos: usize,
        len: usize,
    ) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if marks[pc] == stamp {
                continue;
            }
            marks[pc] = stamp;
            match &self.program[pc] {
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Jump(a) => stack.push(*a),
                Inst::LineStart => {
                    if pos == 0 {
                        stack.push(pc + 1);
                    }
                }
                Inst::LineEnd => {
                    if pos == len {
                        stack.push(pc + 1);
                    }
                }
                Inst::Char(_) | Inst::Match => list.push(pc),
            }
        }
    }
}

impl Class {
    fn matches(&self, c: char) -> bool {
        match self {
            Class::Any => true,
            Class::One(x) => *x == c,
            Class::Set { negated, items } => {
                let hit = items.iter().any(|item| match item {
                    Item::Range(lo, hi) => *lo <= c && c <= *hi,
                    Item::Named(f) => f(c),
                });
                hit != *negated
            }
        }
    }
}

struct Parser<'p> {
    chars: &'p [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn alternation(&mut self, depth: usize) -> Result<Ast, PatternError> {
        if depth > MAX_DEPTH {
            return Err(PatternError("groups nested too deeply".to_string()));
        }
        let mut branches = vec![self.concatenation(depth)?];
        while self.peek() == Some('|') {
            self.pos += 1;
            branches.push(self.concatenation(depth)?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Ast::Empty)
        } else {
            Ast::Alternate(branches)
        })
    }

    fn concatenation(&mut self, depth: usize) -> Result<Ast, PatternError> {
        let mut items: Vec<Ast> = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = match c {
                '*' | '+' | '?' if items.is_empty() => {
                    self.pos += 1;
                    Ast::Char(Class::One(c))
                }
                '*' | '+' | '?' | '{' if !items.is_empty() => {
                    if let Some((min, max)) = self.repetition()? {
                        let last = items.pop().unwrap_or(Ast::Empty);
                        if repeat_depth(&last) >= MAX_DEPTH {
                            return Err(PatternError("repetitions nested too deeply".to_string()));
                        }
                        items.push(Ast::Repeat(Box::new(last), min, max));
                        continue;
                    }
                    self.pos += 1;
                    Ast::Char(Class::One('{'))
                }
                '(' => {
                    self.pos += 1;
                    let inner = self.alternation(depth + 1)?;
                    if self.peek() != Some(')') {
                        return Err(PatternError("unmatched `(`".to_string()));
                    }
                    self.pos += 1;
                    inner
                }
                '.' => {
                    self.pos += 1;
                    Ast::Char(Class::Any)
                }
                '^' => {
                    self.pos += 1;
                    Ast::LineStart
                }
                '$' => {
                    self.pos += 1;
                    Ast::LineEnd
                }
                '[' => {
                    self.pos += 1;
                    Ast::Char(self.bracket()?)
                }
                '\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(PatternError("trailing backslash".to_string()));
                    };
                    self.pos += 1;
                    match e {
                        '1'..='9' => {
                            return Err(PatternError(
                                "back-references are not supported".to_string(),
                            ))
                        }
                        'b' | 'B' | '<' | '>' | '`' | '\'' => {
                            return Err(PatternError(format!(
                                "the GNU escape \\{e} is not supported"
                            )))
                        }
                        'w' => named_set(false, is_word),
                        'W' => named_set(true, is_word),
                        's' => named_set(false, is_space),
                        'S' => named_set(true, is_space),
                        other => Ast::Char(Class::One(other)),
                    }
                }
                other => {
                    self.pos += 1;
                    Ast::Char(Class::One(other))
                }
            };
            items.push(atom);
        }
        Ok(match items.len() {
            0 => Ast::Empty,
            1 => items.pop().unwrap_or(Ast::Empty),
            _ => Ast::Concat(items),
        })
    }

    /// `*`, `+`, `?` or a valid `{m,n}` at the cursor (None: a `{` that is
    /// a literal).
    fn repetition(&mut self) -> Result<Option<(u32, Option<u32>)>, PatternError> {
        let c = self.peek().unwrap_or(' ');
        match c {
            '*' => {
                self.pos += 1;
                Ok(Some((0, None)))
            }
            '+' => {
                self.pos += 1;
                Ok(Some((1, None)))
            }
            '?' => {
                self.pos += 1;
                Ok(Some((0, Some(1))))
            }
            _ => {
                let start = self.pos;
                self.pos += 1;
                let min = self.number();
                let Some(min) = min else {
                    self.pos = start;
                    return Ok(None);
                };
                let max = if self.peek() == Some(',') {
                    self.pos += 1;
                    self.number()
                } else {
                    Some(min)
                };
                if self.peek() != Some('}') {
                    self.pos = start;
                    return Ok(None);
                }
                self.pos += 1;
                if min > DUP_MAX || max.is_some_and(|m| m > DUP_MAX || m < min) {
                    return Err(PatternError("invalid repetition count".to_string()));
                }
                Ok(Some((min, max)))
            }
        }
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value.saturating_mul(10).saturating_add(d);
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    /// A bracket expression, after its `[`.
    fn bracket(&mut self) -> Result<Class, PatternError> {
        let mut negated = false;
        if self.peek() == Some('^') {
            negated = true;
            self.pos += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(PatternError("unmatched `[`".to_string()));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            let lo = if c == '[' && matches!(self.chars.get(self.pos + 1), Some(':' | '.' | '=')) {
                let kind = self.chars[self.pos + 1];
                let start = self.pos + 2;
                let end = (start..self.chars.len().saturating_sub(1))
                    .find(|&i| self.chars[i] == kind && self.chars[i + 1] == ']')
                    .ok_or_else(|| PatternError("unterminated [: :] class".to_string()))?;
                let name: String = self.chars[start..end].iter().collect();
                self.pos = end + 2;
                if kind == ':' {
                    items.push(Item::Named(class_by_name(&name)?));
                    continue;
                }
                let mut cs = name.chars();
                match (cs.next(), cs.next()) {
                    (Some(one), None) => one,
                    _ => {
                        return Err(PatternError(format!(
                            "collating element [{kind}{name}{kind}] is not supported"
                        )))
                    }
                }
            } else {
                self.pos += 1;
                c
            };
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let hi = self.peek().unwrap_or(lo);
                self.pos += 1;
                if hi < lo {
                    return Err(PatternError(format!("invalid range {lo}-{hi}")));
                }
                items.push(Item::Range(lo, hi));
            } else {
                items.push(Item::Range(lo, lo));
            }
        }
        Ok(Class::Set { negated, items })
    }
}

fn repeat_depth(ast: &Ast) -> usize {
    let mut depth = 0;
    let mut cur = ast;
    while let Ast::Repeat(inner, _, _) = cur {
        depth += 1;
        cur = inner;
    }
    depth
}

fn named_set(negated: bool, f: fn(char) -> bool) -> Ast {
    Ast::Char(Class::Set {
        negated,
        items: vec![Item::Named(f)],
    })
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\x0b'
}

fn class_by_name(name: &str) -> Result<fn(char) -> bool, PatternError> {
    Ok(match name {
        "alpha" => |c: char| c.is_ascii_alphabetic(),
        "digit" => |c: char| c.is_ascii_digit(),
        "alnum" => |c: char| c.is_ascii_alphanumeric(),
        "upper" => |c: char| c.is_ascii_uppercase(),
        "lower" => |c: char| c.is_ascii_lowercase(),
        "space" => is_space,
        "blank" => |c: char| c == ' ' || c == '\t',
        "punct" => |c: char| c.is_ascii_punctuation(),
        "print" => |c: char| c.is_ascii_graphic() || c == ' ',
        "graph" => |c: char| c.is_ascii_graphic(),
        "cntrl" => |c: char| c.is_ascii_control(),
        "xdigit" => |c: char| c.is_ascii_hexdigit(),
        _ => return Err(PatternError(format!("unknown class [:{name}:]"))),
    })
}

fn emit(ast: &Ast, program: &mut Vec<Inst>) -> Result<(), PatternError> {
    if program.len() > MAX_PROGRAM {
        return Err(PatternError("the pattern is too large".to_string()));
    }
    match ast {
        Ast::Empty => {}
        Ast::Char(class) => program.push(Inst::Char(class.clone())),
        Ast::LineStart => program.push(Inst::LineStart),
        Ast::LineEnd => program.push(Inst::LineEnd),
        Ast::Concat(items) => {
            for item in items {
                emit(item, program)?;
            }
        }
        Ast::Alternate(branches) => {
            let mut jumps = Vec::new();
            for (i, branch) in branches.iter().enumerate() {
                if i + 1 < branches.len() {
                    let split = program.len();
                    program.push(Inst::Split(split + 1, 0));
                    emit(branch, program)?;
                    jumps.push(program.len());
                    program.push(Inst::Jump(0));
                    let next = program.len();
                    program[split] = Inst::Split(split + 1, next);
                } else {
                    emit(branch, program)?;
                }
            }
            let end = program.len();
            for j in jumps {
                program[j] = Inst::Jump(end);
            }
        }
        Ast::Repeat(body, min, max) => {
            for _ in 0..*min {
                emit(body, program)?;
            }
            match max {
                None => {
                    let split = program.len();
                    program.push(Inst::Split(split + 1, 0));
                    emit(body, program)?;
                    program.push(Inst::Jump(split));
                    let end = program.len();
                    program[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(program.len());
                        program.push(Inst::Split(0, 0));
                        emit(body, program)?;
                    }
                    let end = program.len();
                    for s in splits {
                        program[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    if program.len() > MAX_PROGRAM {
        return Err(PatternError("the pattern is too large".to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::compile(p).unwrap().is_match(t)
    }

    #[test]
    fn searches_like_regexec() {
        assert!(m("rsc", "my-rsc-1"));
        assert!(!m("^rsc", "my-rsc-1"));
        assert!(m("^rsc[0-9]+$", "rsc12"));
        assert!(!m("^rsc[0-9]+$", "rsc12a"));
        assert!(m("^(web|db)-.*", "db-primary"));
        assert!(!m("^(web|db)-.*", "cache-1"));
        assert!(m("a{2,3}", "xaay"));
        assert!(!m("^a{2,3}$", "aaaa"));
        assert!(m("[[:digit:]]", "abc7"));
        assert!(m("[^a-c]", "abcd"));
        assert!(!m("[^a-c]", "abc"));
        assert!(m("[]a]", "]"));
        assert!(m("x*", ""));
        assert!(m("", "anything"));
        assert!(m("a.c", "abc"));
        assert!(m("\\.", "a.b"));
        assert!(!m("\\.", "ab"));
        assert!(m("*a", "*a"));
        assert!(m("a{", "a{"));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        for bad in ["(", "a)", "[a", "\\1", "a{300}", "[[:nope:]]", "\\b", "a\\"] {
            assert!(Pattern::compile(bad).is_err(), "{bad}");
        }
        // Nested counted repetition cannot blow up the program.
        assert!(Pattern::compile("((a{255}){255}){255}").is_err());
        assert!(Pattern::compile(&"(".repeat(1000)).is_err());
        assert!(Pattern::compile(&format!("a{}", "{1}".repeat(10_000))).is_err());
        assert!(Pattern::compile(&format!("a{}", "*".repeat(10_000))).is_err());
    }

    #[test]
    fn no_catastrophic_backtracking() {
        let p = Pattern::compile("^(a+)+$").unwrap();
        let text = format!("{}b", "a".repeat(5000));
        assert!(!p.is_match(&text));
    }
}
