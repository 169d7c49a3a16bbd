//! Which folders sit on a file system that sends no change events (network drives, WSL's
//! `/mnt/c`, Docker bind mounts), read off `/proc/self/mountinfo`.

use std::path::{Path, PathBuf};

/// File systems that give no inotify events for changes made elsewhere (the host, the network).
const EVENTLESS_FS: &[&str] = &[
    "9p", "drvfs", "nfs", "nfs4", "cifs", "smb3", "smbfs", "vboxsf", "fuse", "fuseblk",
];

/// The file system type of the mount that holds `path`, when it is one that gives no events.
pub(super) fn eventless_fs_of(path: &Path) -> Option<String> {
    eventless_fs_in(&std::fs::read_to_string("/proc/self/mountinfo").ok()?, path)
}

/// [`eventless_fs_of`] for a given mountinfo text.
fn eventless_fs_in(mountinfo: &str, path: &Path) -> Option<String> {
    fs_type_of(mountinfo, path).filter(|fs| EVENTLESS_FS.contains(&fs.as_str()) || fs.starts_with("fuse."))
}

/// The file system type of the longest mount point in `mountinfo` (proc(5) format) holding `path`.
fn fs_type_of(mountinfo: &str, path: &Path) -> Option<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = unescape_mount(left.split(' ').nth(4)?);
            let fs = right.split(' ').next()?;
            path.starts_with(&mount_point)
                .then(|| (mount_point.as_os_str().len(), fs.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\ooo`.
fn unescape_mount(field: &str) -> PathBuf {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    PathBuf::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_of_a_path_is_the_longest_prefix() {
        let info = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                    40 22 0:50 / /mnt/c rw,noatime - 9p drvfs rw\n\
                    41 22 0:51 / /home/me/net\\040share rw - cifs //srv/share rw\n\
                    42 22 0:52 / /mnt/cache rw - ext4 /dev/sdb1 rw\n";
        assert_eq!(
            fs_type_of(info, Path::new("/mnt/c/Users/me/site")).as_deref(),
            Some("9p")
        );
        assert_eq!(
            fs_type_of(info, Path::new("/home/me/net share/site")).as_deref(),
            Some("cifs")
        );
        assert_eq!(
            fs_type_of(info, Path::new("/mnt/cache/site")).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            fs_type_of(info, Path::new("/mnt/cx")).as_deref(),
            Some("ext4"),
            "whole components only"
        );
        assert_eq!(fs_type_of(info, Path::new("/srv/site")).as_deref(), Some("ext4"));
    }

    #[test]
    fn folders_without_events_are_polled() {
        let line = |fs: &str, at: &str| format!("50 22 0:60 / {at} rw,relatime - {fs} src rw\n");
        let mut info = line("ext4", "/");
        for (fs, at) in [
            ("9p", "/mnt/c"),
            ("drvfs", "/mnt/d"),
            ("nfs4", "/net"),
            ("cifs", "/smb"),
            ("vboxsf", "/media/sf"),
            ("fuse.sshfs", "/remote"),
            ("overlay", "/app"),
            ("tmpfs", "/run"),
        ] {
            info.push_str(&line(fs, at));
        }
        for (at, polled) in [
            ("/mnt/c/site", true),
            ("/mnt/d/x", true),
            ("/net/home/site", true),
            ("/smb/site", true),
            ("/media/sf/site", true),
            ("/remote/site", true),
            ("/app/site", false),
            ("/run/x", false),
            ("/home/me/site", false),
        ] {
            assert_eq!(eventless_fs_in(&info, Path::new(at)).is_some(), polled, "{at}");
        }
    }
}
