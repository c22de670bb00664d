//! The CLI reference (`docs/cli.md`): every command's long help, generated from the clap
//! definitions so it cannot drift (a test compares it with the committed file).

use std::fmt::Write;

/// Markdown of `command` and all its visible subcommands, depth first.
pub fn markdown(mut command: clap::Command) -> String {
    command.build();
    let mut out = String::from(
        "# dexec CLI reference\n\n\
         Generated from `dexec --help` by `make cli-reference` (`dexec reference`); do not edit.\n\
         A test fails when this file differs from the binary's help.\n",
    );
    let _ = write!(
        out,
        "\n## JSON output\n\n```text\n{}\n```\n",
        crate::json::RULE.trim_end()
    );
    section(&mut out, &command, "dexec");
    out
}

fn section(out: &mut String, command: &clap::Command, path: &str) {
    // environment values (DEXEC_ANVIL set by make, say) would make the file machine-specific
    let help = command
        .clone()
        .mut_args(|arg| arg.hide_env_values(true))
        .term_width(100)
        .render_long_help()
        .to_string();
    let _ = write!(out, "\n## `{path}`\n\n```text\n{}\n```\n", help.trim_end());
    for sub in command.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        section(out, sub, &format!("{path} {}", sub.get_name()));
    }
}
