//! What runs after `clone`: the sandbox's init process and the program it starts.
//!
//! The parent is multi-threaded, so between `clone` and `execve` only system calls are made:
//! no allocation, no locks. Everything is prepared beforehand in a [`Plan`].

use std::ffi::CString;

use libc::{c_char, c_int, c_ulong};

/// One step of building the sandbox's root file system, in a private mount namespace.
pub enum Op {
    Mkdir(CString),
    /// An empty file to bind a file onto.
    Touch(CString),
    /// Bind `source` onto `target`, then remount it with `flags` (read-only unless a device).
    Bind {
        source: CString,
        target: CString,
        flags: c_ulong,
    },
    Symlink {
        target: CString,
        link: CString,
    },
    Tmpfs {
        target: CString,
        options: CString,
    },
    /// A `/proc` of the sandbox's own PID namespace; skipped where the kernel refuses it.
    Proc(CString),
    Write {
        path: CString,
        data: Vec<u8>,
    },
}

/// Everything the child needs, prepared by the parent.
pub struct Plan {
    pub isolated: bool,
    pub uid_map: CString,
    pub gid_map: CString,
    /// The new root (a tmpfs mount point) and where the old root goes before it is detached.
    pub root: CString,
    pub put_old: CString,
    pub ops: Vec<Op>,
    pub workdir: CString,
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// `(resource, soft, hard)`.
    pub limits: Vec<(u32, u64, u64)>,
    pub filter: Vec<libc::sock_filter>,
}

/// Messages on the status pipe: a setup step failed, `execve` failed, or the program ended.
pub const SETUP_FAILED: u8 = b'E';
pub const EXEC_FAILED: u8 = b'F';
pub const FINISHED: u8 = b'X';
pub const MESSAGE_LEN: usize = 7;

/// Setup steps, named in errors.
pub const STEPS: &[&str] = &[
    "write uid/gid map",
    "make mounts private",
    "mount root tmpfs",
    "build the file system view",
    "pivot_root",
    "detach the old root",
    "remount root read-only",
    "enter the working directory",
    "start the program",
    "set a resource limit",
    "drop capabilities",
    "set no_new_privs",
    "install the seccomp filter",
    "redirect output",
    "hand the network monitor to the supervisor",
];

unsafe fn send(fd: c_int, kind: u8, step: u8, value: i32) {
    let v = value.to_le_bytes();
    let m = [kind, step, v[0], v[1], v[2], v[3], 0];
    libc::write(fd, m.as_ptr().cast(), MESSAGE_LEN);
}

unsafe fn fail(fd: c_int, kind: u8, step: u8) -> ! {
    send(fd, kind, step, *libc::__errno_location());
    libc::_exit(126)
}

unsafe fn check(ok: bool, fd: c_int, step: u8) {
    if !ok {
        fail(fd, SETUP_FAILED, step);
    }
}

unsafe fn write_file(path: &[u8], data: &[u8]) -> bool {
    let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return false;
    }
    let ok = libc::write(fd, data.as_ptr().cast(), data.len()) == data.len() as isize;
    libc::close(fd);
    ok
}

unsafe fn run_op(op: &Op) -> bool {
    let null = std::ptr::null::<c_char>();
    match op {
        Op::Mkdir(p) => {
            libc::mkdir(p.as_ptr(), 0o755) == 0 || *libc::__errno_location() == libc::EEXIST
        }
        Op::Touch(p) => {
            let fd = libc::open(
                p.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            fd >= 0 && libc::close(fd) == 0
        }
        Op::Bind {
            source,
            target,
            flags,
        } => {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                null,
                libc::MS_BIND | libc::MS_REC,
                null.cast(),
            ) == 0
                && libc::mount(
                    null,
                    target.as_ptr(),
                    null,
                    libc::MS_BIND | libc::MS_REMOUNT | flags,
                    null.cast(),
                ) == 0
        }
        Op::Symlink { target, link } => libc::symlink(target.as_ptr(), link.as_ptr()) == 0,
        Op::Tmpfs { target, options } => {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            ) == 0
        }
        Op::Proc(p) => {
            libc::mount(
                c"proc".as_ptr(),
                p.as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                null.cast(),
            );
            true
        }
        Op::Write { path, data } => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
                0o644,
            );
            fd >= 0
                && libc::write(fd, data.as_ptr().cast(), data.len()) == data.len() as isize
                && libc::close(fd) == 0
        }
    }
}

