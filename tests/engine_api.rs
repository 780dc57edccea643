//! What the engine's public types promise the compiler: which are `Send`, `Sync` and unwind
//! safe, what ids and errors implement, and what `Debug` shows. Most checks are bounds on
//! helper functions, so a regression fails to build; what must not hold (a market of
//! products that are not `Sync` is not `Sync`) is in the `compile_fail` doc tests of
//! `src/lib.rs`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::error::Error;
use std::fmt::{Debug, Display};
use std::hash::{BuildHasher, Hash, RandomState};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;

use marketplace::baseline::LockedMarketplace;
use marketplace::{
    AddError, CartId, DefaultHashBuilder, DefaultHasher, Marketplace, OrderError, ProducerId,
    ProductHandle, PublishError, RemoveError, Stats, ZeroCapacityError,
};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
fn assert_send_value<T: Send>(_: &T) {}
fn assert_error<T: Error + Send + Sync + 'static>() {}
/// What a plain value type offers: compared, hashed (a key of a map or set) and shown.
fn assert_value<T: Clone + Eq + Hash + Debug>() {}
fn assert_id<T>()
where
    T: Copy + Eq + Ord + Hash + Debug + Display + Send + Sync + Unpin + UnwindSafe + RefUnwindSafe,
{
}

#[test]
fn markets_are_send_and_sync_when_their_products_are() {
    assert_send::<Marketplace<String>>();
    assert_sync::<Marketplace<String>>();
    assert_send::<Marketplace<String, RandomState>>();
    assert_sync::<Marketplace<String, RandomState>>();
    // Moving a market moves its products; sharing one shares them (the catalog's copies are
    // compared from every thread), so only `Send` is needed to move it.
    assert_send::<Marketplace<Cell<u8>>>();
    assert_send::<LockedMarketplace<String>>();
    assert_sync::<LockedMarketplace<String>>();
    assert_unwind_safe::<Marketplace<String>>();
    assert_unwind_safe::<LockedMarketplace<String>>();
}

#[test]
fn handles_stats_and_hashers_are_thread_safe() {
    assert_send::<ProductHandle<'static, String>>();
    assert_sync::<ProductHandle<'static, String>>();
    assert_unwind_safe::<ProductHandle<'static, String>>();
    assert_send::<Stats>();
    assert_sync::<Stats>();
    assert_value::<Stats>();
    assert_send::<DefaultHashBuilder>();
    assert_sync::<DefaultHashBuilder>();
    assert_send::<DefaultHasher>();
}

/// The futures can be spawned on a multi-threaded runtime (`tokio::spawn` asks for `Send`),
/// with the default hasher and with another.
#[test]
fn async_calls_return_send_futures() {
    fn check<S: BuildHasher + Send + Sync>(market: &Marketplace<String, S>) {
        let producer = market.register_producer();
        let cart = market.new_cart();
        assert_send_value(&market.publish_async(producer, "tea".to_owned()));
        assert_send_value(&market.add_to_cart_async(cart, "tea"));
        let tea = market.product(&"tea".to_owned());
        assert_send_value(&tea.publish_async(producer));
        assert_send_value(&tea.add_to_cart_async(cart));
        assert_eq!(market.place_order(cart), Ok(vec![]));
    }
    check(&Marketplace::new(1));
    check(&Marketplace::with_hasher(1, RandomState::new()));
}

#[test]
fn a_spawned_task_can_own_a_market_and_await_its_futures() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let market = Arc::new(Marketplace::new(1));
    let producer = market.register_producer();
    let task = runtime.spawn({
        let market = Arc::clone(&market);
        async move {
            market.publish_async(producer, "tea".to_owned()).await?;
            Ok::<_, PublishError<String>>(market.available("tea"))
        }
    });
    assert_eq!(runtime.block_on(task).unwrap(), Ok(1));
}

#[test]
fn ids_are_plain_values_ordered_as_issued() {
    assert_id::<ProducerId>();
    assert_id::<CartId>();
    let market = Marketplace::<u8>::new(1);
    let producers: Vec<ProducerId> = (0..3).map(|_| market.register_producer()).collect();
    let carts: Vec<CartId> = (0..3).map(|_| market.new_cart()).collect();
    assert!(producers.is_sorted_by(|a, b| a < b));
    assert!(carts.is_sorted_by(|a, b| a < b));
    let sorted: Vec<CartId> = carts
        .iter()
        .rev()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(sorted, carts);
}

