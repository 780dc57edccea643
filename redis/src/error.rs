//! The errors of a Redis market: the engine's outcomes, variant for variant, plus
//! [`ConnectionError`] for a call the server could not complete, and
//! [`OrderError::Undecodable`] for an order placed whose items do not all decode.
//!
//! A call that fails on a broken connection is retried by the handle itself (see
//! [`RedisMarketplace::with_retry_for`](crate::RedisMarketplace::with_retry_for)) under the
//! same operation id, so a retry never applies an operation twice; `Connection` means the
//! retries ran out, and whether the operation was applied is then unknown (the products of
//! a refused publish come back in the error all the same). The same call made again on the
//! handle (an order of the cart; a publish of the product by the producer, timed or not; an
//! add of the product to the cart, timed or not; a remove of it from the cart; a batch
//! publish beginning with the failed batch's products; a batch add asking as many of the
//! product into the cart) is answered as the failed one if it applied.

use std::error::Error;
use std::fmt;

/// A call the server could not complete: unreachable, connection lost past the retry
/// time, the market gone from the server, or a reply that is not the market's.
///
/// Boxed, so the errors that may carry it stay small.
#[derive(Debug)]
pub struct ConnectionError(Box<Failure>);

#[derive(Debug)]
struct Failure {
    operation: &'static str,
    server: String,
    detail: String,
    source: Option<Cause>,
}

#[derive(Debug)]
enum Cause {
    Redis(redis::RedisError),
    /// The contract trait has no variant for an order that does not decode, so its failure
    /// carries the order's items instead.
    Order(UndecodableOrder),
}

impl ConnectionError {
    pub(crate) fn new(operation: &'static str, server: &str, detail: impl Into<String>) -> Self {
        ConnectionError(Box::new(Failure {
            operation,
            server: server.to_owned(),
            detail: detail.into(),
            source: None,
        }))
    }

    pub(crate) fn redis(operation: &'static str, server: &str, error: redis::RedisError) -> Self {
        // A socket timeout shows as the system's "Resource temporarily unavailable" (a read
        // that would block), which does not tell a reader the server went silent.
        let detail = if error.is_timeout() {
            "no answer in time".to_owned()
        } else {
            one_line(&error.to_string())
        };
        ConnectionError(Box::new(Failure {
            operation,
            server: server.to_owned(),
            detail,
            source: Some(Cause::Redis(error)),
        }))
    }

    /// The failure that stands for `order` where only a `ConnectionError` can be told (the
    /// contract trait's `try_place_order`); the items stay in it.
    pub(crate) fn undecodable(order: UndecodableOrder) -> Self {
        ConnectionError(Box::new(Failure {
            operation: "place_order",
            server: order.0.server.clone(),
            detail: order.detail(),
            source: Some(Cause::Order(order)),
        }))
    }

    /// The order this failure stands for, when it is the contract trait's form of
    /// [`OrderError::Undecodable`]: a placed order whose items are in it, as stored.
    #[must_use]
    pub fn undecodable_order(&self) -> Option<&UndecodableOrder> {
        match &self.0.source {
            Some(Cause::Order(order)) => Some(order),
            _ => None,
        }
    }

    /// The order, as [`undecodable_order`](Self::undecodable_order), taken out of the
    /// failure.
    #[must_use]
    pub fn into_undecodable_order(self) -> Option<UndecodableOrder> {
        match self.0.source {
            Some(Cause::Order(order)) => Some(order),
            _ => None,
        }
    }

    /// The call that failed, as its caller made it (`publish`, `add_to_cart_timeout`, ...):
    /// a waiting call names itself whichever of its steps failed.
    #[must_use]
    pub fn operation(&self) -> &'static str {
        self.0.operation
    }

    /// Whether the server refused a command on a key holding another type than the
    /// command's (its `WRONGTYPE` error): the key was written by someone else.
    pub(crate) fn is_wrong_type(&self) -> bool {
        self.0.detail.contains("WRONGTYPE")
    }

    /// Whether the server refused the login: at authentication (no password, a wrong one,
    /// a user unknown or switched off), or a command the login's ACL denies (`NOPERM`).
    pub(crate) fn is_login_refusal(&self) -> bool {
        let Some(Cause::Redis(error)) = &self.0.source else {
            return false;
        };
        error.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(error.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
            || refused_selection_for_the_login(error)
    }
}

/// Whether `error` is the client set-up's `SELECT` of the URL's database refused for want
/// of a password (`NOAUTH`) or by the login's ACL (`NOPERM`). redis-rs keeps only the
/// reason's text of that refusal, not its code, so the text tells it; a database the server
/// does not have is not a login refusal.
fn refused_selection_for_the_login(error: &redis::RedisError) -> bool {
    error
        .to_string()
        .starts_with("Redis server refused to switch database")
        && error.detail().is_some_and(|reason| {
            reason.starts_with("Authentication required") || reason.contains("no permissions")
        })
}

