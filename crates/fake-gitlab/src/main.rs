//! `fake-gitlab`: the fake GitLab as a standalone server, for the demo.
//!
//! ```text
//! fake-gitlab [--listen 127.0.0.1:0] [--world FILE.json | --scenario demo|demo-timeline]
//!             [--script FILE.json] [--log | --log-json] [--latency-ms MS]
//! ```
//! Prints exactly one line, `listening on http://127.0.0.1:PORT`, once bound, then serves
//! until killed. `--log` prints `METHOD PATH STATUS` per request to stderr (never header
//! values, queries or bodies, so never a token). `--log-json` prints one JSON object per
//! request instead, `{"at_ms","method","path","page","per_page","status"}` (arrival time in
//! ms since start; of the query only `page` and `per_page`). `--latency-ms` delays every
//! answer (the world's `latency_ms`).

use fake_gitlab::{Event, FakeGitlab, World, demo_events};
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: fake-gitlab [--listen ADDR] [--world FILE.json | --scenario demo|demo-timeline] [--script EVENTS.json] [--log | --log-json] [--latency-ms MS]";

struct Args {
    listen: String,
    world: Option<String>,
    scenario: Option<String>,
    script: Option<String>,
    log: bool,
    log_json: bool,
    latency_ms: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        listen: "127.0.0.1:0".into(),
        world: None,
        scenario: None,
        script: None,
        log: false,
        log_json: false,
        latency_ms: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--listen" => a.listen = value("--listen")?,
            "--world" => a.world = Some(value("--world")?),
            "--scenario" => a.scenario = Some(value("--scenario")?),
            "--script" => a.script = Some(value("--script")?),
            "--log" => a.log = true,
            "--log-json" => {
                a.log = true;
                a.log_json = true;
            }
            "--latency-ms" => {
                let v = value("--latency-ms")?;
                a.latency_ms = Some(
                    v.parse()
                        .map_err(|_| format!("--latency-ms needs milliseconds, got {v:?}"))?,
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.world.is_some() && a.scenario.is_some() {
        return Err("--world and --scenario exclude each other".into());
    }
    Ok(a)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {path}: {e}"))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mut events: Vec<Event> = Vec::new();
    let mut world = match (&args.world, args.scenario.as_deref()) {
        (Some(path), _) => read_json::<World>(path)?,
        (None, None | Some("demo")) => World::demo(),
        (None, Some("demo-timeline")) => {
            events.extend(demo_events());
            World::demo()
        }
        (None, Some(other)) => {
            return Err(format!(
                "unknown scenario {other:?} (known: demo, demo-timeline)"
            ));
        }
    };
    if let Some(ms) = args.latency_ms {
        world.latency_ms = ms;
    }
    if let Some(path) = &args.script {
        events.extend(read_json::<Vec<Event>>(path)?);
    }
    let server = FakeGitlab::start_on(world, &args.listen)
        .map_err(|e| format!("binding {}: {e}", args.listen))?;
    server.log_to_stderr(args.log);
    server.log_json(args.log_json);
    for e in events {
        server.on(e);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.base_url()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-gitlab: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
