//! The server's checks: the final words of its region against what the clients report.

use crate::wire::Report;

/// The final values of the server's words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Words {
    /// The shared counter.
    pub(crate) counter: u64,
    /// The lock word (0: free).
    pub(crate) lock: u64,
    /// The inside word (0: nobody in the critical section).
    pub(crate) inside: u64,
    /// Critical-section entries counted atomically.
    pub(crate) entries: u64,
    /// Critical-section entries counted by non-atomic READ + WRITE under the lock.
    pub(crate) guarded: u64,
}

/// One check's result and the line that states it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Check {
    /// True when the check passed.
    pub(crate) passed: bool,
    /// What was checked and found.
    pub(crate) line: String,
}

impl Check {
    fn new(passed: bool, line: String) -> Check {
        Check { passed, line }
    }
}

/// `a + b + c` of each client's value.
fn terms(reports: &[Report], f: impl Fn(&Report) -> u64) -> String {
    let parts: Vec<String> = reports.iter().map(|r| f(r).to_string()).collect();
    parts.join(" + ")
}

/// The sum of each client's value (`None` on overflow).
fn total(reports: &[Report], f: impl Fn(&Report) -> u64) -> Option<u64> {
    reports.iter().try_fold(0u64, |s, r| s.checked_add(f(r)))
}

/// Checks the final `words` against the clients' `reports` (client `i + 1` is `reports[i]`):
/// the counter is the sum of the adds; the fetched values are below that total and sum as
/// `0 + 1 + ... + (total - 1)` do; the lock is free; and the lock was never held twice at
/// once (entries and guarded words equal the sum of the lock rounds, the inside word is 0, no
/// client saw a violation).
pub(crate) fn check(words: &Words, reports: &[Report]) -> Vec<Check> {
    let n = reports.len();
    let mut checks = Vec::new();

    let adds = total(reports, |r| r.adds);
    let add_terms = terms(reports, |r| r.adds);
    checks.push(match adds {
        Some(a) if a == words.counter => Check::new(
            true,
            format!("counter: {a}, exactly the sum of {n} clients' fetch-and-adds ({add_terms})"),
        ),
        _ => Check::new(
            false,
            format!(
                "counter: {}, but the {n} clients report {add_terms} fetch-and-adds",
                words.counter
            ),
        ),
    });
    checks.push(fetched_values(adds, reports));

    checks.push(if words.lock == 0 {
        Check::new(true, "lock: free at the end".into())
    } else {
        Check::new(
            false,
            format!(
                "lock: still holds {} at the end (0 is free, a client's id is held)",
                words.lock
            ),
        )
    });
    checks.push(exclusion(words, reports));
    checks
}

/// The fetched values: each client's last one below the total, and all of them summing to
/// `0 + 1 + ... + (total - 1)`, as they do when every value from 0 up was returned once.
fn fetched_values(adds: Option<u64>, reports: &[Report]) -> Check {
    let Some(total) = adds else {
        return Check::new(false, "fetched values: the adds overflow 64 bits".into());
    };
    if total == 0 {
        return Check::new(true, "fetched values: none (no fetch-and-adds)".into());
    }
    let mut problems = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        if r.adds > 0 && r.last >= total {
            problems.push(format!(
                "client {}'s last value {} is not below the total {total}",
                i + 1,
                r.last
            ));
        }
    }
    let sum = reports.iter().fold(0u128, |s, r| s.wrapping_add(r.sum));
    let t = u128::from(total);
    let want = t * (t - 1) / 2;
    if sum != want {
        problems.push(format!(
            "they sum to {sum}, but 0 + 1 + ... + {} is {want}",
            total - 1
        ));
    }
    if problems.is_empty() {
        Check::new(
            true,
            format!(
                "fetched values: each below {total}, summing to {want} as 0 + 1 + ... + {} do",
                total - 1
            ),
        )
    } else {
        Check::new(false, format!("fetched values: {}", problems.join("; ")))
    }
}

