/* struct spec back to config.json text, in the runtime-spec's field order. */
#include "spec/internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>

struct dump {
    uint64_t *big;
    size_t n_big;
};

static json_t *jstr(const char *s)
{
    return json_string(s);
}

static json_t *ju64(struct dump *d, uint64_t v)
{
    if (v <= INT64_MAX)
        return json_integer((json_int_t)v);
    d->big = xreallocarray(d->big, d->n_big + 1, sizeof(*d->big));
    d->big[d->n_big] = v;
    return spec_json_big_placeholder(d->n_big++);
}

static json_t *ji64(int64_t v)
{
    return json_integer((json_int_t)v);
}

static void set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v);
}

static void set_str(json_t *o, const char *key, const char *s)
{
    if (s)
        set(o, key, jstr(s));
}

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, jstr(v[i]));
    return a;
}

static void set_strv(json_t *o, const char *key, char *const *v)
{
    if (v)
        set(o, key, strv_json(v));
}

static void set_mappings(json_t *o, const char *key, const struct spec_id_mapping *m, size_t n)
{
    if (!n)
        return;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:I,s:I,s:I}", "containerID", (json_int_t)m[i].container_id, "hostID",
                         (json_int_t)m[i].host_id, "size", (json_int_t)m[i].size));
    set(o, key, a);
}

static void set_map(json_t *o, const char *key, const struct spec_key_value *kv, size_t n)
{
    if (!n)
        return;
    json_t *m = json_object();
    for (size_t i = 0; i < n; i++)
        set(m, kv[i].key, jstr(kv[i].value));
    set(o, key, m);
}

static void set_caps(json_t *o, const char *key, const int *caps, size_t n)
{
    if (!caps)
        return;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char *name = spec_cap_name(caps[i]);
        json_array_append_new(a, name ? jstr(name) : json_integer(caps[i]));
        free(name);
    }
    set(o, key, a);
}

static json_t *process_json(struct dump *d, const struct spec_process *p)
{
    json_t *o = json_object();
    if (p->terminal)
        set(o, "terminal", json_true());
    if (p->has_console_size)
        set(o, "consoleSize",
            json_pack("{s:I,s:I}", "height", (json_int_t)p->console_height, "width",
                      (json_int_t)p->console_width));
    json_t *user =
        json_pack("{s:I,s:I}", "uid", (json_int_t)p->user.uid, "gid", (json_int_t)p->user.gid);
    if (p->user.has_umask)
        set(user, "umask", json_integer(p->user.umask));
    if (p->user.n_additional_gids) {
        json_t *a = json_array();
        for (size_t i = 0; i < p->user.n_additional_gids; i++)
            json_array_append_new(a, json_integer(p->user.additional_gids[i]));
        set(user, "additionalGids", a);
    }
    set(o, "user", user);
    set_strv(o, "args", p->args);
    set_strv(o, "env", p->env);
    set_str(o, "cwd", p->cwd);
    if (p->capabilities) {
        const struct spec_capabilities *c = p->capabilities;
        json_t *caps = json_object();
        set_caps(caps, "bounding", c->bounding, c->n_bounding);
        set_caps(caps, "effective", c->effective, c->n_effective);
        set_caps(caps, "inheritable", c->inheritable, c->n_inheritable);
        set_caps(caps, "permitted", c->permitted, c->n_permitted);
        set_caps(caps, "ambient", c->ambient, c->n_ambient);
        set(o, "capabilities", caps);
    }
    if (p->n_rlimits) {
        json_t *a = json_array();
        for (size_t i = 0; i < p->n_rlimits; i++) {
            json_t *l = json_object();
            set_str(l, "type", p->rlimits[i].type);
            set(l, "hard", ju64(d, p->rlimits[i].hard));
            set(l, "soft", ju64(d, p->rlimits[i].soft));
            json_array_append_new(a, l);
        }
        set(o, "rlimits", a);
    }
    if (p->no_new_privileges)
        set(o, "noNewPrivileges", json_true());
    set_str(o, "apparmorProfile", p->apparmor_profile);
    if (p->has_oom_score_adj)
        set(o, "oomScoreAdj", json_integer(p->oom_score_adj));
    if (p->scheduler) {
        const struct spec_scheduler *s = p->scheduler;
        json_t *so = json_object();
        set_str(so, "policy", spec_sched_policy_name(s->policy));
        if (s->nice)
            set(so, "nice", json_integer(s->nice));
        if (s->priority)
            set(so, "priority", json_integer(s->priority));
        if (s->flags) {
            json_t *a = json_array();
            for (size_t i = 0; i < spec_n_sched_flags; i++)
                if (s->flags & spec_sched_flags[i].flag)
                    json_array_append_new(a, jstr(spec_sched_flags[i].name));
            set(so, "flags", a);
        }
        if (s->runtime)
            set(so, "runtime", ju64(d, s->runtime));
        if (s->deadline)
            set(so, "deadline", ju64(d, s->deadline));
        if (s->period)
            set(so, "period", ju64(d, s->period));
        set(o, "scheduler", so);
    }
    set_str(o, "selinuxLabel", p->selinux_label);
    if (p->io_priority)
        set(o, "ioPriority",
            json_pack("{s:s,s:I}", "class", spec_ioprio_class_name(p->io_priority->klass),
                      "priority", (json_int_t)p->io_priority->priority));
    if (p->exec_cpu_affinity_initial || p->exec_cpu_affinity_final) {
        json_t *a = json_object();
        set_str(a, "initial", p->exec_cpu_affinity_initial);
        set_str(a, "final", p->exec_cpu_affinity_final);
        set(o, "execCPUAffinity", a);
    }
    return o;
}

