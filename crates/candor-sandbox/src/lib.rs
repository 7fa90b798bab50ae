//! Run untrusted, model-written programs with nothing but the Linux kernel.
//!
//! [`Sandbox::run`] starts a program in new user, PID, mount, network, IPC and UTS namespaces:
//! no network at all (not even loopback), a root file system that is a read-only view of the
//! toolchain ([`Sandbox::read_only`]) plus one writable, size-capped `/tmp`, no capabilities,
//! `no_new_privs`, a seccomp filter (mounts, namespaces, tracing, kernel modules, io_uring and
//! sockets other than Unix and Internet ones kill the program), rlimits on CPU time, address
//! space, processes, open files and file size, and a wall-clock timeout that kills the whole
//! namespace. Output is captured and capped. A supervisor in the parent answers the filter's
//! notifications: it refuses `connect` and `sendto` to any non-Unix address and reports
//! [`Violation::Network`]; it reports opens for writing outside `/tmp` as
//! [`Violation::WriteOutside`], opens of host paths outside the view as
//! [`Violation::ReadOutside`], and a large `mmap` past the address-space limit as
//! [`Violation::Memory`], and lets those calls go on for the kernel to refuse.
//!
//! What it does not protect against: kernel bugs reachable through the allowed system calls;
//! side channels and CPU or memory-bandwidth contention with the host; reading what the view
//! exposes (the toolchain directories, world-readable as they are); total memory beyond the
//! per-process address-space limit times the process limit. When candor itself runs as root,
//! the program's files are root's outside the namespace; running candor as an ordinary user
//! adds a layer.
//!
//! ```no_run
//! use candor_sandbox::{Limits, Program, Sandbox, Toolchain};
//!
//! let python = Toolchain::python("python3")?; // the real interpreter and its prefix
//! let sandbox = python.show_in(Sandbox::new(Limits::default()));
//! let exe = python.executable.display().to_string();
//! let outcome =
//!     sandbox.run(&Program::new([exe.as_str(), "-I", "main.py"]).file("main.py", "print(1 + 1)"))?;
//! assert!(outcome.success() && outcome.stdout == "2\n");
//! # Ok::<(), candor_sandbox::SandboxError>(())
//! ```
//!
//! [`Sandbox::unisolated`] is the explicit fallback for kernels without unprivileged user
//! namespaces: limits, seccomp and the timeout, but the host's file system and PID space (and,
//! when candor runs as root, no process limit: the kernel exempts root from it).

mod child;
mod seccomp;
mod toolchain;

pub use toolchain::Toolchain;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use child::{Op, Plan};

/// Resource limits of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// CPU time of each process (`SIGXCPU`, then `SIGKILL` a second later).
    pub cpu: Duration,
    /// Wall-clock time of the whole run; past it every process of the sandbox is killed.
    pub wall: Duration,
    /// Address space of each process.
    pub memory_bytes: u64,
    /// Processes (and threads) alive at once.
    pub processes: u64,
    pub open_files: u64,
    /// Largest file a process may write (`SIGXFSZ`).
    pub file_size_bytes: u64,
    /// Size of the writable `/tmp`.
    pub tmp_bytes: u64,
    /// Bytes kept of stdout and of stderr each; the rest is read and dropped.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu: Duration::from_secs(10),
            wall: Duration::from_secs(15),
            memory_bytes: 2 << 30,
            processes: 64,
            open_files: 256,
            file_size_bytes: 16 << 20,
            tmp_bytes: 64 << 20,
            output_bytes: 1 << 20,
        }
    }
}

/// A program to run: its command line (an absolute path first) and files written into its
/// working directory (`/tmp` inside the sandbox) before it starts.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub command: Vec<String>,
    pub files: Vec<(String, Vec<u8>)>,
    pub env: Vec<(String, String)>,
}

