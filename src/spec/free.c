/* Releasing a parsed spec (also a half-built one a failed parse leaves), and lookups. */
#include "spec/internal.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

void spec_strv_freep(char ***v)
{
    strv_free(*v);
    *v = NULL;
}

static void key_values_free(struct spec_key_value *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void spec_process_free(struct spec_process *p)
{
    if (!p)
        return;
    free(p->user.additional_gids);
    strv_free(p->args);
    strv_free(p->env);
    free(p->cwd);
    if (p->capabilities) {
        free(p->capabilities->bounding);
        free(p->capabilities->effective);
        free(p->capabilities->inheritable);
        free(p->capabilities->permitted);
        free(p->capabilities->ambient);
        free(p->capabilities);
    }
    for (size_t i = 0; p->rlimits && i < p->n_rlimits; i++)
        free(p->rlimits[i].type);
    free(p->rlimits);
    free(p->apparmor_profile);
    free(p->selinux_label);
    free(p->scheduler);
    free(p->io_priority);
    free(p->exec_cpu_affinity_initial);
    free(p->exec_cpu_affinity_final);
    free(p);
}

void spec_resources_free(struct spec_resources *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->devices && i < r->n_devices; i++)
        free(r->devices[i].access);
    free(r->devices);
    free(r->memory);
    if (r->cpu) {
        free(r->cpu->cpus);
        free(r->cpu->mems);
        free(r->cpu);
    }
    if (r->block_io) {
        free(r->block_io->weight_device);
        free(r->block_io->throttle_read_bps);
        free(r->block_io->throttle_write_bps);
        free(r->block_io->throttle_read_iops);
        free(r->block_io->throttle_write_iops);
        free(r->block_io);
    }
    for (size_t i = 0; r->hugepage_limits && i < r->n_hugepage_limits; i++)
        free(r->hugepage_limits[i].page_size);
    free(r->hugepage_limits);
    for (size_t i = 0; r->net_priorities && i < r->n_net_priorities; i++)
        free(r->net_priorities[i].name);
    free(r->net_priorities);
    for (size_t i = 0; r->rdma && i < r->n_rdma; i++)
        free(r->rdma[i].device);
    free(r->rdma);
    key_values_free(r->unified, r->n_unified);
    free(r);
}

static void seccomp_free(struct spec_seccomp *s)
{
    if (!s)
        return;
    free(s->default_action);
    strv_free(s->architectures);
    strv_free(s->flags);
    free(s->listener_path);
    free(s->listener_metadata);
    for (size_t i = 0; s->syscalls && i < s->n_syscalls; i++) {
        struct spec_seccomp_syscall *sc = &s->syscalls[i];
        strv_free(sc->names);
        free(sc->action);
        for (size_t k = 0; sc->args && k < sc->n_args; k++)
            free(sc->args[k].op);
        free(sc->args);
    }
    free(s->syscalls);
    free(s);
}

void spec_linux_free(struct spec_linux *l)
{
    if (!l)
        return;
    for (size_t i = 0; l->namespaces && i < l->n_namespaces; i++)
        free(l->namespaces[i].path);
    free(l->namespaces);
    free(l->uid_mappings);
    free(l->gid_mappings);
    for (size_t i = 0; l->devices && i < l->n_devices; i++)
        free(l->devices[i].path);
    free(l->devices);
    free(l->cgroups_path);
    spec_resources_free(l->resources);
    free(l->rootfs_propagation);
    seccomp_free(l->seccomp);
    key_values_free(l->sysctl, l->n_sysctl);
    strv_free(l->masked_paths);
    strv_free(l->readonly_paths);
    free(l->mount_label);
    free(l);
}

void spec_free(struct spec *s)
{
    if (!s)
        return;
    free(s->oci_version);
    free(s->root_path);
    for (size_t i = 0; s->mounts && i < s->n_mounts; i++) {
        struct spec_mount *m = &s->mounts[i];
        free(m->destination);
        free(m->type);
        free(m->source);
        strv_free(m->options);
        free(m->uid_mappings);
        free(m->gid_mappings);
    }
    free(s->mounts);
    spec_process_free(s->process);
    free(s->hostname);
    free(s->domainname);
    for (int k = 0; k < SPEC_HOOK_KINDS; k++) {
        for (size_t i = 0; s->hooks.hooks[k] && i < s->hooks.n_hooks[k]; i++) {
            free(s->hooks.hooks[k][i].path);
            strv_free(s->hooks.hooks[k][i].args);
            strv_free(s->hooks.hooks[k][i].env);
        }
        free(s->hooks.hooks[k]);
    }
    key_values_free(s->annotations, s->n_annotations);
    spec_linux_free(s->linux_);
    free(s);
}

const struct spec_namespace *spec_namespace_find(const struct spec *s, enum spec_ns_type t)
{
    if (!s || !s->linux_)
        return NULL;
    for (size_t i = 0; i < s->linux_->n_namespaces; i++)
        if (s->linux_->namespaces[i].type == t)
            return &s->linux_->namespaces[i];
    return NULL;
}

const char *spec_annotation(const struct spec *s, const char *key)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n_annotations; i++)
        if (strcmp(s->annotations[i].key, key) == 0)
            return s->annotations[i].value;
    return NULL;
}
