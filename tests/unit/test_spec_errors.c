/* Malformed configs: each one must be refused with exactly the message a user would need. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "spec/spec.h"
#include "util/mem.h"

struct error_case {
    const char *name;
    const char *json; /* ' stands for " (in syntax_cases, text as is) */
    const char *want; /* likewise */
};

/* The smallest valid document, to extend. */
#define B          "'ociVersion':'1.2.1','root':{'path':'rootfs'}"
#define PROC(x)    "{" B ",'process':{'args':['sh'],'cwd':'/'," x "}}"
#define LINUX(x)   "{" B ",'linux':{" x "}}"
#define NS(x)      "'namespaces':[{'type':'pid'},{'type':'mount'}," x "]"
#define NS0        "'namespaces':[{'type':'pid'},{'type':'mount'}]"
#define RES(x)     LINUX("'resources':{" x "}")
#define SECCOMP(x) LINUX("'seccomp':{" x "}")

/* Syntax: ORIGIN:LINE:COLUMN as jansson counts them; jansson quotes with ' itself. */
static const struct error_case syntax_cases[] = {
    {"syntax", "{\n  \"ociVersion\": \"1.2.1\",\n}",
     "config.json:3:1: string or '}' expected near '}'"},
    {"syntax deep",
     "{\"ociVersion\": \"1.2.1\",\n \"root\": {\"path\": \"r\"},\n \"mounts\": [1,]}",
     "config.json:3:15: unexpected token near ']'"},
    {"empty", "", "config.json:1:0: unexpected token near end of file"},
    {"trailing", "{}x", "config.json:1:3: end of file expected near 'x'"},
    {"duplicate key", "{\"root\": 1, \"root\": 2}",
     "config.json:1:18: duplicate object key near '\"root\"'"},
    {"nul in string", "{\"a\": 1,\n \"b\": \"x\\u0000\"}",
     "config.json:2:9: \\u0000 is not allowed in strings"},
};

