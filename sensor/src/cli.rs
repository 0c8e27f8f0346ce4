//! Command line (ARCHITECTURE.md, "CLI"): parsed by clap, then validated into typed settings.

use crate::capture::ReadMode;
use crate::engine::{ChecksumMode, EngineConfig};
use crate::eve::TypeFilter;
use crate::flow::Timeouts;
use crate::output::format::{parse_facility, Format, SeverityMap};
use crate::output::syslog::Target;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "iomt-sensor",
    version,
    about = "Passive network sensor for medical-device protocols (DICOM, HL7 v2, IEEE 11073 SDC and 20601)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline over capture files (pcap or pcapng), in order, with file timestamps as the clock.
    Replay {
        /// Capture files.
        #[arg(required = true)]
        pcaps: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// How files are read: reused read buffers, or a memory map.
        #[arg(long, value_enum, default_value_t = ReadMode::Read)]
        read_mode: ReadMode,
    },
    /// Run the pipeline on a network interface (libpcap).
    Live {
        /// Interface name (e.g. eth1, the mirror port).
        iface: String,
        #[command(flatten)]
        common: Common,
        /// BPF capture filter.
        #[arg(long)]
        bpf: Option<String>,
        /// Bytes captured per frame.
        #[arg(long, default_value_t = 65535, value_parser = clap::value_parser!(i32).range(64..=262144))]
        snaplen: i32,
        /// Put the interface in promiscuous mode.
        #[arg(long)]
        promisc: bool,
        /// Kernel capture buffer in bytes (libpcap's default when absent).
        #[arg(long, value_parser = clap::value_parser!(i32).range(65536..))]
        buffer_size: Option<i32>,
    },
    /// Print the decoded protocol events of capture files, one per line.
    Decode {
        #[arg(required = true)]
        pcaps: Vec<PathBuf>,
        /// EVE JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Also print a flow record for every flow.
        #[arg(long)]
        flows: bool,
        #[command(flatten)]
        engine: EngineArgs,
        #[arg(long, value_enum, default_value_t = ReadMode::Read)]
        read_mode: ReadMode,
    },
    /// Print the device inventory from the state store.
    Inventory {
        /// JSON lines (one device per line) instead of a table.
        #[arg(long)]
        json: bool,
        /// State directory.
        #[arg(long, default_value = "iomt-state")]
        state: PathBuf,
    },
    /// Learn on baseline captures, detect on test captures, score the alerts against labels.
    Eval {
        /// Captures to learn from.
        #[arg(long, required = true, num_args = 1..)]
        baseline: Vec<PathBuf>,
        /// Captures to detect on.
        #[arg(long, required = true, num_args = 1..)]
        test: Vec<PathBuf>,
        /// Labels CSV (`start_ts,end_ts,device_ip,attack_kind,description`).
        #[arg(long)]
        labels: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// State directory (default: a fresh temporary one, removed afterwards).
        #[arg(long)]
        state: Option<PathBuf>,
        #[command(flatten)]
        models: ModelArgs,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

/// Model settings (modes, learning period, internal networks).
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// learn: learn only, no alerts; detect: alert against the stored baseline; auto: learn for
    /// --learn-for of capture time, then detect.
    #[arg(long, default_value = "auto", value_parser = iomt_models::Mode::parse)]
    pub mode: iomt_models::Mode,
    /// Auto mode's learning period in capture time (`2d`, `36h`, `90m`).
    #[arg(long, default_value = iomt_models::engine::DEFAULT_LEARN_FOR, value_parser = iomt_models::engine::parse_duration)]
    pub learn_for: u64,
    /// The hospital's own networks (CIDR, repeatable); default RFC 1918, loopback, link-local, ULA.
    #[arg(long, value_parser = iomt_models::net::Cidr::parse)]
    pub internal_net: Vec<iomt_models::net::Cidr>,
}

impl ModelArgs {
    pub fn config(&self) -> iomt_models::Config {
        let mut c = iomt_models::Config {
            mode: self.mode,
            learn_for_ns: self.learn_for,
            ..iomt_models::Config::default()
        };
        if !self.internal_net.is_empty() {
            c.internal = self.internal_net.clone();
        }
        c
    }
}

