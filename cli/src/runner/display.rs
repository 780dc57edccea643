//! The progress line of a run on stderr: purchases made of those the scenario implies,
//! purchases per second, open carts, and, when no consumer made progress for a second, the
//! consumer that has waited longest and what it waits for.
//!
//! The supervisor owns the display and refreshes it between its other duties, from figures
//! that exist anyway: the purchase lines it wrote, the consumers' progress slots and the
//! marketplace's own counts. Actors never touch it, so showing progress costs them
//! nothing. Invariants: nothing here writes to stdout; with [`ProgressLine::Off`] nothing
//! is drawn or read; a refresh happens at most once per [`ProgressLine`]'s period, and the
//! line is finished (left with its last figures) before the run returns, so whatever the
//! caller prints next starts on a line of its own.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::RunError;
use super::progress::Progress;
use super::stall::MarketView;
use super::stats::shown_time;
use crate::scenario::{Scenario, ShownProducts, abbreviated_name};

/// Whether and how a run shows its progress on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressLine {
    /// Nothing is shown.
    #[default]
    Off,
    /// A line redrawn in place, ten times a second, for a terminal (an `indicatif` bar).
    /// When stderr is not a terminal, `indicatif` draws nothing.
    Live,
    /// A plain line of text every second, and one at the end, for logs and pipes.
    Plain,
}

impl ProgressLine {
    /// The line for a command's stderr: [`Live`](Self::Live) where it can be drawn in
    /// place (a terminal, and not a dumb one: `TERM` set and not `dumb`, as `indicatif`
    /// requires), else [`Plain`](Self::Plain) when `forced`, else [`Off`](Self::Off), so
    /// that pipes and logs get nothing unasked.
    pub fn for_stderr(forced: bool) -> Self {
        if !ProgressDrawTarget::stderr().is_hidden() {
            ProgressLine::Live
        } else if forced {
            ProgressLine::Plain
        } else {
            ProgressLine::Off
        }
    }
}

/// How long no progress makes the line name the consumer that waits longest.
const IDLE_NOTICE: Duration = Duration::from_secs(1);

/// The period of the rate shown: purchases per second over about the last second.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The progress line of one run.
pub(super) struct ProgressDisplay<'s> {
    scenario: &'s Scenario,
    /// Purchases a complete run makes.
    total: u64,
    out: Output,
    /// Time since the start of the run at which the next refresh is due.
    next: Duration,
    /// Samples (time since the start, purchases then) of about the last second, oldest
    /// first, to measure the rate on.
    samples: VecDeque<(Duration, u64)>,
    /// Whether stdout is a terminal, found once.
    stdout_is_terminal: bool,
    /// The products the line names, each cut once: counting a long product's length
    /// costs its size, which a refresh every second would pay again.
    shown_products: ShownProducts,
}

enum Output {
    Off,
    Live(Live),
    Plain,
}

/// The live line: the bar, and how wide its terminal is.
struct Live {
    bar: ProgressBar,
    /// The terminal's width now, in columns, when it can be told.
    columns: Box<dyn Fn() -> Option<u16>>,
    /// The width of the bar in the style set last.
    bar_width: usize,
}

impl Live {
    /// The live line of a run of `total` purchases, drawn on `target`, `columns` wide.
    fn new(total: u64, target: ProgressDrawTarget, columns: Box<dyn Fn() -> Option<u16>>) -> Self {
        Live {
            bar: live_bar(total, target),
            columns,
            bar_width: BAR,
        }
    }

    /// Shows `time`, `status` and `purchases` of `total`, the bar as wide as the terminal
    /// leaves room for now (it may have been resized).
    fn show(&mut self, time: String, status: String, purchases: u64, total: u64) {
        let digits = purchases.max(total).to_string().len();
        let bar_width = live_bar_width((self.columns)(), &time, digits);
        if bar_width != self.bar_width {
            self.bar_width = bar_width;
            self.bar.set_style(live_style(bar_width));
        }
        // The time and the message are given without drawing (a handle's builders set
        // them on the shared bar), so that setting the position draws the line once,
        // whole: their setters draw each, and the terminal's limit of ten draws a second
        // then kept the first draw of each refresh, the count and the message stale.
        let _ = self.bar.clone().with_prefix(time).with_message(status);
        self.bar.set_position(purchases);
    }
}