static json_t *throttle_json(struct dump *d, const struct spec_throttle_device *t, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_pack("{s:I,s:I}", "major", (json_int_t)t[i].major, "minor",
                              (json_int_t)t[i].minor);
        set(e, "rate", ju64(d, t[i].rate));
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *resources_json(struct dump *d, const struct spec_resources *r)
{
    json_t *o = json_object();
    if (r->n_devices) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_devices; i++) {
            const struct spec_device_rule *dr = &r->devices[i];
            json_t *e = json_object();
            set(e, "allow", json_boolean(dr->allow));
            if (dr->type != 'a')
                set(e, "type", json_stringn(&dr->type, 1));
            if (dr->has_major)
                set(e, "major", ji64(dr->major));
            if (dr->has_minor)
                set(e, "minor", ji64(dr->minor));
            set_str(e, "access", dr->access);
            json_array_append_new(a, e);
        }
        set(o, "devices", a);
    }
    if (r->memory) {
        const struct spec_memory *m = r->memory;
        json_t *e = json_object();
        if (m->has_limit)
            set(e, "limit", ji64(m->limit));
        if (m->has_reservation)
            set(e, "reservation", ji64(m->reservation));
        if (m->has_swap)
            set(e, "swap", ji64(m->swap));
        if (m->has_kernel)
            set(e, "kernel", ji64(m->kernel));
        if (m->has_kernel_tcp)
            set(e, "kernelTCP", ji64(m->kernel_tcp));
        if (m->has_swappiness)
            set(e, "swappiness", ju64(d, m->swappiness));
        if (m->has_disable_oom_killer)
            set(e, "disableOOMKiller", json_boolean(m->disable_oom_killer));
        if (m->has_use_hierarchy)
            set(e, "useHierarchy", json_boolean(m->use_hierarchy));
        if (m->has_check_before_update)
            set(e, "checkBeforeUpdate", json_boolean(m->check_before_update));
        set(o, "memory", e);
    }
    if (r->cpu) {
        const struct spec_cpu *c = r->cpu;
        json_t *e = json_object();
        if (c->has_shares)
            set(e, "shares", ju64(d, c->shares));
        if (c->has_quota)
            set(e, "quota", ji64(c->quota));
        if (c->has_burst)
            set(e, "burst", ju64(d, c->burst));
        if (c->has_period)
            set(e, "period", ju64(d, c->period));
        if (c->has_realtime_runtime)
            set(e, "realtimeRuntime", ji64(c->realtime_runtime));
        if (c->has_realtime_period)
            set(e, "realtimePeriod", ju64(d, c->realtime_period));
        set_str(e, "cpus", c->cpus);
        set_str(e, "mems", c->mems);
        if (c->has_idle)
            set(e, "idle", ji64(c->idle));
        set(o, "cpu", e);
    }
    if (r->has_pids_limit)
        set(o, "pids", json_pack("{s:I}", "limit", (json_int_t)r->pids_limit));
    if (r->block_io) {
        const struct spec_block_io *b = r->block_io;
        json_t *e = json_object();
        if (b->has_weight)
            set(e, "weight", json_integer(b->weight));
        if (b->has_leaf_weight)
            set(e, "leafWeight", json_integer(b->leaf_weight));
        if (b->n_weight_device) {
            json_t *a = json_array();
            for (size_t i = 0; i < b->n_weight_device; i++) {
                const struct spec_weight_device *w = &b->weight_device[i];
                json_t *we = json_pack("{s:I,s:I}", "major", (json_int_t)w->major, "minor",
                                       (json_int_t)w->minor);
                if (w->has_weight)
                    set(we, "weight", json_integer(w->weight));
                if (w->has_leaf_weight)
                    set(we, "leafWeight", json_integer(w->leaf_weight));
                json_array_append_new(a, we);
            }
            set(e, "weightDevice", a);
        }
        if (b->n_throttle_read_bps)
            set(e, "throttleReadBpsDevice",
                throttle_json(d, b->throttle_read_bps, b->n_throttle_read_bps));
        if (b->n_throttle_write_bps)
            set(e, "throttleWriteBpsDevice",
                throttle_json(d, b->throttle_write_bps, b->n_throttle_write_bps));
        if (b->n_throttle_read_iops)
            set(e, "throttleReadIOPSDevice",
                throttle_json(d, b->throttle_read_iops, b->n_throttle_read_iops));
        if (b->n_throttle_write_iops)
            set(e, "throttleWriteIOPSDevice",
                throttle_json(d, b->throttle_write_iops, b->n_throttle_write_iops));
        set(o, "blockIO", e);
    }
    if (r->n_hugepage_limits) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_hugepage_limits; i++) {
            json_t *e = json_pack("{s:s}", "pageSize", r->hugepage_limits[i].page_size);
            set(e, "limit", ju64(d, r->hugepage_limits[i].limit));
            json_array_append_new(a, e);
        }
        set(o, "hugepageLimits", a);
    }
    if (r->has_net_class_id || r->n_net_priorities) {
        json_t *e = json_object();
        if (r->has_net_class_id)
            set(e, "classID", json_integer(r->net_class_id));
        if (r->n_net_priorities) {
            json_t *a = json_array();
            for (size_t i = 0; i < r->n_net_priorities; i++)
                json_array_append_new(a, json_pack("{s:s,s:I}", "name", r->net_priorities[i].name,
                                                   "priority",
                                                   (json_int_t)r->net_priorities[i].priority));
            set(e, "priorities", a);
        }
        set(o, "network", e);
    }
    if (r->n_rdma) {
        json_t *e = json_object();
        for (size_t i = 0; i < r->n_rdma; i++) {
            json_t *dev = json_object();
            if (r->rdma[i].has_hca_handles)
                set(dev, "hcaHandles", json_integer(r->rdma[i].hca_handles));
            if (r->rdma[i].has_hca_objects)
                set(dev, "hcaObjects", json_integer(r->rdma[i].hca_objects));
            set(e, r->rdma[i].device, dev);
        }
        set(o, "rdma", e);
    }
    set_map(o, "unified", r->unified, r->n_unified);
    return o;
}