static const struct error_case cases[] = {
    {"not an object", "['x']", "config.json: must be a JSON object"},

    /* ociVersion */
    {"version missing", "{'root':{'path':'r'}}",
     "config.json: ociVersion: must be a string; it is missing"},
    {"version null", "{'ociVersion':null,'root':{'path':'r'}}",
     "config.json: ociVersion: must be a string; it is missing"},
    {"version number", "{'ociVersion':1.2,'root':{'path':'r'}}",
     "config.json: ociVersion: must be a string"},
    {"version 2", "{'ociVersion':'2.0.0','root':{'path':'r'}}",
     "config.json: ociVersion: unsupported version '2.0.0': berth supports 1.x"},
    {"version short", "{'ociVersion':'1.0','root':{'path':'r'}}",
     "config.json: ociVersion: malformed version '1.0': want MAJOR.MINOR.PATCH"},
    {"version prefix", "{'ociVersion':'v1.0.0','root':{'path':'r'}}",
     "config.json: ociVersion: malformed version 'v1.0.0': want MAJOR.MINOR.PATCH"},
    {"version suffix", "{'ociVersion':'1.0.0dev','root':{'path':'r'}}",
     "config.json: ociVersion: malformed version '1.0.0dev': want MAJOR.MINOR.PATCH"},

    /* root */
    {"root missing", "{'ociVersion':'1.2.1'}",
     "config.json: root: must be an object; it is missing"},
    {"root array", "{'ociVersion':'1.2.1','root':[]}", "config.json: root: must be an object"},
    {"root path missing", "{'ociVersion':'1.2.1','root':{}}",
     "config.json: root.path: must be a string; it is missing"},
    {"root path empty", "{'ociVersion':'1.2.1','root':{'path':''}}",
     "config.json: root.path: must not be empty"},
    {"root readonly", "{'ociVersion':'1.2.1','root':{'path':'r','readonly':'yes'}}",
     "config.json: root.readonly: must be a boolean"},

    /* process */
    {"process not object", "{" B ",'process':[]}", "config.json: process: must be an object"},
    {"args empty", "{" B ",'process':{'args':[],'cwd':'/'}}",
     "config.json: process.args: must be a non-empty array of strings"},
    {"args missing", "{" B ",'process':{'cwd':'/'}}",
     "config.json: process.args: must be a non-empty array of strings"},
    {"args string", "{" B ",'process':{'args':'sh','cwd':'/'}}",
     "config.json: process.args: must be a non-empty array of strings"},
    {"args element", "{" B ",'process':{'args':['sh',1],'cwd':'/'}}",
     "config.json: process.args[1]: must be a string"},
    {"cwd relative", "{" B ",'process':{'args':['sh'],'cwd':'tmp'}}",
     "config.json: process.cwd: must be an absolute path, not 'tmp'"},
    {"cwd missing", "{" B ",'process':{'args':['sh']}}",
     "config.json: process.cwd: must be an absolute path; it is missing"},
    {"env element", PROC("'env':['A=1',{}]"), "config.json: process.env[1]: must be a string"},
    {"env without =", PROC("'env':['A=1','NOEQUALS']"),
     "config.json: process.env[1]: 'NOEQUALS' is not KEY=value"},
    {"env empty name", PROC("'env':['=x']"), "config.json: process.env[0]: '=x' is not KEY=value"},
    {"terminal", PROC("'terminal':1"), "config.json: process.terminal: must be a boolean"},
    {"console size", PROC("'consoleSize':{'height':1}"),
     "config.json: process.consoleSize.width: must be an integer from 0 to 4294967295; it is "
     "missing"},
    {"uid negative", PROC("'user':{'uid':-1}"),
     "config.json: process.user.uid: must be an integer from 0 to 4294967295"},
    {"uid too big", PROC("'user':{'uid':4294967296}"),
     "config.json: process.user.uid: must be an integer from 0 to 4294967295"},
    {"gid string", PROC("'user':{'gid':'0'}"),
     "config.json: process.user.gid: must be an integer from 0 to 4294967295"},
    {"gid real", PROC("'user':{'gid':1.0}"),
     "config.json: process.user.gid: must be an integer from 0 to 4294967295"},
    {"umask", PROC("'user':{'umask':-18}"),
     "config.json: process.user.umask: must be an integer from 0 to 4294967295"},
    {"additional gid", PROC("'user':{'additionalGids':[1,-1]}"),
     "config.json: process.user.additionalGids[1]: must be an integer from 0 to 4294967295"},
    {"capability unknown", PROC("'capabilities':{'bounding':['CAP_KILL','CAP_FOO']}"),
     "config.json: process.capabilities.bounding[1]: unknown capability 'CAP_FOO'"},
    {"capability lowercase", PROC("'capabilities':{'effective':['cap_kill']}"),
     "config.json: process.capabilities.effective[0]: unknown capability 'cap_kill'"},
    {"capability number", PROC("'capabilities':{'ambient':['12']}"),
     "config.json: process.capabilities.ambient[0]: unknown capability '12'"},
    {"capability type", PROC("'capabilities':{'permitted':[12]}"),
     "config.json: process.capabilities.permitted[0]: must be a string"},
    {"capability set", PROC("'capabilities':{'inheritable':'CAP_KILL'}"),
     "config.json: process.capabilities.inheritable: must be an array of strings"},
    {"rlimit unknown", PROC("'rlimits':[{'type':'RLIMIT_FOO','hard':1,'soft':1}]"),
     "config.json: process.rlimits[0].type: unknown rlimit 'RLIMIT_FOO'"},
    {"rlimit duplicate",
     PROC("'rlimits':[{'type':'RLIMIT_NOFILE','hard':1,'soft':1},"
          "{'type':'RLIMIT_NOFILE','hard':2,'soft':2}]"),
     "config.json: process.rlimits[1].type: duplicate rlimit 'RLIMIT_NOFILE'"},
    {"rlimit soft above hard", PROC("'rlimits':[{'type':'RLIMIT_NOFILE','hard':1024,'soft':4096}]"),
     "config.json: process.rlimits[0]: soft limit 4096 is above the hard limit 1024"},
    {"rlimit hard missing", PROC("'rlimits':[{'type':'RLIMIT_NOFILE','soft':1}]"),
     "config.json: process.rlimits[0].hard: must be an integer from 0 to 18446744073709551615; "
     "it is missing"},
    {"rlimit beyond uint64",
     PROC("'rlimits':[{'type':'RLIMIT_CORE','hard':18446744073709551616,'soft':1}]"),
     "config.json: process.rlimits[0].hard: must be an integer from 0 to 18446744073709551615"},
    {"rlimit negative", PROC("'rlimits':[{'type':'RLIMIT_CORE','hard':-1,'soft':1}]"),
     "config.json: process.rlimits[0].hard: must be an integer from 0 to 18446744073709551615"},
    {"oom score", PROC("'oomScoreAdj':1001"),
     "config.json: process.oomScoreAdj: must be an integer from -1000 to 1000"},
    {"scheduler policy", PROC("'scheduler':{'policy':'SCHED_FAST'}"),
     "config.json: process.scheduler.policy: unknown policy 'SCHED_FAST'"},
    {"scheduler flag", PROC("'scheduler':{'policy':'SCHED_OTHER','flags':['SCHED_FLAG_X']}"),
     "config.json: process.scheduler.flags[0]: unknown flag 'SCHED_FLAG_X'"},
    {"scheduler nice", PROC("'scheduler':{'policy':'SCHED_OTHER','nice':20}"),
     "config.json: process.scheduler.nice: must be from -20 to 19 for SCHED_OTHER"},
    {"scheduler priority", PROC("'scheduler':{'policy':'SCHED_BATCH','priority':5}"),
     "config.json: process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, "
     "not SCHED_BATCH"},
    {"scheduler deadline", PROC("'scheduler':{'policy':'SCHED_RR','priority':5,'runtime':1}"),
     "config.json: process.scheduler: runtime, deadline and period are for SCHED_DEADLINE only, "
     "not SCHED_RR"},
    {"io priority class", PROC("'ioPriority':{'class':'IOPRIO_CLASS_NONE','priority':0}"),
     "config.json: process.ioPriority.class: unknown class 'IOPRIO_CLASS_NONE'"},
    {"io priority range", PROC("'ioPriority':{'class':'IOPRIO_CLASS_BE','priority':8}"),
     "config.json: process.ioPriority.priority: must be an integer from 0 to 7"},
    {"cpu affinity", PROC("'execCPUAffinity':{'initial':'0-'}"),
     "config.json: process.execCPUAffinity.initial: '0-' is not a CPU list like '0-3,7'"},
    {"selinux label", PROC("'selinuxLabel':7"),
     "config.json: process.selinuxLabel: must be a string"},

    /* hooks */
    {"hooks type", "{" B ",'hooks':[]}", "config.json: hooks: must be an object"},
    {"hook relative", "{" B ",'hooks':{'prestart':[{'path':'bin/hook'}]}}",
     "config.json: hooks.prestart[0].path: must be an absolute path, not 'bin/hook'"},
    {"hook path missing", "{" B ",'hooks':{'createRuntime':[{'args':['x']}]}}",
     "config.json: hooks.createRuntime[0].path: must be an absolute path; it is missing"},
    {"hook timeout zero", "{" B ",'hooks':{'poststop':[{'path':'/h'},{'path':'/h','timeout':0}]}}",
     "config.json: hooks.poststop[1].timeout: must be an integer from 1 to 2147483647"},
    {"hook timeout negative", "{" B ",'hooks':{'startContainer':[{'path':'/h','timeout':-5}]}}",
     "config.json: hooks.startContainer[0].timeout: must be an integer from 1 to 2147483647"},
    {"hook kind type", "{" B ",'hooks':{'poststart':{}}}",
     "config.json: hooks.poststart: must be an array"},

    /* mounts */
    {"mount destination",
     "{" B ",'mounts':[{'destination':'/a'},{'destination':'/b'},{'destination':'/c'},"
     "{'destination':7}]}",
     "config.json: mounts[3].destination: must be a string"},
    {"mount destination missing", "{" B ",'mounts':[{'type':'tmpfs'}]}",
     "config.json: mounts[0].destination: must be a string; it is missing"},
    {"mount option", "{" B ",'mounts':[{'destination':'/a','options':['ro',1]}]}",
     "config.json: mounts[0].options[1]: must be a string"},
    {"mount mapping half",
     "{" B
     ",'mounts':[{'destination':'/a','uidMappings':[{'containerID':0,'hostID':1,'size':1}]}]}",
     "config.json: mounts[0]: an id-mapped mount needs both uidMappings and gidMappings"},
    {"mount idmap without mappings", "{" B ",'mounts':[{'destination':'/a','options':['idmap']}]}",
     "config.json: mounts[0]: an id-mapped mount needs uidMappings and gidMappings, or a user "
     "namespace to take them from"},

    /* annotations */
    {"annotation value", "{" B ",'annotations':{'org.example':1}}",
     "config.json: annotations['org.example']: must be a string"},
    {"annotations type", "{" B ",'annotations':['a']}",
     "config.json: annotations: must be an object mapping strings to strings"},

    /* namespaces and mappings */
    {"linux type", "{" B ",'linux':[]}", "config.json: linux: must be an object"},
    {"namespace unknown", LINUX(NS("{'type':'foo'}")),
     "config.json: linux.namespaces[2].type: unknown namespace 'foo'"},
    {"namespace duplicate", LINUX(NS("{'type':'pid'}")),
     "config.json: linux.namespaces[2].type: duplicate namespace 'pid'"},
    {"namespace path", LINUX(NS("{'type':'network','path':'netns'}")),
     "config.json: linux.namespaces[2].path: must be an absolute path, not 'netns'"},
    {"namespace type missing", LINUX(NS("{'path':'/x'}")),
     "config.json: linux.namespaces[2].type: must be a string; it is missing"},
    {"uid mappings without userns",
     LINUX("'uidMappings':[{'containerID':0,'hostID':1000,'size':1}]"),
     "config.json: linux.uidMappings: given without a user namespace in linux.namespaces"},
    {"gid mappings without userns",
     LINUX("'gidMappings':[{'containerID':0,'hostID':1000,'size':1}]," NS("{'type':'uts'}")),
     "config.json: linux.gidMappings: given without a user namespace in linux.namespaces"},
    {"userns without uid mappings",
     LINUX(NS("{'type':'user'}") ",'gidMappings':[{'containerID':0,'hostID':1000,'size':1}]"),
     "config.json: linux.namespaces[2]: a new user namespace needs linux.uidMappings"},
    {"userns without gid mappings",
     LINUX(NS("{'type':'user'}") ",'uidMappings':[{'containerID':0,'hostID':1000,'size':1}]"),
     "config.json: linux.namespaces[2]: a new user namespace needs linux.gidMappings"},
    {"mapping size zero", LINUX("'uidMappings':[{'containerID':0,'hostID':1000,'size':0}]"),
     "config.json: linux.uidMappings[0].size: must be an integer from 1 to 4294967295"},
    {"mapping overflow", LINUX("'uidMappings':[{'containerID':0,'hostID':4294967295,'size':2}]"),
     "config.json: linux.uidMappings[0]: the range runs past 4294967295"},
    {"mapping host missing", LINUX("'gidMappings':[{'containerID':0,'size':2}]"),
     "config.json: linux.gidMappings[0].hostID: must be an integer from 0 to 4294967295; it is "
     "missing"},
    {"time offsets without timens", LINUX("'timeOffsets':{'monotonic':{'secs':1}}"),
     "config.json: linux.timeOffsets: given without a time namespace in linux.namespaces"},
    {"time offsets joined",
     LINUX(NS("{'type':'time','path':'/proc/1/ns/time'}") ",'timeOffsets':{'boottime':{'secs':1}}"),
     "config.json: linux.timeOffsets: only a new time namespace takes offsets, not a joined one"},
    {"time offsets clock", LINUX(NS("{'type':'time'}") ",'timeOffsets':{'realtime':{'secs':1}}"),
     "config.json: linux.timeOffsets.realtime: unknown clock 'realtime': must be monotonic or "
     "boottime"},
    {"time offsets nanosecs",
     LINUX(NS("{'type':'time'}") ",'timeOffsets':{'monotonic':{'nanosecs':1000000000}}"),
     "config.json: linux.timeOffsets.monotonic.nanosecs: must be an integer from 0 to 999999999"},

    /* devices */
    {"device type", LINUX("'devices':[{'path':'/dev/x','type':'x','major':1,'minor':1}]"),
     "config.json: linux.devices[0].type: unknown device type 'x': must be c, b, u or p"},
    {"device path relative", LINUX("'devices':[{'path':'dev/x','type':'c','major':1,'minor':1}]"),
     "config.json: linux.devices[0].path: must be an absolute path, not 'dev/x'"},
    {"device major missing", LINUX("'devices':[{'path':'/dev/x','type':'c','minor':1}]"),
     "config.json: linux.devices[0].major: required for device type c"},
    {"device minor missing",
     LINUX("'devices':[{'path':'/dev/p','type':'p'},{'path':'/dev/x','type':'b','major':8}]"),
     "config.json: linux.devices[1].minor: required for device type b"},
    {"device file mode",
     LINUX("'devices':[{'path':'/dev/x','type':'u','major':1,'minor':1,'fileMode':-1}]"),
     "config.json: linux.devices[0].fileMode: must be an integer from 0 to 4294967295"},

    /* sysctl */
    {"sysctl net", LINUX("'sysctl':{'net.ipv4.ip_forward':'1'}," NS0),
     "config.json: linux.sysctl: 'net.ipv4.ip_forward' needs a new network namespace: setting it "
     "would change the host"},
    {"sysctl net slashes", LINUX("'sysctl':{'net/ipv4/ip_forward':'1'}," NS0),
     "config.json: linux.sysctl: 'net/ipv4/ip_forward' needs a new network namespace: setting it "
     "would change the host"},
    {"sysctl ipc", LINUX("'sysctl':{'kernel.shmmax':'1'}," NS("{'type':'network'}")),
     "config.json: linux.sysctl: 'kernel.shmmax' needs a new IPC namespace: setting it would "
     "change the host"},
    {"sysctl mqueue", LINUX("'sysctl':{'fs.mqueue.msg_max':'1'}"),
     "config.json: linux.sysctl: 'fs.mqueue.msg_max' needs a new IPC namespace: setting it would "
     "change the host"},
    {"sysctl domainname", LINUX("'sysctl':{'kernel.domainname':'x'}," NS("{'type':'ipc'}")),
     "config.json: linux.sysctl: 'kernel.domainname' needs a new UTS namespace: setting it would "
     "change the host"},
    {"sysctl hostname", LINUX("'sysctl':{'kernel.hostname':'x'}," NS("{'type':'uts'}")),
     "config.json: linux.sysctl: 'kernel.hostname' conflicts with the hostname field: set that "
     "instead"},
    {"sysctl user", LINUX("'sysctl':{'user.max_user_namespaces':'0'}"),
     "config.json: linux.sysctl: 'user.max_user_namespaces' needs a new user namespace: setting "
     "it would change the host"},
    {"sysctl not namespaced", LINUX("'sysctl':{'vm.swappiness':'10'}," NS("{'type':'network'}")),
     "config.json: linux.sysctl: 'vm.swappiness' is not namespaced: setting it would change the "
     "host"},
    {"sysctl kernel other", LINUX("'sysctl':{'kernel.shm_next_id':'1'}," NS("{'type':'ipc'}")),
     "config.json: linux.sysctl: 'kernel.shm_next_id' is not namespaced: setting it would change "
     "the host"},
    {"sysctl value", LINUX("'sysctl':{'net.core.somaxconn':1024}"),
     "config.json: linux.sysctl['net.core.somaxconn']: must be a string"},

    /* names and paths that need namespaces */
    {"hostname without uts", "{" B ",'hostname':'x'}",
     "config.json: hostname: needs a UTS namespace in linux.namespaces: setting it would change "
     "the host"},
    {"domainname without uts", "{" B ",'domainname':'x','linux':{}}",
     "config.json: domainname: needs a UTS namespace in linux.namespaces: setting it would change "
     "the host"},
    {"masked path relative", LINUX("'maskedPaths':['/proc/kcore','proc/keys']"),
     "config.json: linux.maskedPaths[1]: must be an absolute path, not 'proc/keys'"},
    {"masked paths without mountns", LINUX("'maskedPaths':['/proc/kcore']"),
     "config.json: linux.maskedPaths: needs a mount namespace in linux.namespaces"},
    {"rootfs propagation without mountns", LINUX("'rootfsPropagation':'rshared'"),
     "config.json: linux.rootfsPropagation: needs a mount namespace in linux.namespaces: it would "
     "change the mounts of the host"},
    {"user namespace without mountns",
     LINUX("'namespaces':[{'type':'pid'},{'type':'user'}],"
           "'uidMappings':[{'containerID':0,'hostID':1000,'size':1}],"
           "'gidMappings':[{'containerID':0,'hostID':1000,'size':1}]"),
     "config.json: linux.namespaces[1]: a user namespace needs a mount namespace in "
     "linux.namespaces too: the mount namespace of the host takes no mounts made in it"},
    {"readonly paths type", LINUX("'readonlyPaths':'/proc/sys'"),
     "config.json: linux.readonlyPaths: must be an array of strings"},
    {"rootfs propagation", LINUX("'rootfsPropagation':'recursive'"),
     "config.json: linux.rootfsPropagation: unknown propagation 'recursive': must be private, "
     "rprivate, slave, rslave, shared, rshared, unbindable or runbindable"},
    {"mount label", LINUX("'mountLabel':['x']"), "config.json: linux.mountLabel: must be a string"},

    /* seccomp */
    {"seccomp default missing", SECCOMP("'syscalls':[]"),
     "config.json: linux.seccomp.defaultAction: must be a string; it is missing"},
    {"seccomp default action", SECCOMP("'defaultAction':'SCMP_ACT_DENY'"),
     "config.json: linux.seccomp.defaultAction: unknown action 'SCMP_ACT_DENY'"},
    {"seccomp default notify",
     SECCOMP("'defaultAction':'SCMP_ACT_NOTIFY','listenerPath':'/run/s.sock'"),
     "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
    {"seccomp action",
     SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],'action':'ALLOW'}]"),
     "config.json: linux.seccomp.syscalls[0].action: unknown action 'ALLOW'"},
    {"seccomp operator",
     SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],'action':"
             "'SCMP_ACT_ERRNO','args':[{'index':0,'value':1,'op':'SCMP_CMP_MAYBE'}]}]"),
     "config.json: linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_MAYBE'"},
    {"seccomp arg index",
     SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],'action':"
             "'SCMP_ACT_ERRNO','args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]"),
     "config.json: linux.seccomp.syscalls[0].args[0].index: must be an integer from 0 to 5"},
    {"seccomp arg value",
     SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['read'],'action':"
             "'SCMP_ACT_ERRNO','args':[{'index':0,'value':-1,'op':'SCMP_CMP_EQ'}]}]"),
     "config.json: linux.seccomp.syscalls[0].args[0].value: must be an integer from 0 to "
     "18446744073709551615"},
    {"seccomp arch", SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','architectures':['SCMP_ARCH_Z80']"),
     "config.json: linux.seccomp.architectures[0]: unknown architecture 'SCMP_ARCH_Z80'"},
    {"seccomp flag",
     SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','flags':['SECCOMP_FILTER_FLAG_NEW']"),
     "config.json: linux.seccomp.flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_NEW'"},
    {"seccomp notify without listener",
     SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['mkdir'],'action':"
             "'SCMP_ACT_NOTIFY'}]"),
     "config.json: linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs "
     "linux.seccomp.listenerPath"},
    {"seccomp names empty",
     SECCOMP("'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':[],'action':'SCMP_ACT_LOG'}]"),
     "config.json: linux.seccomp.syscalls[0].names: must be a non-empty array of strings"},
    {"seccomp errno ret", SECCOMP("'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':-1"),
     "config.json: linux.seccomp.defaultErrnoRet: must be an integer from 0 to 4294967295"},

    /* fields berth refuses */
    {"intel rdt", LINUX("'intelRdt':{'closID':'x'}"),
     "config.json: linux.intelRdt: not supported by berth"},
    {"net devices", LINUX("'netDevices':{'eth0':{}}"),
     "config.json: linux.netDevices: not supported by berth"},
    {"memory policy", LINUX("'memoryPolicy':{'mode':'MPOL_BIND'}"),
     "config.json: linux.memoryPolicy: not supported by berth"},
    {"personality flags", LINUX("'personality':{'domain':'LINUX','flags':['ADDR_NO_RANDOMIZE']}"),
     "config.json: linux.personality.flags: not supported by berth"},
    {"personality domain", LINUX("'personality':{'domain':'BSD'}"),
     "config.json: linux.personality.domain: unknown domain 'BSD': must be LINUX or LINUX32"},

    /* resources */
    {"device rule access", RES("'devices':[{'allow':true,'access':'rwx'}]"),
     "config.json: linux.resources.devices[0].access: 'rwx' is not a combination of r, w and m"},
    {"device rule access repeated", RES("'devices':[{'allow':true,'access':'rr'}]"),
     "config.json: linux.resources.devices[0].access: 'rr' is not a combination of r, w and m"},
    {"device rule type", RES("'devices':[{'allow':false},{'allow':true,'type':'u'}]"),
     "config.json: linux.resources.devices[1].type: unknown device type 'u': must be a, c or b"},
    {"device rule allow", RES("'devices':[{'access':'rwm'}]"),
     "config.json: linux.resources.devices[0].allow: must be a boolean; it is missing"},
    {"memory limit string", RES("'memory':{'limit':'1G'}"),
     "config.json: linux.resources.memory.limit: must be an integer from -9223372036854775808 to "
     "9223372036854775807"},
    {"memory limit above int64", RES("'memory':{'limit':9223372036854775808}"),
     "config.json: linux.resources.memory.limit: must be an integer from -9223372036854775808 to "
     "9223372036854775807"},
    {"memory limit below int64", RES("'memory':{'swap':-9223372036854775809}"),
     "config.json: linux.resources.memory.swap: must be an integer from -9223372036854775808 to "
     "9223372036854775807"},
    {"memory swappiness", RES("'memory':{'swappiness':101}"),
     "config.json: linux.resources.memory.swappiness: must be an integer from 0 to 100"},
    {"memory bool", RES("'memory':{'disableOOMKiller':'true'}"),
     "config.json: linux.resources.memory.disableOOMKiller: must be a boolean"},
    {"cpu shares", RES("'cpu':{'shares':-2}"),
     "config.json: linux.resources.cpu.shares: must be an integer from 0 to 18446744073709551615"},
    {"cpu quota real", RES("'cpu':{'quota':1.5}"),
     "config.json: linux.resources.cpu.quota: must be an integer from -9223372036854775808 to "
     "9223372036854775807"},
    {"pids limit", RES("'pids':{'limit':'max'}"),
     "config.json: linux.resources.pids.limit: must be an integer from -9223372036854775808 to "
     "9223372036854775807"},
    {"blkio weight", RES("'blockIO':{'weight':70000}"),
     "config.json: linux.resources.blockIO.weight: must be an integer from 0 to 65535"},
    {"blkio device", RES("'blockIO':{'throttleReadBpsDevice':[{'major':8,'rate':1}]}"),
     "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].minor: must be an integer "
     "from -9223372036854775808 to 9223372036854775807; it is missing"},
    {"hugepage size", RES("'hugepageLimits':[{'pageSize':'2M','limit':1}]"),
     "config.json: linux.resources.hugepageLimits[0].pageSize: '2M' is not a page size like "
     "'2MB' or '1GB'"},
    {"network priority", RES("'network':{'priorities':[{'priority':1}]}"),
     "config.json: linux.resources.network.priorities[0].name: must be a string; it is missing"},
    {"rdma", RES("'rdma':{'mlx5_1':{'hcaHandles':-1}}"),
     "config.json: linux.resources.rdma.mlx5_1.hcaHandles: must be an integer from 0 to "
     "4294967295"},
    {"unified", RES("'unified':{'memory.max':100}"),
     "config.json: linux.resources.unified['memory.max']: must be a string"},
};

