/* A container's own /etc/resolv.conf, /etc/hosts and /etc/hostname: their text, and how they are
 * written. They are bind-mounted into the container, so a change is written into the same inode
 * (truncate, then write): a file renamed over them would leave the container the old one. */
#pragma once

#include <stdbool.h>

struct berth_error;

#define NETFILES_RESOLV_CONF "/etc/resolv.conf"
/* systemd-resolved's list of upstream servers, for hosts whose resolv.conf names its stub. */
#define NETFILES_RESOLVED_UPSTREAM "/run/systemd/resolve/resolv.conf"
#define NETFILES_STUB_RESOLVER     "127.0.0.53"
/* At most this much of the host's resolv.conf is read. */
#define NETFILES_MAX_HOST_FILE (1U << 20)

/* What the command line says about DNS; a NULL list means "not given". */
struct netfiles_dns {
    char **servers; /* --dns: replaces the host's servers, with no filtering */
    char **search;  /* --dns-search: replaces the host's; a "." entry is dropped */
    char **options; /* --dns-option: replaces the host's */
};

/* Whether a resolv.conf names exactly one nameserver and it is systemd-resolved's stub: the
 * servers that work from another network namespace are then in NETFILES_RESOLVED_UPSTREAM. */
bool netfiles_resolv_is_stub(const char *text);

/* The container's resolv.conf made from the host's (text read from `origin`; NULL or "" when the
 * host has none): comments and blank lines go, loopback nameservers (127.0.0.0/8, ::1) are
 * dropped since they cannot be reached from the container's network namespace, and when none
 * remain Google's public servers (8.8.8.8, 8.8.4.4) stand in, as Docker does on its default
 * network. The last search or domain line wins, options lines add up, other lines are kept.
 * --dns, --dns-search and --dns-option each replace the host's values wholesale (and --dns
 * skips the loopback filtering). A comment at the end says where the file came from. */
char *netfiles_resolv_conf(const char *host_text, const char *origin,
                           const struct netfiles_dns *dns);

/* The container's hosts: the localhost lines for IPv4 and IPv6, the --add-host lines
 * ("NAME:IP", split at the first ':' so that IPv6 addresses pass) in order, then the hostname
 * (and its first label, when it is a dotted name) on 127.0.0.1: the container's network
 * namespace has only its loopback to put it on. */
char *netfiles_hosts(const char *hostname, char *const *add_hosts);

/* "HOSTNAME\n". */
char *netfiles_hostname(const char *hostname);

/* Checks for the command line's values, with messages naming the option. */
int netfiles_check_hostname(const char *hostname, struct berth_error **err);
int netfiles_check_add_host(const char *entry, struct berth_error **err);
int netfiles_check_dns_server(const char *ip, struct berth_error **err);
/* --dns-search and --dns-option values: one word, no whitespace or '#'. */
int netfiles_check_word(const char *value, const char *option, struct berth_error **err);

/* Write `text` into dirfd/name in place: created 0644 when missing, else opened without
 * following a symlink, truncated and written (the inode stays). Then labelled with `label`
 * (label_file_fd: nothing when file labels are off or the label is empty). */
int netfiles_write_at(int dirfd, const char *name, const char *text, const char *label,
                      struct berth_error **err);
