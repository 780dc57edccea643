//! An idle consumer uses no measurable CPU: one consumer blocks in `add_to_cart_timeout` for
//! 300 ms on a product nobody publishes, until the timeout expires (a real timed wait, not a
//! sleep standing in for synchronisation), and must stay under 10% of that wall time, on the
//! engine and on the baseline. Alone in its own test binary so no other test's threads are
//! counted. Linux only (reads /proc). The probe is the benchmark harness's
//! (`marketplace_harness`), also reported by `examples/compare.rs`.
#![cfg(target_os = "linux")]

use std::time::Duration;

use marketplace_harness::{Imp, idle_wait};

const WAIT: Duration = Duration::from_millis(300);

fn check(imp: Imp) {
    let Some(wait) = idle_wait(imp, WAIT) else {
        eprintln!("/proc not readable: idle CPU not measured");
        return;
    };
    println!("{}: {wait:?}", imp.name());
    assert!(wait.wall >= WAIT, "the wait ended early: {wait:?}");
    assert!(
        wait.thread_share() < 0.10,
        "{}: the waiting thread used {:?} of CPU in {:?}: it spins",
        imp.name(),
        wait.thread_cpu,
        wait.wall
    );
    assert!(
        wait.process_share() < 0.10,
        "{}: the process used {:?} of CPU in {:?} while one consumer waited",
        imp.name(),
        wait.process_cpu,
        wait.wall
    );
}

#[test]
fn idle_consumer_uses_no_cpu() {
    // One after the other, so each measures only its own wait.
    check(Imp::Marketplace);
    check(Imp::Locked);
    check(Imp::LockedYield);
}