impl Program {
    pub fn new(command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub fn file(mut self, name: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.into(), contents.into()));
        self
    }
}

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// A limit or rule the program ran into, as the kernel reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Still running at the wall-clock limit; every process was killed.
    Timeout,
    /// Past the CPU-time limit.
    CpuTime,
    /// Wrote past the file-size limit.
    FileSize,
    /// Made a system call the filter denies (a mount, ptrace, a socket of a family other than
    /// Unix and Internet ...).
    ForbiddenSyscall,
    /// Tried to reach a network address (`connect` or `sendto`); refused with `EACCES`.
    Network,
    /// Opened a file for writing outside `/tmp` (and `/dev`, `/proc`); the read-only root
    /// refused it.
    WriteOutside,
    /// Opened a path outside the view that exists on the host (the checkout, a home
    /// directory ...); inside, it does not exist. System locations that libraries probe
    /// (`/etc`, `/sys`, `/run`, `/var`) are not counted.
    ReadOutside,
    /// Mapped memory past the address-space limit (one request of 64 MiB or more); the
    /// kernel refused it.
    Memory,
    /// Left processes running after it exited; they were killed.
    Survivors,
}

impl Violation {
    pub fn name(self) -> &'static str {
        match self {
            Violation::Timeout => "timeout",
            Violation::CpuTime => "cpu_time",
            Violation::FileSize => "file_size",
            Violation::ForbiddenSyscall => "forbidden_syscall",
            Violation::Network => "network",
            Violation::WriteOutside => "write_outside",
            Violation::ReadOutside => "read_outside",
            Violation::Memory => "memory",
            Violation::Survivors => "survivors",
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub exit: Exit,
    pub violation: Option<Violation>,
    pub stdout: String,
    pub stderr: String,
    /// Output past [`Limits::output_bytes`] was dropped.
    pub truncated: bool,
    pub wall: Duration,
}

impl Outcome {
    /// Exit code 0 and no violation.
    pub fn success(&self) -> bool {
        self.exit == Exit::Code(0) && self.violation.is_none()
    }
}

/// How much the sandbox isolates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Namespaces, read-only view, no capabilities, seccomp, limits.
    Namespaces,
    /// Limits, seccomp and the timeout only, on the host's file system: the user's choice.
    Unisolated,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The kernel refused a step of building the sandbox (no user namespaces, a mount ...).
    #[error("cannot set up the sandbox ({step}): {source}")]
    Unavailable {
        step: &'static str,
        source: std::io::Error,
    },
    #[error("cannot start {program} in the sandbox: {source}")]
    Exec {
        program: String,
        source: std::io::Error,
    },
    #[error("invalid program: {0}")]
    InvalidProgram(String),
    #[error("sandbox I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs programs under one set of limits and one file-system view.
#[derive(Clone, Debug)]
pub struct Sandbox {
    limits: Limits,
    isolation: Isolation,
    view: Vec<PathBuf>,
}

/// What every program needs: the system's binaries and libraries.
const SYSTEM_VIEW: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/alternatives",
];
const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"];
/// `execve` takes at most this many arguments and variables here (fixed arrays in the child).
const MAX_ARGS: usize = 63;

