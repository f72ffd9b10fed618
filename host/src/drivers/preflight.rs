//! What is checked before a library is handed to `dlopen`, which maps it and runs its code.
//! A file cut short (a copy in progress, a full disk) kills the process with SIGBUS as soon as
//! the dynamic loader touches a page past its end, whatever command was running. So the ELF
//! header, the program headers and every segment they map, and the section table must all lie
//! within the file, and no process may have the file open for writing.

use object::elf::{FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, ReadCache};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Why a file is not handed to `dlopen` (the caller names the file).
pub fn check(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let before = file.metadata().map_err(|e| e.to_string())?;
    if being_written(&file) {
        return Err("the file is being written (open for writing by a process)".into());
    }
    let len = before.len();
    let data = ReadCache::new(&file);
    let header = FileHeader64::<Endianness>::parse(&data)
        .map_err(|_| format!("not a 64-bit ELF shared object ({len} bytes)"))?;
    let endian = header
        .endian()
        .map_err(|_| "not a 64-bit ELF shared object (unknown byte order)".to_string())?;
    let past_end = |what: &str, end: u64| {
        format!("truncated: {what} ends at byte {end}, past the end of the file ({len} bytes)")
    };
    let table_end = |off: u64, num: u64, size: u64| off.saturating_add(num.saturating_mul(size));
    let ph_end = table_end(
        header.e_phoff(endian),
        u64::from(header.e_phnum(endian)),
        u64::from(header.e_phentsize(endian)),
    );
    if ph_end > len {
        return Err(past_end("the program header table", ph_end));
    }
    let sh_end = table_end(
        header.e_shoff(endian),
        u64::from(header.e_shnum(endian)),
        u64::from(header.e_shentsize(endian)),
    );
    if sh_end > len {
        return Err(past_end("the section table", sh_end));
    }
    let segments = header
        .program_headers(endian, &data)
        .map_err(|e| format!("invalid program headers: {e}"))?;
    for ph in segments.iter().filter(|ph| ph.p_type(endian) == PT_LOAD) {
        let end = table_end(ph.p_offset(endian), 1, ph.p_filesz(endian));
        if end > len {
            return Err(past_end("a loadable segment", end));
        }
    }
    // A file that changed while it was read is being written, whatever the lease said.
    let after = file.metadata().map_err(|e| e.to_string())?;
    if after.len() != len || after.modified().ok() != before.modified().ok() {
        return Err("the file is being written (it changed while it was checked)".into());
    }
    Ok(())
}

/// `fcntl`'s "signal to send on a lease break" command (Linux, every architecture); the libc
/// crate does not name it.
const F_SETSIG: libc::c_int = 10;

/// Whether a process has the file open for writing: the kernel refuses a read lease (EAGAIN)
/// exactly then. Where leases are not available (another owner without CAP_LEASE, a
/// filesystem without them) the answer is "no", and the other checks remain.
fn being_written(file: &File) -> bool {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only. The lease-break
    // signal is set to SIGURG, ignored by default, because the default SIGIO would end the
    // process should a writer open the file during the instant the lease is held.
    unsafe {
        if libc::fcntl(fd, F_SETSIG, libc::SIGURG) != 0 {
            return false;
        }
        if libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) == 0 {
            libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK);
            return false;
        }
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

/// The ELF machine of a library: what a package's target triple must agree with.
pub fn machine(path: &Path) -> Result<u16, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let data = ReadCache::new(&file);
    let header = FileHeader64::<Endianness>::parse(&data)
        .map_err(|_| "not a 64-bit ELF shared object".to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    Ok(header.e_machine(endian))
}

/// The ELF machine a target triple's architecture means, for the architectures Debian ships.
pub fn machine_of_target(target: &str) -> Option<u16> {
    use object::elf::*;
    let arch = target.split('-').next()?;
    Some(match arch {
        "x86_64" => EM_X86_64,
        "aarch64" => EM_AARCH64,
        "powerpc64le" | "powerpc64" => EM_PPC64,
        "s390x" => EM_S390,
        "riscv64gc" | "riscv64" => EM_RISCV,
        "loongarch64" => EM_LOONGARCH,
        "mips64el" | "mips64" => EM_MIPS,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test binary itself is a 64-bit ELF file that maps fine.
    fn me() -> std::path::PathBuf {
        std::env::current_exe().unwrap()
    }

    #[test]
    fn a_whole_file_passes_and_a_cut_one_is_refused() {
        check(&me()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.so");
        let bytes = std::fs::read(me()).unwrap();
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = check(&cut).unwrap_err();
        assert!(e.starts_with("truncated: "), "{e}");
        std::fs::write(&cut, b"#!/bin/sh\n").unwrap();
        assert!(check(&cut).unwrap_err().contains("not a 64-bit ELF"));
    }

    #[test]
    fn a_file_open_for_writing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("w.so");
        std::fs::copy(me(), &lib).unwrap();
        let writer = std::fs::OpenOptions::new().append(true).open(&lib).unwrap();
        assert!(check(&lib).unwrap_err().contains("being written"));
        drop(writer);
        check(&lib).unwrap();
    }

    #[test]
    fn machines() {
        assert_eq!(
            machine(&me()).ok(),
            machine_of_target(env!("SVCMGR_TARGET"))
        );
        assert_eq!(machine_of_target("sparc-sun-solaris"), None);
    }
}
