/* Compiled seccomp programs kept under the runtime's state root, so that the profile every
 * engine gives every container (hundreds of rules) is compiled once, not on each create and
 * exec: libseccomp takes ~6 ms of CPU for podman's default profile, loading it from here a few
 * syscalls.
 *
 * An entry is named by a SHA-256 over everything the program depends on: this binary (its ELF
 * build id), the kernel (uname), libseccomp's version and the parsed linux.seccomp. Only
 * programs compiled without a warning are kept (a hit would not repeat it). A file that is not
 * a whole entry is compiled over. */
#include "linux/seccomp_filter.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define CACHE_DIR   ".seccomp-bpf"
#define CACHE_MAX   64 /* entries; a store beyond them empties the directory first */
#define CACHE_MAGIC "berthbpf"

struct entry_header {
    char magic[8];
    uint32_t flags;
    uint16_t len;
    uint8_t notify;
    uint8_t pad;
};

static void h_u64(struct sha256_ctx *h, uint64_t v)
{
    sha256_update(h, sizeof(v), (const uint8_t *)&v);
}

/* Length-prefixed, so that no two different inputs hash the same bytes; NULL apart from "". */
static void h_str(struct sha256_ctx *h, const char *s)
{
    if (!s) {
        h_u64(h, UINT64_MAX);
        return;
    }
    size_t n = strlen(s);
    h_u64(h, n);
    sha256_update(h, n, (const uint8_t *)s);
}

static void h_strv(struct sha256_ctx *h, char **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    h_u64(h, v ? n : UINT64_MAX);
    for (size_t i = 0; i < n; i++)
        h_str(h, v[i]);
}

static int hash_build_id(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct sha256_ctx *h = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const char *name = p + sizeof(*n);
            const char *desc = name + ((n->n_namesz + 3) & ~3u);
            if (desc + n->n_descsz > end)
                break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                h_u64(h, n->n_descsz);
                sha256_update(h, n->n_descsz, (const uint8_t *)desc);
                return 1;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    return -1; /* the program is the first object: without a build id there is no key */
}

/* false: nothing to key the entry by, or a program not to keep. */
static bool cache_key(const struct spec_seccomp *s, char hex[2 * SHA256_DIGEST_SIZE + 1])
{
    for (size_t i = 0; s->flags && s->flags[i]; i++)
        if (strcmp(s->flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
            return false; /* may be compiled with a warning */
    struct sha256_ctx h;
    sha256_init(&h);
    h_str(&h, "berth seccomp program 1");
    if (dl_iterate_phdr(hash_build_id, &h) != 1)
        return false;
    struct utsname u;
    if (uname(&u) < 0)
        return false;
    h_str(&h, u.release);
    h_str(&h, u.version);
    h_str(&h, u.machine);
    const struct scmp_version *v = seccomp_version();
    h_u64(&h, ((uint64_t)v->major << 32) | ((uint64_t)v->minor << 16) | v->micro);

    h_str(&h, s->default_action);
    h_u64(&h, s->has_default_errno_ret ? s->default_errno_ret : UINT64_MAX);
    h_strv(&h, s->architectures);
    h_strv(&h, s->flags);
    h_str(&h, s->listener_path);
    h_u64(&h, s->n_syscalls);
    for (size_t i = 0; i < s->n_syscalls; i++) {
        const struct spec_seccomp_syscall *c = &s->syscalls[i];
        h_strv(&h, c->names);
        h_str(&h, c->action);
        h_u64(&h, c->has_errno_ret ? c->errno_ret : UINT64_MAX);
        h_u64(&h, c->n_args);
        for (size_t k = 0; k < c->n_args; k++) {
            h_u64(&h, c->args[k].index);
            h_u64(&h, c->args[k].value);
            h_u64(&h, c->args[k].value_two);
            h_str(&h, c->args[k].op);
        }
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&h, sizeof(d), d);
    for (size_t i = 0; i < sizeof(d); i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return true;
}

static int cache_read(const char *root, const char *key, struct seccomp_filter_prog *out)
{
    _cleanup_free_ char *path = xasprintf("%s/" CACHE_DIR "/%s", root, key);
    _cleanup_free_ char *data = NULL;
    size_t len;
    size_t max = sizeof(struct entry_header) + BPF_MAXINSNS * sizeof(struct sock_filter);
    if (fs_read_file_at(AT_FDCWD, path, max, &data, &len, NULL) < 0)
        return -1;
    struct entry_header hd;
    if (len < sizeof(hd))
        return -1;
    memcpy(&hd, data, sizeof(hd));
    if (memcmp(hd.magic, CACHE_MAGIC, sizeof(hd.magic)) != 0 || hd.len == 0 ||
        hd.len > BPF_MAXINSNS || len != sizeof(hd) + hd.len * sizeof(struct sock_filter))
        return -1;
    size_t n = hd.len * sizeof(struct sock_filter);
    *out = (struct seccomp_filter_prog){
        .insns = memcpy(xmalloc(n), data + sizeof(hd), n),
        .len = hd.len,
        .flags = hd.flags,
        .notify = hd.notify != 0,
    };
    return 0;
}

/* Empty a directory that has reached CACHE_MAX entries: a profile per container (hooks that
 * generate them) must not fill the root's file system. */
static void cache_trim(int dirfd)
{
    _cleanup_closedir_ DIR *d = fs_opendir_fd(dirfd);
    if (!d)
        return;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    if (n < CACHE_MAX)
        return;
    rewinddir(d);
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            unlinkat(dirfd, de->d_name, 0);
}

static void cache_write(int rootfd, const char *key, const struct seccomp_filter_prog *p)
{
    if (mkdirat(rootfd, CACHE_DIR, 0700) < 0 && errno != EEXIST)
        return;
    _cleanup_close_ int dirfd =
        openat(rootfd, CACHE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return;
    cache_trim(dirfd);
    struct entry_header hd = {.flags = p->flags, .len = p->len, .notify = p->notify};
    memcpy(hd.magic, CACHE_MAGIC, sizeof(hd.magic));
    size_t n = p->len * sizeof(struct sock_filter);
    _cleanup_free_ char *data = xmalloc(sizeof(hd) + n);
    memcpy(data, &hd, sizeof(hd));
    memcpy(data + sizeof(hd), p->insns, n);
    if (fs_replace_file_at(dirfd, key, data, sizeof(hd) + n, 0600, false, NULL) < 0)
        log_debug("seccomp: could not keep the compiled program");
}

int seccomp_filter_compile_cached(const struct spec_seccomp *s, const char *root,
                                  struct seccomp_filter_prog *out, struct berth_error **err)
{
    char key[2 * SHA256_DIGEST_SIZE + 1];
    if (!root || !cache_key(s, key))
        return seccomp_filter_compile(s, out, err);
    if (cache_read(root, key, out) == 0) {
        log_debug("seccomp: program %s from %s/" CACHE_DIR, key, root);
        return 0;
    }
    int r = seccomp_filter_compile(s, out, err);
    _cleanup_close_ int rootfd =
        r == 0 ? openat(AT_FDCWD, root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (rootfd >= 0)
        cache_write(rootfd, key, out);
    return r;
}
