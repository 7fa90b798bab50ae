//! Attempted escapes: each must fail, and the outcome must say what stopped it.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use candor_sandbox::{Exit, Limits, Program, Sandbox, Toolchain, Violation};

/// The real interpreter behind `python3` (pyenv's shim is a script), asked once.
fn python() -> &'static Toolchain {
    static PYTHON: OnceLock<Toolchain> = OnceLock::new();
    PYTHON.get_or_init(|| Toolchain::python("python3").expect("python3 on PATH"))
}

fn sandbox(limits: Limits) -> Sandbox {
    python().show_in(Sandbox::new(limits))
}

fn run_python(limits: Limits, code: &str) -> candor_sandbox::Outcome {
    let exe = python().executable.display().to_string();
    let program = Program::new([exe.as_str(), "-I", "-B", "main.py"]).file("main.py", code);
    sandbox(limits).run(&program).expect("sandbox runs")
}

fn sh(limits: Limits, script: &str) -> candor_sandbox::Outcome {
    sandbox(limits)
        .run(&Program::new(["/bin/sh", "-c", script]))
        .expect("sandbox runs")
}

fn short(wall_s: u64) -> Limits {
    Limits {
        wall: Duration::from_secs(wall_s),
        ..Limits::default()
    }
}

#[test]
fn runs_a_program_and_captures_its_output() {
    let out = run_python(
        short(10),
        "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\nsys.exit(3)\n",
    );
    assert_eq!(out.exit, Exit::Code(3));
    assert_eq!(out.violation, None);
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.stderr, "oops\n");
    let ok = sh(short(10), "echo fine > /tmp/x && cat /tmp/x");
    assert!(ok.success(), "{ok:?}");
    assert_eq!(ok.stdout, "fine\n");
}

#[test]
fn a_tcp_connection_even_to_loopback_is_a_violation() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let out = run_python(
        short(10),
        &format!("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')\n"),
    );
    assert_eq!(out.violation, Some(Violation::Network), "{out:?}");
    assert!(out.stderr.contains("PermissionError"), "{out:?}");
    assert!(!out.stdout.contains("connected"));
    assert_eq!(
        listener.accept().map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock)
    );
}

#[test]
fn a_datagram_to_an_address_is_a_violation() {
    let out = run_python(
        short(10),
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.sendto(b'x', ('10.0.0.1', 53))\nprint('sent')\n",
    );
    assert_eq!(out.violation, Some(Violation::Network), "{out:?}");
    assert!(!out.stdout.contains("sent"));
}

#[test]
fn internet_sockets_may_be_made_and_unix_ones_used() {
    // Runtimes probe for IPv4 and IPv6 (the JVM does); nothing is reachable from them.
    let out = run_python(
        short(10),
        "import socket\nsocket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()\n\
         server = socket.socket(socket.AF_UNIX)\nserver.bind('/tmp/s')\nserver.listen()\n\
         client = socket.socket(socket.AF_UNIX)\nclient.connect('/tmp/s')\n\
         peer, _ = server.accept()\nclient.sendall(b'over unix')\nprint(peer.recv(9).decode())\n",
    );
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "over unix\n");
}

#[test]
fn sockets_of_other_families_are_forbidden() {
    let out = run_python(
        short(10),
        "import socket\nsocket.socket(socket.AF_NETLINK, socket.SOCK_RAW)\nprint('made')\n",
    );
    assert_eq!(out.violation, Some(Violation::ForbiddenSyscall), "{out:?}");
    assert!(!out.stdout.contains("made"));
}

#[test]
fn writing_outside_tmp_fails_and_leaves_the_host_untouched() {
    let marker = std::env::temp_dir().join(format!("candor-escape-{}", std::process::id()));
    let target = format!("{}/written", env!("CARGO_MANIFEST_DIR"));
    let out = sh(
        short(10),
        &format!(
            "echo x > /usr/escape; echo x > /escape; echo x > {target}; echo x > {}",
            marker.display()
        ),
    );
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert_eq!(out.violation, Some(Violation::WriteOutside), "{out:?}");
    assert!(!std::path::Path::new("/usr/escape").exists());
    assert!(!std::path::Path::new(&target).exists());
    assert!(!marker.exists());
}

#[test]
fn a_relative_write_outside_tmp_is_seen_too() {
    let out = run_python(
        short(10),
        "import os\nos.chdir('/usr')\ntry:\n    open('../etc/escape', 'w')\nexcept OSError as e:\n    print(e.strerror)\n",
    );
    assert_eq!(out.violation, Some(Violation::WriteOutside), "{out:?}");
    assert!(!std::path::Path::new("/etc/escape").exists());
    // Writing where the program may, through a relative path, is no violation.
    let fine = sh(
        short(10),
        "cd /tmp && mkdir d && cd d && echo x > ../y && cat /tmp/y > /dev/null",
    );
    assert!(fine.success(), "{fine:?}");
}