impl Sandbox {
    /// Full isolation with the system's binaries and libraries in view.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            isolation: Isolation::Namespaces,
            view: SYSTEM_VIEW.iter().map(PathBuf::from).collect(),
        }
    }

    /// Limits, seccomp and the timeout without namespaces; only on the user's explicit request.
    pub fn unisolated(limits: Limits) -> Self {
        Self {
            isolation: Isolation::Unisolated,
            ..Self::new(limits)
        }
    }

    /// Also show `path` (a toolchain's prefix) read-only.
    pub fn read_only(mut self, path: impl Into<PathBuf>) -> Self {
        self.view.push(path.into());
        self
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Run `/bin/true`: an error says why programs cannot run here.
    pub fn check(&self) -> Result<(), SandboxError> {
        let outcome = self.run(&Program::new(["/bin/true"]))?;
        if outcome.success() {
            Ok(())
        } else {
            Err(SandboxError::Unavailable {
                step: "run /bin/true",
                source: std::io::Error::other(format!(
                    "{:?} {:?}",
                    outcome.exit, outcome.violation
                )),
            })
        }
    }

    /// Run `program` to its end, a violation or the wall-clock limit.
    pub fn run(&self, program: &Program) -> Result<Outcome, SandboxError> {
        let scratch = Scratch::new(self.isolation)?;
        let plan = self.plan(program, &scratch)?;
        let pipes = [pipe()?, pipe()?, pipe()?];
        let [(out_r, out_w), (err_r, err_w), (status_r, status_w)] = pipes;
        let flags = match self.isolation {
            Isolation::Namespaces => {
                libc::CLONE_NEWUSER
                    | libc::CLONE_NEWPID
                    | libc::CLONE_NEWNS
                    | libc::CLONE_NEWNET
                    | libc::CLONE_NEWIPC
                    | libc::CLONE_NEWUTS
            }
            Isolation::Unisolated => 0,
        };
        // The socket the program hands its seccomp listener over (isolated runs only).
        let monitor = match self.isolation {
            Isolation::Namespaces => Some(socket_pair()?),
            Isolation::Unisolated => None,
        };
        let there = monitor.as_ref().map_or(-1, |(_, there)| there.0);
        let started = Instant::now();
        // SAFETY: the child only makes system calls on memory prepared in `plan`.
        let pid = unsafe { child::clone(flags) };
        if pid == 0 {
            unsafe { child::init(&plan, status_w.0, out_w.0, err_w.0, there) }
        }
        let monitor = monitor.map(|(here, _there)| here);
        drop((out_w, err_w, status_w));
        if pid < 0 {
            return Err(SandboxError::Unavailable {
                step: "create namespaces",
                source: std::io::Error::last_os_error(),
            });
        }
        let read = supervise(pid, [&out_r, &err_r, &status_r], monitor, self, started);
        let mut wait = 0;
        unsafe { libc::waitpid(pid, &mut wait, 0) };
        self.outcome(program, read, started)
    }

    fn outcome(
        &self,
        program: &Program,
        read: Read,
        started: Instant,
    ) -> Result<Outcome, SandboxError> {
        let Read {
            buffers: [stdout, stderr, status],
            truncated,
            timed_out,
            reported,
        } = read;
        let mut finished = None;
        for m in status.chunks_exact(child::MESSAGE_LEN) {
            let value = i32::from_le_bytes([m[2], m[3], m[4], m[5]]);
            let error = || std::io::Error::from_raw_os_error(value);
            match m[0] {
                child::SETUP_FAILED => {
                    return Err(SandboxError::Unavailable {
                        step: child::STEPS.get(m[1] as usize).copied().unwrap_or("setup"),
                        source: error(),
                    })
                }
                child::EXEC_FAILED => {
                    return Err(SandboxError::Exec {
                        program: program.command[0].clone(),
                        source: error(),
                    })
                }
                child::FINISHED => finished = Some((value, m[1] != 0)),
                _ => {}
            }
        }
        let (exit, survivors) = match finished {
            Some((wait, survivors)) if libc::WIFEXITED(wait) => {
                (Exit::Code(libc::WEXITSTATUS(wait)), survivors)
            }
            Some((wait, survivors)) => (Exit::Signal(libc::WTERMSIG(wait)), survivors),
            None if timed_out => (Exit::Signal(libc::SIGKILL), false),
            None => {
                return Err(SandboxError::Unavailable {
                    step: "supervise",
                    source: std::io::Error::other("the sandbox's init process died"),
                })
            }
        };
        // What the supervisor saw first: the rules broken before the limits reached.
        let seen = [
            Violation::Network,
            Violation::WriteOutside,
            Violation::ReadOutside,
            Violation::Memory,
        ]
        .into_iter()
        .find(|v| reported.contains(v));
        let violation = if seen.is_some() {
            seen
        } else if timed_out {
            Some(Violation::Timeout)
        } else {
            match exit {
                Exit::Signal(libc::SIGSYS) => Some(Violation::ForbiddenSyscall),
                Exit::Signal(libc::SIGXCPU) => Some(Violation::CpuTime),
                Exit::Signal(libc::SIGXFSZ) => Some(Violation::FileSize),
                _ if survivors => Some(Violation::Survivors),
                _ => None,
            }
        };
        Ok(Outcome {
            exit,
            violation,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            truncated,
            wall: started.elapsed(),
        })
    }

    // The rlimit resource type differs between libcs (u32 in glibc, c_int in musl).
    #[allow(clippy::unnecessary_cast)]
    fn plan(&self, program: &Program, scratch: &Scratch) -> Result<Plan, SandboxError> {
        let invalid = |m: String| SandboxError::InvalidProgram(m);
        let Some(exe) = program.command.first() else {
            return Err(invalid("empty command".into()));
        };
        if !exe.starts_with('/') {
            return Err(invalid(format!(
                "{exe}: the program must be an absolute path"
            )));
        }
        if program.command.len() > MAX_ARGS {
            return Err(invalid(format!("more than {MAX_ARGS} arguments")));
        }
        let mut ops = Vec::new();
        let (root, workdir) = match self.isolation {
            Isolation::Namespaces => {
                let root = scratch.path.clone();
                let tmp = root.join("tmp");
                ops.push(Op::Mkdir(cstring(&tmp)?));
                let options = format!("size={},mode=0777", self.limits.tmp_bytes);
                ops.push(Op::Tmpfs {
                    target: cstring(&tmp)?,
                    options: cstr(&options)?,
                });
                for dir in ["proc", "dev", ".old"] {
                    ops.push(Op::Mkdir(cstring(&root.join(dir))?));
                }
                ops.push(Op::Proc(cstring(&root.join("proc"))?));
                for device in DEVICES {
                    let target = root.join(&device[1..]);
                    ops.push(Op::Touch(cstring(&target)?));
                    ops.push(Op::Bind {
                        source: cstr(device)?,
                        target: cstring(&target)?,
                        flags: libc::MS_NOSUID | mount_flags(Path::new(device)),
                    });
                }
                let mut made = std::collections::BTreeSet::new();
                for path in &self.view {
                    view_ops(path, &root, &mut made, &mut ops)?;
                }
                (root, PathBuf::from("/tmp"))
            }
            Isolation::Unisolated => (scratch.path.clone(), scratch.path.clone()),
        };
        for (name, data) in &program.files {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(invalid(format!("{name:?}: a file name without '/'")));
            }
            let dir = match self.isolation {
                Isolation::Namespaces => root.join("tmp"),
                Isolation::Unisolated => workdir.clone(),
            };
            ops.push(Op::Write {
                path: cstring(&dir.join(name))?,
                data: data.clone(),
            });
        }
        let l = &self.limits;
        let cpu = l.cpu.as_secs().max(1);
        let limits = vec![
            (libc::RLIMIT_CPU as u32, cpu, cpu + 1),
            (libc::RLIMIT_AS as u32, l.memory_bytes, l.memory_bytes),
            (libc::RLIMIT_NPROC as u32, l.processes, l.processes),
            (libc::RLIMIT_NOFILE as u32, l.open_files, l.open_files),
            (
                libc::RLIMIT_FSIZE as u32,
                l.file_size_bytes,
                l.file_size_bytes,
            ),
            (libc::RLIMIT_CORE as u32, 0, 0),
        ];
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let home = workdir.display().to_string();
        let mut env: Vec<(String, String)> = DEFAULT_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("HOME".into(), home.clone()), ("TMPDIR".into(), home)])
            .collect();
        env.extend(program.env.iter().cloned());
        if env.len() > MAX_ARGS {
            return Err(invalid(format!(
                "more than {MAX_ARGS} environment variables"
            )));
        }
        Ok(Plan {
            isolated: self.isolation == Isolation::Namespaces,
            uid_map: cstr(&format!("0 {uid} 1"))?,
            gid_map: cstr(&format!("0 {gid} 1"))?,
            root: cstring(&root)?,
            put_old: cstring(&root.join(".old"))?,
            ops,
            workdir: cstring(&workdir)?,
            program: cstr(exe)?,
            argv: program
                .command
                .iter()
                .map(|a| cstr(a))
                .collect::<Result<_, _>>()?,
            envp: env
                .iter()
                .map(|(k, v)| cstr(&format!("{k}={v}")))
                .collect::<Result<_, _>>()?,
            limits,
            filter: seccomp::filter(self.isolation == Isolation::Namespaces),
        })
    }
}