/// `url` as errors show it: a password in it (`redis://user:password@host`, or a `password=`
/// or `pass=` query parameter) becomes `***`, so that an error message, often logged or
/// pasted, does not carry it. The user part runs to the last `@`, so a password holding an
/// unescaped `/`, `?`, `#` or `@` (a URL that does not parse) is hidden whole.
///
/// ```
/// use marketplace_redis::url_without_password;
/// assert_eq!(url_without_password("redis://u:pw@host:6379/0"), "redis://u:***@host:6379/0");
/// assert_eq!(url_without_password("redis://:pw@host"), "redis://:***@host");
/// assert_eq!(url_without_password("redis://u:p/w?x#y@host"), "redis://u:***@host");
/// assert_eq!(url_without_password("redis://host/0?password=pw&x=1"), "redis://host/0?password=***&x=1");
/// assert_eq!(url_without_password("redis://host:6379"), "redis://host:6379");
/// ```
#[must_use]
pub fn url_without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let rest = match rest.rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!("{}:***{}", &rest[..colon], &rest[at..]),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    let Some(query_start) = rest.find('?') else {
        return format!("{scheme}{rest}");
    };
    let (path, query) = rest.split_at(query_start + 1);
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name == "password" || name == "pass" => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{scheme}{path}{}", query.join("&"))
}

/// `text` on one line: a reply that is not Redis (an HTTP server on the port, say) makes
/// the client's parse error span several lines, and an error is told in one.
pub(crate) fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("; ")
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failure = &self.0;
        write!(
            f,
            "{} on redis server {}: {}",
            failure.operation, failure.server, failure.detail
        )
    }
}

impl Error for ConnectionError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.0.source {
            Some(Cause::Redis(error)) => Some(error),
            Some(Cause::Order(order)) => Some(order),
            None => None,
        }
    }
}

/// Why [`RedisMarketplace::connect`](crate::RedisMarketplace::connect) gave no handle.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a Redis URL (`redis://HOST:PORT[/DB]`).
    InvalidUrl(String),
    /// The market name is empty or holds `{`, `}` or a control character.
    InvalidName(String),
    /// `queue_size_per_producer` is 0 or larger than the server can count.
    InvalidCapacity(usize),
    /// The server did not answer, or refused the connection for want of something else
    /// than the login (a database number it does not have, a server that is not Redis):
    /// the error tells the server's reason.
    Unreachable(ConnectionError),
    /// The server answered and refused the login: no password or a wrong one, an unknown
    /// user or one switched off, a user without permission to run the market's calls, or
    /// one whose ACL denies a command the market runs on one of its kinds of key. Trying
    /// again will not help; the error names the server and tells its reason (or names the
    /// command and the key it was checked on).
    Denied(ConnectionError),
    /// The server answered, but the market's `meta` key holds what no market writes: data
    /// another client put under the market's prefix.
    NotAMarket(ConnectionError),
    /// The server may evict any key when it reaches its memory limit (`maxmemory` set and
    /// an `allkeys-*` `maxmemory-policy`), which would delete a market's items, carts and
    /// records without a word. A market needs `noeviction` (Redis's default), a
    /// `volatile-*` policy (no market key has an expiry), or no memory limit. Told by
    /// `INFO`: a login that may not run it (an ACL without `@dangerous`) is not checked.
    Evicting {
        /// The server's `maxmemory-policy`.
        policy: String,
    },
    /// The server is a replica: a read-only one refuses every call that writes, and a
    /// writable one (`replica-read-only no`) keeps what the calls write from its master's
    /// handles. A market needs its master. Told by `INFO`,
    /// as for `Evicting`: a login that may not run it is not checked.
    Replica {
        /// The master's address, as the replica names it.
        master: String,
    },
    /// A market of that name exists with another capacity per producer.
    CapacityMismatch {
        /// The market's name.
        market: String,
        /// Its capacity on the server.
        existing: usize,
        /// The capacity asked for.
        requested: usize,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidUrl(detail) => write!(f, "not a redis URL: {detail}"),
            ConnectError::InvalidName(name) => write!(
                f,
                "invalid market name {name:?}: it must be non-empty, without braces or control characters"
            ),
            ConnectError::InvalidCapacity(size) => write!(
                f,
                "queue_size_per_producer must be between 1 and {}, not {size}",
                crate::market::MAX_CAPACITY
            ),
            ConnectError::Unreachable(error) => error.fmt(f),
            ConnectError::Denied(error) => write!(f, "{error} (the server refused the login)"),
            ConnectError::NotAMarket(error) => {
                write!(f, "{error} (the market's keys hold another client's data)")
            }
            ConnectError::Evicting { policy } => write!(
                f,
                "the server may evict any key at its memory limit (maxmemory-policy {policy}), \
                 a market's items among them; a market needs noeviction or a volatile-* policy"
            ),
            ConnectError::Replica { master } => write!(
                f,
                "the server is a replica of {master}: a read-only replica refuses a market's \
                 writes, and a writable one keeps them from its master's handles; connect to \
                 the master"
            ),
            ConnectError::CapacityMismatch {
                market,
                existing,
                requested,
            } => write!(
                f,
                "market {market:?} exists with queue_size_per_producer {existing}, not {requested}"
            ),
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            // Each shows the connection error's message in its own, so it stands in for it.
            ConnectError::Unreachable(error)
            | ConnectError::Denied(error)
            | ConnectError::NotAMarket(error) => error.source(),
            _ => None,
        }
    }
}