/// Options shared by `replay` and `live`.
#[derive(Debug, Args)]
pub struct Common {
    /// EVE JSON lines to this file, or `-` for standard output.
    #[arg(long, value_name = "FILE|-")]
    pub eve: Option<PathBuf>,
    /// Event types written to EVE: `all` or a comma-separated list (alert, flow, dicom, hl7, sdc,
    /// ieee20601, tls, anomaly, stats).
    #[arg(long, default_value = "alert", value_parser = TypeFilter::parse)]
    pub eve_types: TypeFilter,
    /// Print throughput, drops, counters and latency percentiles on stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// State directory: device inventory, baselines, alerts and the delivery spool (SQLite).
    #[arg(long, default_value = "iomt-state")]
    pub state: PathBuf,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Output options (alerts to syslog, EVE rotation, spool, PHI guard, config file).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Send alerts to a syslog receiver: udp://HOST:PORT, tcp://HOST:PORT (RFC 6587 octet counting) or
    /// tls://HOST:PORT (RFC 5425). Repeatable.
    #[arg(long, value_name = "URL", value_parser = Target::parse)]
    pub syslog: Vec<Target>,
    /// Syslog message format: rfc5424, cef, leef or json.
    #[arg(long, default_value = "rfc5424", value_parser = Format::parse)]
    pub syslog_format: Format,
    /// CA certificate(s) (PEM) that signed the tls:// receiver's certificate.
    #[arg(long, value_name = "FILE")]
    pub syslog_ca: Option<PathBuf>,
    /// Client certificate chain (PEM) for tls:// receivers that ask for one.
    #[arg(long, value_name = "FILE")]
    pub syslog_cert: Option<PathBuf>,
    /// Private key (PEM) of --syslog-cert.
    #[arg(long, value_name = "FILE")]
    pub syslog_key: Option<PathBuf>,
    /// Syslog facility: a name (local0..local7, daemon, auth, security, ...) or 0-23.
    #[arg(long, default_value = "local0", value_parser = parse_facility)]
    pub syslog_facility: u8,
    /// Syslog severity (0-7) for alert severities 1..10, ten comma-separated numbers.
    #[arg(long, default_value = "6,6,5,5,4,4,3,3,2,2", value_parser = SeverityMap::parse)]
    pub syslog_severity_map: SeverityMap,
    /// Seconds the end of a run waits for syslog receivers to confirm spooled alerts.
    #[arg(long, default_value_t = 10)]
    pub syslog_drain_timeout: u64,
    /// Live mode: write a `stats` EVE record (when --eve-types selects stats) every this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub stats_interval: u64,
    /// Rotate the EVE file past this many bytes (suffixes k, M, G): FILE.1 .. FILE.5 are kept.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub eve_rotate_size: Option<u64>,
    /// Most alerts the delivery spool holds; past it the oldest low-severity alerts are evicted.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub spool_cap: u64,
    /// Withhold (and count) any outgoing line holding a value listed in FILE (one per line, or TSV
    /// with the value last).
    #[arg(long, value_name = "FILE")]
    pub phi_guard: Option<PathBuf>,
    /// TOML file with any of these options (same names as the long options); the command line wins.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Default for OutputArgs {
    /// The defaults, as clap gives them with no option on the command line.
    #[expect(
        clippy::panic,
        reason = "parsing no arguments against our own defaults cannot fail; a failure is a programming error caught by every test"
    )]
    fn default() -> Self {
        use clap::FromArgMatches;
        let cmd = <OutputArgs as Args>::augment_args(clap::Command::new("defaults"));
        let m = cmd.get_matches_from(["defaults"]);
        OutputArgs::from_arg_matches(&m).unwrap_or_else(|e| panic!("output defaults: {e}"))
    }
}

/// `1000`, `64k`, `10M`, `1G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (t.get(..i).unwrap_or(""), 1u64 << 10),
        Some((i, 'm' | 'M')) => (t.get(..i).unwrap_or(""), 1 << 20),
        Some((i, 'g' | 'G')) => (t.get(..i).unwrap_or(""), 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 1000, 64k, 10M, 1G)"))
}

/// Engine and pipeline settings.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Worker threads (default: cores - 1, at least 1).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Hard cap on flows held at once; the least recently seen are evicted past it.
    #[arg(long, default_value_t = 262_144, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_flows: u64,
    /// Idle timeout of half-open TCP flows, seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_new: u64,
    /// Idle timeout of established TCP flows, seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout_established: u64,
    /// How long a closed TCP flow is kept for late packets, seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout_closed: u64,
    /// Idle timeout of UDP flows, seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_udp: u64,
    /// Out-of-order bytes buffered per TCP stream direction.
    #[arg(long, default_value_t = 1 << 20)]
    pub stream_cap: usize,
    /// Out-of-order bytes buffered by all streams together.
    #[arg(long, default_value_t = 64 << 20)]
    pub reassembly_cap: usize,
    /// TCP/UDP checksum verification.
    #[arg(long, value_enum, default_value_t = ChecksumMode::Off)]
    pub checksums: ChecksumMode,
}

impl EngineArgs {
    pub fn threads(&self) -> usize {
        match self.threads {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism()
                .map(|n| n.get().saturating_sub(1))
                .unwrap_or(1)
                .max(1),
        }
    }

    pub fn config(&self) -> EngineConfig {
        EngineConfig {
            max_flows: usize::try_from(self.max_flows).unwrap_or(usize::MAX),
            timeouts: Timeouts {
                new: self.timeout_new,
                established: self.timeout_established,
                closed: self.timeout_closed,
                udp: self.timeout_udp,
            },
            stream_cap: self.stream_cap,
            reassembly_cap: self.reassembly_cap,
            checksums: self.checksums,
        }
    }
}
