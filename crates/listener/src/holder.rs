//! Which program holds a port, so "port in use" can name it. Linux reads `/proc`; elsewhere,
//! and when `/proc` does not tell (another user's process), the answer is `None`.

#[cfg(target_os = "linux")]
pub fn listening_process(port: u16) -> Option<String> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if inodes
                .iter()
                .any(|inode| target == format!("socket:[{inode}]"))
            {
                let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                return Some(format!("{} (pid {pid})", name.trim()));
            }
        }
    }
    None
}

#[cfg(not(target_os = "linux"))]
pub fn listening_process(_port: u16) -> Option<String> {
    None
}

/// Inodes of sockets in state LISTEN (`0A`) on `port`, from a `/proc/net/tcp*` table.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    let port_hex = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            (local_port == port_hex && *fields.get(3)? == "0A")
                .then(|| fields.get(9).map(|s| s.to_string()))?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_proc_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:B9F0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:B9F0 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 41299 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(
            super::listening_inodes(table, 47600),
            vec!["41234".to_owned()]
        );
        assert!(super::listening_inodes(table, 47601).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn names_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holder = super::listening_process(port).expect("our own socket is found");
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "{holder}"
        );
    }
}