#[test]
fn files_outside_the_view_do_not_exist() {
    let own = format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
    assert!(std::path::Path::new(&own).exists());
    let out = sh(
        short(10),
        &format!("cat {own} /etc/passwd /root/.bashrc; ls /work /home"),
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_ne!(out.exit, Exit::Code(0));
    assert!(out.stderr.contains("No such file"), "{out:?}");
    assert_eq!(out.violation, Some(Violation::ReadOutside), "{out:?}");
    // Probing system locations, or paths the host does not have either, is no violation.
    let probe = sh(
        short(10),
        "cat /etc/hostname /sys/nothing /nonexistent/x; true",
    );
    assert_eq!(probe.violation, None, "{probe:?}");
}

#[test]
fn a_fork_bomb_is_contained_and_killed() {
    let limits = Limits {
        wall: Duration::from_secs(3),
        processes: 32,
        ..Limits::default()
    };
    let out = sh(limits, "bomb() { bomb | bomb & }; bomb; wait");
    assert!(
        matches!(
            out.violation,
            Some(Violation::Timeout | Violation::Survivors | Violation::CpuTime)
        ),
        "{out:?}"
    );
    assert!(out.wall < Duration::from_secs(10), "{:?}", out.wall);
}

#[test]
fn allocating_8_gb_fails() {
    let out = run_python(short(20), "x = bytearray(8 << 30)\nprint('allocated')\n");
    assert!(out.stderr.contains("MemoryError"), "{out:?}");
    assert_eq!(out.violation, Some(Violation::Memory), "{out:?}");
    assert!(!out.stdout.contains("allocated"));
    assert_ne!(out.exit, Exit::Code(0));
}

#[test]
fn spinning_past_the_cpu_limit_is_a_violation() {
    let limits = Limits {
        cpu: Duration::from_secs(1),
        wall: Duration::from_secs(20),
        ..Limits::default()
    };
    let out = sh(limits, "while :; do :; done");
    assert_eq!(out.violation, Some(Violation::CpuTime), "{out:?}");
    assert!(out.wall < Duration::from_secs(10));
}

#[test]
fn sleeping_past_the_timeout_is_killed() {
    let out = sh(short(1), "sleep 30");
    assert_eq!(out.violation, Some(Violation::Timeout), "{out:?}");
    assert!(out.wall < Duration::from_secs(5), "{:?}", out.wall);
}

#[test]
fn a_child_that_outlives_its_parent_is_killed() {
    let out = sh(short(20), "sleep 30 & echo started");
    assert_eq!(out.violation, Some(Violation::Survivors), "{out:?}");
    assert_eq!(out.stdout, "started\n");
    assert!(out.wall < Duration::from_secs(5), "{:?}", out.wall);
}

#[test]
fn namespaces_and_mounts_are_forbidden_system_calls() {
    let out = sh(
        short(10),
        "exec /usr/bin/unshare --user --map-root-user true",
    );
    assert_eq!(out.violation, Some(Violation::ForbiddenSyscall), "{out:?}");
}

#[test]
fn writing_past_the_file_size_limit_is_a_violation() {
    let limits = Limits {
        file_size_bytes: 1 << 20,
        ..short(10)
    };
    let out = sh(limits, "exec head -c 4000000 /dev/zero > /tmp/big");
    assert_eq!(out.violation, Some(Violation::FileSize), "{out:?}");
}

#[test]
fn unisolated_runs_keep_limits_and_the_timeout() {
    let sandbox = Sandbox::unisolated(short(1));
    let ok = sandbox
        .run(&Program::new(["/bin/sh", "-c", "cat main.txt"]).file("main.txt", "hi"))
        .expect("runs");
    assert_eq!(ok.stdout, "hi");
    let slow = sandbox
        .run(&Program::new(["/bin/sh", "-c", "sleep 30"]))
        .expect("runs");
    assert_eq!(slow.violation, Some(Violation::Timeout));
    assert!(slow.wall < Duration::from_secs(5));
}

#[test]
fn many_sandboxes_at_once_do_not_hold_each_other() {
    let started = std::time::Instant::now();
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| s.spawn(move || sh(short(10), &format!("sleep 0.{i}; echo {i}"))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(out.stdout, format!("{i}\n"), "{out:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn a_missing_program_is_an_error_that_names_it() {
    let sandbox = Sandbox::new(short(10));
    sandbox.check().expect("this machine can build the sandbox");
    let err = sandbox
        .run(&Program::new(["/usr/bin/no-such-program"]))
        .expect_err("missing program");
    assert!(
        matches!(err, candor_sandbox::SandboxError::Exec { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("/usr/bin/no-such-program"),
        "{err}"
    );
    let relative = sandbox
        .run(&Program::new(["python3"]))
        .expect_err("relative path");
    assert!(relative.to_string().contains("absolute path"), "{relative}");
    let mut crowded = Program::new(["/bin/true"]);
    crowded.env = (0..70)
        .map(|i| (format!("V{i}"), "x".to_string()))
        .collect();
    let err = sandbox.run(&crowded).expect_err("too many variables");
    assert!(err.to_string().contains("environment variables"), "{err}");
}
