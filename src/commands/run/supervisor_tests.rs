//! run's protocol, one rule at a time and then on random timelines: signals at any
//! time, CMD ending any way, heartbeat posts that succeed, fail or find the SHA stale.

use std::time::Duration;

use super::*;

const SIGTERM: i32 = 15;
const SIGINT: i32 = 2;

#[test]
fn exit_codes_follow_the_shell() {
    let code = |exit, cancelled| Ended::from_exit(Ok(exit), cancelled).status.as_u8();
    assert_eq!(code(Exit::Code(0), None), 0);
    assert_eq!(code(Exit::Code(42), None), 42);
    assert_eq!(code(Exit::Code(300), None), 1, "outside 0..=255");
    let killed = Ended::from_exit(Ok(Exit::Signal(SIGTERM)), Some(SIGTERM));
    assert_eq!(killed.status.as_u8(), 128 + 15);
    assert_eq!(killed.how, "was ended by SIGTERM");
    // A command that traps SIGTERM and exits 0 was still cancelled.
    assert_eq!(code(Exit::Code(0), Some(SIGINT)), 128 + 2);
    // One that exits non-zero keeps its code.
    assert_eq!(code(Exit::Code(3), Some(SIGTERM)), 3);
    let lost = Ended::from_exit(Err("gone".into()), None);
    assert_eq!((lost.status.as_u8(), lost.started), (1, true));
    assert!(!Ended::not_started(SIGTERM).started);
}

#[test]
fn a_failed_report_changes_the_exit_code_only_when_cmd_succeeded() {
    let ok = Status::exited(0);
    assert_eq!(exit_status(ok, &[]), ok);
    assert_eq!(exit_status(ok, &[Code::Api]).as_u8(), Code::Api.as_u8());
    assert_eq!(exit_status(Status::exited(7), &[Code::Api]).as_u8(), 7);
    // A stale SHA is named only when nothing else went wrong.
    assert_eq!(
        exit_status(ok, &[Code::Stale, Code::Api]).as_u8(),
        Code::Api.as_u8()
    );
    assert_eq!(exit_status(ok, &[Code::Stale]).as_u8(), Code::Stale.as_u8());
}

#[test]
fn the_first_signal_stops_the_beats_and_fails_the_check_the_next_are_passed_on() {
    let mut sup = Supervisor::default();
    assert_eq!(
        sup.signal(SIGTERM),
        [
            Order::Forward {
                signo: SIGTERM,
                again: false
            },
            Order::StopBeats,
            Order::Report(ReportStatus::Failed)
        ]
    );
    assert_eq!(
        sup.signal(SIGINT),
        [Order::Forward {
            signo: SIGINT,
            again: true
        }]
    );
    let (ended, orders) = sup.exited(Ok(Exit::Code(0)));
    assert!(orders.is_empty(), "reported once");
    assert_eq!(ended.status.as_u8(), 128 + 15);
}

#[test]
fn cmd_s_end_stops_the_beats_then_reports_its_outcome() {
    for (exit, status) in [
        (Exit::Code(0), ReportStatus::Passed),
        (Exit::Code(1), ReportStatus::Failed),
        (Exit::Signal(9), ReportStatus::Failed),
    ] {
        let (_, orders) = Supervisor::default().exited(Ok(exit));
        assert_eq!(orders, [Order::StopBeats, Order::Report(status)]);
    }
}

#[test]
fn beats_come_every_interval_on_live_targets_and_end_with_the_last() {
    let s = Duration::from_secs;
    let mut beats = Beats::new(s(60), s(60), 2);
    assert_eq!(beats.next(), Some(s(60)));
    assert_eq!(beats.beat(s(61)), [0, 1]);
    assert_eq!(beats.next(), Some(s(121)));
    beats.answered(0, Answer::Failed);
    beats.answered(1, Answer::Stale);
    assert_eq!(beats.beat(s(121)), [0]);
    beats.answered(0, Answer::Stale);
    assert_eq!(beats.next(), None);
    let mut beats = Beats::new(s(1), s(1), 1);
    beats.stop();
    assert_eq!(beats.next(), None);
}

/// One random timeline: when CMD ends and how, the signals, and every post's fate.
struct Timeline {
    rng: fastrand::Rng,
    targets: usize,
    every: Duration,
    /// The longest a heartbeat's posts may take (its deadline).
    post_limit: Duration,
    exit_at: Duration,
    exit: Result<Exit, String>,
    signals: Vec<(Duration, i32)>,
}

