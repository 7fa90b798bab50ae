//! The seccomp filter: a deny list of system calls that no test program needs and that an
//! escape would (mounts, namespaces, tracing, kernel modules, io_uring ...), and sockets of
//! other families than Unix and, inside the namespaces, Internet ones. A denied call kills the
//! whole process (`SIGSYS`), which the supervisor reports as a violation; everything else is
//! allowed.
//!
//! Inside the namespaces Internet sockets may be made (runtimes such as the JVM probe for
//! IPv4 and IPv6 at start-up), but the network namespace has no interface up, so nothing can
//! be reached. `connect`, and `sendto` with an address, go to the supervisor
//! ([`SECCOMP_RET_USER_NOTIF`](libc::SECCOMP_RET_USER_NOTIF)), which lets Unix addresses
//! through and refuses and reports the rest: the namespace enforces, the notification reports.
//! So do opens and `mmap`s of 64 MiB or more: the supervisor reports a write outside `/tmp`,
//! a read of a host path outside the view, or a mapping past the address-space limit, and
//! lets the call go on, for the read-only view and the rlimits to refuse.

use libc::{c_long, sock_filter};

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const KILL: u32 = 0x8000_0000; // SECCOMP_RET_KILL_PROCESS
const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
const ERRNO: u32 = 0x0005_0000; // SECCOMP_RET_ERRNO
const NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;

// Offsets into `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0: u32 = 16; // low 32 bits of args[0] (little-endian)
const ARG1: u32 = 24; // args[1], low and high halves
const ARG4: u32 = 48; // args[4], likewise
/// The smallest `mmap` the supervisor checks against the address-space limit.
const LARGE_MAPPING: u32 = 64 << 20;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Namespace flags a `clone` must not carry.
const NEW_NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP;

fn denied() -> Vec<c_long> {
    let mut calls = vec![
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_userfaultfd,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_syslog,
        libc::SYS_quotactl,
        libc::SYS_fanotify_init,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_fspick,
        libc::SYS_open_tree,
        libc::SYS_move_mount,
        libc::SYS_mount_setattr,
        libc::SYS_vhangup,
        libc::SYS_pidfd_getfd,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([libc::SYS_iopl, libc::SYS_ioperm, libc::SYS_modify_ldt]);
    calls
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The filter program, checked against the architecture it was built for. `isolated`: the
/// program runs in an empty network namespace, with a supervisor for [`NOTIFY`].
pub fn filter(isolated: bool) -> Vec<sock_filter> {
    let mut p = vec![
        stmt(LD_W_ABS, ARCH),
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(RET_K, KILL),
        stmt(LD_W_ABS, NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // x32 system calls (bit 30) would bypass every number below.
        p.push(jump(JGE_K, 0x4000_0000, 0, 1));
        p.push(stmt(RET_K, KILL));
    }
    for nr in denied() {
        p.push(jump(JEQ_K, nr as u32, 0, 1));
        p.push(stmt(RET_K, KILL));
    }
    // glibc falls back to clone(2), whose flags a filter can read, when clone3 is missing.
    p.push(jump(JEQ_K, libc::SYS_clone3 as u32, 0, 1));
    p.push(stmt(RET_K, ERRNO | libc::ENOSYS as u32));
    p.extend([
        jump(JEQ_K, libc::SYS_clone as u32, 0, 4),
        stmt(LD_W_ABS, ARG0),
        jump(JSET_K, NEW_NAMESPACES as u32, 0, 1),
        stmt(RET_K, KILL),
        stmt(RET_K, ALLOW),
    ]);
    let families: &[libc::c_int] = if isolated {
        &[libc::AF_UNIX, libc::AF_INET, libc::AF_INET6]
    } else {
        &[libc::AF_UNIX]
    };
    for call in [libc::SYS_socket, libc::SYS_socketpair] {
        let n = families.len() as u8;
        p.push(jump(JEQ_K, call as u32, 0, n + 3));
        p.push(stmt(LD_W_ABS, ARG0));
        for (i, &family) in families.iter().enumerate() {
            // Past the remaining checks and the kill, to the allow.
            p.push(jump(JEQ_K, family as u32, n - i as u8, 0));
        }
        p.push(stmt(RET_K, KILL));
        p.push(stmt(RET_K, ALLOW));
    }
    if isolated {
        p.extend([
            jump(JEQ_K, libc::SYS_connect as u32, 0, 1),
            stmt(RET_K, NOTIFY),
            // sendto without an address sends on a connected socket.
            jump(JEQ_K, libc::SYS_sendto as u32, 0, 5),
            stmt(LD_W_ABS, ARG4),
            jump(JEQ_K, 0, 0, 2),
            stmt(LD_W_ABS, ARG4 + 4),
            jump(JEQ_K, 0, 1, 0),
            stmt(RET_K, NOTIFY),
        ]);
        // Every open, to see where it writes or reads.
        let mut opens = vec![libc::SYS_openat, libc::SYS_openat2];
        #[cfg(target_arch = "x86_64")]
        opens.extend([libc::SYS_open, libc::SYS_creat]);
        for call in opens {
            p.extend([jump(JEQ_K, call as u32, 0, 1), stmt(RET_K, NOTIFY)]);
        }
        // Large mappings, to see one past the address-space limit.
        p.extend([
            jump(JEQ_K, libc::SYS_mmap as u32, 0, 6),
            stmt(LD_W_ABS, ARG1 + 4),
            jump(JEQ_K, 0, 0, 2),
            stmt(LD_W_ABS, ARG1),
            jump(JGE_K, LARGE_MAPPING, 0, 1),
            stmt(RET_K, NOTIFY),
            stmt(RET_K, ALLOW),
        ]);
    }
    p.push(stmt(RET_K, ALLOW));
    p
}
