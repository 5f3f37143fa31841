#include "engine/netfiles.h"
#include "berth/error.h"
#include "linux/label.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growing string. */
struct text {
    char *s;
    size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = xrealloc(t->s, t->cap);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static char *text_take(struct text *t)
{
    return t->s ? t->s : xstrdup("");
}

static bool is_loopback(const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char lo[16] = {[15] = 1};
        static const unsigned char v4mapped[12] = {[10] = 0xff, [11] = 0xff};
        return memcmp(a, lo, 16) == 0 || (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
    }
    return false;
}

/* The words of a line after its keyword, split on blanks. */
static void split_words(char *rest, char ***v, size_t *n)
{
    for (char *save = NULL, *w = strtok_r(rest, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
        strv_push(v, n, xstrdup(w));
}

struct parsed {
    char **servers, **search, **options, **other;
    size_t n_servers, n_search, n_options, n_other;
};

static void parsed_clear(struct parsed *p)
{
    strv_free(p->servers);
    strv_free(p->search);
    strv_free(p->options);
    strv_free(p->other);
}

static void parse_resolv(const char *text, struct parsed *p)
{
    _cleanup_free_ char *copy = xstrdup(text ? text : "");
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t");
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!*line || *line == '#' || *line == ';')
            continue;
        size_t kw = strcspn(line, " \t");
        char *rest = line[kw] ? line + kw + 1 : line + kw;
        if (kw == 10 && strncmp(line, "nameserver", kw) == 0) {
            char **w = NULL;
            size_t n = 0;
            split_words(rest, &w, &n);
            if (n > 0)
                strv_push(&p->servers, &p->n_servers, xstrdup(w[0]));
            strv_free(w);
        } else if ((kw == 6 && strncmp(line, "search", kw) == 0) ||
                   (kw == 6 && strncmp(line, "domain", kw) == 0)) {
            /* The last one wins, as in the resolver. */
            strv_free(p->search);
            p->search = NULL;
            p->n_search = 0;
            split_words(rest, &p->search, &p->n_search);
        } else if (kw == 7 && strncmp(line, "options", kw) == 0) {
            split_words(rest, &p->options, &p->n_options);
        } else {
            strv_push(&p->other, &p->n_other, xstrdup(line));
        }
    }
}

bool netfiles_resolv_is_stub(const char *text)
{
    _cleanup_(parsed_clear) struct parsed p = {0};
    parse_resolv(text, &p);
    return p.n_servers == 1 && strcmp(p.servers[0], NETFILES_STUB_RESOLVER) == 0;
}

static void add_words(struct text *t, const char *keyword, char *const *words)
{
    if (!words || !words[0])
        return;
    text_add(t, "%s", keyword);
    for (char *const *w = words; *w; w++)
        text_add(t, " %s", *w);
    text_add(t, "\n");
}

char *netfiles_resolv_conf(const char *host_text, const char *origin,
                           const struct netfiles_dns *dns)
{
    static const struct netfiles_dns none;
    if (!dns)
        dns = &none;
    _cleanup_(parsed_clear) struct parsed p = {0};
    parse_resolv(host_text, &p);
    struct text t = {0};
    bool dropped = false, defaults = false;

    if (dns->servers) {
        for (char *const *s = dns->servers; *s; s++)
            text_add(&t, "nameserver %s\n", *s);
    } else {
        size_t kept = 0;
        for (size_t i = 0; i < p.n_servers; i++) {
            if (is_loopback(p.servers[i])) {
                dropped = true;
                continue;
            }
            text_add(&t, "nameserver %s\n", p.servers[i]);
            kept++;
        }
        if (kept == 0) {
            text_add(&t, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
            defaults = true;
        }
    }
    if (dns->search) {
        char **v = NULL;
        size_t n = 0;
        for (char *const *s = dns->search; *s; s++)
            if (strcmp(*s, ".") != 0)
                strv_push(&v, &n, xstrdup(*s));
        add_words(&t, "search", v);
        strv_free(v);
    } else {
        add_words(&t, "search", p.search);
    }
    add_words(&t, "options", dns->options ? dns->options : p.options);
    for (size_t i = 0; i < p.n_other; i++)
        text_add(&t, "%s\n", p.other[i]);

    text_add(&t, "\n# Generated by berth from %s%s.\n",
             host_text && *host_text && origin ? origin : "no host file",
             dropped ? " (loopback nameservers removed)" : "");
    if (defaults)
        text_add(&t, "# No usable nameserver on the host: Google's public servers stand in.\n");
    if (dns->servers || dns->search || dns->options)
        text_add(&t, "# Overrides:%s%s%s\n", dns->servers ? " nameservers" : "",
                 dns->search ? " search" : "", dns->options ? " options" : "");
    return text_take(&t);
}

char *netfiles_hosts(const char *hostname, char *const *add_hosts)
{
    struct text t = {0};
    text_add(&t, "127.0.0.1\tlocalhost\n"
                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "fe00::0\tip6-localnet\n"
                 "ff00::0\tip6-mcastprefix\n"
                 "ff02::1\tip6-allnodes\n"
                 "ff02::2\tip6-allrouters\n");
    for (char *const *h = add_hosts; h && *h; h++) {
        const char *colon = strchr(*h, ':');
        if (!colon)
            continue;
        text_add(&t, "%s\t%.*s\n", colon + 1, (int)(colon - *h), *h);
    }
    if (hostname && *hostname) {
        const char *dot = strchr(hostname, '.');
        if (dot && dot != hostname)
            text_add(&t, "127.0.0.1\t%s %.*s\n", hostname, (int)(dot - hostname), hostname);
        else
            text_add(&t, "127.0.0.1\t%s\n", hostname);
    }
    return text_take(&t);
}

char *netfiles_hostname(const char *hostname)
{
    return xasprintf("%s\n", hostname ? hostname : "");
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int netfiles_check_hostname(const char *hostname, struct berth_error **err)
{
    size_t len = hostname ? strlen(hostname) : 0;
    /* HOST_NAME_MAX, and RFC 1123 labels: letters, digits and '-', not at a label's ends. */
    if (len == 0 || len > 64)
        return berth_error_set(err, 0, "--hostname \"%s\": 1 to 64 characters",
                               hostname ? hostname : "");
    for (const char *label = hostname; *label;) {
        size_t n = strcspn(label, ".");
        bool ok = n > 0 && is_alnum(label[0]) && is_alnum(label[n - 1]) &&
                  (label[n] == '\0' || label[n + 1] != '\0');
        for (size_t i = 0; ok && i < n; i++)
            ok = is_alnum(label[i]) || label[i] == '-';
        if (!ok)
            return berth_error_set(err, 0,
                                   "--hostname \"%s\": labels of letters, digits and '-', "
                                   "joined by '.', each starting and ending with a letter or digit",
                                   hostname);
        label += n;
        if (*label == '.')
            label++;
    }
    return 0;
}

static bool is_ip(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static bool has_blank(const char *s)
{
    return strpbrk(s, " \t\r\n#;") != NULL;
}

int netfiles_check_add_host(const char *entry, struct berth_error **err)
{
    const char *colon = entry ? strchr(entry, ':') : NULL;
    if (!colon || colon == entry)
        return berth_error_set(err, 0, "--add-host \"%s\": NAME:IP expected", entry ? entry : "");
    _cleanup_free_ char *name = xstrndup(entry, (size_t)(colon - entry));
    if (has_blank(name))
        return berth_error_set(err, 0, "--add-host \"%s\": \"%s\" is not a host name", entry, name);
    if (!is_ip(colon + 1))
        return berth_error_set(err, 0, "--add-host \"%s\": \"%s\" is not an IP address", entry,
                               colon + 1);
    return 0;
}

int netfiles_check_dns_server(const char *ip, struct berth_error **err)
{
    if (!ip || !is_ip(ip))
        return berth_error_set(err, 0, "--dns \"%s\": not an IP address", ip ? ip : "");
    return 0;
}

int netfiles_check_word(const char *value, const char *option, struct berth_error **err)
{
    if (!value || !*value || has_blank(value))
        return berth_error_set(err, 0, "%s \"%s\": one word expected", option, value ? value : "");
    return 0;
}

int netfiles_write_at(int dirfd, const char *name, const char *text, const char *label,
                      struct berth_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return berth_error_set(err, errno, "open %s", name);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return berth_error_set(err, errno, "stat %s", name);
    if (!S_ISREG(st.st_mode))
        return berth_error_set(err, 0, "%s is not a regular file", name);
    if (ftruncate(fd, 0) < 0)
        return berth_error_set(err, errno, "truncate %s", name);
    size_t len = strlen(text);
    for (size_t off = 0; off < len;) {
        ssize_t w = pwrite(fd, text + off, len - off, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return berth_error_set(err, errno, "write %s", name);
        }
        off += (size_t)w;
    }
    if (label_file_fd(fd, label, err) < 0)
        return berth_error_prefix(err, "label %s", name);
    return 0;
}
