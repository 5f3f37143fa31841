/* linux.seccomp to BPF: the input is the seccomp object of a config (it is placed in a minimal
 * config.json and parsed there), then compiled as create does. The program is never loaded;
 * instead it is checked the way the kernel would check it: every jump inside the program, loads
 * within struct seccomp_data, a return at the end, and at most BPF_MAXINSNS instructions. */
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "berth/error.h"
#include "fuzz.h"
#include "linux/seccomp_filter.h"
#include "spec/spec.h"

static const char head[] = "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                           "\"linux\":{\"seccomp\":";
static const char tail[] = "}}";

static void check_prog(const struct seccomp_filter_prog *p)
{
    FUZZ_CHECK(p->insns && p->len > 0 && p->len <= BPF_MAXINSNS, "%u instructions", p->len);
    for (size_t i = 0; i < p->len; i++) {
        const struct sock_filter *f = &p->insns[i];
        size_t rest = p->len - i - 1;
        switch (BPF_CLASS(f->code)) {
        case BPF_LD:
            if (BPF_MODE(f->code) == BPF_ABS)
                FUZZ_CHECK(BPF_SIZE(f->code) == BPF_W && f->k % 4 == 0 &&
                               f->k < sizeof(struct seccomp_data),
                           "insn %zu loads offset %u", i, f->k);
            break;
        case BPF_JMP:
            if (BPF_OP(f->code) == BPF_JA)
                FUZZ_CHECK(f->k < rest, "insn %zu jumps %u of %zu", i, f->k, rest);
            else
                FUZZ_CHECK(f->jt < rest && f->jf < rest, "insn %zu jumps %u/%u of %zu", i, f->jt,
                           f->jf, rest);
            break;
        case BPF_RET:
            break;
        default:
            break;
        }
    }
    FUZZ_CHECK(BPF_CLASS(p->insns[p->len - 1].code) == BPF_RET, "the program does not end in a "
                                                                "return");
    FUZZ_CHECK(!(p->flags & ~(unsigned)(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                                        SECCOMP_FILTER_FLAG_SPEC_ALLOW | (1U << 5))),
               "flags %#x", p->flags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = sizeof(head) - 1 + size + sizeof(tail) - 1;
    char *text = xmalloc(len);
    memcpy(text, head, sizeof(head) - 1);
    memcpy(text + sizeof(head) - 1, data, size);
    memcpy(text + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);

    struct spec *s = NULL;
    struct berth_error *err = NULL;
    if (spec_parse(text, len, "config.json", &s, &err) < 0) {
        berth_error_free(err);
        free(text);
        return 0;
    }
    free(text);
    if (s->linux_ && s->linux_->seccomp) {
        struct seccomp_filter_prog p;
        int r = seccomp_filter_compile(s->linux_->seccomp, &p, &err);
        if (r == 0) {
            FUZZ_CHECK(!err, "success with an error set");
            check_prog(&p);
            seccomp_filter_prog_clear(&p);
        } else {
            FUZZ_CHECK(err && err->msg && *err->msg, "failed without a message");
            berth_error_free(err);
        }
    }
    spec_free(s);
    return 0;
}
