//! The figures of a run per actor, as `--stats` prints them (an aligned table) and
//! `--stats-json` writes them (the JSON shape documented in docs/scenario-format.md).
//!
//! The figures are taken from the actors' own slots (see `progress`) once every actor is
//! gone, so they are final. Invariant: the totals are the sums of the per-actor figures,
//! so the table and the JSON always add up.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::escape;
use crate::scenario::abbreviated_name;

/// What one consumer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// The consumer's name.
    pub name: String,
    /// Carts ordered.
    pub carts: u64,
    /// Items bought: the purchase lines of its carts.
    pub purchases: u64,
    /// Times it found a product unavailable and waited for one.
    pub retries: u64,
    /// Time spent waiting for products.
    pub waiting: Duration,
}

/// What one producer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStats {
    /// The producer's name.
    pub name: String,
    /// Items published.
    pub published: u64,
    /// Times it found its queue full and waited for room.
    pub full: u64,
}

/// The sums over every actor of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Items bought by all consumers.
    pub purchases: u64,
    /// Carts ordered by all consumers.
    pub carts: u64,
    /// Times a consumer found a product unavailable.
    pub retries: u64,
    /// Items published by all producers.
    pub published: u64,
    /// Times a producer found its queue full.
    pub full: u64,
}

/// The figures of a run's summary line (`N purchases, N consumer retries, N producer
/// republishes in S s`), which the `--stats` table ends with after how the run ended.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// Items bought.
    pub purchases: u64,
    /// Times a consumer found a product unavailable.
    pub retries: u64,
    /// Times a producer found its queue full.
    pub republishes: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} purchases, {} consumer retries, {} producer republishes in {}",
            self.purchases,
            self.retries,
            self.republishes,
            shown_time(self.elapsed, 3)
        )
    }
}

/// The figures of a run, per actor, in scenario order.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Wall time from the first actor started to the moment the figures were taken.
    pub wall: Duration,
    /// One entry per consumer of the scenario.
    pub consumers: Vec<ConsumerStats>,
    /// One entry per producer of the scenario.
    pub producers: Vec<ProducerStats>,
}

impl RunStats {
    /// The sums over every actor.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for c in &self.consumers {
            totals.purchases += c.purchases;
            totals.carts += c.carts;
            totals.retries += c.retries;
        }
        for p in &self.producers {
            totals.published += p.published;
            totals.full += p.full;
        }
        totals
    }

    /// The summary line's figures: the totals over every actor, and the wall time.
    pub fn summary(&self) -> Summary {
        let totals = self.totals();
        Summary {
            purchases: totals.purchases,
            retries: totals.retries,
            republishes: totals.full,
            elapsed: self.wall,
        }
    }

    /// The figures as the JSON document of `--stats-json`, pretty-printed, saying how the
    /// run `ended` (its `stalled` and `interrupted` fields).
    ///
    /// ```
    /// use marketplace_cli::runner::{ConsumerStats, RunEnd, RunStats};
    /// let stats = RunStats {
    ///     consumers: vec![ConsumerStats { name: "ana".into(), carts: 1, purchases: 2, ..Default::default() }],
    ///     ..Default::default()
    /// };
    /// let json: serde_json::Value = serde_json::from_str(&stats.to_json(RunEnd::Finished)).unwrap();
    /// assert_eq!(json["totals"]["purchases"], 2);
    /// assert_eq!(json["consumers"][0]["name"], "ana");
    /// assert_eq!(json["stalled"], false);
    /// assert_eq!(json["interrupted"], false);
    /// ```
    pub fn to_json(&self, ended: RunEnd) -> String {
        self.document(ended == RunEnd::Stalled, ended == RunEnd::Interrupted)
    }

    fn document(&self, stalled: bool, interrupted: bool) -> String {
        let document = Document {
            stalled,
            interrupted,
            wall_seconds: self.wall.as_secs_f64(),
            totals: self.totals(),
            consumers: self
                .consumers
                .iter()
                .map(|c| ConsumerJson {
                    name: &c.name,
                    carts: c.carts,
                    purchases: c.purchases,
                    retries: c.retries,
                    waiting_seconds: c.waiting.as_secs_f64(),
                })
                .collect(),
            producers: self
                .producers
                .iter()
                .map(|p| ProducerJson {
                    name: &p.name,
                    published: p.published,
                    full: p.full,
                })
                .collect(),
        };
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(&document).unwrap_or_default()
    }
}

/// How a run whose figures are reported ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunEnd {
    /// Every consumer finished.
    Finished,
    /// No consumer made progress for the stall timeout.
    Stalled,
    /// Its interrupt (SIGINT, SIGTERM) ended it.
    Interrupted,
}

/// The `--stats-json` document; field order is the printed order.
#[derive(Serialize)]
struct Document<'a> {
    stalled: bool,
    interrupted: bool,
    wall_seconds: f64,
    totals: Totals,
    consumers: Vec<ConsumerJson<'a>>,
    producers: Vec<ProducerJson<'a>>,
}

