//! `dexec worker init` and `dexec scheduler init`: check a service's flags the way starting it
//! would, then write them to an arguments file and a systemd unit that starts the service with
//! that file, so an operator runs it with one command (`systemctl enable --now …`, or
//! `dexec worker @FILE` in the foreground). Also the `@FILE` expansion the services accept.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use serde_json::json;

use crate::exit::Fail;
use crate::output::Output;

/// Long help of `dexec worker init` and `dexec scheduler init`.
pub const INIT_ABOUT: &str = "\
Check the service's flags (given after `--`) as starting it would (the wallet is opened, so a
keystore needs --password-file: a unit cannot type a password), then write two files in --dir:

  <service>.args           the flags, one per line (edit it; `#` starts a comment line)
  dexec-<service>.service  a systemd unit: `dexec <service> @<dir>/<service>.args`, restarted
                           when it fails, stopped with SIGINT (in-flight work is kept), JSON logs

Relative paths in the flags stay relative to the current directory, which the unit uses as its
working directory. Then either install the unit:

  sudo cp <dir>/dexec-<service>.service /etc/systemd/system/
  sudo systemctl daemon-reload && sudo systemctl enable --now dexec-<service>

or run the service in the foreground with the same flags: `dexec <service> @<dir>/<service>.args`.";

/// `dexec worker init` / `dexec scheduler init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Where to write the arguments file and the unit.
    #[arg(long, default_value = ".dexec/systemd", value_name = "DIR")]
    pub dir: PathBuf,
    /// The `dexec` binary the unit starts [default: this one].
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// The user the unit runs as [default: the unit's default, root; container workers need
    /// root].
    #[arg(long)]
    pub user: Option<String>,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
    /// The service's flags, after `--` (as `dexec worker --help` lists them).
    #[arg(last = true, value_name = "FLAGS")]
    pub flags: Vec<String>,
}

/// Which service.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    /// `dexec worker`.
    Worker,
    /// `dexec scheduler`.
    Scheduler,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Worker => "worker",
            Service::Scheduler => "scheduler",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Service::Worker => "dexec worker: runs a workerpool's tasks",
            Service::Scheduler => "dexec scheduler: a workerpool's deals, workers and settlement",
        }
    }

    /// Parse `flags` as the service's and validate them as its start does: the address of
    /// its wallet.
    fn check(self, flags: &[String]) -> eyre::Result<alloy::primitives::Address> {
        let argv = std::iter::once(format!("dexec {}", self.name())).chain(flags.iter().cloned());
        let refused = |e: &dyn std::fmt::Display| {
            Fail::usage(format!(
                "these flags would not start the {}: {e}",
                self.name()
            ))
        };
        match self {
            Service::Worker => {
                let parsed = WorkerFlags::try_parse_from(argv).map_err(|e| flag_error(&e))?;
                let config =
                    dexec_worker::Config::from_args(parsed.args).map_err(|e| refused(&e))?;
                Ok(config.signer.address())
            }
            Service::Scheduler => {
                let parsed = SchedulerFlags::try_parse_from(argv).map_err(|e| flag_error(&e))?;
                let config =
                    dexec_scheduler::Config::from_args(parsed.args).map_err(|e| refused(&e))?;
                Ok(config.signer.address())
            }
        }
    }

    /// The service's own long flags (`--scheduler-url`, …), to catch them before `--`.
    fn long_flags(self) -> Vec<String> {
        let command = match self {
            Service::Worker => WorkerFlags::command(),
            Service::Scheduler => SchedulerFlags::command(),
        };
        command
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    }
}

#[derive(Parser)]
struct WorkerFlags {
    #[command(flatten)]
    args: dexec_worker::Args,
}

#[derive(Parser)]
struct SchedulerFlags {
    #[command(flatten)]
    args: dexec_scheduler::Args,
}

fn flag_error(e: &clap::Error) -> eyre::Report {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid flags");
    Fail::usage(first.trim_start_matches("error: ").to_owned())
}

/// A service flag given before `--` was read by `dexec` itself (its global flags share names
/// with the services'): refuse it rather than write a file without it.
fn check_separator(service: Service) -> eyre::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let Some(init) = argv.iter().position(|a| a == "init") else {
        return Ok(());
    };
    let end = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let own = service.long_flags();
    for arg in &argv[init + 1..end] {
        let flag = arg.split('=').next().unwrap_or(arg);
        if own.iter().any(|f| f == flag) {
            return Err(Fail::usage(format!(
                "{flag} is a flag of the {0}: put the {0}'s flags after `--` (`dexec {0} init \
                 --dir DIR -- {flag} …`)",
                service.name()
            )));
        }
    }
    Ok(())
}

