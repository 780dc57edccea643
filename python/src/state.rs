//! The binding's own bookkeeping, kept behind one `Mutex` in the `Marketplace` object: which
//! equality class each live product belongs to, the exact objects that were published, and
//! the Python-visible ids of producers and carts.
//!
//! Nothing in here runs Python code: the lock is only ever held for a few steps of plain
//! Rust (no `__hash__`, `__eq__`, `__del__` or logging under it), so a thread holding it can
//! neither lose the GIL in the middle nor wait for another thread. Python objects are moved
//! in and out (a move or an incref runs no Python code) but never dropped under the lock:
//! every method that lets go of an object hands it back to the caller, who drops it after
//! unlocking (a decref to zero may run a finaliser).
//!
//! Classes: products are interned into equality classes by a Python dict (owned by the
//! `Marketplace`, outside this lock) that maps a key (`class_key`) to a token
//! `(generation << 32) | slot`. The key is the product that made the class when no one can
//! change it; else a key the market owns, which keeps the hash taken when the class was made
//! and compares as one object of the class: one of its members whenever it has any. The
//! members are the objects the market holds for the class and gives no one meanwhile: its
//! items' published objects (on sale, in carts, being published) and the products that
//! waiting `add_to_cart` calls named. Before a member leaves (an order hands it to a buyer,
//! a refused publish or an ended wait to its caller, who may change it), an owned key is pointed
//! at another one, by a swap under this lock: no dict operation, no Python code, so an
//! order still never waits for the interning lock. While the class has no member (only
//! calls in flight that keep no object pin it) the key points at the product that made it,
//! or at its last member, until the class dies or gets a member again.
//!
//! The slot is the key the engine compares on (`Key`); the generation tells a slot's
//! successive classes apart, so a token read from the dict before its class died is
//! recognised as stale. A class lives while anything refers to it: its items (on shelves,
//! in carts, being published) and the operations in flight that named it (pins). When the
//! count drops to zero the class is an orphan; a thread holding the interning lock
//! (`intern_lock`), which every dict lookup holds too, then marks it dying, deletes its dict
//! entry (outside this lock) and frees its slot for the next new class, so no other thread
//! sees a class dying. That thread is the one that dropped the count if the lock was free,
//! else the one holding it, as it leaves (an orphan pinned again meanwhile lives on). So the
//! dict, the class table and the engine's catalog (one entry per slot ever used) are bounded
//! by the number of distinct products alive at once, not by the number ever published.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use marketplace::{CartId, ProducerId};
use pyo3::prelude::*;

use crate::class_key::DictKey;

/// The product type the engine works on: an equality class (compared and hashed alone) and
/// the handle of the exact object published (ignored by `Eq` and `Hash`).
#[derive(Clone, Copy)]
pub(crate) struct Key {
    /// The class's slot: equal Python products share it while any of them is alive.
    pub(crate) slot: u32,
    /// Where the published object is kept in [`Objects`]; `PROBE` for a key that only asks
    /// for a class (`add_to_cart`, `remove_from_cart`).
    pub(crate) handle: u32,
}

impl Key {
    /// The handle of a key that names a class but no object.
    pub(crate) const PROBE: u32 = u32::MAX;

    /// A key that asks the engine for any item of class `slot`.
    pub(crate) fn probe(slot: u32) -> Self {
        Self {
            slot,
            handle: Self::PROBE,
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.slot.hash(state);
    }
}

/// Shown only by the engine's own `log` records, which this module does not forward (calls
/// are logged at the Python boundary, with the products' reprs; see `calllog`).
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.handle == Self::PROBE {
            write!(f, "class #{}", self.slot)
        } else {
            write!(f, "class #{} (object #{})", self.slot, self.handle)
        }
    }
}

/// A reference an operation holds on a live class, taken by [`State::pin`] or
/// [`State::new_class`] and given back with [`State::unref`] (or kept as an item's own).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pin {
    pub(crate) slot: u32,
}