#[test]
fn errors_are_std_errors_that_cross_threads() {
    assert_error::<PublishError<String>>();
    assert_error::<AddError>();
    assert_error::<RemoveError>();
    assert_error::<OrderError>();
    assert_error::<ZeroCapacityError>();
    assert_unwind_safe::<PublishError<String>>();
    assert_value::<PublishError<String>>();
    assert_value::<AddError>();
    assert_value::<RemoveError>();
    assert_value::<OrderError>();
    assert_value::<ZeroCapacityError>();

    // `?` turns each into the usual boxed error.
    fn buy(market: &Marketplace<String>) -> Result<Vec<String>, Box<dyn Error + Send + Sync>> {
        let producer = market.register_producer();
        market.publish(producer, "tea".to_owned())?;
        let cart = market.new_cart();
        market.add_to_cart(cart, "tea")?;
        market.remove_from_cart(cart, "tea")?;
        Ok(market.place_order(cart)?)
    }
    assert_eq!(buy(&Marketplace::new(1)).unwrap(), Vec::<String>::new());
}

/// Messages are lowercase without trailing punctuation, so they read well inside another
/// message; a product without `Display` does not stop a publish error from showing.
#[test]
fn error_messages_are_lowercase_without_trailing_punctuation() {
    struct Opaque;
    let messages = [
        PublishError::Full(Opaque).to_string(),
        PublishError::UnknownProducer(Opaque).to_string(),
        AddError::Unavailable.to_string(),
        AddError::UnknownCart.to_string(),
        RemoveError::NotInCart.to_string(),
        RemoveError::UnknownCart.to_string(),
        OrderError::UnknownCart.to_string(),
        ZeroCapacityError::default().to_string(),
    ];
    for message in messages {
        let first = message.chars().next().unwrap();
        assert!(!first.is_uppercase(), "{message:?}");
        assert!(!message.ends_with(['.', '!', ':']), "{message:?}");
    }
}

/// `Debug` of a market takes no lock and shows its settings, not its contents: as long as
/// the market with one item on sale, and without the product.
#[test]
fn debug_of_a_market_does_not_grow_with_its_items() {
    let market = Marketplace::new(1000);
    let baseline = LockedMarketplace::new(1000);
    let producer = market.register_producer();
    let other = baseline.register_producer();
    market.publish(producer, "tea 0".to_owned()).unwrap();
    baseline.publish(other, "tea 0".to_owned()).unwrap();
    let (one, one_locked) = (format!("{market:?}"), format!("{baseline:?}"));
    for n in 1..1000 {
        market.publish(producer, format!("tea {n}")).unwrap();
        baseline.publish(other, format!("tea {n}")).unwrap();
    }
    assert_eq!(format!("{market:?}"), one);
    assert_eq!(format!("{baseline:?}"), one_locked);
    assert!(
        !one.contains("tea") && !one_locked.contains("tea"),
        "{one} {one_locked}"
    );
}

/// Two builders hash differently (each has its own random seed) yet show the same: a
/// logged builder does not give away the seed that keeps colliding products hard to pick.
#[test]
fn debug_of_the_default_hash_builder_hides_its_seed() {
    let (a, b) = (DefaultHashBuilder::default(), DefaultHashBuilder::default());
    assert_ne!(a.hash_one("tea"), b.hash_one("tea"));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(
        format!("{:?}", a.build_hasher()),
        format!("{:?}", b.build_hasher())
    );
}

/// The baseline answers the engine's two getters, with the engine's answers.
#[test]
fn the_baseline_has_the_engines_getters() {
    let market = Marketplace::<u8>::new(3);
    let baseline = LockedMarketplace::<u8>::new(3);
    assert_eq!(
        baseline.queue_size_per_producer(),
        market.queue_size_per_producer()
    );
    assert_eq!(baseline.is_closed(), market.is_closed());
    market.close();
    baseline.close();
    assert_eq!(baseline.is_closed(), market.is_closed());
    assert!(baseline.is_closed());
}
