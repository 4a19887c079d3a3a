#ifndef GPUMON_CNETLINK_SHIM_H
#define GPUMON_CNETLINK_SHIM_H
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <linux/netlink.h>
#include <linux/connector.h>
#include <linux/cn_proc.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>

/* Subscribes (listen=1) or unsubscribes to the kernel's process events connector. Returns libnl's result. */
static inline int cnetlink_proc_subscribe(struct nl_sock *sk, int listen) {
    struct __attribute__((packed)) {
        struct cn_msg cn;
        enum proc_cn_mcast_op op;
    } msg;
    memset(&msg, 0, sizeof msg);
    msg.cn.id.idx = CN_IDX_PROC;
    msg.cn.id.val = CN_VAL_PROC;
    msg.cn.len = sizeof(enum proc_cn_mcast_op);
    msg.op = listen ? PROC_CN_MCAST_LISTEN : PROC_CN_MCAST_IGNORE;
    return nl_send_simple(sk, NLMSG_DONE, 0, &msg, sizeof msg);
}

/*
 * Walks a buffer received with nl_recv: for each exit event, stores the thread-group id (the process) in
 * tgids, up to max. Returns how many were stored, or -1 when the buffer is malformed.
 */
static inline int cnetlink_proc_exits(const unsigned char *buf, int len, int *tgids, int max) {
    int found = 0;
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
    int remaining = len;
    while (NLMSG_OK(nlh, remaining)) {
        if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_OVERRUN) return -1;
        const struct cn_msg *cn = NLMSG_DATA(nlh);
        if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*cn) + sizeof(struct proc_event)) &&
            cn->id.idx == CN_IDX_PROC && cn->id.val == CN_VAL_PROC) {
            const struct proc_event *ev = (const struct proc_event *)cn->data;
            /* Only the exit of a whole process (its main thread) releases its file descriptors. */
            if (ev->what == PROC_EVENT_EXIT && ev->event_data.exit.process_pid == ev->event_data.exit.process_tgid
                && found < max) {
                tgids[found++] = ev->event_data.exit.process_tgid;
            }
        }
        nlh = NLMSG_NEXT(nlh, remaining);
    }
    return found;
}

/*
 * Attaches a socket filter that lets through only the exit events of `pids` (process IDs), so the daemon wakes
 * for the VMs it follows and not for every process and thread on the host. n == 0 lets nothing through;
 * n < 0 (or more than 100) lets every exit through. Returns 0 or -errno.
 *
 * Classic BPF loads words in network byte order, while the connector's fields are in host order: the constants
 * are byte-swapped with htonl to match.
 */
static inline int cnetlink_filter_exits(struct nl_sock *sk, const int *pids, int n) {
    enum {
        WHAT = NLMSG_LENGTH(0) + offsetof(struct cn_msg, data) + offsetof(struct proc_event, what),
        PID = NLMSG_LENGTH(0) + offsetof(struct cn_msg, data) + offsetof(struct proc_event, event_data)
            + offsetof(struct exit_proc_event, process_pid),
        MAXPIDS = 100
    };
    struct sock_filter prog[4 + MAXPIDS + 2];
    int i = 0;
    int all = n < 0 || n > MAXPIDS;
    if (n == 0) {
        prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    } else {
        prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WHAT);
        int checks = all ? 0 : n;
        /* not an exit: jump over the pid checks and the accept to the drop */
        prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXIT), 0,
            (unsigned char)(checks + 1));
        if (!all) {
            prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, PID);
            for (int k = 0; k < n; k++) {
                /* match: jump to the accept after the remaining checks and the drop */
                prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl((unsigned)pids[k]),
                    (unsigned char)(n - k), 0);
            }
            prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
        }
        prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffff);
        if (all) prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    }
    struct sock_fprog fprog = { .len = (unsigned short)i, .filter = prog };
    if (setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) return -errno;
    return 0;
}

static inline int cnetlink_errno(void) { return errno; }
#endif
