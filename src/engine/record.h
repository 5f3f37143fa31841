/* Where a container made from an image keeps itself: <storage-root>/containers/<NAME>/ (0700),
 * holding container.json (the record below), config.json (the bundle: the rootfs is the
 * container's layer), resolv.conf, resolv.conf.hash, hostname, hosts and, for a shareable IPC
 * namespace, the mount point shm/. The directory is flocked by every command that changes the
 * container; the record is replaced atomically, so readers never lock. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "engine/shm.h"

struct berth_error;

#define RECORD_DIR         "containers"
#define RECORD_FILE        "container.json"
#define RECORD_NAME_MAX    100
#define RECORD_RESOLV      "resolv.conf"
#define RECORD_RESOLV_HASH "resolv.conf.hash"
#define RECORD_HOSTS       "hosts"
#define RECORD_HOSTNAME    "hostname"
#define RECORD_SHM         "shm"
#define RECORD_BUNDLE      "config.json"
#define RECORD_LOG         "container.log" /* stdout and stderr of detached runs */

struct record {
    char *id;   /* 64 hex digits; the container's layer has this id */
    char *name; /* also its id in the runtime's state root */
    char *image;
    char *image_digest;
    char *layer;
    char *rootfs; /* the layer's directory */
    char *bundle; /* the container's directory */
    char *created;
    char *hostname;
    enum shm_ipc_mode ipc;
    char *ipc_container; /* the NAME of --ipc container:NAME */
    uint64_t shm_size;
    bool tty;
    /* Set until create has made everything: rm -f still finds what to remove. */
    bool incomplete;
    char *process_label; /* NULL when labels are off */
    char *mount_label;
    /* --dns, --dns-search, --dns-option; NULL when not given. */
    char **dns_servers;
    char **dns_search;
    char **dns_options;
    /* Whether berth provides /etc/resolv.conf, /etc/hosts, /etc/hostname (no -v over them). */
    bool own_resolv, own_hosts, own_hostname;
    char **volumes; /* the named volumes it binds; NULL when none */
    char *started; /* the last start, or NULL */
    bool has_exit_code;
    int exit_code; /* of the last run started in the foreground */
};

void record_clear(struct record *r);
int record_read(int dirfd, struct record *r, struct berth_error **err);
int record_write(int dirfd, const struct record *r, struct berth_error **err);

/* A container name: a letter or digit, then letters, digits, '_', '.' or '-', at most
 * RECORD_NAME_MAX in all (a valid runtime container id too). */
bool record_name_valid(const char *name);

/* <storage_root>/containers, made 0700 with its parents when `create`. */
int record_root_open(const char *storage_root, bool create, struct berth_error **err);
/* Make <containers>/<name> (0700) exclusively and flock it: `container "x" already exists`. */
int record_dir_create(int root_fd, const char *name, struct berth_error **err);
/* Open <containers>/<name>, flocked when `lock`: -ENOENT with `container "x" does not exist`. */
int record_dir_open(int root_fd, const char *name, bool lock, struct berth_error **err);