#[derive(Serialize)]
struct ConsumerJson<'a> {
    name: &'a str,
    carts: u64,
    purchases: u64,
    retries: u64,
    waiting_seconds: f64,
}

#[derive(Serialize)]
struct ProducerJson<'a> {
    name: &'a str,
    published: u64,
    full: u64,
}

/// The table of `--stats`: consumers, then (after a blank line) producers, each with a
/// total row, then the wall time. Columns are aligned by the columns a terminal gives the
/// text; names are shown as [`escape::shown`] shows them, so that a name cannot break the
/// table, reorder a row or hide, and cut after 1000 characters with their length, since
/// every row is padded to the widest.
impl fmt::Display for RunStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let totals = self.totals();
        let waiting: Duration = self.consumers.iter().map(|c| c.waiting).sum();
        let mut consumers = Table::new(["consumer", "carts", "purchases", "retries", "waiting"]);
        for c in &self.consumers {
            consumers.row([
                escape::shown(&abbreviated_name(&c.name)).into_owned(),
                c.carts.to_string(),
                c.purchases.to_string(),
                c.retries.to_string(),
                seconds(c.waiting),
            ]);
        }
        consumers.row([
            format!("total ({})", self.consumers.len()),
            totals.carts.to_string(),
            totals.purchases.to_string(),
            totals.retries.to_string(),
            seconds(waiting),
        ]);
        let mut producers = Table::new(["producer", "published", "full"]);
        for p in &self.producers {
            producers.row([
                escape::shown(&abbreviated_name(&p.name)).into_owned(),
                p.published.to_string(),
                p.full.to_string(),
            ]);
        }
        producers.row([
            format!("total ({})", self.producers.len()),
            totals.published.to_string(),
            totals.full.to_string(),
        ]);
        write!(
            f,
            "{consumers}\n\n{producers}\nwall time {}",
            seconds(self.wall)
        )
    }
}

/// Seconds with millisecond precision, as the table shows times.
fn seconds(d: Duration) -> String {
    shown_time(d, 3)
}

/// `d` as the command shows a time: in seconds with `decimals` decimals, or, when that
/// would show a positive time as zero (a run over in microseconds, a stall timeout of a
/// nanosecond), in the largest of ms, µs and ns in which it is at least one, so that no
/// figure says that no time passed when some did.
pub fn shown_time(d: Duration, decimals: usize) -> String {
    let text = format!("{:.decimals$}", d.as_secs_f64());
    if d.is_zero() || text.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        return format!("{text} s");
    }
    let nanos = d.as_nanos();
    // From there on, microseconds would round to 1000.0.
    if nanos >= 999_950 {
        format!("{:.1} ms", nanos as f64 / 1e6)
    } else if nanos >= 1_000 {
        format!("{:.1} µs", nanos as f64 / 1e3)
    } else {
        format!("{nanos} ns")
    }
}

/// A table of `N` columns: the first left-aligned (names), the others right-aligned.
struct Table<const N: usize> {
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    fn new(header: [&str; N]) -> Self {
        Table {
            rows: vec![header.map(str::to_owned)],
        }
    }

    fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }
}

