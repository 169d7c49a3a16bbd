//! Shared by the benchmarks: a generated project tree and readings from /proc.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

/// Folders and files per folder: (app folders, files each), (node_modules folders, files each).
pub const APP: (usize, usize) = (200, 12);
pub const DEPS: (usize, usize) = (1500, 15);

/// Writes a front-end project of ~25,000 files in ~1,700 folders, most in `node_modules`, with an
/// `index.html` at the top and `src/a/b/c/d/e/f/deep.html` seven folders down. Returns (files,
/// folders).
pub fn generate_tree(root: &Path) -> (usize, usize) {
    let (mut files, mut folders) = (0, 0);
    std::fs::write(root.join("index.html"), "<!doctype html><p>big tree</p>").unwrap();
    for d in 0..APP.0 {
        let dir = root.join(format!("src/mod{:02}/part{d:03}", d % 20));
        std::fs::create_dir_all(&dir).unwrap();
        folders += 1;
        for f in 0..APP.1 {
            std::fs::write(
                dir.join(format!("file{f}.js")),
                format!("export const v = {f};\n"),
            )
            .unwrap();
            files += 1;
        }
    }
    for d in 0..DEPS.0 {
        let dir = root.join(format!("node_modules/pkg{:03}/lib/sub{d}", d / 10));
        std::fs::create_dir_all(&dir).unwrap();
        folders += 1;
        for f in 0..DEPS.1 {
            std::fs::write(dir.join(format!("m{f}.js")), "module.exports = 1;\n").unwrap();
            files += 1;
        }
    }
    let deep = root.join("src/a/b/c/d/e/f");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("deep.html"), "<p>0</p>").unwrap();
    (files + 2, folders + 8)
}

/// Resident memory of one process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A process and all its descendants (a Node server's esbuild helper, nginx's workers).
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The command name may hold spaces and parentheses: the fields start after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
        if let Some(ppid) = ppid {
            parents.push((child, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// Resident memory of a process and its descendants, in KiB.
pub fn rss_tree_kib(pid: u32) -> u64 {
    process_tree(pid).into_iter().map(rss_kib).sum()
}

/// How many inotify watches a process holds (from /proc/PID/fdinfo).
pub fn inotify_watches(pid: u32) -> usize {
    let mut watches = 0;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let is_inotify = std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().contains("inotify"));
        if is_inotify {
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy()))
                    .unwrap_or_default();
            watches += info.lines().filter(|l| l.starts_with("inotify wd:")).count();
        }
    }
    watches
}

/// Context switches (voluntary and not) of a process's threads and its descendants' so far: a
/// count that does not depend on how fast the machine is at the moment.
pub fn context_switches_tree(pid: u32) -> u64 {
    let mut total = 0;
    for p in process_tree(pid) {
        for task in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            total += status
                .lines()
                .filter(|l| {
                    l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:")
                })
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    total
}