const DEFAULT_ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("LANG", "C.UTF-8"),
];

/// Mount steps that show `path` read-only at the same place under `root`.
fn view_ops(
    path: &Path,
    root: &Path,
    made: &mut std::collections::BTreeSet<PathBuf>,
    ops: &mut Vec<Op>,
) -> Result<(), SandboxError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let inside = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    let mut mkdirs = |dir: &Path, ops: &mut Vec<Op>| -> Result<(), SandboxError> {
        for ancestor in dir
            .ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .skip(1)
        {
            if made.insert(ancestor.to_path_buf()) {
                ops.push(Op::Mkdir(cstring(&inside(ancestor))?));
            }
        }
        Ok(())
    };
    let parent = path.parent().unwrap_or(Path::new("/"));
    if meta.file_type().is_symlink() {
        mkdirs(parent, ops)?;
        ops.push(Op::Symlink {
            target: cstring(&std::fs::read_link(path)?)?,
            link: cstring(&inside(path))?,
        });
        return Ok(());
    }
    let target = cstring(&inside(path))?;
    if meta.is_dir() {
        mkdirs(path, ops)?;
    } else {
        mkdirs(parent, ops)?;
        ops.push(Op::Touch(cstring(&inside(path))?));
    }
    ops.push(Op::Bind {
        source: cstring(path)?,
        target,
        flags: libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | mount_flags(path),
    });
    Ok(())
}

