//! `hub --generate KIND`: the man page or a shell's completion script, made by clap's generators from
//! the command line itself, so they list every flag and subcommand there is. `publish --generate KIND`
//! takes the same kinds (`publisher/src/cli/generate.rs`).

use std::io::{self, Write};

use clap::ValueEnum;
use clap::builder::Command;
use clap_complete::Shell;
use clap_mangen::Man;

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The man page (roff), for `man 1 hub`.
    Man,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
    CompletePowershell,
    CompleteElvish,
}

impl Generate {
    /// Writes the man page or completion script of `command` to `out`.
    pub fn write(self, command: Command, out: &mut dyn Write) -> io::Result<()> {
        let shell = match self {
            Generate::Man => return man_page(command, out),
            Generate::CompleteBash => Shell::Bash,
            Generate::CompleteZsh => Shell::Zsh,
            Generate::CompleteFish => Shell::Fish,
            Generate::CompletePowershell => Shell::PowerShell,
            Generate::CompleteElvish => Shell::Elvish,
        };
        let mut command = command;
        let name = command.get_name().to_owned();
        clap_complete::generate(shell, &mut command, name, out);
        Ok(())
    }
}

/// One page for the command and its subcommands: clap_mangen's page of the command, then a section per
/// subcommand with its description, synopsis and options (clap_mangen alone would refer to a page per
/// subcommand, `hub-gentoken(1)`, that nobody installs).
fn man_page(command: Command, out: &mut dyn Write) -> io::Result<()> {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let page = Man::new(command.clone());
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let title = format!("{} {}", command.get_name(), sub.get_name()).to_uppercase();
        writeln!(out, ".SH \"{title}\"")?;
        let mut section = Vec::new();
        let sub_page = Man::new(sub.clone());
        sub_page.render_description_section(&mut section)?;
        sub_page.render_synopsis_section(&mut section)?;
        sub_page.render_options_section(&mut section)?;
        sub_page.render_extra_section(&mut section)?;
        // Its parts become subsections of the subcommand's section.
        let section = String::from_utf8_lossy(&section).replace("\n.SH ", "\n.SS ");
        let section = section.strip_prefix(".SH ").map_or(section.clone(), |rest| format!(".SS {rest}"));
        out.write_all(section.as_bytes())?;
    }
    page.render_extra_section(out)?;
    page.render_version_section(out)?;
    Ok(())
}