impl<const N: usize> fmt::Display for Table<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Widths in the columns a terminal gives the text, not in characters: a name may
        // hold wide characters (two columns each) or combining accents (none).
        let mut widths = [0; N];
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(console::measure_text_width(cell));
            }
        }
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let mut line = String::new();
            for (column, (cell, &width)) in row.iter().zip(&widths).enumerate() {
                let pad = width - console::measure_text_width(cell);
                if column == 0 {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.push_str("  ");
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
            f.write_str(line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds as asked while they show the time; below, the unit that shows it, never a
    /// zero for a positive time, and a zero for none.
    #[test]
    fn a_positive_time_is_never_shown_as_zero() {
        for (d, decimals, shown) in [
            (Duration::ZERO, 3, "0.000 s"),
            (Duration::from_millis(1500), 3, "1.500 s"),
            (Duration::from_micros(500), 3, "0.001 s"),
            (Duration::from_micros(499), 3, "499.0 µs"),
            (Duration::from_millis(50), 1, "0.1 s"),
            (Duration::from_millis(49), 1, "49.0 ms"),
            (Duration::from_nanos(1_000_000), 1, "1.0 ms"),
            (Duration::from_nanos(999_950), 1, "1.0 ms"),
            (Duration::from_nanos(999_949), 1, "999.9 µs"),
            (Duration::from_nanos(1_000), 3, "1.0 µs"),
            (Duration::from_nanos(999), 3, "999 ns"),
            (Duration::from_nanos(1), 1, "1 ns"),
            (Duration::from_secs(100_000), 1, "100000.0 s"),
        ] {
            assert_eq!(
                shown_time(d, decimals),
                shown,
                "{d:?} at {decimals} decimals"
            );
        }
    }

    #[test]
    fn the_table_is_aligned_and_adds_up() {
        let stats = RunStats {
            wall: Duration::from_millis(1500),
            consumers: vec![
                ConsumerStats {
                    name: "ana".into(),
                    carts: 2,
                    purchases: 5,
                    retries: 1,
                    waiting: Duration::from_millis(250),
                },
                ConsumerStats {
                    name: "bo\nb".into(),
                    carts: 10,
                    purchases: 12,
                    retries: 0,
                    waiting: Duration::ZERO,
                },
            ],
            producers: vec![ProducerStats {
                name: "p".into(),
                published: 20,
                full: 3,
            }],
        };
        let table = stats.to_string();
        assert_eq!(
            table,
            "consumer   carts  purchases  retries  waiting\n\
             ana            2          5        1  0.250 s\n\
             \"bo\\nb\"       10         12        0  0.000 s\n\
             total (2)     12         17        1  0.250 s\n\
             \n\
             producer   published  full\n\
             p                 20     3\n\
             total (1)         20     3\n\
             wall time 1.500 s"
        );
        let totals = stats.totals();
        assert_eq!(
            (totals.purchases, totals.carts, totals.published),
            (17, 12, 20)
        );
    }

    /// Names of wide characters (two columns each) and of combining accents (none) keep
    /// the columns aligned as a terminal shows them.
    #[test]
    fn the_table_is_aligned_on_screen_with_wide_and_combining_characters() {
        let consumer = |name: &str| ConsumerStats {
            name: name.into(),
            carts: 1,
            purchases: 3,
            ..ConsumerStats::default()
        };
        let producer = |name: &str| ProducerStats {
            name: name.into(),
            published: 5,
            full: 1,
        };
        let stats = RunStats {
            wall: Duration::from_millis(1),
            consumers: vec![
                consumer("消費者"),
                consumer("bob"),
                consumer("e\u{301}te\u{301}"),
            ],
            producers: vec![producer("茶農家さん"), producer("e\u{301}te\u{301}")],
        };
        // The columns these names take on a terminal: the kana and kanji here are East
        // Asian wide, the accents combine with the letter before them.
        let columns = |line: &str| -> usize {
            line.chars()
                .map(|c| match c {
                    '\u{300}'..='\u{36f}' => 0,
                    '\u{3000}'..='\u{9fff}' => 2,
                    _ => 1,
                })
                .sum()
        };
        assert_rows_of_one_width(&stats.to_string(), columns);
    }

    /// A right-to-left override in a name would reverse the rest of its row on screen,
    /// and a zero-width space would hide; both are shown escaped, as control characters
    /// are, and the columns stay aligned around the escapes.
    #[test]
    fn bidirectional_and_invisible_characters_in_names_are_shown_escaped() {
        let stats = RunStats {
            wall: Duration::from_millis(1),
            consumers: vec![
                ConsumerStats {
                    name: "ev\u{202e}il".into(),
                    ..ConsumerStats::default()
                },
                ConsumerStats {
                    name: "bob".into(),
                    ..ConsumerStats::default()
                },
            ],
            producers: vec![ProducerStats {
                name: "p\u{200b}\u{2067}".into(),
                ..ProducerStats::default()
            }],
        };
        let table = stats.to_string();
        assert!(
            !table.contains(['\u{202e}', '\u{200b}', '\u{2067}']),
            "a raw format character:\n{table}"
        );
        assert!(table.contains(r"ev\u{202e}il"), "{table}");
        assert!(table.contains(r"p\u{200b}\u{2067}"), "{table}");
        assert_rows_of_one_width(&table, |line| line.chars().count());
    }

    /// Asserts that every row of each of `table`'s blocks (the wall time's line aside)
    /// takes as many columns as the others, counted by `columns`.
    fn assert_rows_of_one_width(table: &str, columns: impl Fn(&str) -> usize) {
        for block in table.split("\n\n") {
            let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with("wall")).collect();
            let widths: Vec<usize> = lines.iter().map(|line| columns(line)).collect();
            assert!(
                widths.iter().all(|&width| width == widths[0]),
                "columns {widths:?}:\n{block}"
            );
        }
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let stats = RunStats {
            wall: Duration::from_millis(500),
            consumers: vec![ConsumerStats {
                name: "c\"1".into(),
                carts: 1,
                purchases: 3,
                retries: 2,
                waiting: Duration::from_millis(100),
            }],
            producers: vec![ProducerStats {
                name: "p".into(),
                published: 4,
                full: 1,
            }],
        };
        let json: serde_json::Value =
            serde_json::from_str(&stats.to_json(RunEnd::Stalled)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "stalled": true,
                "interrupted": false,
                "wall_seconds": 0.5,
                "totals": {"purchases": 3, "carts": 1, "retries": 2, "published": 4, "full": 1},
                "consumers": [{"name": "c\"1", "carts": 1, "purchases": 3, "retries": 2,
                               "waiting_seconds": 0.1}],
                "producers": [{"name": "p", "published": 4, "full": 1}]
            })
        );
    }
}