impl<'s> ProgressDisplay<'s> {
    /// The progress line of a run of `scenario`, shown as `line` says.
    pub(super) fn new(scenario: &'s Scenario, line: ProgressLine) -> Self {
        let total = purchases_of(scenario);
        let out = match line {
            ProgressLine::Off => Output::Off,
            ProgressLine::Plain => Output::Plain,
            ProgressLine::Live => Output::Live(Live::new(
                total,
                ProgressDrawTarget::stderr_with_hz(10),
                Box::new(|| {
                    console::Term::stderr()
                        .size_checked()
                        .map(|(_, columns)| columns)
                }),
            )),
        };
        Self::showing(scenario, total, out)
    }

    /// The live line of a run of `scenario`, drawn on `target`, `columns` wide.
    #[cfg(test)]
    fn live_on(scenario: &'s Scenario, target: ProgressDrawTarget, columns: u16) -> Self {
        let total = purchases_of(scenario);
        let live = Live::new(total, target, Box::new(move || Some(columns)));
        Self::showing(scenario, total, Output::Live(live))
    }

    /// The display of a run of `scenario`, `total` purchases in all, shown on `out`.
    fn showing(scenario: &'s Scenario, total: u64, out: Output) -> Self {
        let mut display = ProgressDisplay {
            scenario,
            total,
            out,
            next: Duration::ZERO,
            samples: VecDeque::from([(Duration::ZERO, 0)]),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            shown_products: ShownProducts::default(),
        };
        // The first line comes after a period, not at once: short runs show only the end.
        display.next = display.period();
        display
    }

    /// The live bar when stdout is a terminal too, so that purchase lines may land on
    /// the terminal it is drawn on (a handle on it: cloning shares the bar).
    pub(super) fn bar_sharing_the_terminal(&self) -> Option<ProgressBar> {
        match &self.out {
            Output::Live(live) if self.stdout_is_terminal => Some(live.bar.clone()),
            _ => None,
        }
    }

    /// The time between refreshes.
    fn period(&self) -> Duration {
        match self.out {
            Output::Off => Duration::MAX,
            Output::Live(_) => Duration::from_millis(100),
            Output::Plain => Duration::from_secs(1),
        }
    }

    /// How long the supervisor may sleep before the next refresh is due.
    pub(super) fn due_in(&self, progress: &Progress) -> Duration {
        match self.out {
            Output::Off => Duration::MAX,
            _ => self.next.saturating_sub(progress.elapsed()),
        }
    }

    /// Refreshes the line if it is due, after `purchases` purchase lines were written.
    pub(super) fn refresh(&mut self, purchases: u64, progress: &Progress, market: &dyn MarketView) {
        if matches!(self.out, Output::Off) {
            return;
        }
        let now = progress.elapsed();
        if now < self.next {
            return;
        }
        self.next = now + self.period();
        let rate = self.rate(now, purchases);
        let open_carts = market.open_carts();
        let mut status = format!(
            "{}/s, {open_carts} open cart{}",
            shown_rate(rate),
            plural(open_carts)
        );
        let idle = progress.idle();
        if idle >= IDLE_NOTICE {
            status.push_str(&format!("; nothing moved for {}", shown_time(idle, 1)));
            // The slowest consumer: the one that has waited longest.
            if let Some(w) = progress.waiting().max_by_key(|w| w.waited) {
                status.push_str(&format!(
                    "; consumer {:?} has waited {} for {}",
                    abbreviated_name(&self.scenario.consumers()[w.consumer].name),
                    shown_time(w.waited, 1),
                    self.shown_products
                        .of(w.product, self.scenario.product(w.product))
                ));
            }
        }
        match &mut self.out {
            Output::Off => {}
            Output::Live(live) => live.show(shown_time(now, 1), status, purchases, self.total),
            Output::Plain => self.print(purchases, now, &status),
        }
    }

    /// The end of the run, after `purchases` purchase lines were written: the line shows
    /// the final figures and how the run ended.
    pub(super) fn finish(
        &mut self,
        purchases: u64,
        progress: &Progress,
        outcome: &Result<(), RunError>,
    ) {
        let how = match outcome {
            Ok(()) => "done",
            Err(RunError::Stalled(_)) => "stalled",
            Err(RunError::Interrupted(_)) => "interrupted",
            Err(_) => "failed",
        };
        let now = progress.elapsed();
        let average = purchases as f64 / now.as_secs_f64().max(1e-9);
        let status = format!("{how}, {}/s on average", shown_rate(average));
        match &self.out {
            Output::Off => {}
            Output::Live(Live { bar, .. }) => {
                bar.set_prefix(shown_time(now, 1));
                bar.set_position(purchases);
                // The live message is cut to the width, as it may name any product; the
                // final one is short and says how the run ended, so it is shown whole,
                // the bar giving up its room (and the terminal wrapping it, when even
                // that is not enough). Set after the position, whose drawing would show
                // the live message in it for a frame.
                bar.set_style(line_style(
                    "{spinner} {prefix:>5} [{wide_bar}] {pos}/{len} purchases, {msg}",
                ));
                if outcome.is_ok() {
                    bar.finish_with_message(status);
                } else {
                    bar.abandon_with_message(status);
                }
            }
            Output::Plain => self.print(purchases, now, &status),
        }
    }