static char *unquote(const char *s, bool raw)
{
    char *t = xstrdup(s);
    if (!raw)
        for (char *p = t; *p; p++)
            if (*p == '\'')
                *p = '"';
    return t;
}

static void check(const struct error_case *ec, bool raw)
{
    char *json = unquote(ec->json, raw);
    char *want = unquote(ec->want, raw);
    struct spec *s = NULL;
    struct berth_error *err = NULL;
    int r = spec_parse(json, strlen(json), "config.json", &s, &err);
    if (r == 0)
        fail_msg("accepted: %s", json);
    assert_int_equal(r, -EINVAL);
    assert_null(s);
    assert_non_null(err);
    assert_string_equal(err->msg, want);
    berth_error_free(err);
    free(json);
    free(want);
}

static void run_case(void **state)
{
    check(*state, false);
}

static void run_syntax_case(void **state)
{
    check(*state, true);
}

int main(void)
{
    /* One named test per case, so a failure says which config it was. */
    size_t n_syntax = sizeof(syntax_cases) / sizeof(syntax_cases[0]);
    size_t n = n_syntax + sizeof(cases) / sizeof(cases[0]);
    struct CMUnitTest *tests = xcalloc(n, sizeof(*tests));
    for (size_t i = 0; i < n; i++) {
        bool syntax = i < n_syntax;
        const struct error_case *ec = syntax ? &syntax_cases[i] : &cases[i - n_syntax];
        tests[i] = (struct CMUnitTest){.name = ec->name,
                                       .test_func = syntax ? run_syntax_case : run_case,
                                       .initial_state = (void *)ec};
    }
    int failed = _cmocka_run_group_tests("spec_errors", tests, n, NULL, NULL);
    free(tests);
    return failed;
}