/// What [`State::pin`] found for a token read from the interning dict.
#[derive(Debug)]
pub(crate) enum PinOutcome {
    /// The class is alive and now pinned.
    Pinned(Pin),
    /// The class has no items and no pins left and its dict entry is being deleted (by this
    /// thread, which holds the interning lock: the product's own `__hash__` or `__eq__`
    /// called back into the market): nothing equal is on sale or in a cart.
    Dying,
    /// The token is stale: its class is gone (the dict no longer holds it).
    Gone,
}

/// One equality class of products.
struct Class {
    /// Items of the class alive in the market (published, on shelves, in carts) plus the
    /// pins of operations in flight.
    refs: usize,
    /// From when the interning lock's holder takes the class up to be dropped
    /// ([`State::take_orphans`]) until the dict entry is deleted (then the class goes) or
    /// the deletion fails (then it lives on, unreferenced, and is retried next time).
    dying: bool,
    /// The class's key in the interning dict, to delete the entry by.
    key: DictKey,
    /// The objects the market holds for the class, each where its [`Kept::position`] says.
    members: Vec<Member>,
    /// The member an owned key points at; `None` while it points at none (at the product
    /// that made the class, or at its last member, gone since), or if the key is the product.
    key_member: Option<Member>,
}

/// A member of a class: an object the market holds for it, which no one gets back from
/// the market while it is one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Member {
    /// A published object (on sale, in a cart, or being published), under the handle its
    /// item carries, in [`State::objects`].
    Item(u32),
    /// The product a waiting `add_to_cart` named, while it waits, in [`State::probes`].
    Probe(u32),
}

/// A slot of the class table.
struct ClassSlot {
    /// Bumped each time a new class takes the slot.
    generation: u32,
    class: Option<Class>,
}

/// The token stored in the interning dict for the class in `slot` at `generation`.
pub(crate) fn token(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

/// Objects kept under handles, each a member of its class.
#[derive(Default)]
struct Objects {
    slots: Vec<Option<Kept>>,
    free: Vec<u32>,
}

/// An object kept, a member of its class.
struct Kept {
    object: Py<PyAny>,
    /// Its class's slot.
    slot: u32,
    /// Where it is in its class's [`Class::members`].
    position: usize,
}

impl Objects {
    fn insert(&mut self, kept: Kept) -> PyResult<u32> {
        if let Some(handle) = self.free.pop() {
            self.slots[handle as usize] = Some(kept);
            return Ok(handle);
        }
        let handle = u32::try_from(self.slots.len())
            .ok()
            .filter(|&handle| handle != Key::PROBE)
            .ok_or_else(|| {
                pyo3::exceptions::PyMemoryError::new_err(
                    "too many products in the marketplace at once",
                )
            })?;
        self.slots.push(Some(kept));
        Ok(handle)
    }

    fn remove(&mut self, handle: u32) -> Kept {
        let kept = self.slots[handle as usize]
            .take()
            .expect("a member's object is kept until it leaves its class");
        self.free.push(handle);
        kept
    }

    fn get_mut(&mut self, handle: u32) -> &mut Kept {
        self.slots[handle as usize]
            .as_mut()
            .expect("a member's object is kept until it leaves its class")
    }
}

/// Everything the binding keeps besides the engine and the interning dict.
#[derive(Default)]
pub(crate) struct State {
    /// Producer ids by Python index (the engine's own index); a slot stays `None` only while
    /// a concurrent registration is between the engine and this table.
    producers: Vec<Option<ProducerId>>,
    /// Open carts by Python id (the engine's serial). Removed when the order is placed.
    carts: HashMap<u64, CartId>,
    /// The class table, indexed by slot.
    classes: Vec<ClassSlot>,
    /// Slots with no class, reused first.
    free_slots: Vec<u32>,
    /// Classes alive (including dying ones).
    live_classes: usize,
    /// The tokens of classes whose references all went, to be dropped by a thread holding
    /// the interning lock; some may have been pinned again since, or dropped already.
    orphans: Vec<u64>,
    /// The published objects not yet ordered: the items' members.
    objects: Objects,
    /// The products that waiting `add_to_cart` calls named: their members.
    probes: Objects,
}

/// Counters for `stats()` and the tests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counts {
    /// Equality classes alive.
    pub(crate) classes: usize,
    /// Slots ever made: the engine's catalog holds one entry per slot.
    pub(crate) slots: usize,
    /// Published objects held (on shelves, in carts, or being published).
    pub(crate) objects: usize,
    /// Capacity of the object table (its high-water mark).
    pub(crate) object_slots: usize,
}