    /// Purchases per second over about the last [`RATE_WINDOW`] (since the start within
    /// the first), with `purchases` made by `now`.
    fn rate(&mut self, now: Duration, purchases: u64) -> f64 {
        let horizon = now.saturating_sub(RATE_WINDOW);
        // Keep the newest sample at or before the horizon as the window's start.
        while self.samples.len() > 1 && self.samples[1].0 <= horizon {
            self.samples.pop_front();
        }
        let (start, before) = self.samples.front().copied().unwrap_or_default();
        self.samples.push_back((now, purchases));
        let span = (now - start).as_secs_f64();
        if span > 0.0 {
            purchases.saturating_sub(before) as f64 / span
        } else {
            0.0
        }
    }

    /// One plain line on stderr; a failed write is ignored, as the run does not depend on it.
    fn print(&self, purchases: u64, now: Duration, status: &str) {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}",
            plain_line(purchases, self.total, now, status)
        );
    }
}

/// The plain progress line after `purchases` of `total` at `now`, with `status`.
fn plain_line(purchases: u64, total: u64, now: Duration, status: &str) -> String {
    format!(
        "progress: {purchases}/{total} purchases ({}%) at {}, {status}",
        shown_percent(purchases, total),
        shown_time(now, 1)
    )
}

/// `done` of `total` in percent, rounded down so that only a finished run shows 100:
/// whole, and below 1 with the decimals (up to two) that keep a started run off 0.
fn shown_percent(done: u64, total: u64) -> String {
    if done >= total {
        return "100".to_owned();
    }
    if done == 0 {
        return "0".to_owned();
    }
    let percent = done as f64 * 100.0 / total as f64;
    if percent >= 1.0 {
        // Below 100: a float's rounding of `done` near `total` could reach it.
        return (percent.floor() as u64).min(99).to_string();
    }
    if percent < 0.01 {
        return "<0.01".to_owned();
    }
    // Rounded down as the whole figures are: to the nearest, 0.96 would say 1.0.
    let places = if percent >= 0.1 { 1 } else { 2 };
    let scale = 10_f64.powi(places as i32);
    format!("{:.places$}", (percent * scale).floor() / scale)
}

/// How many purchases a run of `scenario` makes in all.
fn purchases_of(scenario: &Scenario) -> u64 {
    u64::try_from(scenario.purchase_count()).unwrap_or(u64::MAX)
}

/// The widest bar of the live line, and the narrowest worth drawing.
const BAR: usize = 30;
const NARROWEST_BAR: usize = 10;

/// The columns the live line keeps for its message, before the bar: the rate and open
/// carts, which tell whether the run moves, matter more than the bar.
const MESSAGE_ROOM: usize = 20;

/// The width of the live line's bar on a terminal `columns` wide ([`BAR`] when unknown),
/// showing `time` and counts of `digits` digits: what is left once the rest of the line
/// and [`MESSAGE_ROOM`] have room, up to [`BAR`], or none when that is too narrow for a
/// bar. Without it, a narrow terminal or large counts made the line wrap, its message
/// left out.
fn live_bar_width(columns: Option<u16>, time: &str, digits: usize) -> usize {
    let Some(columns) = columns else {
        return BAR;
    };
    // As `live_style` lays it out: spinner, time, bar, counts, message.
    let rest = "⠁ ".chars().count()
        + time.chars().count().max(5)
        + " ".len()
        + 2 * digits
        + "/".len()
        + " purchases, ".len();
    let room = usize::from(columns).saturating_sub(rest + "[] ".len() + MESSAGE_ROOM);
    if room < NARROWEST_BAR {
        0
    } else {
        room.min(BAR)
    }
}

/// The live style with a bar `bar_width` wide, or none.
fn live_style(bar_width: usize) -> ProgressStyle {
    if bar_width == 0 {
        line_style("{spinner} {prefix:>5} {pos}/{len} purchases, {wide_msg}")
    } else {
        line_style(&format!(
            "{{spinner}} {{prefix:>5}} [{{bar:{bar_width}}}] {{pos}}/{{len}} purchases, {{wide_msg}}"
        ))
    }
}

