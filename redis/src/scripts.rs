//! The Lua scripts that carry out each operation, one per operation, atomic on the server
//! (Redis runs a script with nothing interleaved), and the shape of their replies.
//!
//! Every operation script starts with `scripts/prelude.lua`: the market's key layout, the
//! lane's record of its last result (what makes a retried operation apply once), and the
//! doorbells that wake waiters. `redis::Script` sends `EVALSHA` and loads the script the
//! first time a server does not know it (after a restart, for one).

use redis::{Script, Value};

macro_rules! operation_script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("scripts/prelude.lua"),
            include_str!(concat!("scripts/", $file))
        ))
    };
}

/// The scripts of one handle.
pub(crate) struct Scripts {
    pub(crate) access: Script,
    pub(crate) init: Script,
    pub(crate) register_producer: Script,
    pub(crate) publish: Script,
    pub(crate) publish_many: Script,
    pub(crate) new_cart: Script,
    pub(crate) add_to_cart: Script,
    pub(crate) add_many_to_cart: Script,
    pub(crate) remove_from_cart: Script,
    pub(crate) place_order: Script,
    pub(crate) close: Script,
    pub(crate) inspect: Script,
    pub(crate) label: Script,
    pub(crate) tally: Script,
    pub(crate) claim: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            access: Script::new(include_str!("scripts/access.lua")),
            init: Script::new(include_str!("scripts/init.lua")),
            register_producer: operation_script!("register_producer.lua"),
            publish: operation_script!("publish.lua"),
            publish_many: operation_script!("publish_many.lua"),
            new_cart: operation_script!("new_cart.lua"),
            add_to_cart: operation_script!("add_to_cart.lua"),
            add_many_to_cart: operation_script!("add_many_to_cart.lua"),
            remove_from_cart: operation_script!("remove_from_cart.lua"),
            place_order: operation_script!("place_order.lua"),
            close: operation_script!("close.lua"),
            inspect: operation_script!("inspect.lua"),
            label: operation_script!("label.lua"),
            tally: operation_script!("tally.lua"),
            claim: operation_script!("claim.lua"),
        }
    }
}

/// A script's reply: a status word, then values.
pub(crate) struct Reply {
    pub(crate) status: String,
    pub(crate) values: Vec<Value>,
}

impl Reply {
    /// Reads a reply; `None` when it does not have the scripts' shape.
    pub(crate) fn parse(value: Value) -> Option<Reply> {
        let Value::Array(mut values) = value else {
            return None;
        };
        if values.is_empty() {
            return None;
        }
        let status = text(values.remove(0))?;
        Some(Reply { status, values })
    }

    /// Value `index` as an integer.
    pub(crate) fn int(&self, index: usize) -> Option<i64> {
        match self.values.get(index)? {
            Value::Int(value) => Some(*value),
            Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// Value `index` as a flag the scripts send as 0 or 1.
    pub(crate) fn flag(&self, index: usize) -> bool {
        self.int(index) == Some(1)
    }
}

/// A string reply value.
pub(crate) fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// A string reply value as the bytes the server holds.
pub(crate) fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::{Path, PathBuf};

    /// Commands the client sends that `access.lua` does not check, and why: `INFO`'s
    /// refusal is taken (a login that may not ask is not checked for eviction nor for being
    /// a replica), `SCAN` only
    /// serves `delete`, which a refusal fails before it deletes anything, and `PING` only a
    /// test.
    const UNCHECKED: [&str; 3] = ["INFO", "SCAN", "PING"];

    fn sources(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("a source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                sources(&path, extension, found);
            } else if path.extension().is_some_and(|e| e == extension) {
                found.push(path);
            }
        }
    }

    /// The command name (a word in capitals) between `quote`s that follows each `opening`
    /// in `text`.
    fn named_after(text: &str, opening: &str, quote: char) -> Vec<String> {
        text.match_indices(opening)
            .filter_map(|(at, _)| {
                let rest = text[at + opening.len()..].strip_prefix(quote)?;
                let word = &rest[..rest.find(quote)?];
                let command = !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase());
                command.then(|| word.to_owned())
            })
            .collect()
    }

    /// Every command a script runs, and every one the client sends but those it does not
    /// need checked, is one `access.lua` asks the login's ACL about: a command missing
    /// there would fail its script midway for a login denied it, keeping what it wrote.
    #[test]
    fn access_checks_every_command_the_market_runs() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let access = include_str!("scripts/access.lua");
        let checked: BTreeSet<String> = named_after(access, "{", '\'').into_iter().collect();
        let mut files = Vec::new();
        sources(&root.join("scripts"), "lua", &mut files);
        let mut run = BTreeSet::new();
        for file in files.iter().filter(|f| !f.ends_with("access.lua")) {
            let text = fs::read_to_string(file).expect("a script");
            for opening in ["redis.call(", "redis.pcall("] {
                // A command named by a variable is `push_all`'s side, named by its callers.
                let dynamic = text.matches(&format!("{opening}side,")).count();
                let named = named_after(&text, opening, '\'');
                assert_eq!(
                    text.matches(opening).count(),
                    named.len() + dynamic,
                    "{}: a command named by a variable, which this test cannot read",
                    file.display()
                );
                run.extend(named);
            }
            run.extend(named_after(&text, "push_all(", '\''));
        }
        assert!(run.contains("LPUSH") && run.contains("HSET"), "{run:?}");
        let mut files = Vec::new();
        sources(&root, "rs", &mut files);
        for file in &files {
            let text = fs::read_to_string(file).expect("a source");
            run.extend(
                named_after(&text, "redis::cmd(", '"')
                    .into_iter()
                    .filter(|command| !UNCHECKED.contains(&command.as_str())),
            );
        }
        assert!(run.contains("BLPOP"), "{run:?}");
        let missing: Vec<_> = run.difference(&checked).collect();
        assert!(missing.is_empty(), "not checked by access.lua: {missing:?}");
    }
}