/// A raw `clone` with fork semantics (no new stack): glibc's `fork` would take its malloc
/// locks, which another thread of the parent may have held at the moment of the clone.
pub unsafe fn clone(flags: c_int) -> libc::pid_t {
    libc::syscall(
        libc::SYS_clone,
        (flags | libc::SIGCHLD) as c_ulong,
        0usize,
        0usize,
        0usize,
        0usize,
    ) as libc::pid_t
}

/// The sandbox's init: builds the view, starts the program, waits for it and reports its
/// wait status and whether any process outlived it. Never returns. `monitor` (isolated runs;
/// -1 otherwise) is the socket the program hands its seccomp listener to the supervisor on.
pub unsafe fn init(plan: &Plan, status: c_int, stdout: c_int, stderr: c_int, monitor: c_int) -> ! {
    // Pipes of sandboxes that other threads start at the same time leaked into this clone:
    // holding them would keep those sandboxes' output open until this one ends.
    close_all_but([status, stdout, stderr, monitor]);
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    libc::setsid();
    if plan.isolated {
        check(
            write_file(b"/proc/self/setgroups\0", b"deny")
                && write_file(b"/proc/self/uid_map\0", plan.uid_map.as_bytes())
                && write_file(b"/proc/self/gid_map\0", plan.gid_map.as_bytes()),
            status,
            0,
        );
        let null = std::ptr::null::<c_char>();
        check(
            libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_REC | libc::MS_PRIVATE,
                null.cast(),
            ) == 0,
            status,
            1,
        );
        check(
            libc::mount(
                c"tmpfs".as_ptr(),
                plan.root.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"size=1m,mode=0755".as_ptr().cast(),
            ) == 0,
            status,
            2,
        );
        for op in &plan.ops {
            check(run_op(op), status, 3);
        }
        check(
            libc::syscall(
                libc::SYS_pivot_root,
                plan.root.as_ptr(),
                plan.put_old.as_ptr(),
            ) == 0,
            status,
            4,
        );
        check(
            libc::chdir(c"/".as_ptr()) == 0
                && libc::umount2(c"/.old".as_ptr(), libc::MNT_DETACH) == 0
                && libc::rmdir(c"/.old".as_ptr()) == 0,
            status,
            5,
        );
        check(
            libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_BIND
                    | libc::MS_REMOUNT
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV,
                null.cast(),
            ) == 0,
            status,
            6,
        );
        libc::sethostname(c"sandbox".as_ptr(), 7);
    } else {
        // Without a PID namespace, orphans come back to this process, so it can see them.
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
        for op in &plan.ops {
            check(run_op(op), status, 3);
        }
    }
    check(libc::chdir(plan.workdir.as_ptr()) == 0, status, 7);
    let child = clone(0);
    check(child >= 0, status, 8);
    if child == 0 {
        program(plan, status, stdout, stderr, monitor);
    }
    libc::close(stdout);
    libc::close(stderr);
    libc::close(monitor);
    let mut wait_status = 0;
    loop {
        let mut s = 0;
        let pid = libc::waitpid(-1, &mut s, 0);
        if pid == child {
            wait_status = s;
            break;
        }
        if pid < 0 && *libc::__errno_location() != libc::EINTR {
            break;
        }
    }
    // A child still alive (not merely unreaped) outlived the program.
    let mut s = 0;
    let mut left = libc::waitpid(-1, &mut s, libc::WNOHANG);
    while left > 0 {
        left = libc::waitpid(-1, &mut s, libc::WNOHANG);
    }
    let survivors = left == 0;
    send(status, FINISHED, survivors as u8, wait_status);
    if !plan.isolated {
        libc::kill(0, libc::SIGKILL);
    }
    // As PID 1 of its namespace, exiting kills every process left in it.
    libc::_exit(0)
}

