/* The cgroup v2 device controller: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, assembled
 * here instruction by instruction and loaded with bpf(2).
 *
 * The program sees struct bpf_cgroup_dev_ctx: access_type (device type in the low 16 bits, the
 * requested access bits above), major, minor. It walks the rules from last to first keeping the
 * access bits still undecided in r3: a matching deny rule that touches an undecided bit denies
 * the request; a matching allow rule decides its bits, and once none is left the request is
 * allowed. Bits no rule decides are denied. That is "the last matching rule wins", applied to
 * each of r, w and m on its own, as the v1 controller does. */
#include "linux/cgroup/devices.h"
#include "berth/error.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    return (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define AND_K(dst, imm)      insn(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH_K(dst, imm)      insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define MOV_X(dst, src)      insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV_K(dst, imm)      insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_K(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define JEQ_K(dst, imm, off) insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
#define EXIT()               insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers: r1 the context, then scratch; r2 device type; r3 undecided access bits; r4 major;
 * r5 minor. */
enum { R0, R1, R2, R3, R4, R5 };

int cgroup_devices_bpf_build(const struct cgroup_device_rule *rules, size_t n,
                             struct bpf_insn **insns, size_t *n_insns, struct berth_error **err)
{
    /* At most 11 instructions a rule, 6 before and 2 after. */
    if (n > 100000)
        return berth_error_set(err, E2BIG, "cgroup: %zu device rules", n);
    struct bpf_insn *p = xcalloc(6 + 11 * n + 2, sizeof(*p));
    size_t k = 0;
    p[k++] = LDX_W(R2, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
    p[k++] = AND_K(R2, 0xffff);
    p[k++] = LDX_W(R3, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
    p[k++] = RSH_K(R3, 16);
    p[k++] = LDX_W(R4, R1, offsetof(struct bpf_cgroup_dev_ctx, major));
    p[k++] = LDX_W(R5, R1, offsetof(struct bpf_cgroup_dev_ctx, minor));
    for (size_t i = n; i-- > 0;) {
        const struct cgroup_device_rule *r = &rules[i];
        if (r->access == 0 || (r->access & ~(unsigned)CGROUP_DEV_ALL)) {
            free(p);
            return berth_error_set(err, 0, "cgroup: device rule %zu: bad access bits 0x%x", i,
                                   r->access);
        }
        /* The block is assembled first, its jumps pointing past its end. */
        struct bpf_insn b[11];
        size_t m = 0;
        if (r->type == 'c' || r->type == 'b')
            b[m++] = JNE_K(R2, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
        if (r->major >= 0)
            b[m++] = JNE_K(R4, (int32_t)r->major, 0);
        if (r->minor >= 0)
            b[m++] = JNE_K(R5, (int32_t)r->minor, 0);
        b[m++] = MOV_X(R1, R3);
        b[m++] = AND_K(R1, (int32_t)r->access);
        b[m++] = JEQ_K(R1, 0, 0);
        if (r->allow) {
            b[m++] = AND_K(R3, (int32_t)~r->access);
            b[m++] = JNE_K(R3, 0, 0);
            b[m++] = MOV_K(R0, 1);
        } else {
            b[m++] = MOV_K(R0, 0);
        }
        b[m++] = EXIT();
        for (size_t j = 0; j < m; j++)
            if (BPF_CLASS(b[j].code) == BPF_JMP && BPF_OP(b[j].code) != BPF_EXIT)
                b[j].off = (int16_t)(m - j - 1);
        memcpy(p + k, b, m * sizeof(*b));
        k += m;
    }
    p[k++] = MOV_K(R0, 0);
    p[k++] = EXIT();
    *insns = p;
    *n_insns = k;
    return 0;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int cgroup_devices_bpf_load(const struct bpf_insn *insns, size_t n, struct berth_error **err)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uintptr_t)insns;
    attr.insn_cnt = (uint32_t)n;
    attr.license = (uintptr_t) "Apache-2.0";
    attr.prog_flags = 0;
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e != EINVAL && e != EACCES)
        return berth_error_set(err, e, "cgroup: load the device program (bpf)");
    /* The verifier said no: load again with its log, which says why. */
    _cleanup_free_ char *log = xzalloc(65536);
    attr.log_buf = (uintptr_t)log;
    attr.log_size = 65536;
    attr.log_level = 1;
    fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0)
        return fd;
    e = errno;
    size_t l = strlen(log);
    while (l > 0 && log[l - 1] == '\n')
        log[--l] = '\0';
    const char *last = strrchr(log, '\n');
    return berth_error_set(err, e, "cgroup: load the device program (bpf): verifier: %s",
                           last ? last + 1 : log);
}

int cgroup_devices_bpf_attach(int cgroup_dirfd, int prog_fd, struct berth_error **err)
{
    union bpf_attr attr;
    uint32_t ids[64];
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)cgroup_dirfd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uintptr_t)ids;
    attr.query.prog_cnt = ARRAY_SIZE(ids);
    if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
        return berth_error_set(err, errno, "cgroup: query the device programs (bpf)");
    uint32_t n_old = attr.query.prog_cnt;
    if (n_old > 0 && !(attr.query.attach_flags & BPF_F_ALLOW_MULTI))
        return berth_error_set(err, EBUSY,
                               "cgroup: a device program is already attached without "
                               "BPF_F_ALLOW_MULTI");

    /* Old programs are taken by fd before the new one goes in, so that their ids cannot be
     * confused with it. */
    int old_fds[ARRAY_SIZE(ids)];
    for (uint32_t i = 0; i < n_old; i++) {
        memset(&attr, 0, sizeof(attr));
        attr.prog_id = ids[i];
        old_fds[i] = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    }
    int ret = 0;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_dirfd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
        ret = berth_error_set(err, errno, "cgroup: attach the device program (bpf)");
    for (uint32_t i = 0; i < n_old; i++) {
        if (old_fds[i] < 0)
            continue;
        if (ret == 0) {
            memset(&attr, 0, sizeof(attr));
            attr.target_fd = (uint32_t)cgroup_dirfd;
            attr.attach_bpf_fd = (uint32_t)old_fds[i];
            attr.attach_type = BPF_CGROUP_DEVICE;
            if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
                ret = berth_error_set(err, errno, "cgroup: detach the old device program (bpf)");
        }
        close(old_fds[i]);
    }
    return ret;
}

int cgroup_devices_bpf_install(const char *cgroup_dir, const struct cgroup_device_rule *rules,
                               size_t n, struct berth_error **err)
{
    _cleanup_free_ struct bpf_insn *insns = NULL;
    size_t n_insns;
    int r = cgroup_devices_bpf_build(rules, n, &insns, &n_insns, err);
    if (r < 0)
        return r;
    _cleanup_close_ int prog = cgroup_devices_bpf_load(insns, n_insns, err);
    if (prog < 0)
        return prog;
    _cleanup_close_ int dirfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return berth_error_set(err, errno, "cgroup: open %s", cgroup_dir);
    r = cgroup_devices_bpf_attach(dirfd, prog, err);
    if (r < 0)
        return berth_error_prefix(err, "%s", cgroup_dir);
    return 0;
}