static json_t *seccomp_json(struct dump *d, const struct spec_seccomp *s)
{
    json_t *o = json_object();
    set_str(o, "defaultAction", s->default_action);
    if (s->has_default_errno_ret)
        set(o, "defaultErrnoRet", json_integer(s->default_errno_ret));
    set_strv(o, "architectures", s->architectures);
    set_strv(o, "flags", s->flags);
    set_str(o, "listenerPath", s->listener_path);
    set_str(o, "listenerMetadata", s->listener_metadata);
    if (s->n_syscalls) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_syscalls; i++) {
            const struct spec_seccomp_syscall *sc = &s->syscalls[i];
            json_t *e = json_object();
            set_strv(e, "names", sc->names);
            set_str(e, "action", sc->action);
            if (sc->has_errno_ret)
                set(e, "errnoRet", json_integer(sc->errno_ret));
            if (sc->n_args) {
                json_t *args = json_array();
                for (size_t k = 0; k < sc->n_args; k++) {
                    const struct spec_seccomp_arg *arg = &sc->args[k];
                    json_t *ae = json_pack("{s:I}", "index", (json_int_t)arg->index);
                    set(ae, "value", ju64(d, arg->value));
                    if (arg->value_two)
                        set(ae, "valueTwo", ju64(d, arg->value_two));
                    set_str(ae, "op", arg->op);
                    json_array_append_new(args, ae);
                }
                set(e, "args", args);
            }
            json_array_append_new(a, e);
        }
        set(o, "syscalls", a);
    }
    return o;
}

static json_t *time_offset_json(const struct spec_time_offset *t)
{
    json_t *o = json_object();
    if (t->secs)
        set(o, "secs", ji64(t->secs));
    if (t->nanosecs)
        set(o, "nanosecs", json_integer(t->nanosecs));
    return o;
}

