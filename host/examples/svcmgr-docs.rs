//! Writes svcmgr's shell completions (bash, zsh, fish) and man pages (`svcmgr(1)` and one per
//! action), generated from its clap definition (`args::command()`), under the folder given, at
//! the paths a Debian package installs them to (`packaging/build` runs it for the .deb).

use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

fn create(root: &Path, rel: &str) -> std::io::Result<std::fs::File> {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a file path"))?;
    std::fs::File::create(path)
}

/// The page of `cmd` and one of each action under it (`svcmgr-driver-install.1`): the page of
/// a command names its actions' pages.
fn man_pages(cmd: &clap::Command, root: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, root)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render(&mut page)?;
    let file = create(
        root,
        &format!("usr/share/man/man1/{}.gz", man.get_filename()),
    )?;
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    gz.write_all(&page)?;
    gz.finish()?;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let Some(root) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: svcmgr-docs <root folder>");
        std::process::exit(1);
    };
    let mut cmd = svcmgr::cli::args::command();
    for (shell, rel) in [
        (Shell::Bash, "usr/share/bash-completion/completions/svcmgr"),
        (Shell::Zsh, "usr/share/zsh/vendor-completions/_svcmgr"),
        (
            Shell::Fish,
            "usr/share/fish/vendor_completions.d/svcmgr.fish",
        ),
    ] {
        clap_complete::generate(shell, &mut cmd, "svcmgr", &mut create(&root, rel)?);
    }
    cmd.build();
    man_pages(&cmd, &root)?;
    Ok(())
}
