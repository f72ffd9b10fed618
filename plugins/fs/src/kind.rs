//! The filesystem types this library serves, and what each one needs: a device to check,
//! format and wipe (ext2/3/4, xfs), a source directory (bind), or nothing (tmpfs).

/// One `fs.<type>` driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Bind,
    Tmpfs,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Ext4,
        Kind::Ext3,
        Kind::Ext2,
        Kind::Xfs,
        Kind::Bind,
        Kind::Tmpfs,
    ];

    /// The `type` keyword value, and the `-t` of mount.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ext2 => "ext2",
            Kind::Ext3 => "ext3",
            Kind::Ext4 => "ext4",
            Kind::Xfs => "xfs",
            Kind::Bind => "bind",
            Kind::Tmpfs => "tmpfs",
        }
    }

    pub fn driver_id(self) -> String {
        format!("fs.{}", self.name())
    }

    pub fn from_driver_id(id: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.driver_id() == id)
    }

    /// A filesystem made on a block device or image file: checked, formatted, wiped.
    pub fn formatted(self) -> bool {
        !matches!(self, Kind::Bind | Kind::Tmpfs)
    }

    /// Whether `dev` is required (tmpfs mounts memory, its `dev` is a free word).
    pub fn needs_dev(self) -> bool {
        self != Kind::Tmpfs
    }

    pub fn is_ext(self) -> bool {
        matches!(self, Kind::Ext2 | Kind::Ext3 | Kind::Ext4)
    }

    pub fn help(self) -> &'static str {
        match self {
            Kind::Ext2 | Kind::Ext3 | Kind::Ext4 => {
                "An ext filesystem on a block device or an image file, checked with e2fsck -p \
                 before it is mounted."
            }
            Kind::Xfs => {
                "An xfs filesystem on a block device or an image file (xfs checks \
                          itself when mounted)."
            }
            Kind::Bind => "A directory bind-mounted on another (dev is the source directory).",
            Kind::Tmpfs => "A tmpfs (memory) filesystem; its content is lost when unmounted.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_driver_id(&k.driver_id()), Some(k));
        }
        assert_eq!(Kind::from_driver_id("fs.ext9"), None);
        assert!(Kind::Ext3.formatted() && Kind::Ext3.is_ext());
        assert!(!Kind::Bind.formatted() && Kind::Bind.needs_dev());
        assert!(!Kind::Tmpfs.needs_dev());
    }
}