impl State {
    pub(crate) fn add_producer(&mut self, id: ProducerId) {
        let index = id.index();
        if self.producers.len() <= index {
            self.producers.resize(index + 1, None);
        }
        self.producers[index] = Some(id);
    }

    pub(crate) fn producer(&self, index: u64) -> Option<ProducerId> {
        let index = usize::try_from(index).ok()?;
        self.producers.get(index).copied().flatten()
    }

    pub(crate) fn add_cart(&mut self, id: CartId) {
        self.carts.insert(id.serial(), id);
    }

    pub(crate) fn cart(&self, serial: u64) -> Option<CartId> {
        self.carts.get(&serial).copied()
    }

    pub(crate) fn remove_cart(&mut self, serial: u64) -> Option<CartId> {
        self.carts.remove(&serial)
    }

    pub(crate) fn open_carts(&self) -> usize {
        self.carts.len()
    }

    /// Pins the class `token` names, if it is still that class.
    pub(crate) fn pin(&mut self, token: u64) -> PinOutcome {
        // The token is (generation << 32) | slot: the truncations take each half.
        let slot = token as u32;
        let generation = (token >> 32) as u32;
        match self.classes.get_mut(slot as usize) {
            Some(ClassSlot {
                generation: current,
                class: Some(class),
            }) if *current == generation => {
                if class.dying {
                    PinOutcome::Dying
                } else {
                    class.refs += 1;
                    PinOutcome::Pinned(Pin { slot })
                }
            }
            _ => PinOutcome::Gone,
        }
    }