/// Run `dexec <service> init`.
pub fn init(service: Service, args: InitArgs) -> eyre::Result<Output> {
    check_separator(service)?;
    if args.flags.is_empty() {
        return Err(Fail::usage(format!(
            "give the {0}'s flags after `--`, e.g. `dexec {0} init -- {1}`",
            service.name(),
            match service {
                Service::Worker => {
                    "--scheduler-url http://pool.example:13000 --wallet-file worker.json \
                     --password-file worker.pass"
                }
                Service::Scheduler => {
                    "--workerpool 0x… --wallet-file pool.json --password-file pool.pass \
                     --offer-price '0.1 RLC'"
                }
            }
        )));
    }
    if let Some(bad) = args.flags.iter().find(|f| f.contains('\n')) {
        return Err(Fail::usage(format!(
            "{bad:?}: a flag cannot hold a line break"
        )));
    }
    let address = service.check(&args.flags)?;
    let cwd = std::env::current_dir()?;
    let dir = absolute(&cwd, &args.dir);
    let binary = match args.binary {
        Some(binary) => absolute(&cwd, &binary),
        None => std::env::current_exe()?,
    };
    let args_file = dir.join(format!("{}.args", service.name()));
    let unit_file = dir.join(format!("dexec-{}.service", service.name()));
    for file in [&args_file, &unit_file] {
        if file.exists() && !args.force {
            return Err(Fail::refused(format!(
                "{} exists: pass --force to replace it",
                file.display()
            )));
        }
    }
    std::fs::create_dir_all(&dir)?;
    let mut text = format!(
        "# dexec {} flags, one per line (written by `dexec {} init`; checked then)\n",
        service.name(),
        service.name()
    );
    for flag in &args.flags {
        text.push_str(flag);
        text.push('\n');
    }
    std::fs::write(&args_file, text)?;
    let unit = unit(service, &binary, &args_file, &cwd, args.user.as_deref());
    std::fs::write(&unit_file, &unit)?;
    let name = service.name();
    let summary = format!(
        "checked the {name}'s flags (its wallet: {address}) and wrote\n  {}\n  {}\nstart it with systemd:\n  sudo cp {} \
         /etc/systemd/system/\n  sudo systemctl daemon-reload && sudo systemctl enable --now \
         dexec-{name}\nor in the foreground:\n  {} {name} @{}",
        args_file.display(),
        unit_file.display(),
        unit_file.display(),
        binary.display(),
        args_file.display()
    );
    Output::new(
        json!({
            "service": name,
            "address": address,
            "argsFile": args_file,
            "unitFile": unit_file,
            "execStart": exec_start(service, &binary, &args_file),
            "workingDirectory": cwd,
        }),
        summary,
    )
}

fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        cwd.join(path)
    }
}

fn exec_start(service: Service, binary: &Path, args_file: &Path) -> String {
    format!(
        "{} {} @{}",
        systemd_quote(&binary.display().to_string()),
        service.name(),
        systemd_quote(&args_file.display().to_string())
    )
}

/// A word of an `ExecStart=` line: quoted when it has spaces, quotes or backslashes.
fn systemd_quote(word: &str) -> String {
    if word
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_owned()
    }
}

fn unit(
    service: Service,
    binary: &Path,
    args_file: &Path,
    cwd: &Path,
    user: Option<&str>,
) -> String {
    let user = user.map(|u| format!("User={u}\n")).unwrap_or_default();
    format!(
        "[Unit]\n\
         Description={description}\n\
         # docs/operations.md and docs/workerpool.md of the dexec repository\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=exec\n\
         {user}\
         WorkingDirectory={cwd}\n\
         ExecStart={exec}\n\
         Environment=DEXEC_LOG_FORMAT=json\n\
         # Ctrl-C: the {name} stops taking work and keeps what is in flight for its next start\n\
         KillSignal=SIGINT\n\
         TimeoutStopSec=60\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         LimitNOFILE=65536\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        description = service.description(),
        name = service.name(),
        cwd = systemd_quote(&cwd.display().to_string()),
        exec = exec_start(service, binary, args_file),
    )
}

/// Expand `@FILE` in the arguments of `dexec worker|scheduler|market|store`: the file's lines
/// are the arguments (empty lines and lines starting with `#` skipped). Other commands keep
/// `@…` as it is (`--args @x` of an app is the app's).
pub fn expand_args_files(argv: Vec<String>) -> std::io::Result<Vec<String>> {
    let services = ["worker", "scheduler", "market", "store"];
    if !argv.get(1).is_some_and(|c| services.contains(&c.as_str())) {
        return Ok(argv);
    }
    let mut out = Vec::with_capacity(argv.len());
    for (i, arg) in argv.into_iter().enumerate() {
        match arg.strip_prefix('@').filter(|_| i >= 2) {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("the arguments file {path}: {e}"))
                })?;
                out.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned),
                );
            }
            None => out.push(arg),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn arguments_files_expand_for_services_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("worker.args");
        std::fs::write(
            &file,
            "# comment\n--name\nmy worker\n\n--max-concurrent\n2\n",
        )
        .unwrap();
        let at = format!("@{}", file.display());
        let argv = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            expand_args_files(argv(&["dexec", "worker", &at])).unwrap(),
            argv(&[
                "dexec",
                "worker",
                "--name",
                "my worker",
                "--max-concurrent",
                "2"
            ])
        );
        let app = argv(&["dexec", "app", "run", "--args", &at]);
        assert_eq!(expand_args_files(app.clone()).unwrap(), app);
        let missing = expand_args_files(argv(&["dexec", "worker", "@/nonexistent/x"]));
        assert!(missing.unwrap_err().to_string().contains("/nonexistent/x"));
    }

    #[test]
    fn units_quote_what_systemd_would_split() {
        assert_eq!(systemd_quote("/usr/bin/dexec"), "/usr/bin/dexec");
        assert_eq!(systemd_quote("/srv/my pool/x"), "\"/srv/my pool/x\"");
        let unit = unit(
            Service::Worker,
            Path::new("/usr/local/bin/dexec"),
            Path::new("/etc/dexec/worker.args"),
            Path::new("/srv/pool"),
            Some("dexec"),
        );
        assert!(unit.contains("ExecStart=/usr/local/bin/dexec worker @/etc/dexec/worker.args\n"));
        assert!(unit.contains("User=dexec\n") && unit.contains("WorkingDirectory=/srv/pool\n"));
        assert!(unit.contains("KillSignal=SIGINT\n"));
    }
}
