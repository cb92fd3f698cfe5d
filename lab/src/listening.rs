//! Which process listens where, from /proc: the lab's children are started
//! on ports found free a moment earlier, and only the child's own listening
//! socket proves it started (another lab or test may have taken the port).

use std::net::{IpAddr, SocketAddr};

const TCP_LISTEN: &str = "0A";

/// Whether process `pid` holds a socket listening on `addr` (or on the
/// wildcard address of its family with that port).
pub fn listens(pid: u32, addr: SocketAddr) -> bool {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| socket_inode(link.to_str()?))
        .any(|inode| inodes.contains(&inode))
}

fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn listening_inodes(addr: SocketAddr) -> Vec<u64> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| listening_inode(line, addr))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The inode of a /proc/net/tcp line if it listens on `addr`.
/// Fields: sl local_address rem_address st ... inode (the tenth).
fn listening_inode(line: &str, addr: SocketAddr) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (ip_hex, port_hex) = fields.get(1)?.split_once(':')?;
    if *fields.get(3)? != TCP_LISTEN || u16::from_str_radix(port_hex, 16).ok()? != addr.port() {
        return None;
    }
    let matches = match (ip_hex.len(), addr.ip()) {
        // IPv4 is one native-endian (little on x86 and arm64) u32 in hex.
        (8, IpAddr::V4(want)) => {
            let got = u32::from_str_radix(ip_hex, 16).ok()?.to_le_bytes();
            got == want.octets() || got == [0; 4]
        }
        (32, _) => ip_hex.chars().all(|c| c == '0'),
        _ => false,
    };
    matches.then(|| fields.get(9)?.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_own_listener_and_only_on_its_address() {
        let ip: IpAddr = "127.0.0.11".parse().unwrap();
        let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(listens(std::process::id(), addr));
        let elsewhere = SocketAddr::new("127.0.0.12".parse().unwrap(), addr.port());
        assert!(!listens(std::process::id(), elsewhere));
        drop(listener);
        assert!(!listens(std::process::id(), addr));
    }

    #[test]
    fn reads_a_proc_line() {
        // 127.0.0.11:3000 listening, inode 4242.
        let line = "  1: 0B00007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 4242 1 0";
        let addr: SocketAddr = "127.0.0.11:3000".parse().unwrap();
        assert_eq!(listening_inode(line, addr), Some(4242));
        assert_eq!(
            listening_inode(line, "127.0.0.1:3000".parse().unwrap()),
            None
        );
        let established = line.replace(" 0A ", " 01 ");
        assert_eq!(listening_inode(&established, addr), None);
    }
}
