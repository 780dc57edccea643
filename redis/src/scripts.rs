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
