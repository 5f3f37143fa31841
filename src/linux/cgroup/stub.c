#include "linux/cgroup/cgroup.h"
#include "berth/error.h"
#include <string.h>
#include <errno.h>
int cgroup_manager_check(const char *manager, enum cgroup_manager *out, struct berth_error **err){(void)manager;(void)err;*out=CGROUP_MANAGER_DISABLED;return 0;}
int cgroup_create(const char *p, const char *id, struct cgroup **out, struct berth_error **err){(void)p;(void)id;(void)out;return berth_error_set(err,ENOSYS,"stub");}
enum cgroup_mode cgroup_get_mode(const struct cgroup *cg){(void)cg;return CGROUP_MODE_HYBRID;}
int cgroup_clone_fd(const struct cgroup *cg){(void)cg;return -1;}
int cgroup_join_self(const struct cgroup *cg, struct berth_error **err){(void)cg;(void)err;return 0;}
int cgroup_apply(const struct cgroup *cg, const struct spec_resources *res, bool update, struct berth_error **err){(void)cg;(void)res;(void)update;(void)err;return 0;}
int cgroup_signal_all(const struct cgroup *cg, int sig, struct berth_error **err){(void)cg;(void)sig;(void)err;return 0;}
int cgroup_freeze(const struct cgroup *cg, bool f, struct berth_error **err){(void)cg;(void)f;(void)err;return 0;}
int cgroup_destroy(struct cgroup *cg, struct berth_error **err){(void)cg;(void)err;return 0;}
json_t *cgroup_to_json(const struct cgroup *cg){(void)cg;return NULL;}
int cgroup_from_json(json_t *j, struct cgroup **out, struct berth_error **err){(void)j;(void)err;*out=NULL;return 0;}
void cgroup_free(struct cgroup *cg){(void)cg;}
size_t cgroup_get_dirs(const struct cgroup *cg, const char *const **c, const char *const **p){(void)cg;(void)c;(void)p;return 0;}