static json_t *linux_json(struct dump *d, const struct spec_linux *l)
{
    json_t *o = json_object();
    set_mappings(o, "uidMappings", l->uid_mappings, l->n_uid_mappings);
    set_mappings(o, "gidMappings", l->gid_mappings, l->n_gid_mappings);
    set_map(o, "sysctl", l->sysctl, l->n_sysctl);
    if (l->resources)
        set(o, "resources", resources_json(d, l->resources));
    set_str(o, "cgroupsPath", l->cgroups_path);
    if (l->n_namespaces) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n_namespaces; i++) {
            json_t *e = json_pack("{s:s}", "type", spec_ns_type_name(l->namespaces[i].type));
            set_str(e, "path", l->namespaces[i].path);
            json_array_append_new(a, e);
        }
        set(o, "namespaces", a);
    }
    if (l->n_devices) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n_devices; i++) {
            const struct spec_device *dv = &l->devices[i];
            json_t *e = json_object();
            set_str(e, "path", dv->path);
            set(e, "type", json_stringn(&dv->type, 1));
            if (dv->type != 'p' || dv->major || dv->minor) {
                set(e, "major", ji64(dv->major));
                set(e, "minor", ji64(dv->minor));
            }
            if (dv->has_file_mode)
                set(e, "fileMode", json_integer(dv->file_mode));
            if (dv->has_uid)
                set(e, "uid", json_integer(dv->uid));
            if (dv->has_gid)
                set(e, "gid", json_integer(dv->gid));
            json_array_append_new(a, e);
        }
        set(o, "devices", a);
    }
    if (l->seccomp)
        set(o, "seccomp", seccomp_json(d, l->seccomp));
    set_str(o, "rootfsPropagation", l->rootfs_propagation);
    set_strv(o, "maskedPaths", l->masked_paths);
    set_strv(o, "readonlyPaths", l->readonly_paths);
    set_str(o, "mountLabel", l->mount_label);
    if (l->has_personality)
        set(o, "personality",
            json_pack("{s:s}", "domain",
                      l->personality_domain == PER_LINUX32 ? "LINUX32" : "LINUX"));
    if (l->time_monotonic.set || l->time_boottime.set) {
        json_t *t = json_object();
        if (l->time_monotonic.set)
            set(t, "monotonic", time_offset_json(&l->time_monotonic));
        if (l->time_boottime.set)
            set(t, "boottime", time_offset_json(&l->time_boottime));
        set(o, "timeOffsets", t);
    }
    return o;
}

char *spec_to_json(const struct spec *s)
{
    struct dump d = {0};
    json_t *o = json_object();
    set_str(o, "ociVersion", s->oci_version);
    if (s->process)
        set(o, "process", process_json(&d, s->process));
    json_t *root = json_pack("{s:s}", "path", s->root_path ? s->root_path : "");
    if (s->root_readonly)
        set(root, "readonly", json_true());
    set(o, "root", root);
    set_str(o, "hostname", s->hostname);
    set_str(o, "domainname", s->domainname);
    if (s->n_mounts) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_mounts; i++) {
            const struct spec_mount *m = &s->mounts[i];
            json_t *e = json_object();
            set_str(e, "destination", m->destination);
            set_str(e, "type", m->type);
            set_str(e, "source", m->source);
            set_strv(e, "options", m->options);
            set_mappings(e, "uidMappings", m->uid_mappings, m->n_uid_mappings);
            set_mappings(e, "gidMappings", m->gid_mappings, m->n_gid_mappings);
            json_array_append_new(a, e);
        }
        set(o, "mounts", a);
    }
    json_t *hooks = json_object();
    for (int k = 0; k < SPEC_HOOK_KINDS; k++) {
        if (!s->hooks.n_hooks[k])
            continue;
        json_t *a = json_array();
        for (size_t i = 0; i < s->hooks.n_hooks[k]; i++) {
            const struct spec_hook *h = &s->hooks.hooks[k][i];
            json_t *e = json_object();
            set_str(e, "path", h->path);
            set_strv(e, "args", h->args);
            set_strv(e, "env", h->env);
            if (h->has_timeout)
                set(e, "timeout", json_integer(h->timeout));
            json_array_append_new(a, e);
        }
        set(hooks, spec_hook_kind_name(k), a);
    }
    if (json_object_size(hooks))
        set(o, "hooks", hooks);
    else
        json_decref(hooks);
    set_map(o, "annotations", s->annotations, s->n_annotations);
    if (s->linux_)
        set(o, "linux", linux_json(&d, s->linux_));

    char *text = spec_json_dump(o, 1, true, d.big, d.n_big);
    json_decref(o);
    free(d.big);
    return text;
}
