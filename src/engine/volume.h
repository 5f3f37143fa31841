/* Named volumes: directories under <storage-root>/volumes/NAME that containers bind (-v NAME:DST)
 * and that outlive them. Everything here runs with the layer store open, whose lock serialises
 * berth processes: a volume is not removed while a container create is taking it. */
#pragma once

#include <stdbool.h>

struct berth_error;
struct storage;

#define VOLUME_DIR "volumes"

/* Open volume `name`'s directory, making it (0755) when missing and `create` is set; *made
 * (optional) says whether it was made now. *path gets its host path. */
int volume_open(struct storage *s, const char *name, bool create, bool *made, char **path,
                struct berth_error **err);

/* Remove the volume's directory and all it holds (the caller checked nothing uses it). */
int volume_remove(struct storage *s, const char *name, struct berth_error **err);

/* The volumes' names, sorted; NULL-terminated. */
int volume_list(struct storage *s, char ***names, struct berth_error **err);
