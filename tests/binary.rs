//! End to end: the real `wangge` binary, started as a user would, on a real socket.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::wire::{free_port, http, http_as};

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
    let server = start_on(&db, bind_ip);
    (server, db)
}

fn start_on(db: &common::TestStore, bind_ip: &str) -> Server {
    start_with(db, bind_ip, &[])
}

fn start_with(db: &common::TestStore, bind_ip: &str, envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .envs(envs.iter().copied())
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
            return server;
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

fn login(port: u16) -> String {
    let login = r#"{"username":"demo_admin","password":"wangge-demo"}"#;
    let (_, body) = http(port, "POST", "/api/auth/login", Some(login)).expect("login");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn every_acknowledged_case_survives_a_kill_9_in_the_middle_of_intake() {
    let db = common::fresh_store().await;
    let mut server = start_on(&db, "127.0.0.1");
    let port = server.port;
    let token = login(port);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop, token) = (acked.clone(), stop.clone(), token.clone());
            std::thread::spawn(move || {
                let mut k = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    k += 1;
                    let body = format!(
                        r#"{{"idempotency_key":"crash-{w}-{k}","category":"0401","description":"违建","lon":{},"lat":34.74,"crs":"wgs84","register":true}}"#,
                        113.60 + f64::from(w) * 0.01 + f64::from(k) * 1e-5
                    );
                    match http_as(port, "POST", "/api/cases", Some(&body), Some(&token)) {
                        Some((201, b)) => {
                            let v: serde_json::Value = serde_json::from_str(&b).expect("json");
                            acked.lock().unwrap().push(v["id"].as_i64().expect("id"));
                        }
                        Some((s, b)) => panic!("intake answered {s}: {b}"),
                        // The server died under us: whatever was in flight was never acknowledged.
                        None => break,
                    }
                }
            })
        })
        .collect();
    // Kill in the middle of intake: once a few hundred cases are acknowledged and the writers
    // are still going (a condition, not a fixed delay).
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "intake never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "only {} cases acknowledged before the kill",
        acked.len()
    );

    let server = start_on(&db, "127.0.0.1");
    let token = login(server.port);
    for id in &acked {
        let (status, body) = http_as(
            server.port,
            "GET",
            &format!("/api/cases/{id}"),
            None,
            Some(&token),
        )
        .unwrap();
        assert_eq!(status, 200, "acknowledged case {id} lost: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        // Whole or nothing: the dispatch decision and its events came with the case.
        assert!(v["dispatch_rule"].is_string(), "{body}");
        let actions: Vec<&str> = v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["case.created", "case.register", "case.auto_dispatch"]
        );
    }
}

/// CPU time (user + system) the process has used, in clock ticks (Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn sigterm_during_a_long_validation_stops_the_process() {
    let db = common::fresh_store().await;
    // Validation is near-linear in the vertices, but every pair of overlapping features is
    // intersected: 2,500 identical streets make about three million overlap computations, far
    // longer than this test waits. The request timeout is out of the way, so only the shutdown
    // can stop it.
    let mut server = start_with(
        &db,
        "127.0.0.1",
        &[
            ("WANGGE_REQUEST_TIMEOUT_SECS", "3600"),
            ("WANGGE_SHUTDOWN_GRACE_SECS", "1"),
        ],
    );
    let port = server.port;
    let token = login(port);
    let square = "[[113.60,34.74],[113.61,34.74],[113.61,34.75],[113.60,34.75],[113.60,34.74]]";
    let features: Vec<String> = (0..2_500)
        .map(|i| {
            format!(
                r#"{{"type":"Feature","properties":{{"code":"410103{:03}","name":"s","parent_code":"410103"}},"geometry":{{"type":"Polygon","coordinates":[{square}]}}}}"#,
                i % 1000
            )
        })
        .collect();
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    );
    let pid = server.child.id();
    let before = cpu_ticks(pid);
    let request = std::thread::spawn(move || {
        http_as(
            port,
            "POST",
            "/api/import/layers/street?dry_run=true",
            Some(&body),
            Some(&token),
        )
    });
    // Wait until the validation is busy: two seconds of CPU beyond what start-up used.
    let deadline = Instant::now() + Duration::from_secs(120);
    while cpu_ticks(pid) < before + 200 {
        assert!(Instant::now() < deadline, "the validation never got busy");
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the server died early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !request.is_finished(),
        "the validation ended too soon to test"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // A liveness bound, not a timing claim: before the fix the process never exited.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "shutdown exits 0, got {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 60 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = request.join();
}

/// Sends `head` as it is (the request line and headers, without the final blank line) and
/// reads the whole answer: (status, content type, body).
fn raw_exchange(port: u16, head: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before it has read everything; the answer still counts.
    let _ = s.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head[9..12].parse().expect("status");
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

#[tokio::test]
async fn a_100_kb_uri_and_a_100_kb_header_get_json_errors_on_a_real_socket() {
    let (server, _db) = start("127.0.0.1").await;
    let long = "a".repeat(100 * 1024);
    let cases = [
        (
            format!("GET /api/layers?x={long} HTTP/1.1\r\nHost: 127.0.0.1"),
            414,
            "uri_too_long",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {long}"),
            431,
            "headers_too_large",
        ),
        // Larger than hyper's own read buffer: refused by hyper before the router.
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}",
                "b".repeat(500 * 1024)
            ),
            431,
            "headers_too_large",
        ),
        (
            "GE\u{1}T / HTTP/1.1\r\nHost: 127.0.0.1".to_owned(),
            400,
            "malformed_request",
        ),
    ];
    for (head, status, code) in cases {
        let (got, content_type, body) = raw_exchange(server.port, &head);
        assert_eq!(got, status, "{}…: {body}", &head[..40]);
        assert!(
            content_type.starts_with("application/json"),
            "{code}: {content_type}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
        assert_eq!(v["code"], code, "{body}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The service is still there.
    assert_eq!(http(server.port, "GET", "/healthz", None).unwrap().0, 200);
}
