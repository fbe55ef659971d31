//! `publish --generate KIND`: the man page or a shell's completion script, made by clap's generators from
//! the flags themselves. The kinds are those of `hub --generate` (`hub/src/cli/generate.rs`).

use std::io::{self, Write};

use clap::ValueEnum;
use clap::builder::Command;
use clap_complete::Shell;
use clap_mangen::Man;

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The man page (roff), for `man 1 publish`.
    Man,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
    CompletePowershell,
    CompleteElvish,
}

impl Generate {
    /// Writes the man page or completion script of `command` to `out`.
    pub fn write(self, mut command: Command, out: &mut dyn Write) -> io::Result<()> {
        let shell = match self {
            Generate::Man => return Man::new(command).render(out),
            Generate::CompleteBash => Shell::Bash,
            Generate::CompleteZsh => Shell::Zsh,
            Generate::CompleteFish => Shell::Fish,
            Generate::CompletePowershell => Shell::PowerShell,
            Generate::CompleteElvish => Shell::Elvish,
        };
        let name = command.get_name().to_owned();
        clap_complete::generate(shell, &mut command, name, out);
        Ok(())
    }
}