/// The flags of the mount holding `path` that a bind of it must keep (the kernel refuses to
/// drop them inside a user namespace).
fn mount_flags(path: &Path) -> libc::c_ulong {
    let Ok(c) = cstring(path) else { return 0 };
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return 0;
    }
    let kept = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    kept.iter()
        .filter(|(st, _)| s.f_flag & st != 0)
        .fold(0, |flags, (_, ms)| flags | ms)
}

fn cstring(path: &Path) -> Result<CString, SandboxError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        SandboxError::InvalidProgram(format!("{}: contains a NUL byte", path.display()))
    })
}

fn cstr(s: &str) -> Result<CString, SandboxError> {
    CString::new(s).map_err(|_| SandboxError::InvalidProgram(format!("{s:?}: contains a NUL byte")))
}

/// The host directory a run needs: the mount point of the sandbox's root (shared by all runs,
/// each mounting in its own namespace), or the working directory of an unisolated run.
struct Scratch {
    path: PathBuf,
    remove: bool,
}

impl Scratch {
    fn new(isolation: Isolation) -> std::io::Result<Self> {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let (path, remove) = match isolation {
            Isolation::Namespaces => (base.join("candor-sandbox-root"), false),
            Isolation::Unisolated => {
                let n = RUNS.fetch_add(1, Ordering::Relaxed);
                (
                    base.join(format!("candor-sandbox-{}-{n}", std::process::id())),
                    true,
                )
            }
        };
        std::fs::create_dir_all(&path)?;
        Ok(Self { path, remove })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

fn pipe() -> std::io::Result<(Fd, Fd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((Fd(fds[0]), Fd(fds[1])))
}

fn socket_pair() -> std::io::Result<(Fd, Fd)> {
    let mut fds = [0; 2];
    let kind = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
    if unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((Fd(fds[0]), Fd(fds[1])))
}

struct Read {
    buffers: [Vec<u8>; 3],
    truncated: bool,
    timed_out: bool,
    /// What the seccomp supervisor reported.
    reported: Vec<Violation>,
}

/// Read stdout, stderr and the status pipe until all close; kill the sandbox at the deadline.
/// Meanwhile take the program's seccomp listener from `monitor` and answer its notifications.
fn supervise(
    pid: libc::pid_t,
    fds: [&Fd; 3],
    mut monitor: Option<Fd>,
    sandbox: &Sandbox,
    started: Instant,
) -> Read {
    let limits = &sandbox.limits;
    let mut read = Read {
        buffers: [Vec::new(), Vec::new(), Vec::new()],
        truncated: false,
        timed_out: false,
        reported: Vec::new(),
    };
    let mut listener: Option<Fd> = None;
    let mut open = [true; 3];
    let mut chunk = [0u8; 65536];
    let mut deadline = started + limits.wall;
    while open.iter().any(|&o| o) {
        let now = Instant::now();
        if now >= deadline {
            if read.timed_out {
                break; // killed, yet something still holds a pipe: give up on it
            }
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
            read.timed_out = true;
            deadline = now + Duration::from_secs(2);
            continue;
        }
        let mut polls: Vec<libc::pollfd> = (0..3)
            .filter(|&i| open[i])
            .map(|i| fds[i].0)
            .chain(monitor.iter().chain(listener.iter()).map(|fd| fd.0))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let wait = (deadline - now).as_millis().min(i32::MAX as u128) as i32;
        let ready =
            unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, wait.max(1)) };
        if ready <= 0 {
            continue;
        }
        for p in &polls {
            if p.revents == 0 {
                continue;
            }
            if monitor.as_ref().is_some_and(|m| m.0 == p.fd) {
                // The listener, or nothing when the program failed before handing it over.
                listener = monitor.take().and_then(|m| receive_fd(&m));
                continue;
            }
            if let Some(l) = listener.as_ref().filter(|l| l.0 == p.fd) {
                if p.revents & libc::POLLIN == 0 || !answer(l, sandbox, &mut read.reported) {
                    listener = None; // every process of the program is gone
                }
                continue;
            }
            let i = (0..3).find(|&i| fds[i].0 == p.fd).unwrap_or(0);
            let n = unsafe { libc::read(p.fd, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n <= 0 {
                open[i] = false;
                continue;
            }
            let data = &chunk[..n as usize];
            let room = if i == 2 {
                usize::MAX
            } else {
                limits.output_bytes.saturating_sub(read.buffers[i].len())
            };
            read.truncated |= data.len() > room;
            read.buffers[i].extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    read
}

/// The file descriptor sent over `socket` (`SCM_RIGHTS`), if one came.
fn receive_fd(socket: &Fd) -> Option<Fd> {
    let mut byte = [0u8; 1];
    let mut iov = child::one_byte(&mut byte);
    let mut control = [0u64; 4];
    let mut msg = child::fd_message(&mut iov, &mut control);
    // SAFETY: the buffers behind `msg` outlive the call.
    unsafe {
        if libc::recvmsg(socket.0, &mut msg, libc::MSG_CMSG_CLOEXEC) <= 0 {
            return None;
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        Some(Fd(std::ptr::read_unaligned(
            libc::CMSG_DATA(cmsg).cast::<libc::c_int>(),
        )))
    }
}

/// Answer one notification of the seccomp `listener`, adding what it shows to `reported`.
/// A `connect` or `sendto` to a Unix address goes on; any other address is refused with
/// `EACCES` ([`Violation::Network`]). Opens and large `mmap`s go on, for the kernel to refuse
/// where it must, and are reported when they write outside `/tmp`, `/dev` and `/proc`
/// ([`Violation::WriteOutside`]), open a host path outside the view
/// ([`Violation::ReadOutside`]) or ask for more address space than the limit
/// ([`Violation::Memory`]). False when the listener has nothing left to say (its processes
/// are gone).
///
/// Addresses and paths are read from the process's memory before the kernel reads them
/// again, so a program could change them in between (or reach a directory through a link in
/// `/tmp`); that only fools the report, since the empty network namespace, the read-only
/// mounts of the view and the rlimits are what enforce.
fn answer(listener: &Fd, sandbox: &Sandbox, reported: &mut Vec<Violation>) -> bool {
    // SAFETY: both structs are plain data, and the kernel wants the request zeroed.
    let mut request: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(listener.0, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut request) } != 0 {
        // ENOENT: the caller died before its notification was read; anything else: gone.
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT);
    }
    let pid = request.pid;
    let args = request.data.args;
    let nr = request.data.nr as libc::c_long;
    let seen = match nr {
        libc::SYS_connect | libc::SYS_sendto => {
            let address = if nr == libc::SYS_connect {
                args[1]
            } else {
                args[4]
            };
            let family = read_memory::<2>(pid, address).map(u16::from_ne_bytes);
            let unix = matches!(family, Some(f) if f == libc::AF_UNIX as u16 || f == libc::AF_UNSPEC as u16);
            (!unix).then_some(Violation::Network)
        }
        libc::SYS_mmap => {
            let size = virtual_size(pid).unwrap_or(0);
            (size.saturating_add(args[1]) > sandbox.limits.memory_bytes)
                .then_some(Violation::Memory)
        }
        _ => opened(pid, nr, &args, &sandbox.view),
    };
    let still_waiting =
        unsafe { libc::ioctl(listener.0, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &request.id) == 0 };
    if !still_waiting {
        return true;
    }
    if let Some(v) = seen.filter(|v| !reported.contains(v)) {
        reported.push(v);
    }
    let refuse = seen == Some(Violation::Network);
    let mut response = libc::seccomp_notif_resp {
        id: request.id,
        val: 0,
        error: if refuse { -libc::EACCES } else { 0 },
        flags: if refuse {
            0
        } else {
            libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32
        },
    };
    unsafe { libc::ioctl(listener.0, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut response) };
    true
}

/// What an open call (`open`, `openat`, `openat2`, `creat`) of process `pid` breaks, if
/// anything: a write outside `/tmp`, or a path outside `view` that exists on the host.
fn opened(pid: u32, nr: libc::c_long, args: &[u64; 6], view: &[PathBuf]) -> Option<Violation> {
    let (dir, path, flags) = match nr {
        libc::SYS_openat => (args[0], args[1], Some(args[2])),
        libc::SYS_openat2 => (
            args[0],
            args[1],
            read_memory::<8>(pid, args[2]).map(u64::from_ne_bytes),
        ),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_open => (libc::AT_FDCWD as u64, args[0], Some(args[1])),
        _ => (libc::AT_FDCWD as u64, args[0], Some(WRITE_FLAGS)), // creat
    };
    let dir = match dir as libc::c_int {
        libc::AT_FDCWD => std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?,
        fd => std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?,
    };
    let path = lexical(&dir.join(read_path(pid, path)?));
    let under = |tops: &[&str]| tops.iter().any(|top| path.strip_prefix(top).is_ok());
    if flags.is_some_and(|f| f & WRITE_FLAGS != 0) && !under(&["/tmp", "/dev", "/proc"]) {
        return Some(Violation::WriteOutside);
    }
    let system = under(&["/tmp", "/dev", "/proc", "/etc", "/sys", "/run", "/var"]);
    let shown = view.iter().any(|v| path.starts_with(v));
    (!system && !shown && std::fs::symlink_metadata(&path).is_ok())
        .then_some(Violation::ReadOutside)
}

const WRITE_FLAGS: u64 = (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u64;

/// `path` with `.` and `..` taken lexically (the sandbox's links are not followed).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            std::path::Component::Normal(p) => out.push(p),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The address space process `pid` holds (`VmSize`), in bytes.
fn virtual_size(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmSize:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// `N` bytes at `address` in process `pid`.
fn read_memory<const N: usize>(pid: u32, address: u64) -> Option<[u8; N]> {
    use std::os::unix::fs::FileExt;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut bytes = [0u8; N];
    mem.read_exact_at(&mut bytes, address).ok()?;
    Some(bytes)
}

/// The NUL-terminated path at `address` in process `pid` (at most `PATH_MAX` bytes).
fn read_path(pid: u32, address: u64) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    use std::os::unix::fs::FileExt;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut bytes = vec![0u8; libc::PATH_MAX as usize];
    // A read may stop at the end of a mapping, which is fine past the NUL.
    let n = mem.read_at(&mut bytes, address).ok()?;
    let end = bytes[..n].iter().position(|&b| b == 0)?;
    bytes.truncate(end);
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}
