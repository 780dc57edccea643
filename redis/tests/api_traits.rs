//! What the Redis market's public types promise the compiler: which are `Send`, `Sync` and
//! unwind safe, and what ids and errors implement. Bounds on helper functions, so a
//! regression fails to build; no server is needed.

use std::error::Error;
use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::panic::{RefUnwindSafe, UnwindSafe};

use marketplace_redis::{
    AddError, AddManyError, CartId, ConnectError, ConnectionError, OrderError, ProducerId,
    PublishError, RedisMarketplace, RemoveError,
};

fn assert_send_sync<T: Send + Sync>() {}
fn assert_unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
fn assert_error<T: Error + Send + Sync + 'static>() {}
fn assert_id<T>()
where
    T: Copy + Eq + Ord + Hash + Debug + Display + Send + Sync + Unpin + UnwindSafe + RefUnwindSafe,
{
}

/// A handle is shared by threads whatever its products, as none is kept in it.
#[test]
fn a_handle_is_send_sync_and_unwind_safe() {
    assert_send_sync::<RedisMarketplace<String>>();
    assert_send_sync::<RedisMarketplace<std::rc::Rc<u8>>>();
    assert_unwind_safe::<RedisMarketplace<String>>();
}

#[test]
fn ids_are_plain_values_like_the_engines() {
    assert_id::<ProducerId>();
    assert_id::<CartId>();
    assert_id::<marketplace::ProducerId>();
}

#[test]
fn errors_are_std_errors_that_cross_threads() {
    assert_error::<PublishError<String>>();
    assert_error::<AddError>();
    assert_error::<RemoveError>();
    assert_error::<OrderError>();
    assert_error::<AddManyError>();
    assert_error::<ConnectError>();
    assert_error::<ConnectionError>();
}