/// The live bar of a run of `total` purchases, drawn on `target`.
fn live_bar(total: u64, target: ProgressDrawTarget) -> ProgressBar {
    // The run's time, as the plain line, the table and the stall report show it (never a
    // positive time as zero), rather than the bar's own whole seconds. Given when the bar
    // is made, as setting it would draw a frame in the default style, before the live one.
    let bar = ProgressBar::with_draw_target(Some(total), target)
        .with_prefix(shown_time(Duration::ZERO, 1));
    bar.set_style(live_style(BAR));
    bar
}

/// The live line drawn after `template`, one of the fixed ones above.
fn line_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .map(|style| style.progress_chars("=> "))
        // The templates are fixed and valid; the default style is a safe fallback.
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A rate of purchases per second, whole, unless that would show a positive rate (a
/// purchase every few seconds) as zero: then with the decimals its first digit needs.
fn shown_rate(rate: f64) -> String {
    let whole = format!("{rate:.0}");
    if rate.is_nan() || rate <= 0.0 || whole != "0" {
        return whole;
    }
    // The first significant digit of a rate below 1 is this many places after the point;
    // the least rate of a run, a purchase in some 584 years, needs 11.
    let places = (-rate.log10()).ceil().clamp(1.0, 20.0) as usize;
    format!("{rate:.places$}")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal `width` columns wide that keeps what is written to it.
    #[derive(Debug, Clone)]
    struct Recorded {
        width: u16,
        text: Arc<Mutex<String>>,
    }

    impl Recorded {
        /// A terminal `width` columns wide, and a target that draws on it.
        fn new(width: u16) -> (Self, ProgressDrawTarget) {
            let terminal = Recorded {
                width,
                text: Arc::default(),
            };
            let target = ProgressDrawTarget::term_like(Box::new(terminal.clone()));
            (terminal, target)
        }

        fn push(&self, s: &str) -> io::Result<()> {
            self.text.lock().unwrap().push_str(s);
            Ok(())
        }
    }

    impl TermLike for Recorded {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            self.push("<up>")
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            self.push("<down>")
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.push(s)?;
            self.push("\n")
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.push(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            self.push("<clear>")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A scenario of one consumer buying `quantity` mugs in one cart.
    fn mugs(quantity: u64) -> Scenario {
        let json = r#"{"products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
            "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
            "consumers": [{"name": "c", "retry_wait_time": 0,
                           "carts": [[{"type": "add", "product": "m", "quantity": QUANTITY}]]}],
            "marketplace": {"queue_size_per_producer": 1}}"#;
        Scenario::from_json(&json.replace("QUANTITY", &quantity.to_string()))
            .expect("a valid scenario")
    }

    /// What a terminal `width` columns wide shows last of a live line finished as
    /// `outcome` after `purchases` of a scenario of 1000.
    fn final_line(width: u16, purchases: u64, outcome: &Result<(), RunError>) -> String {
        final_line_after(Duration::ZERO, width, purchases, outcome)
    }

    /// [`final_line`] of a run that started `ago`.
    fn final_line_after(
        ago: Duration,
        width: u16,
        purchases: u64,
        outcome: &Result<(), RunError>,
    ) -> String {
        let scenario = mugs(1000);
        let (terminal, target) = Recorded::new(width);
        let mut display = ProgressDisplay::live_on(&scenario, target, width);
        if let Output::Live(live) = &display.out {
            live.bar.set_message(LIVE);
        }
        let progress = Progress::started(ago, 1, 1);
        display.finish(purchases, &progress, outcome);
        let text = terminal.text.lock().unwrap().clone();
        // The live message shows only in frames of the live style, whose bar is 30 wide.
        for frame in text.split("<clear>").filter(|frame| frame.contains(LIVE)) {
            let bar = frame
                .split_once('[')
                .and_then(|(_, rest)| rest.split_once(']'))
                .map(|(bar, _)| bar.chars().count());
            assert_eq!(
                bar,
                Some(30),
                "{width} columns: the live message in the final style: {frame:?}"
            );
        }
        text.rsplit("<clear>").next().unwrap_or_default().to_owned()
    }

    /// The live line's message before the end.
    const LIVE: &str = "9/s, 1 open cart";

    /// The plain line's share of the purchases made says 0% only before the first and 100%
    /// only after the last.
    #[test]
    fn the_share_done_is_zero_or_whole_only_when_it_is() {
        for (purchases, total) in [
            (1, 1000),
            (1, u64::MAX),
            (999, 1000),
            (u64::MAX - 1, u64::MAX),
        ] {
            let line = plain_line(purchases, total, Duration::from_secs(1), "0/s");
            let percent = line
                .split_once(" purchases (")
                .and_then(|(_, rest)| rest.split_once("%)"))
                .and_then(|(percent, _)| percent.trim_start_matches('<').parse::<f64>().ok());
            assert!(
                percent.is_some_and(|percent| percent > 0.0 && percent < 100.0),
                "{line}"
            );
        }
        for (purchases, total, shown) in
            [(0, 1000, "(0%)"), (1000, 1000, "(100%)"), (0, 0, "(100%)")]
        {
            let line = plain_line(purchases, total, Duration::from_secs(1), "done");
            assert!(line.contains(shown), "{line}");
        }
    }

    /// The plain line's share done is rounded down below 1% too: it never says more of
    /// the run is done than is, as `1.0%` for 0.96% would.
    #[test]
    fn the_share_done_is_never_shown_above_it() {
        for (purchases, total) in [
            (96, 10_000),
            (9_999, 1_000_000),
            (1, 101),
            (999, 1_000_000),
            (1, 1_001),
            (123, 100_000),
        ] {
            let line = plain_line(purchases, total, Duration::from_secs(1), "0/s");
            let shown = line
                .split_once(" purchases (")
                .and_then(|(_, rest)| rest.split_once("%)"))
                .and_then(|(percent, _)| percent.parse::<f64>().ok());
            let done = purchases as f64 * 100.0 / total as f64;
            assert!(
                shown.is_some_and(|shown| shown > 0.0 && shown <= done),
                "{purchases} of {total} ({done}%): {line}"
            );
        }
    }

    /// A run slower than a purchase every two seconds does not end on `0/s on average`.
    #[test]
    fn a_slow_run_shows_a_rate_above_zero() {
        for (ago, purchases) in [(3, 1), (40, 1), (4000, 3)] {
            let shown = final_line_after(Duration::from_secs(ago), 120, purchases, &Ok(()));
            let rate = shown
                .split_once("done, ")
                .and_then(|(_, rest)| rest.split_once("/s on average"))
                .map(|(rate, _)| rate);
            assert!(
                rate.and_then(|rate| rate.parse::<f64>().ok())
                    .is_some_and(|rate| rate > 0.0),
                "{purchases} in {ago} s: {shown:?}"
            );
        }
    }

    /// A market of `open` open carts and nothing else, for the live line's figures.
    struct Carts(usize);

    impl MarketView for Carts {
        fn on_sale(&self, _: usize) -> usize {
            0
        }
        fn on_shelf(&self, _: usize) -> usize {
            0
        }
        fn open_carts(&self) -> usize {
            self.0
        }
    }

    /// The frame a terminal `width` columns wide shows of the live line of a run of `total`
    /// purchases, `purchases` of them made, as its first refresh draws it.
    fn live_frame(width: u16, total: u64, purchases: u64) -> String {
        let scenario = mugs(1);
        let (terminal, target) = Recorded::new(width);
        let live = Live::new(total, target, Box::new(move || Some(width)));
        let mut display = ProgressDisplay::showing(&scenario, total, Output::Live(live));
        display.next = Duration::ZERO;
        display.refresh(purchases, &Progress::new(1, 1), &Carts(123_456));
        let text = terminal.text.lock().unwrap().clone();
        let frame = text.rsplit("<clear>").next().unwrap_or_default();
        frame
            .replace("<up>", "")
            .replace("<down>", "")
            .trim_end()
            .to_owned()
    }

    /// The live line stays within the terminal's width, however large the counts, as long
    /// as the counts and the time leave room for some of the message (20 columns), the bar
    /// giving up its room first; a wide terminal shows the whole bar.
    #[test]
    fn the_live_line_fits_the_terminal_with_large_counts() {
        for (total, purchases, narrowest) in [
            (1000, 999, 52),
            (1_800_000_000_000, 12_345, 70),
            (u64::MAX, u64::MAX - 1, 84),
        ] {
            for width in [narrowest, 60, 70, 80, 100, 120, 200] {
                if width < narrowest {
                    continue;
                }
                let frame = live_frame(width, total, purchases);
                let what = format!("{width} columns, {purchases}/{total}: {frame:?}");
                assert!(frame.chars().count() <= usize::from(width), "{what}");
                let message = frame
                    .split_once(&format!(" {purchases}/{total} purchases, "))
                    .map(|(_, message)| message)
                    .expect(&what);
                // The message (`N/s, 123456 open carts`) is longer than the room kept for it.
                assert!(
                    message.starts_with(|c: char| c.is_ascii_digit())
                        && message.chars().count() >= 20,
                    "{what}"
                );
            }
        }
        let frame = live_frame(120, 1000, 999);
        let bar = frame
            .split_once('[')
            .and_then(|(_, rest)| rest.split_once(']'));
        assert_eq!(
            bar.map(|(bar, _)| bar.chars().count()),
            Some(30),
            "{frame:?}"
        );
    }

    /// Making the live line draws nothing: its first frame, at the first refresh, is in
    /// the live style, not in the bar's default one (a bare wide bar and counts).
    #[test]
    fn the_live_line_draws_nothing_before_its_first_refresh() {
        let (terminal, target) = Recorded::new(80);
        let _live = Live::new(1000, target, Box::new(|| Some(80)));
        let text = terminal.text.lock().unwrap().clone();
        assert!(
            !text.contains("0/1000"),
            "drawn before the first refresh: {text:?}"
        );
    }

    /// Each refresh draws the live line once, whole: no frame shows the new time with the
    /// message or the count of the refresh before (at the first, none), which is all the
    /// terminal kept once the draws of a refresh outnumbered those it allows.
    #[test]
    fn a_refresh_draws_the_live_line_once_with_its_message() {
        let scenario = mugs(1);
        let (terminal, target) = Recorded::new(120);
        let live = Live::new(1000, target, Box::new(|| Some(120)));
        let mut display = ProgressDisplay::showing(&scenario, 1000, Output::Live(live));
        for purchases in [0, 10] {
            terminal.text.lock().unwrap().clear();
            display.next = Duration::ZERO;
            display.refresh(purchases, &Progress::new(1, 1), &Carts(purchases as usize));
            let text = terminal.text.lock().unwrap().clone();
            let frames: Vec<&str> = text
                .split("<clear>")
                .filter(|frame| frame.contains(" purchases, "))
                .collect();
            let whole = format!(" {purchases}/1000 purchases, ");
            assert!(
                frames.len() == 1
                    && frames[0].contains(&whole)
                    && frames[0].contains(&format!(", {purchases} open cart")),
                "refresh at {purchases}: {frames:?}"
            );
        }
    }

    /// The final line shows how long the run took as the other reports do: a run over in
    /// microseconds is not said to have taken no time.
    #[test]
    fn the_final_line_never_shows_a_positive_time_as_zero() {
        let shown = final_line(120, 1000, &Ok(()));
        let shown = shown.replace("<up>", "");
        let time = shown
            .split_once(" [")
            .map(|(before, _)| before.trim_start_matches(|c: char| !c.is_ascii_digit()))
            .unwrap_or_default();
        let number: String = time
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let unit = time[number.len()..].trim();
        assert!(
            number.parse::<f64>().is_ok_and(|n| n > 0.0) && ["s", "ms", "µs", "ns"].contains(&unit),
            "the time of {shown:?}"
        );
    }

    /// However narrow the terminal, the last line says how the run ended, whole: within
    /// the width where the bar can make room for it, else wrapped by the terminal.
    #[test]
    fn the_final_line_says_how_the_run_ended_on_a_narrow_terminal() {
        let empty = Scenario::from_json(
            r#"{"products": {}, "producers": [], "consumers": [],
                "marketplace": {"queue_size_per_producer": 1}}"#,
        )
        .expect("a valid scenario");
        let interrupted = Err(RunError::Interrupted(Progress::new(0, 0).stats(&empty)));
        for (outcome, how, purchases) in [(Ok(()), "done", 1000), (interrupted, "interrupted", 123)]
        {
            for width in [20, 40, 60, 80, 120] {
                let shown = final_line(width, purchases, &outcome);
                let shown = shown.replace("<up>", "");
                let shown = shown.trim_end();
                assert!(
                    shown.contains(&format!(" {purchases}/1000 purchases, {how}, "))
                        && shown.ends_with("/s on average"),
                    "{width} columns: {shown:?}"
                );
                // Within the width, unless the bar has given up all its room.
                assert!(
                    shown.chars().count() <= usize::from(width) || shown.contains(" [] "),
                    "{width} columns: {shown:?}"
                );
            }
        }
    }
}