/// Why a publish refused a product, or (`Connection`) may have put it on sale; the product
/// comes back inside the error.
#[derive(Debug)]
#[non_exhaustive]
pub enum PublishError<P> {
    /// The producer already has `queue_size_per_producer` products on the shelf (or, for
    /// the waiting publish, the wait ended first).
    Full(P),
    /// The producer id was not issued by this market.
    UnknownProducer(P),
    /// The server could not complete the call, which may have put the product on sale:
    /// publishing it again on the handle settles it (see
    /// [`RedisMarketplace::publish`](crate::RedisMarketplace::publish)); after a batch
    /// publish, which may have put any of its products on sale, a batch publish of the
    /// products it holds settles it (see
    /// [`RedisMarketplace::publish_many`](crate::RedisMarketplace::publish_many)).
    Connection(P, ConnectionError),
}

impl<P> PublishError<P> {
    /// Gives back the call's product: one not published, or, after a `Connection`, one
    /// whose publish may have put an equal copy on sale.
    #[must_use]
    pub fn into_product(self) -> P {
        match self {
            PublishError::Full(product)
            | PublishError::UnknownProducer(product)
            | PublishError::Connection(product, _) => product,
        }
    }

    /// True when the refusal is temporary (the producer's queue is full).
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, PublishError::Full(_))
    }
}

impl<P> fmt::Display for PublishError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Full(_) => f.write_str("the producer's queue is full"),
            PublishError::UnknownProducer(_) => f.write_str("no such producer"),
            PublishError::Connection(_, error) => error.fmt(f),
        }
    }
}

impl<P: fmt::Debug> Error for PublishError<P> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PublishError::Connection(_, error) => error.source(),
            _ => None,
        }
    }
}

/// Why an add to a cart added nothing, or (`Connection`) may have.
#[derive(Debug)]
#[non_exhaustive]
pub enum AddError {
    /// No item equal to the product is on sale (or, waiting, none came in time).
    Unavailable,
    /// The cart was never opened in this market, or its order was already placed.
    UnknownCart,
    /// The server could not complete the call, which may have moved items into the cart.
    /// After `add_to_cart` or `add_to_cart_timeout`, adding the product to the cart again
    /// on the handle settles it (see
    /// [`RedisMarketplace::add_to_cart`](crate::RedisMarketplace::add_to_cart)); after a
    /// batch add, a batch add asking as many of the product into the cart again (the count
    /// asked less [`AddManyError::added`]) settles it (see
    /// [`RedisMarketplace::add_many_to_cart_timeout`](crate::RedisMarketplace::add_many_to_cart_timeout)).
    Connection(ConnectionError),
}

/// Why a remove from a cart removed nothing, or (`Connection`) may have.
#[derive(Debug)]
#[non_exhaustive]
pub enum RemoveError {
    /// The cart holds no item equal to the product.
    NotInCart,
    /// The cart was never opened in this market, or its order was already placed.
    UnknownCart,
    /// The server could not complete the call, which may have given an item back: removing
    /// the product from the cart again on the handle settles it (see
    /// [`RedisMarketplace::remove_from_cart`](crate::RedisMarketplace::remove_from_cart)).
    Connection(ConnectionError),
}

/// Why an order gave no products, or (`Connection`) may have been placed.
#[derive(Debug)]
#[non_exhaustive]
pub enum OrderError {
    /// The cart was never opened in this market, or its order was already placed.
    UnknownCart,
    /// The server could not complete the call, which may have placed the order: ordering
    /// the cart again on the handle gets its items (see
    /// [`RedisMarketplace::place_order`](crate::RedisMarketplace::place_order)).
    Connection(ConnectionError),
    /// The order was placed (the cart is spent and its items have left the market), but an
    /// item does not decode as this handle's product type: another handle, of another type
    /// whose canonical keys collide with this one's, published it. The error holds every
    /// item of the order as stored, so none is lost.
    Undecodable(UndecodableOrder),
}