    /// Makes a new class, pinned once, with `key` as its dict key; returns the pin and the
    /// token to store in the dict.
    pub(crate) fn new_class(&mut self, key: DictKey) -> PyResult<(Pin, u64)> {
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.classes.len())
                    .ok()
                    .filter(|&slot| slot != u32::MAX)
                    .ok_or_else(|| {
                        pyo3::exceptions::PyMemoryError::new_err(
                            "too many distinct products in the marketplace at once",
                        )
                    })?;
                self.classes.push(ClassSlot {
                    generation: 0,
                    class: None,
                });
                slot
            }
        };
        let entry = &mut self.classes[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.class = Some(Class {
            refs: 1,
            dying: false,
            key,
            members: Vec::new(),
            key_member: None,
        });
        self.live_classes += 1;
        Ok((Pin { slot }, token(slot, entry.generation)))
    }

    /// Undoes `new_class` for a class that never reached the dict (another thread's equal
    /// product got there first). Returns its key, to drop after unlocking.
    pub(crate) fn abandon(&mut self, pin: Pin) -> DictKey {
        self.free(pin.slot)
    }

    /// Gives back `count` references to the class in `slot`; whether that left it with none
    /// (it is then an orphan, for [`take_orphans`](Self::take_orphans)).
    pub(crate) fn unref(&mut self, slot: u32, count: usize) -> bool {
        let entry = self
            .classes
            .get_mut(slot as usize)
            .expect("the slot holds a live class");
        let class = entry.class.as_mut().expect("the slot holds a live class");
        class.refs = class
            .refs
            .checked_sub(count)
            .expect("a class is referenced by each of its items and pins");
        if class.refs > 0 {
            return false;
        }
        self.orphans.push(token(slot, entry.generation));
        true
    }

    /// The dict key of the class `token` names, if it is still that class.
    pub(crate) fn key_of(&self, py: Python<'_>, token: u64) -> Option<DictKey> {
        // The token is (generation << 32) | slot: the truncations take each half.
        let (slot, generation) = (token as u32, (token >> 32) as u32);
        let entry = self.classes.get(slot as usize)?;
        let class = entry.class.as_ref()?;
        (entry.generation == generation).then(|| class.key.clone_ref(py))
    }

    /// Marks dying each orphan that is still that class and still has no references, and
    /// returns its slot and token with a new reference to its key: the caller, holding the
    /// interning lock, deletes the dict entry with it and then calls
    /// [`finish_dying`](Self::finish_dying).
    pub(crate) fn take_orphans(&mut self, py: Python<'_>) -> Vec<(u32, u64, DictKey)> {
        let orphans = std::mem::take(&mut self.orphans);
        orphans
            .into_iter()
            .filter_map(|orphan| {
                // The token is (generation << 32) | slot: the truncations take each half.
                let (slot, generation) = (orphan as u32, (orphan >> 32) as u32);
                let entry = self.classes.get_mut(slot as usize)?;
                let class = entry.class.as_mut()?;
                if entry.generation != generation || class.refs > 0 || class.dying {
                    return None;
                }
                class.dying = true;
                Some((slot, orphan, class.key.clone_ref(py)))
            })
            .collect()
    }

    /// Ends a class's dying: its dict entry was deleted (`deleted`), so the class goes and its
    /// slot is free (the key comes back, to drop after unlocking); or the deletion failed and
    /// the class lives on unreferenced, to be retried when it next drops to zero.
    pub(crate) fn finish_dying(&mut self, slot: u32, deleted: bool) -> Option<DictKey> {
        if deleted {
            Some(self.free(slot))
        } else {
            self.class_mut(slot).dying = false;
            None
        }
    }

    fn free(&mut self, slot: u32) -> DictKey {
        let class = self.classes[slot as usize]
            .class
            .take()
            .expect("a live class is being freed");
        self.free_slots.push(slot);
        self.live_classes -= 1;
        class.key
    }

    fn class_mut(&mut self, slot: u32) -> &mut Class {
        self.classes
            .get_mut(slot as usize)
            .and_then(|entry| entry.class.as_mut())
            .expect("the slot holds a live class")
    }

    /// Keeps `object`, of the class in `slot`, until its item is ordered or refused; returns
    /// its handle, and the object the class's key pointed at if it now points at this one
    /// (to drop after unlocking).
    pub(crate) fn keep_object(
        &mut self,
        py: Python<'_>,
        slot: u32,
        object: Py<PyAny>,
    ) -> PyResult<(u32, Option<Py<PyAny>>)> {
        self.join(py, slot, object, false)
    }

    /// Takes back the object kept under `handle` (to drop after unlocking, or to return).
    pub(crate) fn take_object(&mut self, py: Python<'_>, handle: u32) -> Py<PyAny> {
        self.leave(py, Member::Item(handle))
    }

    /// Keeps the product a waiting `add_to_cart` named, of the class in `slot`, while it
    /// waits; as [`keep_object`](Self::keep_object).
    pub(crate) fn keep_probe(
        &mut self,
        py: Python<'_>,
        slot: u32,
        product: Py<PyAny>,
    ) -> PyResult<(u32, Option<Py<PyAny>>)> {
        self.join(py, slot, product, true)
    }

    /// Takes back a waiting `add_to_cart`'s product, to drop after unlocking.
    pub(crate) fn take_probe(&mut self, py: Python<'_>, handle: u32) -> Py<PyAny> {
        self.leave(py, Member::Probe(handle))
    }

    /// Makes `object` a member of the class in `slot` (alive: the caller pins it), a
    /// waiting `add_to_cart`'s product if `probe`, else a published object.
    fn join(
        &mut self,
        py: Python<'_>,
        slot: u32,
        object: Py<PyAny>,
        probe: bool,
    ) -> PyResult<(u32, Option<Py<PyAny>>)> {
        let class = self.classes[slot as usize]
            .class
            .as_mut()
            .expect("a member's class is pinned");
        let (table, member): (_, fn(u32) -> Member) = if probe {
            (&mut self.probes, Member::Probe)
        } else {
            (&mut self.objects, Member::Item)
        };
        // An owned key points at a member whenever the class has one: the product that made
        // the class, or a member gone since, may be changed by its owner.
        let owned_key = class.key.owned().filter(|_| class.key_member.is_none());
        let pointed_at = owned_key.map(|key| (key, object.clone_ref(py)));
        let handle = table.insert(Kept {
            object,
            slot,
            position: class.members.len(),
        })?;
        class.members.push(member(handle));
        let displaced = pointed_at.map(|(key, object)| {
            class.key_member = Some(member(handle));
            key.point_at(object)
        });
        Ok((handle, displaced))
    }

    /// Takes `member` out of its class and returns its object. If the class's key points at
    /// it, the key is pointed at another member, if any: the object may go to a buyer, or
    /// back to its owner, who may change it.
    fn leave(&mut self, py: Python<'_>, member: Member) -> Py<PyAny> {
        let Kept {
            object,
            slot,
            position,
        } = match member {
            Member::Item(handle) => self.objects.remove(handle),
            Member::Probe(handle) => self.probes.remove(handle),
        };
        let class = self.classes[slot as usize]
            .class
            .as_mut()
            .expect("a member's class is alive");
        class.members.swap_remove(position);
        if let Some(&moved) = class.members.get(position) {
            member_mut(&mut self.objects, &mut self.probes, moved).position = position;
        }
        if class.key_member == Some(member) {
            class.key_member = class.members.last().copied();
            if let (Some(next), Some(key)) = (class.key_member, class.key.owned()) {
                let next = member_mut(&mut self.objects, &mut self.probes, next);
                // The key's reference to `object`, which is still held here: this decref
                // cannot free it, so it may go under the lock.
                drop(key.point_at(next.object.clone_ref(py)));
            }
        }
        object
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            classes: self.live_classes,
            slots: self.classes.len(),
            objects: self.objects.slots.len() - self.objects.free.len(),
            object_slots: self.objects.slots.len(),
        }
    }

    /// Replaces every Python object held (the objects published, the objects the classes'
    /// owned keys point at) with `None` and hands them back, to drop after unlocking: how the
    /// garbage collector breaks a cycle through the market (`Marketplace::__clear__`).
    /// `None` rather than nothing keeps each item's object and each class's key in place,
    /// so the market still never panics if code the collector runs calls it afterwards.
    pub(crate) fn release_objects(&mut self, py: Python<'_>) -> Vec<Py<PyAny>> {
        let pointed_at = self
            .classes
            .iter()
            .filter_map(|entry| entry.class.as_ref()?.key.owned())
            .map(|key| key.point_at(py.None()));
        let objects = self
            .objects
            .slots
            .iter_mut()
            .chain(&mut self.probes.slots)
            .flatten()
            .map(|kept| std::mem::replace(&mut kept.object, py.None()));
        pointed_at.chain(objects).collect()
    }

    /// Every Python object held, for the garbage collector.
    pub(crate) fn for_each_object(&self, visit: impl FnMut(&Py<PyAny>) -> bool) -> bool {
        let keys = self
            .classes
            .iter()
            .filter_map(|entry| entry.class.as_ref())
            .map(|class| class.key.as_any());
        let objects = self.objects.slots.iter().chain(&self.probes.slots);
        let objects = objects.flatten().map(|kept| &kept.object);
        keys.chain(objects).all(visit)
    }
}

/// The object kept for `member`, in whichever table holds it.
fn member_mut<'a>(
    objects: &'a mut Objects,
    probes: &'a mut Objects,
    member: Member,
) -> &'a mut Kept {
    match member {
        Member::Item(handle) => objects.get_mut(handle),
        Member::Probe(handle) => probes.get_mut(handle),
    }
}
