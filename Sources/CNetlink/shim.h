#ifndef GPUMON_CNETLINK_SHIM_H
#define GPUMON_CNETLINK_SHIM_H
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <linux/netlink.h>
#include <linux/connector.h>
#include <linux/cn_proc.h>
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

static inline int cnetlink_errno(void) { return errno; }
#endif
