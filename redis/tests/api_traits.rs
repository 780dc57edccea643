//! What the Redis market's public types promise the compiler: which are `Send`, `Sync` and
//! unwind safe, and what ids and errors implement. Bounds on helper functions, so a
//! regression fails to build; no server is needed.

use std::error::Error;
use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::Duration;

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
    // The contract trait's publish failure, holding a product, crosses threads as well.
    assert_error::<marketplace_contract::PublishFailure<String, ConnectionError>>();
}

/// A market of `String`s is asked with a `&str`, as the engine is, with no `String` built
/// per call: the calls that only look a product up take any form it borrows as. Checked by
/// the compiler alone (no server): the closures are built, not called.
#[test]
fn lookups_take_a_borrowed_form_of_the_product() {
    type Market = RedisMarketplace<String>;
    let add = |m: &Market, cart| m.add_to_cart(cart, "tea");
    let wait = |m: &Market, cart| m.add_to_cart_timeout(cart, "tea", Duration::ZERO);
    let remove = |m: &Market, cart| m.remove_from_cart(cart, "tea");
    let available = |m: &Market| m.available("tea");
    let many = |m: &Market, cart| m.add_many_to_cart(cart, "tea", 2);
    let many_wait = |m: &Market, cart| m.add_many_to_cart_timeout(cart, "tea", 2, Duration::ZERO);
    let (_, _, _, _, _, _) = (add, wait, remove, available, many, many_wait);
}

/// Messages are lowercase without trailing punctuation, as the engine's, so they read well
/// inside another message (those a call can give without reaching a server).
#[test]
fn error_messages_are_lowercase_without_trailing_punctuation() {
    struct Opaque;
    let refused = |url, name, size| {
        RedisMarketplace::<String>::connect(url, name, size)
            .expect_err("refused before connecting")
            .to_string()
    };
    let messages = [
        PublishError::Full(Opaque).to_string(),
        PublishError::UnknownProducer(Opaque).to_string(),
        AddError::Unavailable.to_string(),
        AddError::UnknownCart.to_string(),
        RemoveError::NotInCart.to_string(),
        RemoveError::UnknownCart.to_string(),
        OrderError::UnknownCart.to_string(),
        refused("not a url", "shop", 1),
        refused("redis://127.0.0.1:1", "", 1),
        refused("redis://127.0.0.1:1", "shop", 0),
    ];
    for message in messages {
        let first = message.chars().next().unwrap();
        assert!(!first.is_uppercase(), "{message:?}");
        assert!(!message.ends_with(['.', '!', ':']), "{message:?}");
    }
}