/// Mutual exclusion: the critical sections counted three ways, the inside word back at 0,
/// and no violation seen by a client.
fn exclusion(words: &Words, reports: &[Report]) -> Check {
    let lock_terms = terms(reports, |r| r.locks);
    let Some(locks) = total(reports, |r| r.locks) else {
        return Check::new(false, "lock: the lock rounds overflow 64 bits".into());
    };
    let violations = total(reports, |r| r.violations);
    let mut problems = Vec::new();
    if words.entries != locks {
        problems.push(format!("entries word {} (want {locks})", words.entries));
    }
    if words.guarded != locks {
        problems.push(format!(
            "guarded word {} (want {locks}: increments under the lock were lost)",
            words.guarded
        ));
    }
    if words.inside != 0 {
        problems.push(format!("inside word {} (want 0)", words.inside));
    }
    if violations != Some(0) {
        let seen: Vec<String> = reports
            .iter()
            .enumerate()
            .filter(|(_, r)| r.violations > 0)
            .map(|(i, r)| format!("client {} saw {}", i + 1, r.violations))
            .collect();
        problems.push(format!("violations: {}", seen.join(", ")));
    }
    if problems.is_empty() {
        Check::new(
            true,
            format!(
                "lock: never held by two clients at once: {locks} critical sections \
                 ({lock_terms}), entries word {locks}, guarded word {locks}, inside word 0, \
                 no violation seen"
            ),
        )
    } else {
        Check::new(
            false,
            format!(
                "lock: held by two clients at once: {locks} critical sections ({lock_terms}), \
                 but {}",
                problems.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two clients that together fetched 0..5 (values 0, 2, 4 and 1, 3) and took the lock
    /// 3 + 4 times.
    fn good() -> (Words, Vec<Report>) {
        let a = Report {
            adds: 3,
            first: 0,
            last: 4,
            sum: 6,
            locks: 3,
            retries: 2,
            violations: 0,
        };
        let b = Report {
            adds: 2,
            first: 1,
            last: 3,
            sum: 4,
            locks: 4,
            retries: 0,
            violations: 0,
        };
        let words = Words {
            counter: 5,
            lock: 0,
            inside: 0,
            entries: 7,
            guarded: 7,
        };
        (words, vec![a, b])
    }

    fn failed(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.line.as_str())
            .collect()
    }

    #[test]
    fn a_correct_run_passes_every_check() {
        let (words, reports) = good();
        let checks = check(&words, &reports);
        let lines: Vec<&str> = checks.iter().map(|c| c.line.as_str()).collect();
        assert_eq!(
            lines,
            [
                "counter: 5, exactly the sum of 2 clients' fetch-and-adds (3 + 2)",
                "fetched values: each below 5, summing to 10 as 0 + 1 + ... + 4 do",
                "lock: free at the end",
                "lock: never held by two clients at once: 7 critical sections (3 + 4), \
                 entries word 7, guarded word 7, inside word 0, no violation seen",
            ]
        );
        assert!(checks.iter().all(|c| c.passed));
    }

    #[test]
    fn a_lost_add_fails_the_counter() {
        let (mut words, reports) = good();
        words.counter = 4;
        assert_eq!(
            failed(&check(&words, &reports)),
            ["counter: 4, but the 2 clients report 3 + 2 fetch-and-adds"]
        );
    }

    #[test]
    fn fetched_values_out_of_range_or_repeated_fail() {
        let (words, mut reports) = good();
        reports[0].last = 5;
        reports[0].sum = 7;
        assert_eq!(
            failed(&check(&words, &reports)),
            [
                "fetched values: client 1's last value 5 is not below the total 5; they sum \
                 to 11, but 0 + 1 + ... + 4 is 10"
            ]
        );
    }

    #[test]
    fn a_held_lock_fails() {
        let (mut words, reports) = good();
        words.lock = 2;
        assert_eq!(
            failed(&check(&words, &reports)),
            ["lock: still holds 2 at the end (0 is free, a client's id is held)"]
        );
    }

    #[test]
    fn any_sign_of_two_holders_fails_exclusion() {
        let (mut words, mut reports) = good();
        words.guarded = 6;
        words.inside = 1;
        reports[1].violations = 2;
        assert_eq!(
            failed(&check(&words, &reports)),
            [
                "lock: held by two clients at once: 7 critical sections (3 + 4), but guarded \
                 word 6 (want 7: increments under the lock were lost), inside word 1 (want 0), \
                 violations: client 2 saw 2"
            ]
        );
        let (mut words, reports) = good();
        words.entries = 8;
        let checks = check(&words, &reports);
        let f = failed(&checks);
        assert!(
            f.len() == 1 && f[0].contains("entries word 8 (want 7)"),
            "{f:?}"
        );
    }

    #[test]
    fn no_adds_at_all_is_a_zero_counter() {
        let reports = vec![Report {
            locks: 2,
            ..Report::default()
        }];
        let words = Words {
            entries: 2,
            guarded: 2,
            ..Words::default()
        };
        let checks = check(&words, &reports);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        assert_eq!(checks[1].line, "fetched values: none (no fetch-and-adds)");
    }
}
