/* Device access rules for the cgroup device controller: v1 devices.allow/devices.deny lines and
 * the cgroup v2 eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) that implements the same list. */
#pragma once

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_error;
struct spec_device_rule;

/* The access bits are the kernel's BPF_DEVCG_ACC_* values. */
enum {
    CGROUP_DEV_MKNOD = BPF_DEVCG_ACC_MKNOD,
    CGROUP_DEV_READ = BPF_DEVCG_ACC_READ,
    CGROUP_DEV_WRITE = BPF_DEVCG_ACC_WRITE,
    CGROUP_DEV_ALL = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE,
};

struct cgroup_device_rule {
    bool allow;
    char type;       /* 'a' (every device), 'c' or 'b' */
    int64_t major;   /* -1: any */
    int64_t minor;   /* -1: any */
    unsigned access; /* CGROUP_DEV_* bits, never 0 */
};

/* The devices every container may use whatever its config says (runc's and crun's list: mknod of
 * any node, null, random, full, tty, zero, urandom, console, the ptys, ptmx, net/tun). */
const struct cgroup_device_rule *cgroup_default_device_rules(size_t *n);

/* The effective list: the config's rules, checked (type a/b/c, access a non-empty subset of
 * "rwm", numbers -1..INT32_MAX), in order, then the default rules. Later rules win. */
int cgroup_device_rules(const struct spec_device_rule *rules, size_t n,
                        struct cgroup_device_rule **out, size_t *n_out, struct berth_error **err);

/* The v1 lines for one rule, to write into devices.allow or devices.deny: "c 1:3 rwm", or "a"
 * for an allow/deny of everything. A type-'a' rule narrower than everything becomes one line
 * for 'c' and one for 'b' (the kernel reads "a" as all devices, all access). Returns the number
 * of lines (1 or 2). */
int cgroup_device_rule_v1_lines(const struct cgroup_device_rule *r, char lines[2][64]);

/* The program for a rule list: the last rule that matches a device decides each requested
 * access bit; a request is allowed only when every bit it asks for is allowed; what no rule
 * covers is denied. *insns is malloc'ed. */
int cgroup_devices_bpf_build(const struct cgroup_device_rule *rules, size_t n,
                             struct bpf_insn **insns, size_t *n_insns, struct berth_error **err);
/* Load it with bpf(2); returns the program fd (O_CLOEXEC). */
int cgroup_devices_bpf_load(const struct bpf_insn *insns, size_t n, struct berth_error **err);
/* Attach prog_fd to the cgroup directory with BPF_F_ALLOW_MULTI, then detach the device
 * programs that were attached there before, so the cgroup is never left without one. */
int cgroup_devices_bpf_attach(int cgroup_dirfd, int prog_fd, struct berth_error **err);
/* Build, load and attach. */
int cgroup_devices_bpf_install(const char *cgroup_dir, const struct cgroup_device_rule *rules,
                               size_t n, struct berth_error **err);
