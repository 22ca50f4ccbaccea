//! `farad`: the daemon (`farad serve`) and its command-line tools. Dispatch only.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use farad::{config, logging, server};

/// See `farad::allocator`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs before anything allocates (a constructor, before Rust's runtime starts), so that the
/// allocator's first arena already has the options.
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn configure() {
        farad::allocator::configure();
    }
    configure
};

#[derive(Parser)]
#[command(
    name = "farad",
    version,
    about = "Stream processing and alerting, a drop-in for Kapacitor"
)]
struct Cli {
    /// The server the client commands talk to; also $KAPACITOR_URL.
    #[arg(long, global = true)]
    url: Option<String>,
    /// Accept any certificate of an https server (self-signed ones).
    #[arg(long = "skipVerify", global = true)]
    skip_verify: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve {
        /// Config file (Kapacitor's format); also $KAPACITOR_CONFIG_PATH. Without one, built-in defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Log level, overriding the config: debug, info, warn, error, off.
        #[arg(long = "log-level")]
        log_level: Option<String>,
    },
    /// Print the configuration (the defaults, or a file with environment overrides applied).
    Config {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Format TICKscript files canonically (like Kapacitor's tickfmt); stdin when no file.
    Fmt {
        /// Write the result back to each file instead of printing it.
        #[arg(short = 'w')]
        write: bool,
        files: Vec<PathBuf>,
    },
    /// Check TICKscript files and print every problem found; exit code 1 if any.
    Check { files: Vec<PathBuf> },
    /// Run task tests: each test file (TOML; directories: their *.test.toml files) names a
    /// TICKscript, input data and the output expected. Runs in-process, no server needed;
    /// prints a diff per failure, exit code 1 if any.
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Define a task, or change it (reloading it when enabled): from a TICKscript, or from a
    /// template and its vars.
    Define {
        id: String,
        /// stream or batch (default: the script's).
        #[arg(long = "type")]
        kind: Option<String>,
        /// The TICKscript file.
        #[arg(long)]
        tick: Option<PathBuf>,
        /// A database and retention policy, db.rp; repeat for more.
        #[arg(long)]
        dbrp: Vec<String>,
        /// The template to make the task from.
        #[arg(long)]
        template: Option<String>,
        /// A JSON or YAML file of the template's vars.
        #[arg(long)]
        vars: Option<PathBuf>,
        /// A JSON or YAML task definition (template-id, vars, dbrps).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Do not reload an enabled task after changing it.
        #[arg(long = "no-reload")]
        no_reload: bool,
    },
    /// Define a template, or change it (and every task made from it).
    DefineTemplate {
        id: String,
        #[arg(long)]
        tick: Option<PathBuf>,
        #[arg(long = "type")]
        kind: Option<String>,
    },
    /// Enable tasks.
    Enable {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Disable tasks.
    Disable {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Disable and enable tasks again.
    Reload {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Show a task: its fields, script and DOT with node statistics.
    Show {
        /// Show the task as a replay runs it.
        #[arg(long)]
        replay: Option<String>,
        id: String,
    },
    /// Show a template: its vars, script and DOT.
    ShowTemplate { id: String },
    /// Upload a Wasm component as UDF NAME (a new version of it if it exists).
    DefineUdf { name: String, file: PathBuf },
    /// Upload a Wasm component of the `handler` world as handler kind KIND.
    DefineHandlerPlugin { kind: String, file: PathBuf },
    /// Run the tests of services (every one when none is named) with their default options.
    ServiceTests { names: Vec<String> },
    /// Follow the server's log: the records whose fields match every `key=value` (`lvl=error`,
    /// `lvl=warn+` for a level and above, `task=ID`, `node=log2`).
    Logs { tags: Vec<String> },
    /// Follow the log records of one task (and match `key=value` tags too).
    Watch { task: String, tags: Vec<String> },
    /// Save a backup of everything the server keeps (store, recordings, UDF and handler
    /// plugin components) to FILE.
    Backup { file: PathBuf },
    /// Put a backup made by `backup` into the data dir of a config (Farad must not be
    /// running on it); refuses to replace an existing store without -force.
    Restore {
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        force: bool,
    },
    /// Define a topic handler from a YAML or JSON spec (`topic`, `id`, `kind`, `options`,
    /// `match`); or `TOPIC ID FILE` as Kapacitor 1.3's CLI took it.
    DefineTopicHandler {
        #[arg(num_args = 1..=3, required = true)]
        args: Vec<String>,
    },
    /// Show a topic handler: its id, kind, match and options.
    ShowTopicHandler { topic: String, handler: String },
    /// Show a topic: its level, handlers and events.
    ShowTopic { topic: String },
    /// Silence events for a while: they stay in their topics' state but no handler sends
    /// them. `-topic` and `-event` take patterns (`cpu*`), `-tag k=v` may repeat; give
    /// `-duration D` or `-expires TIME`.
    Silence {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        topic: Option<String>,
        #[arg(long)]
        event: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// List things on the server: tasks, templates, udfs, topics, topic-handlers TOPIC,
    /// recordings, replays.
    List {
        kind: String,
        /// Names to show, with * as a wildcard.
        patterns: Vec<String>,
    },
    /// Delete things on the server: tasks ID..., templates ID..., udfs NAME..., topics ID...,
    /// topic-handlers TOPIC ID..., recordings ID..., replays ID...
    Delete { kind: String, ids: Vec<String> },
    /// Replay a recording into a task (a fresh instance of it); prints the replay's id when
    /// it ends.
    Replay {
        /// The recording to replay.
        #[arg(long)]
        recording: String,
        /// The task to replay it into.
        #[arg(long)]
        task: String,
        /// The replay's id (default: a new one).
        #[arg(long = "replay-id")]
        replay_id: Option<String>,
        /// Keep the recorded times instead of moving them to now.
        #[arg(long = "rec-time")]
        rec_time: bool,
        /// Replay with the recorded spacing instead of as fast as possible.
        #[arg(long = "real-clock")]
        real_clock: bool,
        /// Return at once, printing nothing.
        #[arg(long = "no-wait")]
        no_wait: bool,
    },
    /// Record data for replays: `record stream -task T -duration D` records what is written
    /// to the task's db/rps; `record batch -task T -past D` (or `-start T [-stop T]`) what
    /// the batch task's queries return over that time; `record query -query Q -type T` what
    /// an InfluxQL query returns, as a stream or batch recording.
    Record {
        /// stream, batch or query
        kind: String,
        #[arg(long)]
        task: Option<String>,
        /// query: the InfluxQL query (fully qualified: "db"."rp"."measurement").
        #[arg(long)]
        query: Option<String>,
        /// query: the recording's type, stream or batch.
        #[arg(long = "type")]
        kind_of: Option<String>,
        /// query: the InfluxDB cluster to query (default: the default one).
        #[arg(long)]
        cluster: Option<String>,
        /// stream: how long to record (InfluxQL duration: 30s, 5m, 1d).
        #[arg(long)]
        duration: Option<String>,
        /// batch: this long (InfluxQL duration) before `-stop`, or before now.
        #[arg(long)]
        past: Option<String>,
        /// batch: from this time (RFC 3339).
        #[arg(long)]
        start: Option<String>,
        /// batch: until this time (RFC 3339; default now).
        #[arg(long)]
        stop: Option<String>,
        #[arg(long = "recording-id")]
        recording_id: Option<String>,
        /// Return at once, printing nothing.
        #[arg(long = "no-wait")]
        no_wait: bool,
    },
    /// Replay data straight from InfluxDB into a task, storing nothing: `replay-live batch
    /// -task T -past D` (or `-start T [-stop T]`) runs the batch task's queries over that
    /// time; `replay-live query -task T -query Q` an InfluxQL query's result.
    ReplayLive {
        /// batch or query
        kind: String,
        #[arg(long)]
        task: String,
        #[arg(long)]
        past: Option<String>,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        stop: Option<String>,
        #[arg(long)]
        query: Option<String>,
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long = "replay-id")]
        replay_id: Option<String>,
        #[arg(long = "rec-time")]
        rec_time: bool,
        #[arg(long = "real-clock")]
        real_clock: bool,
        #[arg(long = "no-wait")]
        no_wait: bool,
    },
    /// Import a recording: a .srpl or .brpl file, JSON batches, or line protocol with -db.
    ImportRecording {
        file: PathBuf,
        #[arg(long)]
        id: Option<String>,
        /// stream or batch (default: batch for a zip, else stream).
        #[arg(long = "type")]
        kind: Option<String>,
        /// Timestamp precision of stream data (n, u, ms, s, m, h; default n).
        #[arg(long)]
        precision: Option<String>,
        /// The body is line protocol written to this database.
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        rp: Option<String>,
    },
    /// Set the server's log level: debug, info, warn, error.
    Level { level: String },
    /// Print the server's statistics: general or ingress.
    Stats { what: String },
    /// Print the server's debug/vars document.
    Vars,
    /// Print the version.
    Version,
}

/// Go's flag package accepts `-config`; clap wants `--config`. Rewrite single-dash long flags.
fn go_style_args() -> Vec<String> {
    let switches = switches();
    let mut out = Vec::new();
    for (i, a) in std::env::args().enumerate() {
        let long = a.len() > 2 && a.starts_with('-') && !a.starts_with("--");
        let a = if i > 0
            && long
            && a[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
        {
            format!("-{a}")
        } else {
            a
        };
        // Go's `-flag=true` and `-flag=false` for switches (flags only, not values such as
        // `-tag force=true`).
        match a.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") && switches.contains(&flag[2..]) => {
                match go_bool(value) {
                    Some(true) => out.push(flag.to_owned()),
                    Some(false) => {}
                    None => out.push(a),
                }
            }
            _ => out.push(a),
        }
    }
    out
}

/// The long names of every switch (a flag that takes no value) of every command.
fn switches() -> std::collections::HashSet<String> {
    use clap::CommandFactory;
    fn walk(c: &clap::Command, out: &mut std::collections::HashSet<String>) {
        for a in c.get_arguments() {
            if matches!(a.get_action(), clap::ArgAction::SetTrue)
                && let Some(l) = a.get_long()
            {
                out.insert(l.to_owned());
            }
        }
        for sub in c.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = std::collections::HashSet::new();
    walk(&Cli::command(), &mut out);
    out
}

fn config_path(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        std::env::var_os("KAPACITOR_CONFIG_PATH")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

fn main() {
    let cli = Cli::parse_from(go_style_args());
    if !matches!(cli.command, Command::Serve { .. }) {
        // A command's output piped into `head` ends it quietly, as Go's CLI ends, instead
        // of a panic on the closed pipe (the daemon keeps ignoring SIGPIPE).
        // SAFETY: setting a signal's disposition to its default before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // The daemon's errors end it with exit code 1, as kapacitord's.
    let daemon = matches!(cli.command, Command::Serve { .. } | Command::Config { .. });
    if let Err(e) = run(cli) {
        // As Kapacitor's CLI: `Error: ` and the error (with its causes, on one line, never a
        // backtrace), exit code 3.
        eprintln!("Error: {e:#}");
        std::process::exit(if daemon { 1 } else { 3 });
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// As Kapacitor's CLI: `-skipVerify`, else `KAPACITOR_UNSAFE_SSL`; a value Go cannot read
/// ends the command as Kapacitor's ends (the bare error, exit code 1).
fn skip_verify(flag: bool) -> bool {
    flag || match std::env::var("KAPACITOR_UNSAFE_SSL") {
        Ok(v) if !v.is_empty() => go_bool(&v).unwrap_or_else(|| {
            eprintln!("strconv.ParseBool: parsing {v:?}: invalid syntax");
            std::process::exit(1)
        }),
        _ => false,
    }
}

fn run(cli: Cli) -> Result<()> {
    // Only the commands that talk to a server read the environment's TLS switch.
    let client = || {
        farad::cli::client::Client::new(cli.url.clone()).skip_verify(skip_verify(cli.skip_verify))
    };
    match cli.command {
        Command::Serve { config, log_level } => {
            let mut config = config::Config::load(config_path(config).as_deref())?;
            if let Some(l) = log_level {
                config.logging.level = l;
            }
            // Sets the environment: before logging or the runtime start threads.
            farad::kafka::kerberos::configure(&config.kafka).map_err(anyhow::Error::msg)?;
            let level = logging::init(&config.logging)?;
            farad::sched::configure(config.http.realtime_priority);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                // Only threads running as workers unpark (a blocking-pool thread does not,
                // and none becomes a worker: nothing calls `block_in_place`): they alone
                // are latency threads.
                .on_thread_unpark(farad::sched::latency_thread)
                .build()?;
            rt.block_on(server::serve(config, level))
        }
        Command::Config { config } => {
            let config = config::Config::load(config_path(config).as_deref())?;
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Fmt { write, files } => std::process::exit(farad::cli::tick::fmt(&files, write)),
        Command::Check { files } => std::process::exit(farad::cli::tick::check(&files)),
        Command::Test { files } => std::process::exit(farad::testing::run(&files)),
        Command::Define {
            id,
            kind,
            tick,
            dbrp,
            template,
            vars,
            file,
            no_reload,
        } => farad::cli::tasks::define(
            &client(),
            &farad::cli::tasks::DefineArgs {
                id,
                kind,
                tick,
                dbrps: dbrp,
                template,
                vars,
                file,
                no_reload,
            },
        ),
        Command::DefineTemplate { id, tick, kind } => {
            farad::cli::tasks::define_template(&client(), &id, tick.as_ref(), kind.as_deref())
        }
        Command::Enable { ids } => farad::cli::tasks::enable(&client(), &ids),
        Command::Disable { ids } => farad::cli::tasks::disable(&client(), &ids),
        Command::Reload { ids } => farad::cli::tasks::reload(&client(), &ids),
        Command::Show { id, replay } => farad::cli::tasks::show(&client(), &id, replay.as_deref()),
        Command::ShowTemplate { id } => farad::cli::tasks::show_template(&client(), &id),
        Command::DefineUdf { name, file } => {
            farad::cli::client::define_udf(&client(), &name, &file)
        }
        Command::DefineHandlerPlugin { kind, file } => {
            farad::cli::client::define_handler_plugin(&client(), &kind, &file)
        }
        Command::ServiceTests { names } => farad::cli::client::service_tests(&client(), &names),
        Command::Logs { tags } => farad::cli::client::logs(&client(), None, &tags),
        Command::Watch { task, tags } => farad::cli::client::logs(&client(), Some(&task), &tags),
        Command::Backup { file } => farad::cli::storage::backup(&client(), &file),
        Command::Restore {
            file,
            config,
            force,
        } => farad::cli::storage::restore(&file, config_path(config).as_deref(), force),
        Command::DefineTopicHandler { args } => {
            farad::cli::client::define_topic_handler(&client(), &args)
        }
        Command::ShowTopicHandler { topic, handler } => {
            farad::cli::client::show_topic_handler(&client(), &topic, &handler)
        }
        Command::ShowTopic { topic } => farad::cli::client::show_topic(&client(), &topic),
        Command::Silence {
            id,
            topic,
            event,
            tags,
            duration,
            expires,
            comment,
        } => {
            let mut body = serde_json::json!({
                "id": id, "topic": topic.unwrap_or_default(), "event": event.unwrap_or_default(),
                "comment": comment.unwrap_or_default(), "duration": duration, "expires": expires,
            });
            let mut t = serde_json::Map::new();
            for tag in tags {
                let Some((k, v)) = tag.split_once('=') else {
                    anyhow::bail!("-tag takes key=value, got {tag:?}");
                };
                t.insert(k.to_owned(), v.into());
            }
            body["tags"] = t.into();
            farad::cli::client::silence(&client(), &body)
        }
        Command::List { kind, patterns } => farad::cli::client::list(&client(), &kind, &patterns),
        Command::Delete { kind, ids } => farad::cli::client::delete(&client(), &kind, &ids),
        Command::Replay {
            recording,
            task,
            replay_id,
            rec_time,
            real_clock,
            no_wait,
        } => farad::cli::replay::replay(
            &client(),
            &farad::cli::replay::ReplayArgs {
                recording,
                task,
                replay_id,
                rec_time,
                real_clock,
                no_wait,
            },
        ),
        Command::Record {
            kind,
            task,
            query,
            kind_of,
            cluster,
            duration,
            past,
            start,
            stop,
            recording_id,
            no_wait,
        } => {
            let client = client();
            let task = || {
                task.clone()
                    .ok_or_else(|| anyhow::anyhow!("record {kind} needs -task"))
            };
            match kind.as_str() {
                "stream" => farad::cli::replay::record_stream(
                    &client,
                    &task()?,
                    duration.as_deref().unwrap_or_default(),
                    recording_id.as_deref(),
                    no_wait,
                ),
                "batch" => farad::cli::replay::record_batch(
                    &client,
                    &task()?,
                    &farad::cli::replay::BatchRange { past, start, stop },
                    recording_id.as_deref(),
                    no_wait,
                ),
                "query" => farad::cli::replay::record_query(
                    &client,
                    query.as_deref().unwrap_or_default(),
                    kind_of.as_deref().unwrap_or_default(),
                    cluster.as_deref(),
                    recording_id.as_deref(),
                    no_wait,
                ),
                other => Err(anyhow::anyhow!(
                    "cannot record {other:?}: stream, batch or query"
                )),
            }
        }
        Command::ReplayLive {
            kind,
            task,
            past,
            start,
            stop,
            query,
            cluster,
            replay_id,
            rec_time,
            real_clock,
            no_wait,
        } => farad::cli::replay::replay_live(
            &client(),
            &kind,
            &farad::cli::replay::ReplayLiveArgs {
                task,
                range: farad::cli::replay::BatchRange { past, start, stop },
                query,
                cluster,
                replay_id,
                rec_time,
                real_clock,
                no_wait,
            },
        ),
        Command::ImportRecording {
            file,
            id,
            kind,
            precision,
            db,
            rp,
        } => farad::cli::replay::import(
            &client(),
            &file,
            &farad::cli::replay::ImportArgs {
                id,
                kind,
                precision,
                db,
                rp,
            },
        ),
        Command::Level { level } => farad::cli::status::level(&client(), &level),
        Command::Stats { what } => farad::cli::status::stats(&client(), &what),
        Command::Vars => farad::cli::status::vars(&client()),
        Command::Version => {
            // Kapacitor's is `Kapacitor <platform> <version> (git: <branch> <commit>)`.
            println!(
                "Farad OSS {} (Kapacitor API {})",
                env!("CARGO_PKG_VERSION"),
                farad::KAPACITOR_API
            );
            Ok(())
        }
    }
}
