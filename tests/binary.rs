//! End to end: the real `wangge` binary, started as a user would, on a real socket.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A minimal HTTP/1.1 exchange, so the test needs no HTTP client crate.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.get(9..12)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn start(bind_ip: &str) -> (Server, common::TestStore) {
    // The binary migrates and seeds on its own: give it an empty database.
    let db = common::fresh_store().await;
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .env("WANGGE_DATABASE_URL", &db.url)
        .env("WANGGE_BIND", format!("{bind_ip}:{port}"))
        .env("WANGGE_GEODATA", common::mini_city())
        .env(
            "WANGGE_WEB_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/web"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start wangge");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((200, _)) = http(port, "GET", "/healthz", None) {
            return (server, db);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("wangge did not become healthy within 60 s");
}

#[tokio::test]
async fn the_binary_starts_on_an_empty_database_serves_the_city_and_stops_cleanly_on_sigterm() {
    let (mut server, _db) = start("127.0.0.1").await;
    let (status, body) = http(server.port, "GET", "/api/layers/district", None).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("二七区"));
    let login = r#"{"username":"demo_dispatcher","password":"wangge-demo"}"#;
    let (status, body) = http(server.port, "POST", "/api/auth/login", Some(login)).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, page) = http(server.port, "GET", "/", None).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("网格"));

    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0, got {status}");
            break;
        }
        assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn on_a_non_loopback_address_the_demo_logins_are_refused() {
    let (server, _db) = start("0.0.0.0").await;
    let login = r#"{"username":"demo_admin","password":"wangge-demo"}"#;
    let (status, body) = http(server.port, "POST", "/api/auth/login", Some(login)).unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("demo_credentials_refused"), "{body}");
}