unsafe fn close_all_but(mut keep: [c_int; 4]) {
    keep.sort_unstable();
    let mut from = 3;
    for fd in keep {
        if fd < 0 {
            continue;
        }
        if fd > from {
            libc::close_range(from as libc::c_uint, (fd - 1) as libc::c_uint, 0);
        }
        from = from.max(fd + 1);
    }
    libc::close_range(from as libc::c_uint, libc::c_uint::MAX, 0);
}

unsafe fn program(plan: &Plan, status: c_int, stdout: c_int, stderr: c_int, monitor: c_int) -> ! {
    let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
    check(
        devnull >= 0
            && libc::dup2(devnull, 0) == 0
            && libc::dup2(stdout, 1) == 1
            && libc::dup2(stderr, 2) == 2,
        status,
        13,
    );
    // Keep only 0, 1, 2, the status pipe (close-on-exec, so it reports a failed execve) and
    // the monitor socket until the listener is handed over.
    close_all_but([status, monitor, 0, 0]);
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    for &(resource, soft, hard) in &plan.limits {
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        check(libc::setrlimit(resource as _, &limit) == 0, status, 9);
    }
    if plan.isolated {
        for cap in 0..64 {
            libc::prctl(libc::PR_CAPBSET_DROP, cap);
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            4, /* PR_CAP_AMBIENT_CLEAR_ALL */
            0,
            0,
            0,
        );
        let header = [0x2008_0522u32 /* _LINUX_CAPABILITY_VERSION_3 */, 0];
        let data = [0u32; 6];
        check(
            libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) == 0,
            status,
            10,
        );
    }
    check(
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0,
        status,
        11,
    );
    let program = libc::sock_fprog {
        len: plan.filter.len() as u16,
        filter: plan.filter.as_ptr() as *mut _,
    };
    if monitor >= 0 {
        let listener = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &program as *const _,
        ) as c_int;
        check(listener >= 0, status, 12);
        check(send_fd(monitor, listener), status, 14);
        libc::close(listener);
        libc::close(monitor);
    } else {
        check(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const _,
            ) == 0,
            status,
            12,
        );
    }
    let mut argv = [std::ptr::null::<c_char>(); 64];
    for (slot, arg) in argv.iter_mut().zip(plan.argv.iter()) {
        *slot = arg.as_ptr();
    }
    let mut envp = [std::ptr::null::<c_char>(); 64];
    for (slot, var) in envp.iter_mut().zip(plan.envp.iter()) {
        *slot = var.as_ptr();
    }
    libc::execve(plan.program.as_ptr(), argv.as_ptr(), envp.as_ptr());
    fail(status, EXEC_FAILED, 8)
}

/// Send `fd` over the Unix socket `socket` (`SCM_RIGHTS`), without allocating.
unsafe fn send_fd(socket: c_int, fd: c_int) -> bool {
    let mut byte = [0u8; 1];
    let mut iov = one_byte(&mut byte);
    let mut control = [0u64; 4];
    let mut msg = fd_message(&mut iov, &mut control);
    msg.msg_controllen = libc::CMSG_SPACE(4) as _;
    let cmsg = libc::CMSG_FIRSTHDR(&msg);
    (*cmsg).cmsg_level = libc::SOL_SOCKET;
    (*cmsg).cmsg_type = libc::SCM_RIGHTS;
    (*cmsg).cmsg_len = libc::CMSG_LEN(4) as _;
    std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), fd);
    libc::sendmsg(socket, &msg, 0) == 1
}

/// An iovec over `byte`: the one byte of data that carries an `SCM_RIGHTS` message.
pub fn one_byte(byte: &mut [u8; 1]) -> libc::iovec {
    libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    }
}

/// A message of `iov` with `control` (room for one fd, 8-byte aligned) for its `SCM_RIGHTS`
/// header; no allocation, so the child can use it too.
pub fn fd_message(iov: &mut libc::iovec, control: &mut [u64; 4]) -> libc::msghdr {
    // SAFETY: msghdr is plain data, valid zeroed.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(control) as _;
    msg
}
