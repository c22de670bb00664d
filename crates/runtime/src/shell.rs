//! `iexec_args` → argv, split like a POSIX shell does (without expansions).

/// Split `args` into words like `sh` would, minus every expansion.
///
/// Words are separated by unquoted whitespace. `'…'` keeps everything literally; `"…"` keeps
/// everything except that `\` escapes `"`, `\`, `$` and `` ` ``; outside quotes `\` escapes any
/// character. `""` and `''` make an empty word. An unterminated quote runs to the end of the
/// string and a trailing `\` is kept, so every input splits (deterministically) without error.
pub fn split_args(args: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // a word has started even if it is still empty (`""`)
    let mut in_word = false;
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().unwrap_or('\\'));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn split(s: &str) -> Vec<String> {
        split_args(s)
    }

    #[test]
    fn whitespace_separates() {
        assert_eq!(split("  a  b\tc\n"), ["a", "b", "c"]);
        assert!(split("").is_empty());
        assert!(split("   ").is_empty());
    }

    #[test]
    fn quotes_group_and_empty_words_survive() {
        assert_eq!(
            split(r#"say "hello world" 'it''s' """#),
            ["say", "hello world", "its", ""]
        );
        assert_eq!(split(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(split(r#"'a "b" \n'"#), [r#"a "b" \n"#]);
    }

    #[test]
    fn backslashes() {
        assert_eq!(split(r"a\ b c"), ["a b", "c"]);
        assert_eq!(split(r#""\"\\\$\n""#), [r#""\$\n"#]);
        assert_eq!(split(r"end\"), [r"end\"]);
    }

    #[test]
    fn unterminated_quotes_run_to_the_end() {
        assert_eq!(split("a 'b c"), ["a", "b c"]);
        assert_eq!(split("a \"b c"), ["a", "b c"]);
    }
}
