//! Which process listens on a port, so a test harness never mistakes another
//! test's server (which took the "free" port first) for its own.
#![allow(dead_code)]

/// Whether process `pid` holds a listening TCP socket on `port`: the socket
/// inodes listening on the port (/proc/net/tcp{,6}) against the process's fds.
pub fn listens(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_str()?;
            link.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        })
        .any(|inode| inodes.contains(&inode))
}

fn listening_inodes(port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    // sl local_address rem_address st ... inode (field 9)
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let local_port = f.get(1)?.rsplit(':').next()?;
                    let listening =
                        u16::from_str_radix(local_port, 16).ok()? == port && *f.get(3)? == LISTEN;
                    listening.then(|| f.get(9)?.parse().ok()).flatten()
                })
                .collect::<Vec<u64>>()
        })
        .collect()
}