/// A placed order whose items do not all decode as the handle's product type: the items
/// of the order as stored (their bytes, in the order added: the JSON forms a handle
/// publishes, or whatever another client wrote under the market's keys, UTF-8 or not), for
/// the caller to decode with the type that published them, or to keep.
///
/// The server spent the cart before the client could read the items (the client does not
/// check them first, which would cost every order a second round trip), so this error is
/// where they are now.
#[derive(Debug)]
pub struct UndecodableOrder(Box<Undecoded>);

#[derive(Debug)]
struct Undecoded {
    server: String,
    cart: crate::CartId,
    items: Vec<Vec<u8>>,
    position: usize,
    error: serde_json::Error,
}

impl UndecodableOrder {
    pub(crate) fn new(
        server: &str,
        cart: crate::CartId,
        items: Vec<Vec<u8>>,
        position: usize,
        error: serde_json::Error,
    ) -> Self {
        UndecodableOrder(Box::new(Undecoded {
            server: server.to_owned(),
            cart,
            items,
            position,
            error,
        }))
    }

    /// Every item of the order as stored (JSON, unless another client wrote it), in the
    /// order added, those that decode included; `serde_json::from_slice` decodes one.
    #[must_use]
    pub fn items(&self) -> &[Vec<u8>] {
        &self.0.items
    }

    /// The items, as [`items`](Self::items), taken out of the error.
    #[must_use]
    pub fn into_items(self) -> Vec<Vec<u8>> {
        self.0.items
    }

    /// The index in [`items`](Self::items) of the first item that does not decode.
    #[must_use]
    pub fn position(&self) -> usize {
        self.0.position
    }

    /// The cart whose order this was.
    pub fn cart(&self) -> crate::CartId {
        self.0.cart
    }
}

impl UndecodableOrder {
    /// What went wrong and where the items are, as a `ConnectionError`'s detail.
    fn detail(&self) -> String {
        let order = &self.0;
        format!(
            "item {} of {} in {} is not a product of this type ({}); the order is placed, \
             and the error holds its items as stored",
            order.position + 1,
            order.items.len(),
            order.cart,
            order.error
        )
    }
}

impl fmt::Display for UndecodableOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "place_order on redis server {}: {}",
            self.0.server,
            self.detail()
        )
    }
}

impl Error for UndecodableOrder {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0.error)
    }
}

/// Display and `Error` for the two errors without a product but `OrderError`: the engine's
/// messages, and the connection error's own, for which the `Connection` variant stands in
/// (its source is the connection error's, so a report walking the chain does not print that
/// message twice).
macro_rules! plain_error {
    ($type:ident { $($variant:ident => $message:literal),* }) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($type::$variant => f.write_str($message),)*
                    $type::Connection(error) => error.fmt(f),
                }
            }
        }

        impl Error for $type {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                match self {
                    $type::Connection(error) => error.source(),
                    _ => None,
                }
            }
        }

        impl From<ConnectionError> for $type {
            fn from(error: ConnectionError) -> Self {
                $type::Connection(error)
            }
        }
    };
}

plain_error!(AddError {
    Unavailable => "the product is not available now",
    UnknownCart => "no such cart"
});
plain_error!(RemoveError {
    NotInCart => "the product is not in the cart",
    UnknownCart => "no such cart"
});

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::UnknownCart => f.write_str("no such cart"),
            OrderError::Connection(error) => error.fmt(f),
            OrderError::Undecodable(order) => order.fmt(f),
        }
    }
}

impl Error for OrderError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            OrderError::UnknownCart => None,
            // Each variant stands in for the error it holds, whose message it shows.
            OrderError::Connection(error) => error.source(),
            OrderError::Undecodable(order) => order.source(),
        }
    }
}

impl From<ConnectionError> for OrderError {
    fn from(error: ConnectionError) -> Self {
        OrderError::Connection(error)
    }
}

/// Why [`add_many_to_cart_timeout`](crate::RedisMarketplace::add_many_to_cart_timeout)
/// stopped short of its count: the error that stopped it, and how many items it had moved
/// into the cart before (they stay there).
#[derive(Debug)]
pub struct AddManyError {
    added: usize,
    error: AddError,
}

impl AddManyError {
    pub(crate) fn new(added: usize, error: AddError) -> Self {
        AddManyError { added, error }
    }

    /// How many items the call had moved into the cart before the error.
    #[must_use]
    pub fn added(&self) -> usize {
        self.added
    }

    /// The error that stopped it: `UnknownCart` (the cart was ordered meanwhile, with the
    /// items moved so far) or `Connection`.
    #[must_use]
    pub fn error(&self) -> &AddError {
        &self.error
    }

    /// The error, without the count.
    #[must_use]
    pub fn into_error(self) -> AddError {
        self.error
    }
}

impl fmt::Display for AddManyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (after adding {} items)", self.error, self.added)
    }
}

impl Error for AddManyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}
