//! Memory of a process and all its descendants, from /proc. RSS counts a shared library once per
//! process that maps it, so the sum overstates what the tree costs the machine; PSS shares each
//! page among the processes that map it, so the PSS sum is what the tree really holds.

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct TreeMemory {
    pub processes: usize,
    pub rss_mib: f64,
    pub pss_mib: f64,
    /// Each process's name (`/proc/PID/comm`) and PSS, to see where the memory is.
    pub by_process: Vec<(String, f64)>,
}

pub fn tree_memory(root: u32) -> TreeMemory {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut memory = TreeMemory::default();
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        let pss = kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:") / 1024.0;
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        memory.processes += 1;
        memory.rss_mib += kib(&format!("/proc/{pid}/status"), "VmRSS:") / 1024.0;
        memory.pss_mib += pss;
        memory.by_process.push((name.trim().to_owned(), pss));
        pending.extend(children.get(&pid).into_iter().flatten());
    }
    memory
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may hold spaces: the fields after the last ')' are fixed.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn kib(path: &str, key: &str) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0.0)
}