impl Timeline {
    fn new(seed: u64) -> Timeline {
        let mut rng = fastrand::Rng::with_seed(seed);
        let every = Duration::from_millis(rng.u64(100..90_000));
        let ms = |rng: &mut fastrand::Rng, max: u64| Duration::from_millis(rng.u64(0..max));
        let exit = match rng.u8(0..10) {
            0 => Err("lost".to_owned()),
            1..=2 => Ok(Exit::Signal(*rng.choice(&[SIGTERM, SIGINT, 9]).unwrap())),
            _ => Ok(Exit::Code(*rng.choice(&[0, 0, 1, 3, 255]).unwrap())),
        };
        let exit_at = ms(&mut rng, 600_000);
        let mut signals: Vec<(Duration, i32)> = (0..rng.usize(0..3))
            .map(|_| {
                (
                    ms(&mut rng, 700_000),
                    *rng.choice(&[SIGTERM, SIGINT]).unwrap(),
                )
            })
            .collect();
        signals.sort();
        Timeline {
            targets: rng.usize(1..4),
            every,
            post_limit: every.max(Duration::from_secs(5)),
            exit_at,
            exit,
            signals,
            rng,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Post {
    Pending { at: Duration, target: usize },
    Final { at: Duration, status: ReportStatus },
}

/// Drives the supervisor and the beats as `command.rs` and `heartbeat.rs` do: the
/// beats on a thread of their own, busy while their posts last; stopping them waits
/// for the posts under way.
fn drive(mut tl: Timeline) -> (Vec<Post>, Vec<(usize, Answer, Duration)>, Ended) {
    let mut sup = Supervisor::default();
    let mut beats = Beats::new(tl.every, tl.every, tl.targets);
    let mut posts = Vec::new();
    let mut answers = Vec::new();
    let mut busy_until = Duration::ZERO;
    let mut signals = std::mem::take(&mut tl.signals).into_iter().peekable();
    loop {
        let beat = beats.next().map(|at| at.max(busy_until));
        let signal = signals.peek().map(|s| s.0).filter(|at| *at < tl.exit_at);
        let event = signal.unwrap_or(tl.exit_at);
        let orders = match beat {
            Some(at) if at < event => {
                for target in beats.beat(at) {
                    posts.push(Post::Pending { at, target });
                    let answer = *tl
                        .rng
                        .choice(&[
                            Answer::Posted,
                            Answer::Posted,
                            Answer::Failed,
                            Answer::Stale,
                        ])
                        .unwrap();
                    answers.push((target, answer, at));
                    beats.answered(target, answer);
                }
                busy_until = at + tl.rng.u64(0..=1000) as u32 * tl.post_limit / 1000;
                continue;
            }
            _ if signal.is_some() => sup.signal(signals.next().unwrap().1),
            _ => {
                let (ended, orders) = sup.exited(tl.exit.clone());
                act(&orders, &mut beats, &mut posts, event.max(busy_until));
                return (posts, answers, ended);
            }
        };
        act(&orders, &mut beats, &mut posts, event.max(busy_until));
    }
}

fn act(orders: &[Order], beats: &mut Beats, posts: &mut Vec<Post>, at: Duration) {
    for order in orders {
        match order {
            Order::Forward { .. } => {}
            Order::StopBeats => beats.stop(),
            Order::Report(status) => posts.push(Post::Final {
                at,
                status: *status,
            }),
        }
    }
}

/// The promises of `run`, on one timeline.
fn check(seed: u64) -> Result<(), String> {
    let tl = Timeline::new(seed);
    let (every, post_limit, exit, exit_at) = (tl.every, tl.post_limit, tl.exit.clone(), tl.exit_at);
    let first_signal = tl.signals.iter().find(|s| s.0 < exit_at).copied();
    let (posts, answers, ended) = drive(tl);
    let finals: Vec<&Post> = posts
        .iter()
        .filter(|p| matches!(p, Post::Final { .. }))
        .collect();
    let [
        Post::Final {
            at: final_at,
            status,
        },
    ] = finals[..]
    else {
        return Err(format!("one final report, not {finals:?}"));
    };
    let want = match (&exit, first_signal) {
        (_, Some(_)) | (Err(_), _) | (Ok(Exit::Signal(_)), _) => ReportStatus::Failed,
        (Ok(Exit::Code(0)), None) => ReportStatus::Passed,
        (Ok(Exit::Code(_)), None) => ReportStatus::Failed,
    };
    if *status != want {
        return Err(format!("reported {status:?}, want {want:?}"));
    }
    if first_signal.is_some_and(|s| *final_at > s.0 + post_limit) {
        return Err("a signal's failed report waited for more than one beat".into());
    }
    let success = matches!((&exit, first_signal), (Ok(Exit::Code(0)), None));
    if ended.status.is_success() != success {
        return Err(format!("exit {} for {exit:?}", ended.status.as_u8()));
    }
    for target in 0..3 {
        let beats: Vec<Duration> = posts
            .iter()
            .filter_map(|p| match p {
                Post::Pending { at, target: t } if *t == target => Some(*at),
                _ => None,
            })
            .collect();
        if beats.iter().any(|at| at >= final_at) {
            return Err(format!("pending on target {target} after the final report"));
        }
        if let Some((_, _, stale_at)) = answers
            .iter()
            .find(|a| a.0 == target && a.1 == Answer::Stale)
            && beats.iter().any(|at| at > stale_at)
        {
            return Err(format!("a beat on target {target} after it went stale"));
        }
        for pair in beats.windows(2) {
            let gap = pair[1] - pair[0];
            if gap < every || gap > every.max(post_limit) {
                return Err(format!("beats {gap:?} apart, every {every:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn run_keeps_its_promises_on_random_timelines() {
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    for seed in 0..seeds {
        if let Err(why) = check(seed) {
            panic!(
                "seed {seed}: {why}\n  replay: SIM_SEEDS={} cargo test --lib run_keeps_its_promises",
                seed + 1
            );
        }
    }
}
